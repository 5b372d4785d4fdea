"""The decoding options of `POST /v1/jobs`, parsed from the multipart form into `JobOptions`.

Ranges live on `JobOptions` (one source of truth); this module turns form strings into values,
checks what depends on the deployment (models) and combinations of options, and says why a
request is refused.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Form
from pydantic import ValidationError

from app.api.deps import SettingsDep
from app.catalog import is_multilingual
from app.errors import InvalidRequest, ModelNotAvailable, ModelNotMultilingual
from app.jobs import DEFAULT_TEMPERATURES, JobOptions
from app.languages import LANGUAGE_CODES


def parse_temperature(raw: str | None) -> tuple[float, ...]:
    """`0.2` or a comma-separated fallback list such as `0,0.2,0.4` (each between 0 and 1)."""
    if raw is None or not raw.strip():
        return DEFAULT_TEMPERATURES
    try:
        values = tuple(float(part) for part in raw.split(","))
    except ValueError as e:
        raise InvalidRequest(
            f"temperature must be a number or a comma-separated list: {raw!r}."
        ) from e
    if not all(0.0 <= v <= 1.0 for v in values):
        raise InvalidRequest("temperature values must be between 0 and 1.")
    return values


def check_language(language: str | None) -> str | None:
    if language is None or not language.strip():
        return None
    code = language.strip().lower()
    if code not in LANGUAGE_CODES:
        raise InvalidRequest(f"language {language!r} is not a language code Whisper knows.")
    return code


def _describe(error: ValidationError) -> str:
    parts = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()]
    return "Invalid request: " + "; ".join(parts) + "."


def job_options(
    settings: SettingsDep,
    task: Annotated[Literal["transcribe", "translate"], Form()] = "transcribe",
    language: Annotated[str | None, Form(description="ISO 639-1 code; absent: detect.")] = None,
    model: Annotated[str | None, Form(description="A model from `GET /v1/models`.")] = None,
    multilingual: Annotated[bool, Form(description="Re-detect the language per segment.")] = False,
    word_timestamps: Annotated[bool, Form()] = False,
    beam_size: Annotated[int, Form(description="1 to 10.")] = 5,
    best_of: Annotated[int, Form(description="Candidates when sampling, 1 to 10.")] = 5,
    patience: Annotated[float, Form(description="Beam search patience, > 0.")] = 1.0,
    temperature: Annotated[
        str | None, Form(description="A number or a comma-separated fallback list, 0 to 1.")
    ] = None,
    condition_on_previous_text: Annotated[bool, Form()] = True,
    initial_prompt: Annotated[str | None, Form(max_length=2000)] = None,
    hotwords: Annotated[str | None, Form(max_length=2000)] = None,
    no_speech_threshold: Annotated[float | None, Form()] = 0.6,
    log_prob_threshold: Annotated[float | None, Form()] = -1.0,
    compression_ratio_threshold: Annotated[float | None, Form()] = 2.4,
    hallucination_silence_threshold: Annotated[
        float | None, Form(description="Seconds; turns word timestamps on (it needs them).")
    ] = None,
    vad_filter: Annotated[bool, Form(description="Skip non-speech with Silero VAD.")] = False,
    vad_threshold: Annotated[float | None, Form()] = None,
    vad_min_silence_ms: Annotated[int | None, Form()] = None,
    vad_speech_pad_ms: Annotated[int | None, Form()] = None,
    channels: Annotated[
        Literal["mix", "split"], Form(description="`split`: transcribe a stereo file per channel.")
    ] = "mix",
    batched: Annotated[
        Literal["auto", "true", "false"],
        Form(description="Batched inference; `auto`: for audio over the configured length."),
    ] = "auto",
) -> JobOptions:
    model_name = model or settings.model
    if model_name not in settings.models:
        offered = ", ".join(settings.models)
        raise ModelNotAvailable(f"Model {model_name!r} is not available; offered: {offered}.")
    code = check_language(language)
    if not is_multilingual(model_name) and (
        task == "translate" or code not in (None, "en") or multilingual
    ):
        raise ModelNotMultilingual(
            f"Model {model_name!r} is English-only: it can neither translate nor transcribe "
            "other languages; use a multilingual model such as 'base'."
        )
    vad_params = (vad_threshold, vad_min_silence_ms, vad_speech_pad_ms)
    if not vad_filter and any(p is not None for p in vad_params):
        raise InvalidRequest(
            "vad_threshold, vad_min_silence_ms and vad_speech_pad_ms need vad_filter=true."
        )
    try:
        return JobOptions(
            task=task,
            language=code,
            model=model_name,
            multilingual=multilingual,
            # hallucination_silence_threshold works on word timings, so it turns them on.
            word_timestamps=word_timestamps or hallucination_silence_threshold is not None,
            beam_size=beam_size,
            best_of=best_of,
            patience=patience,
            temperature=parse_temperature(temperature),
            condition_on_previous_text=condition_on_previous_text,
            initial_prompt=initial_prompt or None,
            hotwords=hotwords or None,
            no_speech_threshold=no_speech_threshold,
            log_prob_threshold=log_prob_threshold,
            compression_ratio_threshold=compression_ratio_threshold,
            hallucination_silence_threshold=hallucination_silence_threshold,
            vad_filter=vad_filter,
            vad_threshold=vad_threshold,
            vad_min_silence_ms=vad_min_silence_ms,
            vad_speech_pad_ms=vad_speech_pad_ms,
            channels=channels,
            batched=batched,
        )
    except ValidationError as e:
        raise InvalidRequest(_describe(e)) from e
