"""What the lock resolves, for every Python the images run (3.11 slim images, 3.12 in the GPU
image's Ubuntu)."""

import tomllib
from pathlib import Path

LOCK = Path(__file__).resolve().parents[1] / "uv.lock"


def locked_versions(name: str) -> list[str]:
    packages = tomllib.loads(LOCK.read_text())["package"]
    return [p["version"] for p in packages if p["name"] == name]


def test_av_stays_below_19_for_every_python() -> None:
    # av 19 removed av.open's `metadata_errors`, which faster-whisper 1.2's decode_audio and
    # worker/decoding/audio.py pass: with av 19 (what the lock had picked for Python >= 3.12,
    # the GPU image) every job failed to decode. Seen on a GPU machine, 2026-11-28.
    versions = locked_versions("av")
    assert versions
    assert all(int(v.split(".")[0]) < 19 for v in versions), versions
