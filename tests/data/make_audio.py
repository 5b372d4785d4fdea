"""Makes the generated test audio in this folder (run from the repository root).

- silence.wav: 5 s of digital silence, 16 kHz mono 16-bit PCM (a job that ends with no segments).
"""

import wave
from pathlib import Path

HERE = Path(__file__).parent


def write_silence(path: Path, seconds: float = 5.0, rate: int = 16_000) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\0\0" * int(seconds * rate))


if __name__ == "__main__":
    write_silence(HERE / "silence.wav")
