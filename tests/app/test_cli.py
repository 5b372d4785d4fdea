import pytest

from app.cli import main, worker_argv
from app.config import Settings


def test_worker_consumes_one_queue_per_offered_model() -> None:
    argv = worker_argv(Settings(redis_url="redis://x", models=["base", "tiny.en"]))
    assert argv[argv.index("--queues") + 1] == "transcribe.base,transcribe.tiny.en,maintenance"


def test_worker_can_be_dedicated_to_some_models() -> None:
    argv = worker_argv(Settings(redis_url="redis://x"), ["base"])
    assert argv[argv.index("--queues") + 1] == "transcribe.base,maintenance"


def test_worker_refuses_a_model_the_deployment_does_not_offer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WHISPER_JOBS_REDIS_URL", "redis://127.0.0.1:1/0")
    from app.config import get_settings

    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit, match="large-v3"):
            main(["worker", "--models", "large-v3"])
    finally:
        get_settings.cache_clear()
