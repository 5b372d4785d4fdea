"""Jobs decoded together by one real worker process (WHISPER_JOBS_BATCH_JOBS=4, a pool of
threads, 2 model replicas of 1 thread) on the real model, Valkey, Celery and HTTP: each job's
result is its own, and every promise of one-job-at-a-time holds — a SIGKILL with a batch in
flight loses no job, each job's attempts are its own, a cancel stops one job only."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.embedded import EmbeddedRedis
from tests.conftest import DATA, JFK
from tests.e2e.conftest import NO_LOOPS, Cluster, cluster_on_db, uploads_left
from tests.transcripts import reference, wer

LEASE_SECONDS = 6


@pytest.fixture(scope="module")
def cluster(
    redis_server: EmbeddedRedis, models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    with cluster_on_db(
        redis_server,
        10,
        tmp_path_factory.mktemp("batching"),
        models_dir,
        WHISPER_JOBS_BATCH_JOBS="4",
        WHISPER_JOBS_MODEL_REPLICAS="2",
        WHISPER_JOBS_CPU_THREADS="1",
        WHISPER_JOBS_BATCH_WAIT_MS="200",
        WHISPER_JOBS_MAX_ACTIVE_JOBS_PER_KEY="100",
        # The recovery of a killed worker's jobs: their leases lapse, the sweep re-queues them.
        WHISPER_JOBS_JOB_LEASE_SECONDS=str(LEASE_SECONDS),
        WHISPER_JOBS_SWEEP_INTERVAL_SECONDS="2",
    ) as c:
        c.start("beat")
        yield c


def statuses(cluster: Cluster, ids: list[str]) -> list[dict]:
    return [cluster.http.get(f"/v1/jobs/{i}").json() for i in ids]


def wait_until_decoding_together(cluster: Cluster, ids: list[str], at_least: int) -> None:
    """Until `at_least` of the jobs are processing at once, with some progress made."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        jobs = statuses(cluster, ids)
        assert all(j["status"] in {"queued", "processing"} for j in jobs), jobs
        running = [j for j in jobs if j["status"] == "processing"]
        if len(running) >= at_least and any(j["progress"] > 0 for j in running):
            return
        time.sleep(0.05)
    raise AssertionError(f"never {at_least} processing together\n{cluster.tail()}")


def test_jobs_decoded_together_each_get_their_own_result(cluster: Cluster, models_dir: Path):
    files = [JFK, DATA / "de.wav", DATA / "fr.wav", JFK]
    ids = [cluster.submit(f, temperature="0")["id"] for f in files]
    seen_together = 0
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        jobs = statuses(cluster, ids)
        seen_together = max(seen_together, sum(j["status"] == "processing" for j in jobs))
        if all(j["status"] == "completed" for j in jobs):
            break
        assert not any(j["status"] in {"failed", "canceled"} for j in jobs), jobs
        time.sleep(0.05)
    assert seen_together >= 2  # one worker process, several jobs in it at once
    expected = [reference(models_dir, "base", f, temperature=[0.0]) for f in files]
    ours = " ".join(j["result"]["text"] for j in jobs)
    assert wer(" ".join(e.text for e in expected), ours) <= 0.01
    assert [j["result"]["language"] for j in jobs] == [e.language for e in expected]
    assert all(j["attempts"] == 1 for j in jobs)
    # One process, one load: its preload at start, which the jobs waited for rather than
    # each loading the model again.
    assert (cluster.logs / "worker.log").read_text().count("loading model base") == 1


def test_sigkill_with_a_batch_in_flight_loses_no_job(
    cluster: Cluster, long_speech: Path, long_speech_text: str
):
    ids = [cluster.submit(long_speech, **NO_LOOPS)["id"] for _ in range(4)]
    wait_until_decoding_together(cluster, ids, at_least=2)
    in_flight = {j["id"] for j in statuses(cluster, ids) if j["status"] == "processing"}
    cluster.stop("worker", signal.SIGKILL, 30)  # one process: every job of the batch dies
    cluster.start("worker")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        jobs = statuses(cluster, ids)
        if all(j["status"] not in {"queued", "processing"} for j in jobs):
            break
        time.sleep(0.2)
    for job in jobs:
        assert job["status"] == "completed", (job, cluster.tail())
        segments = job["result"]["segments"]
        assert [s["id"] for s in segments] == list(range(len(segments)))  # none appended twice
        assert wer(long_speech_text, job["result"]["text"]) <= 0.05  # the library's words
        # Attempts are per job: those killed mid-batch ran twice, the others once.
        assert job["attempts"] == (2 if job["id"] in in_flight else 1), job
        assert uploads_left(cluster.data_dir, job["id"]) == []
    cluster.wait_ready()


def test_a_cancel_stops_one_job_of_a_batch_only(
    cluster: Cluster, long_speech: Path, long_speech_text: str
):
    ids = [cluster.submit(long_speech, **NO_LOOPS)["id"] for _ in range(3)]
    wait_until_decoding_together(cluster, ids, at_least=3)
    assert cluster.http.delete(f"/v1/jobs/{ids[0]}").status_code == 204
    others = [cluster.wait_for(i, lambda j: j["status"] == "completed", 240) for i in ids[1:]]
    assert cluster.http.get(f"/v1/jobs/{ids[0]}").json()["status"] == "canceled"
    for job in others:
        assert wer(long_speech_text, job["result"]["text"]) <= 0.05  # the library's words
        assert job["attempts"] == 1
