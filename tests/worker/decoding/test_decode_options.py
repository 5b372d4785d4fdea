"""Decoding options are declared once (`JobOptions`): the form of `POST /v1/jobs` is built from
them, the engine passes them to faster-whisper under their own names, and docs/http-api.md's table
lists each one. (No model is loaded: only faster-whisper's signature is read.)"""

from __future__ import annotations

import inspect
from pathlib import Path

from app.api.forms import JobForm
from app.contract.jobs import SERVICE_OPTIONS, JobOptions
from worker.decoding.engine import decode_options

HTTP_API = (Path(__file__).resolve().parents[3] / "docs" / "http-api.md").read_text()


def test_every_option_is_a_transcribe_keyword_or_the_services_own() -> None:
    from faster_whisper import WhisperModel

    accepted = set(inspect.signature(WhisperModel.transcribe).parameters)
    kwargs = decode_options(JobOptions())
    assert set(kwargs) <= accepted, set(kwargs) - accepted
    assert set(kwargs) == set(JobOptions.model_fields) - SERVICE_OPTIONS | {"vad_parameters"}


def test_the_form_is_built_from_the_options() -> None:
    request_only = {"metadata", "webhook_url", "webhook_include_result", "audio_url"}
    assert set(JobForm.model_fields) == set(JobOptions.model_fields) | request_only
    for name, info in JobOptions.model_fields.items():
        if name not in ("model", "language", "temperature"):  # carried differently in a form
            assert JobForm.model_fields[name].default == info.default, name
            assert JobForm.model_fields[name].description == info.description, name


def test_the_readme_table_lists_every_option() -> None:
    table = HTTP_API.split("Decoding options (form fields")[1].split("\n\n")[1]
    missing = [name for name in JobOptions.model_fields if f"`{name}`" not in table]
    assert missing == []


def test_options_reach_faster_whisper_unchanged() -> None:
    options = JobOptions(
        beam_size=2,
        temperature=(0.0, 0.5),
        vad_filter=True,
        vad_threshold=0.3,
        initial_prompt="Hi.",
        channels="split",
    )
    kwargs = decode_options(options)
    assert kwargs["beam_size"] == 2 and kwargs["temperature"] == [0.0, 0.5]
    assert kwargs["vad_filter"] is True and kwargs["vad_parameters"] == {"threshold": 0.3}
    assert kwargs["initial_prompt"] == "Hi." and "channels" not in kwargs
