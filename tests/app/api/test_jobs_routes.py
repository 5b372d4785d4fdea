"""The HTTP contract without a worker: validation, errors, queueing and cancel of queued jobs."""

import json
import subprocess
import sys

import redis
from fastapi.testclient import TestClient

from app.contract.jobs import queue_for
from app.core.config import Settings
from tests.conftest import JFK


def submit(client: TestClient, content: bytes | None = None, headers=None, **form: str):
    data = content if content is not None else JFK.read_bytes()
    return client.post("/v1/jobs", files={"file": ("jfk.flac", data)}, data=form, headers=headers)


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


def test_submit_queues_a_job(client: TestClient, settings: Settings, redis_client: redis.Redis):
    response = submit(client, language="en", metadata='{"ticket": 7}', beam_size="3")
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["location"] == f"/v1/jobs/{job['id']}"
    assert job["status"] == "queued"
    assert job["progress"] == 0.0
    assert job["metadata"] == {"ticket": 7}
    assert job["options"]["language"] == "en"
    assert job["options"]["beam_size"] == 3
    assert job["options"]["model"] == "base"
    assert job["result"] is None and job["error"] is None
    assert len(job["id"]) == 32
    # the upload is on disk, byte for byte, and the task message is on the queue with only the id
    assert settings.uploads.path(job["id"]).read_bytes() == JFK.read_bytes()
    messages = redis_client.lrange(queue_for("base"), 0, -1)
    assert len(messages) == 1
    assert json.loads(json.loads(messages[0])["headers"]["argsrepr"].replace("'", '"')) == [
        job["id"]
    ]
    assert client.get(f"/v1/jobs/{job['id']}").json() == job


def test_unknown_job_is_404(client: TestClient):
    assert_error(client.get("/v1/jobs/0123"), 404, "not_found")
    assert_error(client.get("/v1/jobs/0123/transcript"), 404, "not_found")
    assert_error(client.delete("/v1/jobs/0123"), 404, "not_found")
    assert_error(client.get("/v1/nothing-here"), 404, "not_found")


def test_empty_upload_is_400_and_leaves_nothing(client: TestClient, settings: Settings):
    assert_error(submit(client, content=b""), 400, "empty_file")
    assert list(settings.uploads.directory.iterdir()) == []


def test_unknown_model_is_422(client: TestClient):
    assert_error(submit(client, model="huge-v9"), 422, "model_not_available")


def test_bad_options_are_422_invalid_request(client: TestClient, settings: Settings):
    for form in (
        {"beam_size": "0"},
        {"beam_size": "11"},
        {"beam_size": "many"},
        {"task": "summarize"},
        {"word_timestamps": "perhaps"},
        {"language": "xx"},
        {"metadata": "[1, 2]"},
        {"metadata": "{not json"},
    ):
        assert_error(submit(client, **form), 422, "invalid_request")
    assert list(settings.uploads.directory.iterdir()) == []


def test_missing_file_is_422(client: TestClient):
    assert_error(client.post("/v1/jobs", data={"task": "transcribe"}), 422, "invalid_request")


def test_transcript_before_completion_is_409(client: TestClient):
    job = submit(client).json()
    assert_error(client.get(f"/v1/jobs/{job['id']}/transcript"), 409, "job_not_completed")
    assert_error(client.get(f"/v1/jobs/{job['id']}/transcript?format=pdf"), 422, "invalid_request")


def test_cancel_queued_job_then_delete_it(client: TestClient, settings: Settings):
    job = submit(client).json()
    assert client.delete(f"/v1/jobs/{job['id']}").status_code == 204
    canceled = client.get(f"/v1/jobs/{job['id']}").json()
    assert canceled["status"] == "canceled"
    assert canceled["completed_at"] is not None
    assert not settings.uploads.path(job["id"]).exists()
    # a second DELETE removes the finished job's data
    assert client.delete(f"/v1/jobs/{job['id']}").status_code == 204
    assert_error(client.get(f"/v1/jobs/{job['id']}"), 404, "not_found")


def test_healthz_and_readyz_without_worker(client: TestClient):
    assert client.get("/healthz").json() == {"status": "ok"}
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "not_ready"
    assert response.json()["checks"] == {"redis": True, "workers": 0}


def test_a_job_and_its_queue_message_are_written_together(
    client: TestClient, redis_client: redis.Redis
):
    # The job's record and its Celery message land in one transaction (no separate publish
    # that could fail after the record exists): the message is there when the 202 is.
    job = submit(client).json()
    (raw,) = redis_client.lrange("transcribe.base", 0, -1)
    message = json.loads(raw)
    assert message["headers"]["task"] == "whisper_jobs.transcribe"
    assert job["id"] in message["headers"]["argsrepr"]
    assert redis_client.exists(f"whisper-jobs:job:{job['id']}")


def test_openapi_documents_the_form(client: TestClient):
    schema = client.get("/openapi.json").json()
    assert "/v1/jobs" in schema["paths"]
    assert "202" in schema["paths"]["/v1/jobs"]["post"]["responses"]


def test_api_never_imports_worker_or_model_code():
    code = (
        "import sys\n"
        "from app.api.main import create_app\n"
        "from app.core.config import Settings\n"
        "create_app(Settings(redis_url='redis://127.0.0.1:1/0'))\n"
        "bad = [m for m in ('worker', 'faster_whisper', 'ctranslate2') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_job_list_pages_with_after(client: TestClient) -> None:
    ids = [submit(client).json()["id"] for _ in range(5)]
    first = client.get("/v1/jobs", params={"limit": 2}).json()
    assert [j["id"] for j in first["data"]] == ids[::-1][:2] and first["has_more"] is True
    second = client.get("/v1/jobs", params={"limit": 2, "after": first["data"][-1]["id"]}).json()
    assert [j["id"] for j in second["data"]] == ids[::-1][2:4] and second["has_more"] is True
    last = client.get("/v1/jobs", params={"limit": 2, "after": second["data"][-1]["id"]}).json()
    assert [j["id"] for j in last["data"]] == ids[:1] and last["has_more"] is False
    assert_error(client.get("/v1/jobs", params={"after": "f" * 32}), 404, "not_found")
