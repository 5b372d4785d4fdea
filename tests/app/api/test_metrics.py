"""`GET /metrics` without a worker: parsed with prometheus_client's own parser."""

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.app.api.test_jobs_routes import submit


def samples(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(found: dict, name: str, **labels: str) -> float:
    return found[(name, frozenset(labels.items()))]


def test_a_queued_job_shows_in_the_gauges_and_counters(client: TestClient) -> None:
    before = samples(client)
    assert value(before, "whisper_jobs_jobs", status="queued", model="base") == 0
    assert value(before, "whisper_jobs_queue_depth", queue="transcribe.base") == 0
    job = submit(client).json()
    after = samples(client)
    assert value(after, "whisper_jobs_jobs", status="queued", model="base") == 1
    assert value(after, "whisper_jobs_queue_depth", queue="transcribe.base") == 1
    assert value(after, "whisper_jobs_jobs_submitted_total", model="base") == 1
    latency = value(
        after,
        "whisper_jobs_http_request_duration_seconds_count",
        method="POST",
        route="/v1/jobs",
        status="202",
    )
    assert latency == 1

    assert client.delete(f"/v1/jobs/{job['id']}").status_code == 204
    canceled = samples(client)
    assert value(canceled, "whisper_jobs_jobs", status="queued", model="base") == 0
    assert value(canceled, "whisper_jobs_jobs_finished_total", status="canceled", model="base") == 1
    # The route template, not the id, is the label.
    deletes = value(
        canceled,
        "whisper_jobs_http_request_duration_seconds_count",
        method="DELETE",
        route="/v1/jobs/{job_id}",
        status="204",
    )
    assert deletes == 1


def test_unmatched_paths_share_one_label(client: TestClient) -> None:
    client.get("/no/such/path")
    client.get("/another")
    found = samples(client)
    assert (
        value(
            found,
            "whisper_jobs_http_request_duration_seconds_count",
            method="GET",
            route="unmatched",
            status="404",
        )
        == 2
    )


def test_redis_memory_is_shown_against_its_limit(client: TestClient, redis_client) -> None:
    info = redis_client.info("memory")
    found = samples(client)
    assert value(found, "whisper_jobs_redis_memory_max_bytes") == info["maxmemory"]
    used = value(found, "whisper_jobs_redis_memory_used_bytes")
    assert 0 < used < 2 * info["used_memory"] + 2**20  # read at scrape time, of the same server


def test_each_live_worker_is_shown_with_its_layout(client: TestClient, redis_client) -> None:
    from app.storage import liveness

    liveness.beat(redis_client, "w1@host", ["transcribe.base"], layout="8 jobs decoded together")
    found = samples(client)
    assert (
        value(found, "whisper_jobs_worker_info", worker="w1@host", layout="8 jobs decoded together")
        == 1
    )
