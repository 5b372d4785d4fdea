"""`GET /v1/jobs/{id}?wait=N`: a long poll answers as soon as the job ends, or after N seconds
with the job as it is then; over the real Redis (its job events), no worker."""

from __future__ import annotations

import threading
import time

from fastapi.testclient import TestClient

from app.storage.keys import events_channel_for
from app.storage.store import JobStore
from tests.app.api.test_jobs_routes import assert_error, submit
from tests.app.storage.test_store import RESULT


def test_a_long_poll_answers_when_the_job_ends(client: TestClient, store: JobStore) -> None:
    job = submit(client).json()
    store.mark_processing(job["id"])
    channel = events_channel_for(job["id"])

    def finish_once_the_poll_listens() -> None:
        deadline = time.monotonic() + 30
        while not dict(store.redis.pubsub_numsub(channel)).get(channel.encode()):
            if time.monotonic() > deadline:
                return  # the poll then answers `processing` after its wait, and the test fails
            time.sleep(0.02)
        store.mark_completed(job["id"], RESULT)

    finisher = threading.Thread(target=finish_once_the_poll_listens)
    finisher.start()
    try:
        answer = client.get(f"/v1/jobs/{job['id']}", params={"wait": 60})
    finally:
        finisher.join(60)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "completed"  # woken by the end, not by its wait running out
    assert answer.json()["result"]["text"] == RESULT.text


def test_a_long_poll_that_runs_out_gives_the_job_as_it_is(client: TestClient) -> None:
    job = submit(client).json()
    answer = client.get(f"/v1/jobs/{job['id']}", params={"wait": 0.3})
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "queued"


def test_a_long_poll_is_bounded_and_owned(client: TestClient) -> None:
    job = submit(client).json()
    assert_error(client.get(f"/v1/jobs/{job['id']}", params={"wait": 61}), 422, "invalid_request")
    assert_error(client.get(f"/v1/jobs/{job['id']}", params={"wait": 0}), 422, "invalid_request")
    unknown = "0" * 32
    assert_error(client.get(f"/v1/jobs/{unknown}", params={"wait": 1}), 404, "not_found")
