import pytest
import redis

from app.contract.errors import InvalidTransition, JobNotFound
from app.contract.jobs import (
    Job,
    JobOptions,
    JobStatus,
    Segment,
    TranscriptResult,
    new_job_id,
    utcnow,
)
from app.storage.keys import ACTIVE_KEY, key_for, result_key_for
from app.storage.store import JobStore


def make_job() -> Job:
    return Job(
        id=new_job_id(),
        status=JobStatus.QUEUED,
        created_at=utcnow(),
        options=JobOptions(language="en"),
        metadata={"ticket": 42},
    )


RESULT = TranscriptResult(
    model="base",
    language="en",
    language_probability=0.9,
    duration=2.0,
    text="hi",
    segments=[
        Segment(
            id=0,
            start=0.0,
            end=2.0,
            text=" hi",
            avg_logprob=-0.1,
            no_speech_prob=0.0,
            compression_ratio=1.0,
        )
    ],
)


def test_create_and_get_round_trip(store: JobStore) -> None:
    job = make_job()
    store.create(job)
    assert store.get(job.id) == job
    assert store.active_ids() == {job.id}


def test_create_refuses_an_existing_id(store: JobStore) -> None:
    job = make_job()
    store.create(job)
    with pytest.raises(InvalidTransition):
        store.create(job)


def test_unknown_job(store: JobStore) -> None:
    assert store.get("nope") is None
    with pytest.raises(JobNotFound):
        store.get_owned("nope", "anonymous")
    with pytest.raises(JobNotFound):
        store.mark_processing("nope")


def test_completion_writes_status_result_and_ttl_together(
    store: JobStore, redis_client: redis.Redis
) -> None:
    job = make_job()
    store.create(job)
    store.mark_processing(job.id)
    assert redis_client.ttl(key_for(job.id)) == -1  # in flight: never expires
    done = store.mark_completed(job.id, RESULT)
    assert done.status is JobStatus.COMPLETED
    assert done.progress == 1.0
    stored = store.get(job.id)
    assert stored is not None
    assert stored.result == RESULT
    assert stored.started_at is not None and stored.completed_at is not None
    assert 3500 < redis_client.ttl(key_for(job.id)) <= 3600
    assert 3500 < redis_client.ttl(result_key_for(job.id)) <= 3600
    assert not redis_client.sismember(ACTIVE_KEY, job.id)
    # the small record is readable without the large result
    light = store.get(job.id, with_result=False)
    assert light is not None and light.result is None


@pytest.mark.parametrize(
    "path",
    [
        ["mark_completed"],  # queued -> completed skips processing
        ["mark_canceled", "mark_processing"],  # canceled is terminal
        ["mark_processing", "mark_canceled", "mark_completed"],
    ],
)
def test_illegal_transitions_are_refused(store: JobStore, path: list[str]) -> None:
    job = make_job()
    store.create(job)
    *legal, illegal = path
    for step in legal:
        getattr(store, step)(job.id)
    before = store.get(job.id)
    call = getattr(store, illegal)
    with pytest.raises(InvalidTransition):
        if illegal == "mark_completed":
            call(job.id, RESULT)
        else:
            call(job.id)
    assert store.get(job.id) == before


def test_failure_records_the_error(store: JobStore) -> None:
    job = make_job()
    store.create(job)
    store.mark_processing(job.id)
    failed = store.mark_failed(job.id, "invalid_audio", "not audio")
    assert failed.error is not None and failed.error.code == "invalid_audio"
    stored = store.get(job.id)
    assert stored is not None and stored.error == failed.error and stored.result is None


def test_segments_and_progress_only_while_processing(store: JobStore) -> None:
    job = make_job()
    store.create(job)
    seg = RESULT.segments[0]
    assert store.record_segment(job.id, seg, 0.5) is False  # still queued
    store.mark_processing(job.id)
    assert store.record_segment(job.id, seg, 0.5) is True
    assert store.record_segment(job.id, seg, 0.25) is True  # progress never goes backwards
    assert store.partial_segments(job.id) == [seg, seg]
    stored = store.get(job.id)
    assert stored is not None and stored.progress == 0.5
    store.mark_canceled(job.id)
    assert store.record_segment(job.id, seg, 0.75) is False
    assert store.partial_segments(job.id) == []
    stored = store.get(job.id)
    assert stored is not None and stored.status is JobStatus.CANCELED and stored.progress == 0.5


def test_redelivered_job_starts_over(store: JobStore) -> None:
    job = make_job()
    store.create(job)
    store.mark_processing(job.id)
    store.record_segment(job.id, RESULT.segments[0], 0.7)
    again = store.mark_processing(job.id)
    assert again.progress == 0.0
    assert store.partial_segments(job.id) == []  # segments start over, never appended twice


def test_delete_removes_everything(store: JobStore, redis_client: redis.Redis) -> None:
    job = make_job()
    store.create(job)
    store.mark_processing(job.id)
    store.mark_completed(job.id, RESULT)
    assert store.delete(job) is True
    assert store.get(job.id) is None
    assert redis_client.exists(key_for(job.id), result_key_for(job.id)) == 0
    assert store.list_owned(job.owner, 10) == []
    assert store.delete(job) is False


def test_pinned_runs_transactions_and_commands_on_one_connection(redis_client) -> None:
    from app.storage.transactions import pinned, watch_update

    with pinned(redis_client) as one:
        ids = {one.client_id() for _ in range(3)}
        watch_update(
            one,
            "whisper-jobs:test:pinned",
            lambda raw: (None, lambda p: p.set("whisper-jobs:test:pinned", "1")),
        )
        with one.pipeline(transaction=True) as pipe:
            pipe.client_id()
            (in_pipeline,) = pipe.execute()
        ids.add(in_pipeline)
        assert one.wait(0, 10) == 0  # no replica here; WAIT is accepted on this connection
    assert len(ids) == 1
    assert redis_client.get("whisper-jobs:test:pinned") == b"1"


def test_an_attempt_is_given_back_to_a_job_another_job_interrupted(store: JobStore) -> None:
    job = Job(id=new_job_id(), status=JobStatus.QUEUED, created_at=utcnow(), options=JobOptions())
    store.create(job)
    assert store.mark_processing(job.id).attempts == 1
    store.refund_attempt(job.id)
    assert store.get(job.id).attempts == 0
    store.refund_attempt(job.id)  # never below zero
    assert store.get(job.id).attempts == 0
