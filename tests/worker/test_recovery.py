"""Attempts, leases and the recovery sweep against the real Redis (engine faked at our seam)."""

import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis

from app.contract.errors import AudioTooLong
from app.contract.jobs import Job, JobOptions, JobStatus, new_job_id, utcnow
from app.core.config import Settings
from app.core.uploads import LocalUploads
from app.storage.broker import celery_config, task_time_limits
from app.storage.kombu_layout import pending_job_ids
from app.storage.store import JobStore
from tests.conftest import JFK
from tests.worker.test_tasks import ScriptedTranscriber
from worker.decoding.audio import decode
from worker.runner import RunPolicy, run_job
from worker.sweep import sweep, sweep_uploads


def old_job(store: JobStore, minutes: int = 10) -> Job:
    job = Job(
        id=new_job_id(),
        status=JobStatus.QUEUED,
        created_at=utcnow() - timedelta(minutes=minutes),
        options=JobOptions(),
    )
    store.create(job)
    return job


def job_with_upload(store: JobStore, tmp_path: Path) -> tuple[Job, Path]:
    job = old_job(store)
    audio = tmp_path / job.id
    audio.write_bytes(b"x")
    return job, audio


def test_a_job_that_keeps_killing_workers_fails_with_worker_lost(store: JobStore, tmp_path):
    job = old_job(store)
    audio = tmp_path / job.id
    audio.write_bytes(b"x")
    for _ in range(3):  # three starts that never finished (the worker died each time)
        store.mark_processing(job.id)
    transcriber = ScriptedTranscriber()
    run_job(job.id, store, transcriber, LocalUploads(audio.parent), RunPolicy(max_attempts=3))
    failed = store.get(job.id)
    assert transcriber.calls == 0
    assert failed is not None and failed.status is JobStatus.FAILED
    assert failed.error is not None and failed.error.code == "worker_lost"
    assert failed.attempts == 4
    assert not audio.exists()


def test_the_lease_lives_while_the_job_runs(store: JobStore, tmp_path: Path) -> None:
    job = old_job(store)
    audio = tmp_path / job.id
    audio.write_bytes(b"x")
    seen: list[bool] = []
    transcriber = ScriptedTranscriber(before_last=lambda: seen.append(store.has_lease(job.id)))
    run_job(job.id, store, transcriber, LocalUploads(audio.parent))
    assert seen == [True]
    assert not store.has_lease(job.id)  # gone with the terminal transition


def test_timeouts_fail_the_job_with_timeout(store: JobStore, tmp_path: Path) -> None:
    class Late(Exception):
        pass

    job = old_job(store)
    audio = tmp_path / job.id
    audio.write_bytes(b"x")
    run_job(
        job.id,
        store,
        ScriptedTranscriber(Late()),
        LocalUploads(audio.parent),
        RunPolicy(timeout_errors=(Late,)),
    )
    failed = store.get(job.id)
    assert failed is not None and failed.error is not None and failed.error.code == "timeout"


def test_a_job_past_its_deadline_stops_at_its_next_segment_with_timeout(
    store: JobStore, tmp_path: Path
) -> None:
    """The soft limit where Celery cannot raise it (a pool of threads)."""
    job, audio = job_with_upload(store, tmp_path)
    transcriber = ScriptedTranscriber()
    run_job(
        job.id,
        store,
        transcriber,
        LocalUploads(audio.parent),
        RunPolicy(deadline=time.monotonic() - 1),
    )
    failed = store.get(job.id)
    assert failed is not None and failed.status is JobStatus.FAILED
    assert failed.error is not None and failed.error.code == "timeout"
    assert failed.progress == 0.5  # stopped at the first segment, not before it
    assert not audio.exists()


def test_sweep_resends_queued_jobs_without_a_message(store: JobStore, redis_client: redis.Redis):
    lost, young = old_job(store), old_job(store, minutes=0)
    resent: list[str] = []
    report = sweep(store, lambda j: resent.append(j.id), stale_seconds=60)
    assert resent == [lost.id]  # the young one's message may still be on its way
    assert (report.resent, report.requeued) == (1, 0)
    assert store.get(young.id).status is JobStatus.QUEUED


