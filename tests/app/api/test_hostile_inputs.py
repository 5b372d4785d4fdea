"""Hostile input against the HTTP contract, in process, on the real Redis (no worker runs):
every cap answers a 4xx in the contract shape, no record one caller stores can break reads for
anyone, idempotency replays hold at the cap, and a Redis that is away is a 503, never a 500."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient

from app.api.main import create_app
from app.contract.jobs import new_job_id
from app.core.config import Settings
from app.core.embedded import free_port
from app.storage import keys as layout
from app.storage.idempotency import JobCreation
from tests.app.api.test_jobs_routes import assert_error, submit

SECRET = "whsec_" + base64.b64encode(b"s" * 32).decode()


def deep(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


@pytest.mark.parametrize("levels", [17, 250, 1000, 100_000 // 6])
def test_deeply_nested_metadata_is_refused(client: TestClient, levels: int) -> None:
    raw = deep(levels)
    if len(raw) > 16 * 1024:
        assert_error(submit(client, metadata=raw), 422, "invalid_request")
        return
    response = submit(client, metadata=raw)
    assert_error(response, 422, "invalid_request")
    assert "nested" in response.json()["error"]["message"] or "JSON" in response.text


def test_metadata_at_the_depth_cap_round_trips(client: TestClient) -> None:
    response = submit(client, metadata=deep(16))
    assert response.status_code == 202, response.text
    job = client.get(f"/v1/jobs/{response.json()['id']}").json()
    assert job["metadata"] == {"a": eval(deep(15))}  # noqa: S307 - our own literal


@pytest.mark.parametrize("raw", ['{"a": 1e400}', '{"a": [-1e999]}', '{"a": {"b": 2e308}}'])
def test_a_number_json_cannot_hold_is_refused(client: TestClient, raw: str) -> None:
    # Read as infinity, it would have been stored as null: a silent change of the caller's data.
    assert_error(submit(client, metadata=raw), 422, "invalid_request")


@pytest.mark.parametrize(
    "raw",
    [
        '{"n": ' + "9" * 5000 + "}",
        '{"x": NaN}',
        '{"x": Infinity}',
        '{"a": 1e400}',
        '{"a": [-1e999]}',
        "[1]",
        "{",
        '"s"',
    ],
)
def test_odd_metadata_is_a_4xx_or_readable(client: TestClient, raw: str) -> None:
    response = submit(client, metadata=raw)
    assert response.status_code < 500, response.text
    if response.status_code == 202:  # accepted: then it reads back, alone and in the list
        job_id = response.json()["id"]
        assert client.get(f"/v1/jobs/{job_id}").status_code == 200
        assert job_id in [j["id"] for j in client.get("/v1/jobs").json()["data"]]
    else:
        assert_error(response, 422, "invalid_request")


@pytest.mark.parametrize(
    "form",
    [
        {"temperature": ",".join(["0"] * 11)},
        {"temperature": "0," * 499_000 + "0"},
        {"language": "e" * 10_000},
        {"model": "m" * 10_000},
        {"initial_prompt": "p" * 2001},
        {"hotwords": "h" * 2001},
        {"webhook_url": "https://example.org/" + "a" * 3000},
        {"beam_size": "11"},
        {"log_prob_threshold": "5"},
        {"no_speech_threshold": "-1"},
        {"patience": "1e308"},
    ],
)
def test_every_field_has_a_cap(client: TestClient, form: dict[str, str]) -> None:
    response = submit(client, **form)
    assert_error(response, 422, "invalid_request")
    assert len(response.content) < 4096  # the refusal does not echo a huge value back


@pytest.mark.parametrize(
    "path",
    [
        "/v1/jobs/{id}:result",
        "/v1/jobs/{id}:segments",
        "/v1/jobs/ABC",
        "/v1/jobs/..%2F..%2Fx",
        "/v1/jobs/{id}:result/transcript",
        "/v1/jobs/{id}:lease/events",
    ],
)
def test_ids_outside_the_format_are_not_found(
    client: TestClient, redis_client: redis.Redis, path: str
) -> None:
    job_id = submit(client).json()["id"]
    redis_client.set(layout.lease_key_for(job_id), "1")
    assert_error(client.get(path.format(id=job_id)), 404, "not_found")
    if path.count("/") == 3:  # a job's own path: DELETE too
        assert_error(client.delete(path.format(id=job_id)), 404, "not_found")
    assert redis_client.exists(layout.lease_key_for(job_id)) == 1  # nothing else was touched


def poison(redis_client: redis.Redis, owner: str = "anonymous") -> str:
    """A stored record pydantic cannot read back (as an older version could have written):
    metadata nested past pydantic's own limit."""
    job_id = new_job_id()
    record = (
        f'{{"id":"{job_id}","status":"queued","created_at":"2026-01-01T00:00:00Z",'
        f'"options":{{}},"metadata":{deep(250)},"owner":"{owner}"}}'
    )
    redis_client.set(layout.key_for(job_id), record)
    redis_client.sadd(layout.ACTIVE_KEY, job_id)
    redis_client.sadd(layout.owner_active_key(owner), job_id)
    redis_client.zadd(layout.owner_jobs_key(owner), {job_id: 1.0})
    return job_id


