"""The transcription engine: a plain class around faster-whisper.

No Celery, FastAPI or Redis in here. It decodes the file, runs the model, consumes faster-whisper's
lazy segment generator itself and reports progress (decoded seconds / duration) through a callback
after every segment. The callback may raise (e.g. `JobCanceled`) to stop the work at a segment
boundary.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from app.errors import InvalidAudio, ModelLoadFailed, WhisperJobsError
from app.jobs import JobOptions, Segment, TranscriptResult, Word
from worker.models import ModelCache, resolve_model

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
# Below this peak amplitude (-60 dBFS) the file is silence: Whisper would hallucinate text on it
# (" ..." segments, even past the end of the audio), so the model is not run at all.
SILENCE_PEAK = 1e-3
ProgressCallback = Callable[[float], None]


class Transcriber(Protocol):
    """The seam tasks depend on; unit tests may pass a fake, end-to-end tests never do."""

    def transcribe(
        self, audio_path: Path, options: JobOptions, on_progress: ProgressCallback
    ) -> TranscriptResult: ...


@dataclass(frozen=True)
class EngineConfig:
    models_dir: Path
    device: str = "auto"
    compute_type: str = "auto"
    cpu_threads: int = 0
    max_loaded_models: int = 2


def pick_device(device: str) -> str:
    if device != "auto":
        return device
    import ctranslate2

    return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"


def pick_compute_type(compute_type: str, device: str) -> str:
    if compute_type != "auto":
        return compute_type
    return "int8_float16" if device == "cuda" else "int8"


class WhisperEngine:
    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.device = pick_device(config.device)
        self.compute_type = pick_compute_type(config.compute_type, self.device)
        self.models: ModelCache[Any] = ModelCache(self._load_model, config.max_loaded_models)

    def _load_model(self, name: str) -> Any:
        from faster_whisper import WhisperModel

        try:
            path = resolve_model(name, self.config.models_dir)
            logger.info("loading model %s from %s on %s/%s", name, path, self.device,
                        self.compute_type)  # fmt: skip
            return WhisperModel(
                path,
                device=self.device,
                compute_type=self.compute_type,
                cpu_threads=self.config.cpu_threads,
                download_root=str(self.config.models_dir / "hub"),
            )
        except WhisperJobsError:
            raise
        except Exception as e:
            raise ModelLoadFailed(f"Could not load model {name!r}: {e}") from e

    def transcribe(
        self, audio_path: Path, options: JobOptions, on_progress: ProgressCallback
    ) -> TranscriptResult:
        audio = decode(audio_path)
        duration = round(len(audio) / SAMPLE_RATE, 3)
        if float(abs(audio).max()) < SILENCE_PEAK:
            on_progress(1.0)
            return TranscriptResult(
                model=options.model, language=options.language, language_probability=0.0,
                duration=duration, text="", segments=[],
            )  # fmt: skip
        model = self.models.get(options.model)
        segment_iter, info = model.transcribe(
            audio,
            task=options.task,
            language=options.language,
            beam_size=options.beam_size,
            word_timestamps=options.word_timestamps,
            vad_filter=options.vad_filter,
            initial_prompt=options.initial_prompt,
        )
        segments = collect_segments(segment_iter, duration, on_progress)
        return TranscriptResult(
            model=options.model,
            language=info.language,
            language_probability=round(float(info.language_probability), 4),
            duration=duration,
            text="".join(s.text for s in segments).strip(),
            segments=segments,
        )


def decode(audio_path: Path) -> Any:
    """Decode any container PyAV reads to 16 kHz mono float32; bad input is `InvalidAudio`."""
    from faster_whisper import decode_audio

    try:
        audio = decode_audio(str(audio_path), sampling_rate=SAMPLE_RATE)
    except Exception as e:
        # PyAV raises a family of FFmpeg errors (and sometimes ValueError/IndexError) for input
        # that is not audio; whichever it is, the caller's file is at fault, not the worker.
        # The message names FFmpeg's reason, never the server-side path.
        reason = getattr(e, "strerror", None) or type(e).__name__
        raise InvalidAudio(f"The file could not be decoded as audio ({reason}).") from e
    if len(audio) == 0:
        raise InvalidAudio("The file contains no audio samples.")
    return audio


def collect_segments(
    segment_iter: Iterable[Any], duration: float, on_progress: ProgressCallback
) -> list[Segment]:
    segments: list[Segment] = []
    for seg in segment_iter:
        if seg.start >= duration:
            # Hallucinated past the end of the audio (seen on near-silent input): not speech.
            continue
        segments.append(to_segment(len(segments), seg, duration))
        if duration > 0:
            on_progress(min(seg.end / duration, 1.0))
    return segments


def to_segment(index: int, seg: Any, duration: float) -> Segment:
    words = None
    if seg.words is not None:
        words = [
            Word(start=round(w.start, 3), end=round(w.end, 3), word=w.word,
                 probability=round(w.probability, 4))
            for w in seg.words
        ]  # fmt: skip
    return Segment(
        id=index,
        start=round(seg.start, 3),
        end=round(min(seg.end, duration), 3),
        text=seg.text,
        avg_logprob=seg.avg_logprob,
        no_speech_prob=seg.no_speech_prob,
        compression_ratio=seg.compression_ratio,
        words=words,
    )
