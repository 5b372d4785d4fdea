"""A new transcript format is one entry in `app.contract.formats.FORMATS`: the transcript route
validates and serves it with its media type and extension, `GET /v1/formats` (which the console
builds its buttons from) lists it, and the OpenAPI document names it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient

from app.api.main import create_app
from app.contract import formats
from app.core.config import Settings
from app.storage.store import JobStore
from tests.app.api.test_jobs_routes import submit
from tests.app.storage.test_store import RESULT


@pytest.fixture
def with_csv(monkeypatch: pytest.MonkeyPatch) -> None:
    """A throwaway format: the registry entry is all it takes."""
    csv = formats.OutputFormat(
        "csv",
        "text/csv; charset=utf-8",
        "csv",
        lambda r, _: "".join(f"{s.start},{s.end},{s.text.strip()}\n" for s in r.segments),
        description="start, end and text per segment.",
    )
    monkeypatch.setitem(formats.FORMATS, "csv", csv)


@pytest.fixture
def app_client(settings: Settings, redis_client: redis.Redis) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_a_new_format_is_one_registry_entry(
    with_csv: None, app_client: TestClient, redis_client: redis.Redis
) -> None:
    job = submit(app_client).json()
    store = JobStore(redis_client, result_ttl_seconds=3600)
    store.mark_processing(job["id"])
    store.mark_completed(job["id"], RESULT)
    response = app_client.get(f"/v1/jobs/{job['id']}/transcript", params={"format": "csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'inline; filename="jfk.csv"'
    assert response.text == "0.0,2.0,hi\n"
    listed = app_client.get("/v1/formats").json()["data"]
    assert [f["name"] for f in listed] == [*formats.FORMATS]
    assert {
        "name": "csv",
        "media_type": "text/csv; charset=utf-8",
        "extension": "csv",
        "subtitles": False,
        "description": "start, end and text per segment.",
    } in listed
    parameters = app_client.get("/openapi.json").json()["paths"]["/v1/jobs/{job_id}/transcript"][
        "get"
    ]["parameters"]
    (fmt,) = [p for p in parameters if p["name"] == "format"]
    assert "csv" in fmt["schema"]["enum"]
