"""Parsing `WHISPER_JOBS_REDIS_URL` when it names Sentinels, and the settings' checks of it."""

import pytest
from pydantic import ValidationError

from app.core.config import Settings
from app.core.redis_url import SentinelTarget, is_sentinel_url, parse_sentinel_url
from app.storage.broker import celery_config


def test_a_sentinel_list_with_the_data_nodes_password_and_database() -> None:
    url = "sentinel://:p%40ss@10.0.0.1:26380/2;sentinel://10.0.0.2;sentinel://s3.internal:26381"
    assert parse_sentinel_url(url, "primary") == SentinelTarget(
        sentinels=(("10.0.0.1", 26380), ("10.0.0.2", 26379), ("s3.internal", 26381)),
        master="primary",
        db=2,
        username=None,
        password="p@ss",
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sentinel://", "not a Sentinel address"),
        ("sentinel://a:1;redis://b:2", "not a Sentinel address"),
        ("sentinel://a:99999", "bad port"),
        ("sentinel://a:1/zero", "must be a number"),
        (";", "names no Sentinel"),
    ],
)
def test_malformed_sentinel_urls_are_refused_by_name(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_sentinel_url(url, "primary")


def test_plain_urls_are_not_sentinel() -> None:
    assert not is_sentinel_url("redis://localhost:6379/0")
    assert is_sentinel_url(" Sentinel://h:1")
    assert Settings(redis_url="redis://localhost:6379/0").sentinel_target() is None


def test_a_sentinel_url_without_the_primarys_name_does_not_start() -> None:
    with pytest.raises(ValidationError, match="WHISPER_JOBS_REDIS_SENTINEL_MASTER"):
        Settings(redis_url="sentinel://127.0.0.1:26379")


def test_the_broker_gets_the_same_url_and_the_primarys_name() -> None:
    settings = Settings(
        redis_url="sentinel://:pw@127.0.0.1:26379;sentinel://127.0.0.1:26380",
        redis_sentinel_master="primary",
        redis_sentinel_password="sentinel-secret",
    )
    config = celery_config(settings)
    assert config["broker_url"] == settings.redis_url  # kombu reads `sentinel://` lists itself
    options = config["broker_transport_options"]
    assert options["master_name"] == "primary"
    assert options["sentinel_kwargs"]["password"] == "sentinel-secret"
    assert options["sentinel_kwargs"]["socket_timeout"] == settings.redis_socket_timeout_seconds


def test_waiting_for_replicas_must_end_before_the_socket_times_out() -> None:
    with pytest.raises(ValidationError, match="REPLICA_TIMEOUT_MS must be below"):
        Settings(
            redis_min_replicas=1, redis_replica_timeout_ms=5000, redis_socket_timeout_seconds=5
        )
    Settings(redis_min_replicas=1, redis_replica_timeout_ms=4000, redis_socket_timeout_seconds=5)