def test_sweep_leaves_queued_jobs_whose_message_waits(
    store: JobStore, redis_client: redis.Redis, settings: Settings
) -> None:
    from app.storage.broker import enqueue_transcription, make_producer

    job = old_job(store)
    producer = make_producer(settings)
    enqueue_transcription(producer, job.id, "base", 60, 120)
    producer.close()
    assert job.id in pending_job_ids(redis_client)
    resent: list[str] = []
    sweep(store, lambda j: resent.append(j.id), stale_seconds=60)
    assert resent == []


def test_sweep_requeues_processing_jobs_whose_worker_vanished(
    store: JobStore, redis_client: redis.Redis
) -> None:
    vanished, alive = old_job(store), old_job(store)
    for job in (vanished, alive):
        store.mark_processing(job.id)
    for job in (vanished, alive):
        stored = store.get(job.id)
        stored.started_at = utcnow() - timedelta(minutes=5)
        redis_client.set(f"whisper-jobs:job:{job.id}", stored.model_dump_json(exclude={"result"}))
    store.hold_lease(alive.id, 30)
    resent: list[str] = []
    report = sweep(store, lambda j: resent.append(j.id), stale_seconds=60)
    assert resent == [vanished.id] and report.requeued == 1
    assert store.get(vanished.id).status is JobStatus.QUEUED
    assert store.get(alive.id).status is JobStatus.PROCESSING


def test_time_limits_follow_the_audio_within_floor_and_ceiling() -> None:
    settings = Settings(
        redis_url="redis://x",
        task_seconds_per_audio_second=2,
        task_time_limit_min_seconds=300,
        task_time_limit_max_seconds=3600,
    )
    assert task_time_limits(settings, 10) == (300, 360)
    assert task_time_limits(settings, 1000) == (2000, 2060)
    assert task_time_limits(settings, 10_000) == (3600, 3660)
    assert task_time_limits(settings, None) == (3600, 3660)


def test_visibility_timeout_must_exceed_the_hard_limit() -> None:
    config = celery_config(Settings(redis_url="redis://x"))
    timeout = config["broker_transport_options"]["visibility_timeout"]
    assert config["visibility_timeout"] == timeout
    assert config["result_backend_transport_options"]["visibility_timeout"] == timeout
    assert timeout > Settings().task_time_limit_max_seconds + 60
    with pytest.raises(ValueError, match="visibility"):
        celery_config(Settings(redis_url="redis://x", task_time_limit_max_seconds=30 * 3600))


def test_decoding_stops_at_the_duration_cap() -> None:
    with pytest.raises(AudioTooLong, match="5 s"):
        decode(JFK, max_seconds=5)
    assert len(decode(JFK, max_seconds=12)[0]) == 11 * 16_000


def test_one_unreadable_record_does_not_stop_the_sweep_for_others(
    store: JobStore, redis_client: redis.Redis
) -> None:
    from app.storage import keys as layout
    from tests.app.api.test_hostile_inputs import poison

    bad = poison(redis_client, owner="mallory")
    lost = old_job(store)
    resent: list[str] = []
    report = sweep(store, lambda j: resent.append(j.id), stale_seconds=60)
    assert resent == [lost.id] and report.resent == 1
    # The unreadable one leaves the active sets and expires like a finished job.
    assert not redis_client.sismember(layout.ACTIVE_KEY, bad)
    assert not redis_client.sismember(layout.owner_active_key("mallory"), bad)
    assert 0 < redis_client.ttl(layout.key_for(bad)) <= store.result_ttl_seconds


