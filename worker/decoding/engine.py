"""The transcription engine: a plain class around faster-whisper.

No Celery, FastAPI or Redis in here. It decodes the file, runs the model (sequentially, or with
`BatchedInferencePipeline` on long audio), consumes faster-whisper's lazy segment generator itself
and hands every segment to a callback with the progress so far (decoded seconds / duration). The
callback may raise (e.g. `JobCanceled`) to stop the work at a segment boundary.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from app.contract.errors import ModelLoadFailed, WhisperJobsError
from app.contract.jobs import (
    SERVICE_OPTIONS,
    JobOptions,
    LanguageProbability,
    Segment,
    TranscriptResult,
)
from worker.decoding.audio import SAMPLE_RATE, decode, is_silent
from worker.decoding.batching import CPU_MERGED, GPU_MERGED, BatchingWhisper
from worker.decoding.model_cache import ModelCache
from worker.decoding.model_loading import construct_apart
from worker.decoding.pipeline_language import language_features
from worker.decoding.segments import to_segment
from worker.decoding.sentences import sentence_segments
from worker.decoding.weights import resolve_model
from worker.diarization.diarizer import Diarization, Diarizer
from worker.diarization.segment_speakers import speaker_times, split_at_turns
from worker.diarization.speaker_turns import Turn, speaker_label

logger = logging.getLogger(__name__)

SegmentCallback = Callable[[Segment, float], None]
# A step that makes no segments ("diarizing") and the job's progress; may raise to stop.
StepCallback = Callable[[str, float], None]
# The share of a diarized job's progress that diarization reports (it runs first, and costs a
# small part of the decoding; BENCHMARKS.md).
DIARIZING_SHARE = 0.1
GPU_BATCHING_WARNING = (
    "WHISPER_JOBS_BATCH_JOBS=%d on a GPU: decoding jobs together there was measured to gain "
    "little and to change transcripts against each job run alone (BENCHMARKS.md, On a GPU)"
)


class Transcriber(Protocol):
    """The seam tasks depend on; unit tests may pass a fake, end-to-end tests never do."""

    def transcribe(
        self,
        audio_path: Path,
        options: JobOptions,
        on_segment: SegmentCallback,
        on_step: StepCallback | None = None,
    ) -> TranscriptResult: ...


@dataclass(frozen=True)
class EngineConfig:
    models_dir: Path
    device: str = "auto"
    compute_type: str = "auto"
    cpu_threads: int = 0
    max_loaded_models: int = 2
    model_idle_seconds: float | None = None
    batch_size: int = 8
    batch_min_seconds: float = 60.0
    max_audio_seconds: float = 4 * 3600
    # Jobs decoded together by one process (their model calls merged,
    # `worker.decoding.batching`); 1: off.
    batch_jobs: int = 1
    batch_wait_seconds: float = 0.05
    # Calls a loaded model runs at once (CTranslate2's inter_threads), each on `cpu_threads`.
    model_replicas: int = 1


def pick_device(device: str) -> str:
    if device != "auto":
        return device
    import ctranslate2

    return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"


def pick_compute_type(compute_type: str, device: str) -> str:
    if compute_type != "auto":
        return compute_type
    return "int8_float16" if device == "cuda" else "int8"


def decode_options(options: JobOptions) -> dict[str, Any]:
    """JobOptions -> keyword arguments of faster-whisper's `transcribe`: every option under its
    own name except the service's own (`SERVICE_OPTIONS`); VAD's go in `vad_parameters`."""
    vad = {
        "threshold": options.vad_threshold,
        "min_silence_duration_ms": options.vad_min_silence_ms,
        "speech_pad_ms": options.vad_speech_pad_ms,
    }
    kwargs = options.model_dump(exclude=set(SERVICE_OPTIONS))
    kwargs["temperature"] = list(options.temperature)
    # Diarization cuts segments at speaker turns between words: it needs them aligned.
    kwargs["word_timestamps"] = options.word_timestamps or options.diarize
    kwargs["vad_parameters"] = {k: v for k, v in vad.items() if v is not None} or None
    return kwargs


class WhisperEngine:
    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.device = pick_device(config.device)
        self.compute_type = pick_compute_type(config.compute_type, self.device)
        self.models: ModelCache[Any] = ModelCache(
            self._load_model, config.max_loaded_models, config.model_idle_seconds
        )
        self.diarizer: Diarization = Diarizer()
        if self.device == "cuda" and config.batch_jobs > 1:
            # Measured on an H200: little gain, and a row's numbers depend on its batch there.
            logger.warning(GPU_BATCHING_WARNING, config.batch_jobs)

    def _load_model(self, name: str) -> Any:
        from faster_whisper import WhisperModel

        try:
            path = resolve_model(name, self.config.models_dir)
            logger.info(
                "loading model %s from %s on %s/%s", name, path, self.device, self.compute_type
            )
            model = construct_apart(
                lambda: WhisperModel(
                    path,
                    device=self.device,
                    compute_type=self.compute_type,
                    cpu_threads=self.config.cpu_threads,
                    num_workers=self.config.model_replicas,
                    download_root=str(self.config.models_dir / "hub"),
                )
            )
        except WhisperJobsError:
            raise
        except Exception as e:
            raise ModelLoadFailed(f"Could not load model {name!r}: {e}") from e
        if self.config.batch_jobs > 1:
            # The jobs of this process share the model; their calls on it are merged. On a GPU
            # the encoder's are too (on a CPU its cost grows with the rows anyway).
            model.model = BatchingWhisper(
                model.model,
                self.config.batch_jobs,
                self.config.batch_wait_seconds,
                merged=GPU_MERGED if self.device == "cuda" else CPU_MERGED,
                slots=self.config.model_replicas,
            )
        return model

    def preload(self, name: str) -> None:
        """Load a model before any job asks for it (its idle time starts now)."""
        with self.models.use(name):
            pass

    def use_batched(self, options: JobOptions, duration: float) -> bool:
        if options.batched == "auto":
            return duration > self.config.batch_min_seconds
        return options.batched == "true"

    def transcribe(
        self,
        audio_path: Path,
        options: JobOptions,
        on_segment: SegmentCallback,
        on_step: StepCallback | None = None,
    ) -> TranscriptResult:
        tracks = decode(
            audio_path, split=options.channels == "split", max_seconds=self.config.max_audio_seconds
        )
        duration = round(len(tracks[0]) / SAMPLE_RATE, 3)
        batched = self.use_batched(options, duration)
        result = TranscriptResult(
            model=options.model,
            task=options.task,
            language=options.language,
            language_probability=0.0,
            duration=duration,
            text="",
            segments=[],
            batched=batched,
        )
        # Whisper hallucinates text on silence; a silent track is not run through the model.
        speech = [(ch, audio) for ch, audio in enumerate(tracks) if not is_silent(audio)]
        if not speech:
            return result
        turns = None
        if options.diarize:  # first: its steps can stop the job before the decoding starts
            turns, on_segment = self._diarize(speech[0][1], options, on_segment, on_step)
        with self.models.use(options.model) as model, _member(model):
            if options.task == "detect_language":
                result.batched = False
                _set_language(result, _detected(model, speech[0][1], options), options)
            else:
                self._decode(
                    model, speech, len(tracks), options, result, on_segment, batched, turns
                )
        if turns is not None or options.channels == "split":
            result.speakers = speaker_times(result.segments)
        return result

    def _diarize(
        self,
        audio: Any,
        options: JobOptions,
        on_segment: SegmentCallback,
        on_step: StepCallback | None,
    ) -> tuple[list[Turn], SegmentCallback]:
        """The speaker turns, and `on_segment` with the decoding's progress after them."""

        def check(done: float) -> None:
            if on_step is not None:
                on_step("diarizing", DIARIZING_SHARE * done)

        def after(segment: Segment, progress: float) -> None:
            on_segment(segment, DIARIZING_SHARE + (1 - DIARIZING_SHARE) * progress)

        return self.diarizer.turns(audio, options, check), after

    def detect_language(self, audio: Any, options: JobOptions, batched: bool) -> Detected:
        """faster-whisper's own `detect_language` on what the whole run would detect on: the
        batched pipeline's first chunks (`worker.decoding.pipeline_language`), or the audio's
        first 30 s (`transcribe` reads the same 30 s, from features of the whole file: for a
        long recording that costs seconds, for a difference in the third decimal)."""
        with self.models.use(options.model) as model:
            if not model.model.is_multilingual:
                return Detected("en", 1.0, [])
            if batched:
                vad = decode_options(options)["vad_parameters"]
                features = language_features(
                    audio, vad, model.feature_extractor, model.model.n_mels
                )
                language, probability, ranked = model.detect_language(features=features)
            else:
                language, probability, ranked = model.detect_language(audio=audio)
            return Detected(language, float(probability), [(lang, float(p)) for lang, p in ranked])

    def _decode(
        self,
        model: Any,
        speech: list[tuple[int, Any]],
        tracks: int,
        options: JobOptions,
        result: TranscriptResult,
        on_segment: SegmentCallback,
        batched: bool,
        turns: list[Turn] | None,
    ) -> None:
        duration = result.duration
        kwargs = decode_options(options)
        for ch, audio in speech:
            # The language as faster-whisper detects it, on its own input: a shortcut that
            # detected on the transcription's first window (one feature frame fewer, one encode
            # saved) picked another language for a clip that starts in German and goes on in
            # English, and changed its whole text (BENCHMARKS.md, 2026-12-05).
            segment_iter, info = self._run(model, audio, kwargs, batched)
            if result.language_probability == 0.0:
                _set_language(result, info, options)
            channel = ch if options.channels == "split" else None
            if batched:
                segment_iter = sentence_segments(segment_iter, _text_decoder(model))
            for seg in segment_iter:
                if seg.start >= duration:
                    continue  # hallucinated past the end of the audio: not speech
                segment = to_segment(
                    len(result.segments),
                    seg,
                    duration,
                    channel,
                    words=turns is not None or options.word_timestamps,
                )
                if channel is not None:
                    segment.speaker = speaker_label(channel)
                pieces = [segment]
                if turns is not None:
                    pieces = split_at_turns(segment, turns, keep_words=options.word_timestamps)
                for piece in pieces:
                    piece.id = len(result.segments)
                    result.segments.append(piece)
                    on_segment(piece, (ch + min(seg.end / duration, 1.0)) / tracks)
        if options.channels == "split":
            result.segments.sort(key=lambda s: (s.start, s.channel))
            for index, segment in enumerate(result.segments):
                segment.id = index
        result.text = "".join(s.text for s in result.segments).strip()

    def _run(self, model: Any, audio: Any, kwargs: dict[str, Any], batched: bool) -> Any:
        if not batched:
            return model.transcribe(audio, **kwargs)
        from worker.decoding.batched_steps import SteppedPipeline

        # The batched pipeline cuts long audio into chunks at VAD's speech boundaries; it needs
        # VAD on for audio over 30 s. Words are aligned always: they say where each chunk's
        # sentences end (`worker.decoding.sentences`); measured, they cost about 5 % of the run.
        # Building the pipeline is cheap (it only holds the model).
        batched_kwargs = {**kwargs, "vad_filter": True, "word_timestamps": True}
        pipeline = SteppedPipeline(model)
        return pipeline.transcribe(audio, batch_size=self.config.batch_size, **batched_kwargs)


