"""The speaker encoder's weights: found in the installed `resemblyzer` package, sha256-verified,
read without torch.

resemblyzer ships a GE2E speaker encoder (`pretrained.pt`, Apache-2.0) saved in torch's legacy
serialisation: a pickle whose tensors point by key into raw float32 storages that follow it. A
restricted unpickler maps the three names that pickle uses (`OrderedDict`, torch's
`_rebuild_tensor_v2` and `FloatStorage`) and refuses every other, so the file can run no code.
The package itself is never imported (its code needs torch, which is not installed).
"""

from __future__ import annotations

import collections
import importlib.util
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from app.contract.errors import ModelLoadFailed
from worker.decoding.weights import sha256_of

ENCODER_FILE = "pretrained.pt"
ENCODER_SHA256 = "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e"
# torch's legacy format: this number, then the protocol version, then the system's sizes
_MAGIC = 0x1950A86A20F9469CFC6C


@dataclass(frozen=True)
class _TensorRef:
    storage: str
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild(
    storage: str, offset: int, shape: tuple[int, ...], stride: tuple[int, ...], *_: Any
) -> _TensorRef:
    return _TensorRef(storage, offset, tuple(shape), tuple(stride))


class _Restricted(pickle.Unpickler):
    _allowed = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild,
        ("torch", "FloatStorage"): "float32",
    }

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed here") from None

    def persistent_load(self, pid: Any) -> str:
        kind, dtype, key, _location, _size, _view = pid
        if kind != "storage" or dtype != "float32":
            raise pickle.UnpicklingError(f"unexpected storage {pid!r}")
        return str(key)


def read_legacy_state(source: IO[bytes]) -> dict[str, np.ndarray]:
    """The `model_state` tensors of a legacy torch checkpoint, as float32 arrays."""
    if pickle.Unpickler(source).load() != _MAGIC:
        raise ValueError("not a legacy torch checkpoint")
    pickle.Unpickler(source).load()  # protocol version
    sizes = pickle.Unpickler(source).load()
    if not sizes.get("little_endian"):
        raise ValueError("a big-endian checkpoint")
    checkpoint = _Restricted(source).load()
    storages: dict[str, np.ndarray] = {}
    for key in _Restricted(source).load():  # the storages follow, in this order
        (count,) = np.frombuffer(source.read(8), dtype="<i8")
        storages[key] = np.frombuffer(source.read(4 * int(count)), dtype="<f4")
    state: dict[str, np.ndarray] = {}
    for name, ref in checkpoint["model_state"].items():
        flat = storages[ref.storage]
        strides = tuple(4 * s for s in ref.stride)
        view = np.lib.stride_tricks.as_strided(flat[ref.offset :], ref.shape, strides)
        state[name] = np.array(view, dtype=np.float32)  # a copy: contiguous, writable
    return state


def encoder_path() -> Path:
    spec = importlib.util.find_spec("resemblyzer")  # finds, does not import
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadFailed(
            "diarization needs the speaker encoder of the resemblyzer package "
            "(installed with the worker's `models` extra)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / ENCODER_FILE


def load_encoder_state(path: Path | None = None) -> dict[str, np.ndarray]:
    path = path or encoder_path()
    if sha256_of(path) != ENCODER_SHA256:
        raise ModelLoadFailed(f"{path} is not the speaker encoder we verified (sha256 differs)")
    with path.open("rb") as f:
        return read_legacy_state(f)
