"""The decoding options of `POST /v1/jobs`, parsed from the multipart form into `JobOptions`.

One pydantic form model rather than one `Form()` parameter per field: FastAPI validates it in
one pass (measured: per-field form parameters cost more than the rest of a submission).

Ranges live on `JobOptions` (one source of truth); this module turns form strings into values,
checks what depends on the deployment (models) and combinations of options, and says why a
request is refused.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from copy import copy
from typing import TYPE_CHECKING, Any

import pydantic_core
from pydantic import BaseModel, Field, ValidationError, create_model

from app.contract.catalog import is_multilingual
from app.contract.errors import InvalidRequest, ModelNotAvailable, ModelNotMultilingual
from app.contract.jobs import DEFAULT_TEMPERATURES, MAX_DECODING_COST, JobOptions
from app.contract.languages import LANGUAGE_CODES
from app.core.config import Settings


def parse_temperature(raw: str | None) -> tuple[float, ...]:
    """`0.2` or a comma-separated fallback list such as `0,0.2,0.4` (each between 0 and 1)."""
    if raw is None or not raw.strip():
        return DEFAULT_TEMPERATURES
    if raw.count(",") >= MAX_TEMPERATURES:
        raise InvalidRequest(f"temperature takes at most {MAX_TEMPERATURES} values.")
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


MAX_METADATA_BYTES = 16 * 1024
MAX_METADATA_DEPTH = 16
MAX_TEMPERATURES = 10


def parse_metadata(raw: str | None) -> dict[str, Any] | None:
    """A JSON object of at most `MAX_METADATA_BYTES`, nested at most `MAX_METADATA_DEPTH` deep,
    read by pydantic's JSON parser: the one that reads the stored job back, so whatever is
    accepted here can always be read again."""
    if raw is None or raw == "":
        return None
    if len(raw.encode()) > MAX_METADATA_BYTES:
        raise InvalidRequest(f"metadata must be at most {MAX_METADATA_BYTES} bytes of JSON.")
    try:
        value = pydantic_core.from_json(raw, allow_inf_nan=False)
    except ValueError as e:
        raise InvalidRequest(f"metadata is not valid JSON: {str(e)[:200]}.") from e
    if not isinstance(value, dict):
        raise InvalidRequest("metadata must be a JSON object.")
    depth, finite = _shape(value)
    if depth > MAX_METADATA_DEPTH:
        raise InvalidRequest(f"metadata may be nested at most {MAX_METADATA_DEPTH} levels deep.")
    if not finite:  # e.g. 1e400: the parser reads it as infinity, which JSON cannot write back
        raise InvalidRequest("metadata holds a number too large to store (e.g. 1e400).")
    return value


def _shape(value: Any) -> tuple[int, bool]:
    """How deeply objects and arrays nest, and whether every number is finite (iterative: no
    recursion limit to hit)."""
    deepest, finite, stack = 0, True, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
        elif isinstance(item, float) and not math.isfinite(item):
            finite = False
    return deepest, finite


def _describe(error: ValidationError) -> str:
    parts = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()]
    return "Invalid request: " + "; ".join(parts) + "."


def _option_fields() -> dict[str, Any]:
    """`JobOptions`' fields as form fields: the same defaults, limits and descriptions, except
    where a form carries an option differently (`_AS_FORM`)."""
    fields: dict[str, Any] = {}
    for name, info in JobOptions.model_fields.items():
        fields[name] = _AS_FORM.get(name) or (info.annotation, copy(info))
    return fields


# Left out, `model` and `language` mean the deployment's default and detection; `temperature`
# is a number or a comma-separated list in a form (`parse_temperature`).
_AS_FORM: dict[str, tuple[Any, Any]] = {
    "model": (
        str | None,
        Field(
            None,
            max_length=64,
            description="A model from `GET /v1/models`; absent: the server's default.",
        ),
    ),
    "language": (
        str | None,
        Field(None, max_length=16, description="ISO 639-1 code; absent: detect."),
    ),
    "temperature": (
        str | None,
        Field(
            None,
            max_length=100,
            description="A number or a comma-separated fallback list (at most 10 values), 0 to 1.",
        ),
    ),
}

if TYPE_CHECKING:
    _OptionsForm = BaseModel
else:
    _OptionsForm = create_model("OptionsForm", **_option_fields())


class JobForm(_OptionsForm):
    """The form fields of `POST /v1/jobs` besides `file`: every `JobOptions` field (declared
    there once), then the request's own. Unknown fields are refused (`check_known_fields`): a
    typo such as `langauge=de` must not silently run with the defaults."""

    metadata: str | None = Field(
        None,
        description="A JSON object (at most 16 KiB, nested at most 16 deep), echoed back "
        "on the job and in its webhook event.",
    )
    webhook_url: str | None = Field(
        None,
        max_length=2048,
        description="Called (signed, Standard Webhooks) when the job ends; retried on failure.",
    )
    webhook_include_result: bool = Field(False, description="Put the full result in the event.")
    audio_url: str | None = Field(
        None,
        max_length=2048,
        description="Instead of `file`: an http(s) URL the worker downloads (exactly one of the "
        "two). Internal addresses are refused unless the operator allows them.",
    )


MAX_FILENAME_CHARS = 255


def check_known_fields(names: Iterable[str]) -> None:
    """422 naming any form field `POST /v1/jobs` does not know. (Not `extra="forbid"` on the
    model: FastAPI would then count the `file` part as an unknown field too.)"""
    unknown = sorted(set(names) - set(JobForm.model_fields) - {"file"})
    if unknown:
        shown = ", ".join(repr(name[:64]) for name in unknown[:5])
        raise InvalidRequest(f"Unknown form field(s): {shown}; see the decoding options.")


def bounded_filename(name: str | None) -> str | None:
    """The upload's file name as the job keeps it: at most `MAX_FILENAME_CHARS` characters."""
    return name[:MAX_FILENAME_CHARS] if name else None


