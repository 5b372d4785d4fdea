"""Models are constructed on a thread of their own that has ended before decoding starts (the
OpenMP team it leaves behind otherwise halves decoding speed on 2 cores; see the module)."""

import threading
from pathlib import Path
from typing import Any

import pytest

from app.contract.errors import ModelLoadFailed
from worker.decoding.engine import EngineConfig, WhisperEngine
from worker.decoding.model_loading import construct_apart


def test_the_factory_runs_on_another_thread_that_has_ended() -> None:
    ran_on: list[threading.Thread] = []

    def factory() -> str:
        ran_on.append(threading.current_thread())
        return "model"

    assert construct_apart(factory) == "model"
    assert ran_on[0] is not threading.current_thread()
    assert not ran_on[0].is_alive()


def test_the_factorys_error_is_raised_to_the_caller() -> None:
    def factory() -> str:
        raise ValueError("no weights")

    with pytest.raises(ValueError, match="no weights"):
        construct_apart(factory)


class RecordingModel:
    threads: list[threading.Thread] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        RecordingModel.threads.append(threading.current_thread())


def test_the_engine_constructs_its_models_apart(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import faster_whisper

    monkeypatch.setattr(faster_whisper, "WhisperModel", RecordingModel)
    monkeypatch.setattr("worker.decoding.engine.resolve_model", lambda name, directory: "x")
    engine = WhisperEngine(EngineConfig(models_dir=tmp_path))
    with engine.models.use("base") as model:
        assert isinstance(model, RecordingModel)
    (constructed_on,) = RecordingModel.threads
    assert constructed_on is not threading.current_thread() and not constructed_on.is_alive()


def test_a_load_failure_on_that_thread_is_still_model_load_failed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import faster_whisper

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("unsupported model")

    monkeypatch.setattr(faster_whisper, "WhisperModel", broken)
    monkeypatch.setattr("worker.decoding.engine.resolve_model", lambda name, directory: "x")
    with pytest.raises(ModelLoadFailed, match="unsupported model"):
        WhisperEngine(EngineConfig(models_dir=tmp_path)).models.use("base").__enter__()
