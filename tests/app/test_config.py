import pytest
from pydantic import ValidationError

from app.config import Settings
from app.languages import LANGUAGE_CODES


def test_settings_read_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHISPER_JOBS_MODELS", "base, tiny.en,small")
    monkeypatch.setenv("WHISPER_JOBS_RESULT_TTL_SECONDS", "60")
    monkeypatch.setenv("WHISPER_JOBS_DEVICE", "cpu")
    settings = Settings()
    assert settings.models == ["base", "tiny.en", "small"]
    assert settings.result_ttl_seconds == 60
    assert settings.device == "cpu"


def test_bad_settings_fail_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHISPER_JOBS_DEVICE", "tpu")
    with pytest.raises(ValidationError):
        Settings()


def test_missing_redis_url_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="WHISPER_JOBS_REDIS_URL"):
        Settings(redis_url=None).require_redis_url()


def test_language_codes_match_faster_whisper() -> None:
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    assert frozenset(_LANGUAGE_CODES) == LANGUAGE_CODES