def validated_form(fields: dict[str, object]) -> JobForm:
    """A `JobForm` built from code (the OpenAI routes), refused as 422 like a posted one."""
    try:
        return JobForm.model_validate(fields)
    except ValidationError as e:
        raise InvalidRequest(_describe(e)) from e


def _check_speakers(given: dict[str, Any]) -> None:
    counts = (given["num_speakers"], given["min_speakers"], given["max_speakers"])
    if not given["diarize"]:
        if any(c is not None for c in counts):
            raise InvalidRequest("num_speakers, min_speakers and max_speakers need diarize=true.")
        return
    if given["task"] == "detect_language" or given["channels"] == "split":
        raise InvalidRequest(
            "diarize=true labels the speakers of a transcript: not with task=detect_language, "
            "and not with channels=split (each channel is already its own speaker)."
        )
    number, low, high = counts
    if number is not None and (low is not None or high is not None):
        raise InvalidRequest("Give num_speakers, or min_speakers/max_speakers, not both.")
    if low is not None and high is not None and low > high:
        raise InvalidRequest("min_speakers is more than max_speakers.")


def job_options(form: JobForm, settings: Settings) -> JobOptions:
    """Check what depends on the deployment and on combinations of fields; build the options."""
    given = form.model_dump()
    model_name = given["model"] or settings.model
    if model_name not in settings.models:
        offered = ", ".join(settings.models)
        raise ModelNotAvailable(f"Model {model_name!r} is not available; offered: {offered}.")
    code = check_language(given["language"])
    if not is_multilingual(model_name) and (
        given["task"] == "translate" or code not in (None, "en") or given["multilingual"]
    ):
        raise ModelNotMultilingual(
            f"Model {model_name!r} is English-only: it can neither translate nor transcribe "
            "other languages; use a multilingual model such as 'base'."
        )
    if given["task"] == "detect_language" and (code is not None or not is_multilingual(model_name)):
        raise InvalidRequest(
            "task=detect_language detects the language: leave language out, and use a "
            "multilingual model (English-only models know one language)."
        )
    _check_speakers(given)
    vad_params = (given["vad_threshold"], given["vad_min_silence_ms"], given["vad_speech_pad_ms"])
    if not given["vad_filter"] and any(p is not None for p in vad_params):
        raise InvalidRequest(
            "vad_threshold, vad_min_silence_ms and vad_speech_pad_ms need vad_filter=true."
        )
    options = {name: given[name] for name in JobOptions.model_fields} | {
        "language": code,
        "model": model_name,
        # hallucination_silence_threshold works on word timings, so it turns them on.
        "word_timestamps": given["word_timestamps"]
        or given["hallucination_silence_threshold"] is not None,
        "temperature": parse_temperature(given["temperature"]),
        "initial_prompt": given["initial_prompt"] or None,
        "hotwords": given["hotwords"] or None,
    }
    try:
        built = JobOptions(**options)
    except ValidationError as e:
        raise InvalidRequest(_describe(e)) from e
    if built.decoding_cost() > MAX_DECODING_COST:
        raise InvalidRequest(
            f"These options decode {built.decoding_cost():g} hypotheses per 30-s window when "
            f"every fallback runs (beam_size × patience at temperature 0, plus best_of per other "
            f"temperature); at most {MAX_DECODING_COST} are allowed: lower beam_size, best_of, "
            "patience or the number of temperatures."
        )
    return built