def test_a_redis_outage_mid_job_leaves_it_to_run_again_not_failed(
    store: JobStore, tmp_path: Path
) -> None:
    job, audio = job_with_upload(store, tmp_path)
    # The store's primary went away while the job decoded (what a failover looks like here).
    transcriber = ScriptedTranscriber(redis.ConnectionError("Connection refused"))
    run_job(job.id, store, transcriber, LocalUploads(audio.parent), RunPolicy(lease_seconds=3))
    stuck = store.get(job.id)
    assert stuck is not None and stuck.status is JobStatus.PROCESSING and stuck.error is None
    assert audio.exists()  # kept for the run the sweep will start once the lease lapses


def test_a_result_waits_out_a_short_store_outage(
    store: JobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job, audio = job_with_upload(store, tmp_path)
    real = store.mark_completed
    outages = iter([redis.exceptions.ReadOnlyError("READONLY"), redis.TimeoutError("timeout")])

    def flaky(job_id: str, result):  # type: ignore[no-untyped-def]
        failure = next(outages, None)
        if failure is not None:
            raise failure
        return real(job_id, result)

    monkeypatch.setattr(store, "mark_completed", flaky)
    monkeypatch.setattr("worker.runner.time.sleep", lambda _: None)
    run_job(job.id, store, ScriptedTranscriber(), LocalUploads(audio.parent))
    done = store.get(job.id)
    assert done is not None and done.status is JobStatus.COMPLETED
    assert not audio.exists()


def test_a_run_whose_job_was_queued_again_keeps_the_upload_for_the_next(
    store: JobStore, tmp_path: Path
) -> None:
    job, audio = job_with_upload(store, tmp_path)
    # Mid-run, the sweep hands the job back to the queue (its lease lapsed while Redis was away).
    transcriber = ScriptedTranscriber(before_last=lambda: store.requeue(job.id))
    run_job(job.id, store, transcriber, LocalUploads(audio.parent))
    requeued = store.get(job.id)
    assert requeued is not None and requeued.status is JobStatus.QUEUED
    assert audio.exists()  # the next run reads it
    run_job(job.id, store, ScriptedTranscriber(), LocalUploads(audio.parent))
    done = store.get(job.id)
    assert done is not None and done.status is JobStatus.COMPLETED and not audio.exists()


def test_a_canceled_run_still_removes_its_upload(store: JobStore, tmp_path: Path) -> None:
    job, audio = job_with_upload(store, tmp_path)
    transcriber = ScriptedTranscriber(before_last=lambda: store.mark_canceled(job.id))
    run_job(job.id, store, transcriber, LocalUploads(audio.parent))
    assert not audio.exists()


def test_a_result_no_replica_confirmed_keeps_the_upload_until_the_sweep(
    redis_client: redis.Redis, tmp_path: Path
) -> None:
    # One Redis, no replica: WAIT for one answers 0 after the timeout.
    store = JobStore(redis_client, 3600, min_replicas=1, replica_timeout_ms=20)
    job = Job(id=new_job_id(), status=JobStatus.QUEUED, created_at=utcnow(), options=JobOptions())
    JobStore(redis_client, 3600).create(job)  # created without waiting, to reach the worker
    audio = tmp_path / job.id
    audio.write_bytes(b"x")
    run_job(job.id, store, ScriptedTranscriber(), LocalUploads(tmp_path))
    done = store.get(job.id)
    assert done is not None and done.status is JobStatus.COMPLETED
    assert audio.exists()  # a failover could still lose the result and run it again
    assert sweep_uploads(store, LocalUploads(tmp_path), older_than_seconds=3600) == 0  # too young
    assert sweep_uploads(store, LocalUploads(tmp_path), older_than_seconds=0) == 1
    assert not audio.exists()


def test_the_upload_sweep_keeps_what_a_job_still_needs(store: JobStore, tmp_path: Path) -> None:
    running, running_audio = job_with_upload(store, tmp_path)
    store.mark_processing(running.id)
    orphan = tmp_path / new_job_id()  # a submission that never got its record
    orphan.write_bytes(b"x")
    stranger = tmp_path / "notes.txt"
    stranger.write_bytes(b"x")
    assert sweep_uploads(store, LocalUploads(tmp_path), older_than_seconds=0) == 1
    assert running_audio.exists() and stranger.exists() and not orphan.exists()
