"""The speaker encoder's weights, read from resemblyzer's package without torch."""

import io
import pickle
from pathlib import Path

import numpy as np
import pytest

from app.contract.errors import ModelLoadFailed
from worker.diarization.encoder_weights import (
    encoder_path,
    load_encoder_state,
    read_legacy_state,
)


def test_every_tensor_of_the_encoder_is_read_with_its_shape() -> None:
    state = load_encoder_state()
    assert state["lstm.weight_ih_l0"].shape == (1024, 40)
    for layer in range(3):
        assert state[f"lstm.weight_hh_l{layer}"].shape == (1024, 256)
        assert state[f"lstm.bias_ih_l{layer}"].shape == (1024,)
    assert state["linear.weight"].shape == (256, 256)
    # The LSTM's tensors share one storage at offsets: a wrong offset would repeat values.
    assert not np.array_equal(state["lstm.bias_ih_l0"], state["lstm.bias_hh_l0"])
    assert all(np.isfinite(v).all() and v.dtype == np.float32 for v in state.values())


def test_a_changed_file_is_refused(tmp_path: Path) -> None:
    changed = tmp_path / "pretrained.pt"
    data = bytearray(encoder_path().read_bytes())
    data[-1] ^= 1
    changed.write_bytes(bytes(data))
    with pytest.raises(ModelLoadFailed, match="sha256"):
        load_encoder_state(changed)


class Sneaky:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return (os.system, ("true",))


def test_a_pickle_that_would_run_code_is_refused() -> None:
    header = b"".join(
        pickle.dumps(part, protocol=2)
        for part in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True})
    )
    with pytest.raises(pickle.UnpicklingError, match="not allowed"):
        read_legacy_state(io.BytesIO(header + pickle.dumps(Sneaky(), protocol=2)))


def test_not_a_checkpoint_is_refused() -> None:
    with pytest.raises(ValueError, match="legacy torch"):
        read_legacy_state(io.BytesIO(pickle.dumps("hello")))
