"""Makes the generated test audio in this folder (run from the repository root; needs Debian's
`espeak-ng` and `sox`). The outputs are committed, so tests never need these tools.

- silence.wav: 5 s of digital silence, 16 kHz mono (a job that ends with no segments).
- de.wav, fr.wav: a German and a French sentence spoken by espeak-ng (language detection and
  translation).
- corrupt.flac: jfk.flac's first 8 KiB (valid headers, declaring 11 s) then zeros: passes the
  submit-time probe, decodes to nothing (a job that fails with invalid_audio).
- bomb.flac: 5 hours of digital silence at 8 kHz in 455 KB (a "duration bomb"): sox without
  dither (-D), so FLAC's constant subframes stay tiny.
- stereo.wav: a two-party "call": JFK (jfk.flac mixed to mono) on the left channel, an English
  sentence by espeak-ng on the right, 16 kHz (channels=split).
"""

import subprocess
import tempfile
import wave
from pathlib import Path

HERE = Path(__file__).parent
SENTENCES = {
    "de": "Guten Morgen. Heute ist das Wetter sehr schön, und wir gehen zusammen in den Park.",
    "fr": "Bonjour à tous. Je voudrais un café et un croissant, s'il vous plaît.",
}
RIGHT_CHANNEL = "The quick brown fox jumps over the lazy dog."


def write_silence(path: Path, seconds: float = 5.0, rate: int = 16_000) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\0\0" * int(seconds * rate))


def speak(voice: str, text: str, out: Path) -> None:
    raw = out.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-s", "140", "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(out)], check=True)
    raw.unlink()


def make_stereo(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        left, right = Path(tmp) / "left.wav", Path(tmp) / "right.wav"
        subprocess.run(
            ["sox", str(HERE / "jfk.flac"), "-r", "16000", "-c", "1", "-b", "16", str(left)],
            check=True,
        )
        speak("en-us", RIGHT_CHANNEL, right)
        # pad the right channel to the left one's length, then merge the two as channels
        padded = Path(tmp) / "right-padded.wav"
        subprocess.run(["sox", str(right), str(padded), "pad", "0.5", "7"], check=True)
        subprocess.run(
            ["sox", "-M", str(left), str(padded), str(out), "trim", "0", "11"], check=True
        )


def write_corrupt(path: Path) -> None:
    path.write_bytes((HERE / "jfk.flac").read_bytes()[:8192] + bytes(65536))


if __name__ == "__main__":
    write_silence(HERE / "silence.wav")
    write_corrupt(HERE / "corrupt.flac")
    for language, sentence in SENTENCES.items():
        speak(language, sentence, HERE / f"{language}.wav")
    make_stereo(HERE / "stereo.wav")
    subprocess.run(
        [
            "sox",
            "-D",
            "-n",
            "-r",
            "8000",
            "-c",
            "1",
            "-b",
            "16",
            str(HERE / "bomb.flac"),
            "trim",
            "0",
            "18000",
        ],
        check=True,
    )
