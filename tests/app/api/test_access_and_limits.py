"""Keys and isolation, idempotency, backpressure and input limits, over the real Redis."""

from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient

from app.api.main import create_app
from app.contract.jobs import queue_for
from app.core.auth import KeyRing, new_key
from app.core.config import Settings
from tests.app.api.test_jobs_routes import assert_error, submit
from tests.conftest import DATA

ALICE, ALICE_ENTRY = new_key("alice")
BOB, BOB_ENTRY = new_key("bob")


def client_for(settings: Settings, **changes: object) -> TestClient:
    return TestClient(create_app(settings.model_copy(update=changes)))


@pytest.fixture
def keyed(settings: Settings, redis_client: redis.Redis) -> Iterator[TestClient]:
    with client_for(settings, api_keys=[ALICE_ENTRY, BOB_ENTRY]) as c:
        yield c


def as_(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_keys_are_required_on_v1_but_not_on_probes(keyed: TestClient) -> None:
    response = keyed.get("/v1/models")
    assert_error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"
    assert_error(keyed.get("/v1/models", headers=as_("wj_not-a-key")), 401, "unauthorized")
    assert_error(keyed.get("/v1/models", headers={"Authorization": ALICE}), 401, "unauthorized")
    assert_error(
        keyed.get("/v1/jobs/x", headers={"Authorization": f"Basic {ALICE}"}), 401, "unauthorized"
    )
    assert keyed.get("/v1/models", headers=as_(ALICE)).status_code == 200
    assert keyed.get("/healthz").status_code == 200
    assert keyed.get("/readyz").status_code == 503  # no worker, but no key needed either


def test_a_job_is_invisible_to_other_keys(keyed: TestClient) -> None:
    job = keyed.post(
        "/v1/jobs",
        files={"file": ("jfk.flac", (DATA / "jfk.flac").read_bytes())},
        headers=as_(ALICE),
    ).json()
    assert job["owner"] == "alice"
    url = f"/v1/jobs/{job['id']}"
    for method, path in (
        ("GET", url),
        ("GET", f"{url}/transcript"),
        ("GET", f"{url}/events"),
        ("DELETE", url),
    ):
        assert_error(keyed.request(method, path, headers=as_(BOB)), 404, "not_found")
    assert keyed.get(url, headers=as_(ALICE)).json()["status"] == "queued"
    assert [j["id"] for j in keyed.get("/v1/jobs", headers=as_(ALICE)).json()["data"]] == [
        job["id"]
    ]
    assert keyed.get("/v1/jobs", headers=as_(BOB)).json()["data"] == []


def test_listing_is_newest_first_and_filters(client: TestClient) -> None:
    ids = [submit(client).json()["id"] for _ in range(3)]
    client.delete(f"/v1/jobs/{ids[0]}")  # canceled
    listed = client.get("/v1/jobs").json()["data"]
    assert [j["id"] for j in listed] == ids[::-1]
    assert [j["id"] for j in client.get("/v1/jobs?status=canceled").json()["data"]] == [ids[0]]
    assert len(client.get("/v1/jobs?limit=2").json()["data"]) == 2
    assert_error(client.get("/v1/jobs?limit=0"), 422, "invalid_request")


def test_idempotency_key_replays_the_original_job(
    client: TestClient, redis_client: redis.Redis, settings: Settings
) -> None:
    first = submit(client, language="en", headers={"Idempotency-Key": "abc-1"})
    assert first.status_code == 202
    again = submit(client, language="en", headers={"Idempotency-Key": "abc-1"})
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["location"] == f"/v1/jobs/{first.json()['id']}"
    assert redis_client.llen(queue_for("base")) == 1  # queued once
    assert len(list(settings.uploads.directory.iterdir())) == 1
    different = submit(client, language="de", headers={"Idempotency-Key": "abc-1"})
    assert_error(different, 422, "idempotency_key_reused")
    other_key = submit(client, language="en", headers={"Idempotency-Key": "abc-2"})
    assert other_key.status_code == 202 and other_key.json()["id"] != first.json()["id"]


def test_idempotency_keys_are_per_caller(keyed: TestClient) -> None:
    files = {"file": ("jfk.flac", (DATA / "jfk.flac").read_bytes())}
    a = keyed.post("/v1/jobs", files=files, headers={**as_(ALICE), "Idempotency-Key": "k"})
    b = keyed.post("/v1/jobs", files=files, headers={**as_(BOB), "Idempotency-Key": "k"})
    assert a.status_code == b.status_code == 202
    assert a.json()["id"] != b.json()["id"]


def test_per_key_cap_is_429_with_retry_after(settings: Settings, redis_client: redis.Redis):
    with client_for(settings, max_active_jobs_per_key=2) as c:
        assert submit(c).status_code == submit(c).status_code == 202
        response = submit(c)
        assert_error(response, 429, "rate_limited")
        assert int(response.headers["retry-after"]) > 0
        assert len(list(settings.uploads.directory.iterdir())) == 2


def test_global_cap_is_503_overloaded(settings: Settings, redis_client: redis.Redis) -> None:
    with client_for(settings, max_active_jobs=1) as c:
        assert submit(c).status_code == 202
        assert_error(submit(c), 503, "overloaded")


def test_declared_oversize_upload_is_413_before_the_body(settings: Settings, redis_client):
    with client_for(settings, max_upload_bytes=100_000) as c:
        response = submit(c)  # jfk.flac is 1.1 MB
        assert_error(response, 413, "payload_too_large")
    assert list(settings.uploads.directory.iterdir()) == []


def test_chunked_oversize_upload_is_cut_off_at_the_cap(settings: Settings, redis_client):
    # (TestClient reads a generator body whole; the early cut-off over a real socket is checked
    # in tests/e2e/test_faults.py.)
    boundary = "b0und4ry"

    def body():
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"'
            "\r\nContent-Type: audio/wav\r\n\r\n"
        ).encode()
        for _ in range(100):
            yield b"\0" * 10_000
        yield f"\r\n--{boundary}--\r\n".encode()

    with client_for(settings, max_upload_bytes=50_000) as c:
        response = c.post(
            "/v1/jobs",
            content=body(),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
    assert "content-length" not in response.request.headers  # really chunked
    assert_error(response, 413, "payload_too_large")
    assert list(settings.uploads.directory.iterdir()) == []


def test_not_audio_is_415(client: TestClient, settings: Settings) -> None:
    assert_error(submit(client, content=b"plain text, no sound\n" * 100), 415, "unsupported_media")
    assert list(settings.uploads.directory.iterdir()) == []


def test_declared_duration_over_the_cap_is_refused(settings: Settings, redis_client) -> None:
    with client_for(settings, max_audio_seconds=5) as c:
        assert_error(submit(c), 422, "audio_too_long")  # jfk declares 11 s
    assert list(settings.uploads.directory.iterdir()) == []


def test_created_keys_verify() -> None:
    key, entry = new_key("svc")
    settings = Settings(redis_url="redis://x", api_keys=[entry])
    ring = KeyRing(settings.api_keys)
    assert ring.identify(key) == "svc"
    assert ring.identify(key + "x") is None
    assert entry.split(":")[1] not in key
