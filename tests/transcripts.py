"""How tests judge model-produced text: by fidelity and by content, never as an exact string.

CTranslate2's int8 kernels differ between instruction sets (AVX2, AVX-512, VNNI, generic), and
Whisper's punctuation and words move with them, so an exact transcript asserted on one CPU fails on
another. Two checks hold on any CPU:

- fidelity: our result equals faster-whisper's own result for the same file, model and options,
  computed in the same test run on the same machine (`reference`);
- content: the normalized words of the script are there, within a word-error-rate bound (`wer`).

Exact strings stay for our own output (formats, subtitles, errors).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jiwer

from tests.conftest import JFK_TEXT
from worker.decoding.model_loading import construct_apart

# What the JFK recording says (the script, not a model's output).
JFK_WORDS = JFK_TEXT


def normalize(text: str) -> str:
    """Lower case, no punctuation, single spaces (accents kept: they are letters)."""
    text = unicodedata.normalize("NFC", text).lower()
    text = re.sub(r"[^\w\s']|_", " ", text).replace("'", "")
    return " ".join(text.split())


def wer(expected: str, actual: str) -> float:
    """Word error rate of `actual` against `expected`, both normalized."""
    return float(jiwer.wer(normalize(expected), normalize(actual) or "<empty>"))


@dataclass(frozen=True)
class Reference:
    """faster-whisper's own result for one file, model and set of options."""

    language: str
    language_probability: float
    texts: list[str]
    spans: list[tuple[float, float]]
    words: list[str] | None

    @property
    def text(self) -> str:
        return "".join(self.texts).strip()

    def spans_within(self, duration: float) -> list[tuple[float, float]]:
        """The segments' times as the service reports them: ends clamped to the audio's length
        (faster-whisper may place the last end a few milliseconds past it)."""
        return [(start, round(min(end, duration), 3)) for start, end in self.spans]


_models: dict[str, Any] = {}
_results: dict[tuple[str, str, str], Reference] = {}
_lock = threading.Lock()


def reference(
    models_dir: Path,
    model: str,
    audio: Path | Any,
    *,
    label: str = "",
    batch_size: int = 0,
    **options: Any,
) -> Reference:
    """Run faster-whisper directly (no engine of ours) with faster-whisper's own keyword names,
    on the same CPU settings the service uses (int8), cached for the session. `audio` is a path,
    or samples with a `label` that names them for the cache. With `batch_size`, through its
    `BatchedInferencePipeline` (as the service's `batched=true`)."""
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    from worker.decoding.weights import resolve_model

    key = (model, label or str(audio), repr(sorted({**options, "batch": batch_size}.items())))
    with _lock:
        if key not in _results:
            if model not in _models:
                path = resolve_model(model, models_dir)
                _models[model] = construct_apart(  # 1.8x faster decoding on 2 cores
                    lambda: WhisperModel(path, device="cpu", compute_type="int8")
                )
            source = str(audio) if isinstance(audio, Path) else audio
            if batch_size:
                pipeline = BatchedInferencePipeline(_models[model])
                segments, info = pipeline.transcribe(source, batch_size=batch_size, **options)
            else:
                segments, info = _models[model].transcribe(source, **options)
            segments = list(segments)
            words = None
            if options.get("word_timestamps"):
                words = [w.word for s in segments for w in s.words or []]
            _results[key] = Reference(
                language=info.language,
                language_probability=round(float(info.language_probability), 4),
                texts=[s.text for s in segments],
                spans=[(round(s.start, 3), round(s.end, 3)) for s in segments],
                words=words,
            )
        return _results[key]