def test_an_unreadable_record_breaks_nothing_and_can_be_deleted(
    client: TestClient, redis_client: redis.Redis
) -> None:
    good = submit(client).json()["id"]
    bad = poison(redis_client)
    assert_error(client.get(f"/v1/jobs/{bad}"), 404, "not_found")
    assert [j["id"] for j in client.get("/v1/jobs").json()["data"]] == [good]
    assert client.get("/metrics").status_code == 200
    assert client.delete(f"/v1/jobs/{bad}").status_code == 204
    assert redis_client.exists(layout.key_for(bad)) == 0
    assert not redis_client.sismember(layout.ACTIVE_KEY, bad)
    assert client.get(f"/v1/jobs/{good}").status_code == 200


def test_another_key_cannot_delete_an_unreadable_record(
    client: TestClient, redis_client: redis.Redis
) -> None:
    bad = poison(redis_client, owner="mallory")
    assert_error(client.delete(f"/v1/jobs/{bad}"), 404, "not_found")
    assert redis_client.exists(layout.key_for(bad)) == 1


def test_an_idempotent_replay_is_answered_at_the_cap(settings: Settings) -> None:
    with TestClient(create_app(settings.model_copy(update={"max_active_jobs_per_key": 1}))) as c:
        first = submit(c, headers={"Idempotency-Key": "k1"})
        assert first.status_code == 202
        assert_error(submit(c, headers={"Idempotency-Key": "k2"}), 429, "rate_limited")
        replay = submit(c, headers={"Idempotency-Key": "k1"})
        assert replay.status_code == 200 and replay.json()["id"] == first.json()["id"]


def test_the_fingerprint_covers_the_webhook(settings: Settings) -> None:
    changes = {"webhook_secret": SECRET, "allowed_networks": ["127.0.0.1/32"]}
    with TestClient(create_app(settings.model_copy(update=changes))) as c:
        assert submit(c, headers={"Idempotency-Key": "w"}).status_code == 202
        again = submit(c, headers={"Idempotency-Key": "w"}, webhook_url="http://127.0.0.1:9/h")
        assert_error(again, 422, "idempotency_key_reused")


def test_a_key_whose_creation_failed_can_be_retried(
    client: TestClient,
    settings: Settings,
    redis_client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = JobCreation._create

    def lost(*_: object, **__: object) -> None:  # the connection drops mid-transaction
        raise redis.ConnectionError("Redis went away")

    monkeypatch.setattr(JobCreation, "_create", lost)
    assert_error(submit(client, headers={"Idempotency-Key": "r"}), 503, "queue_unavailable")
    # One transaction: neither a record, nor a message, nor the key's record, nor the upload.
    assert redis_client.keys("whisper-jobs:job:*") == []
    assert redis_client.llen("transcribe.base") == 0
    assert list(settings.uploads.directory.iterdir()) == []
    monkeypatch.setattr(JobCreation, "_create", real)
    retried = submit(client, headers={"Idempotency-Key": "r"})
    assert retried.status_code == 202, retried.text
    assert retried.json()["status"] == "queued"
    assert redis_client.llen("transcribe.base") == 1


@pytest.fixture
def redis_gone(settings: Settings) -> Iterator[TestClient]:
    """The API pointed at a port where no Redis listens."""
    gone = settings.model_copy(
        update={
            "redis_url": f"redis://127.0.0.1:{free_port()}/0",
            "redis_connect_timeout_seconds": 0.5,
            "redis_socket_timeout_seconds": 0.5,
        }
    )
    with TestClient(create_app(gone)) as c:
        yield c


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/jobs"),
        ("GET", "/v1/jobs/" + "a" * 32),
        ("DELETE", "/v1/jobs/" + "a" * 32),
        ("GET", "/v1/jobs/" + "a" * 32 + "/transcript"),
        ("GET", "/v1/jobs/" + "a" * 32 + "/events"),
        ("POST", "/v1/jobs"),
        ("GET", "/metrics"),
    ],
)
def test_redis_away_is_503_queue_unavailable(
    redis_gone: TestClient, method: str, path: str
) -> None:
    response = submit(redis_gone) if method == "POST" else redis_gone.request(method, path)
    assert_error(response, 503, "queue_unavailable")
    assert response.headers["retry-after"].isdigit()


def test_readyz_is_503_and_says_why_without_redis(redis_gone: TestClient) -> None:
    response = redis_gone.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["error"]["code"] == "not_ready"
    assert body["checks"] == {"redis": False, "workers": 0}


def test_readyz_without_a_worker_is_503_with_the_models(client: TestClient) -> None:
    body = client.get("/readyz").json()
    assert body["checks"] == {"redis": True, "workers": 0}
    assert body["models"] == {"base": False, "tiny.en": False}
    assert "No transcription worker" in body["error"]["message"]


def test_a_full_redis_is_503_not_500(client: TestClient, redis_client: redis.Redis) -> None:
    redis_client.config_set("maxmemory", "1")
    try:
        response = submit(client)
    finally:
        redis_client.config_set("maxmemory", "0")
    assert_error(response, 503, "queue_unavailable")
    assert submit(client).status_code == 202
