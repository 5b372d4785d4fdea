"""Shared fixtures: one real Redis-protocol server (the embedded Valkey binary) per test session,
a flushed database per test, and a model cache shared by every test that loads a model."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from app.core.config import Settings
from app.core.embedded import EmbeddedRedis
from app.storage.store import JobStore
from tests.s3_server import S3Server, s3_server

DATA = Path(__file__).parent / "data"
JFK = DATA / "jfk.flac"
JFK_TEXT = (
    " And so my fellow Americans, ask not what your country can do for you,"
    " ask what you can do for your country."
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/e2e runs real processes over HTTP: marked `e2e` by where it lives,
    so `make test-fast` (`-m "not e2e and not model"`) can leave it out."""
    e2e = Path(__file__).parent / "e2e"
    for item in items:
        if e2e in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(autouse=True)
def collected_at_the_end() -> Iterator[None]:
    """The leak check: whatever a test left unclosed (a socket, a file, a pipe) is collected at
    the test's own end, so its ResourceWarning fails that test (`filterwarnings = error`) and not
    whichever later test happens to collect it."""
    yield
    gc.collect()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path_factory.mktemp("valkey"), persistent=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_client(redis_server: EmbeddedRedis) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def store(redis_client: redis.Redis) -> JobStore:
    return JobStore(redis_client, result_ttl_seconds=3600)


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture
def settings(redis_server: EmbeddedRedis, tmp_path: Path, models_dir: Path) -> Settings:
    return Settings(
        redis_url=redis_server.url,
        data_dir=tmp_path / "data",
        model_cache_dir=models_dir,
        result_ttl_seconds=3600,
        ready_refresh_seconds=0.5,
    )


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One real S3-protocol server for the session (`tests/s3_server.py`); each test module
    keeps to a prefix of its own."""
    with s3_server(tmp_path_factory.mktemp("s3") / "moto.log") as server:
        yield server