def _text_decoder(model: Any) -> Callable[[list[int]], str]:
    """Text tokens -> text, as faster-whisper's tokenizer decodes a segment's."""
    tokenizer = model.hf_tokenizer
    end_of_text = tokenizer.token_to_id("<|endoftext|>")

    def decode(tokens: list[int]) -> str:
        return str(tokenizer.decode([t for t in tokens if t < end_of_text]))

    return decode


def _member(model: Any) -> AbstractContextManager[None]:
    """While decoding a job, its calls on a shared model are merged with other jobs' calls."""
    return model.model.member() if isinstance(model.model, BatchingWhisper) else nullcontext()


@dataclass(frozen=True)
class Detected:
    language: str
    language_probability: float
    all_language_probs: list[tuple[str, float]]


def _detected(model: Any, audio: Any, options: JobOptions) -> Detected:
    """`task=detect_language`: faster-whisper's own `detect_language`, one 30-s window (of
    speech, with `vad_filter`), and nothing transcribed."""
    from faster_whisper.vad import VadOptions

    vad = decode_options(options)["vad_parameters"]
    language, probability, ranked = model.detect_language(
        audio=audio, vad_filter=options.vad_filter, vad_parameters=VadOptions(**(vad or {}))
    )
    return Detected(language, float(probability), [(lang, float(p)) for lang, p in ranked])


def _set_language(result: TranscriptResult, info: Any, options: JobOptions) -> None:
    result.language = info.language
    result.language_probability = round(float(info.language_probability), 4)
    if options.language is None and info.all_language_probs:
        result.language_probabilities = [
            LanguageProbability(language=lang, probability=round(float(p), 4))
            for lang, p in info.all_language_probs[:5]
        ]
