import pytest
from pydantic import ValidationError

from app.contract.languages import LANGUAGE_CODES
from app.core.config import Settings


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


@pytest.mark.parametrize("secret", ["whsec_", "whsec_" + "a" * 8, "whsec_c2hvcnQ="])
def test_empty_or_short_webhook_secrets_are_refused(secret: str) -> None:
    with pytest.raises(ValidationError, match="at least 24 random bytes"):
        Settings(webhook_secret=secret)


def test_a_blank_webhook_secret_is_unset() -> None:
    assert Settings(webhook_secret="  ").webhook_secret is None


@pytest.mark.parametrize(
    ("host", "keys", "allow_open", "refused"),
    [
        ("127.0.0.1", [], False, False),
        ("::1", [], False, False),
        ("0.0.0.0", [], False, True),
        ("10.0.0.5", [], False, True),
        ("0.0.0.0", ["alice:" + "0" * 64], False, False),
        ("0.0.0.0", [], True, False),
    ],
)
def test_an_open_service_beyond_loopback_needs_consent(
    host: str, keys: list[str], allow_open: bool, refused: bool
) -> None:
    settings = Settings(api_host=host, api_keys=keys, allow_open=allow_open)
    problem = settings.open_service_problem()
    assert (problem is not None) is refused
    if problem:
        assert "WHISPER_JOBS_ALLOW_OPEN=true" in problem and "keys create" in problem


def test_the_api_refuses_to_start_open_on_every_interface() -> None:
    import subprocess
    import sys

    env = {
        "PATH": "/usr/bin:/bin",
        "WHISPER_JOBS_REDIS_URL": "redis://127.0.0.1:1/0",
        "WHISPER_JOBS_API_HOST": "0.0.0.0",
    }
    run = subprocess.run(
        [sys.executable, "-m", "app.core.cli", "api"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 78  # EX_CONFIG: compose and systemd need not restart it
    assert "refusing to listen on 0.0.0.0 with no API keys" in run.stderr
    assert "Traceback" not in run.stderr
