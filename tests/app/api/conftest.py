from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient

from app.api.main import create_app
from app.core.config import Settings


@pytest.fixture
def client(settings: Settings, redis_client: redis.Redis) -> Iterator[TestClient]:
    # In-process HTTP against the real Redis; no worker runs, so jobs stay queued.
    with TestClient(create_app(settings)) as test_client:
        yield test_client
