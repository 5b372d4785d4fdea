"""Creating a job in one Lua script on the real Valkey: one round trip, the caps, replays before
the caps, and what a long job's parts leave out."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from app.contract.errors import IdempotencyKeyReused, Overloaded, QuotaExceeded, RateLimited
from app.contract.jobs import Job, JobOptions, JobStatus, new_job_id, utcnow
from app.storage import stats
from app.storage.job_creation import Caps
from app.storage.job_parts import PARTS_OWNER
from app.storage.keys import owner_active_key, owner_jobs_key
from app.storage.kombu_layout import QueuedMessage
from app.storage.store import JobStore


def new_job(owner: str = "alice") -> Job:
    return Job(
        id=new_job_id(),
        status=JobStatus.QUEUED,
        created_at=utcnow(),
        options=JobOptions(),
        owner=owner,
    )


def test_a_submission_is_one_round_trip(
    store: JobStore, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.create(new_job())  # the script is loaded on the server from here on
    calls: list[Any] = []
    real = redis_client.execute_command

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(redis_client, "execute_command", counted)
    job = new_job()
    message = QueuedMessage("transcribe.base", "{}")
    created = store.create(job, ("key", "fingerprint"), message, Caps(10, 100))
    assert created is job
    assert calls == ["EVALSHA"]  # admission, record, indexes, counters, message, key: one call
    monkeypatch.undo()
    assert redis_client.lrange("transcribe.base", 0, -1) == [b"{}"]
    assert redis_client.sismember(owner_active_key("alice"), job.id)
    assert redis_client.zscore(owner_jobs_key("alice"), job.id) is not None
    assert stats.read(redis_client).submitted == {"base": 2.0}


def test_the_caps_refuse_and_write_nothing(store: JobStore, redis_client: redis.Redis) -> None:
    store.create(new_job("alice"), caps=Caps(per_owner=1, overall=10))
    message = QueuedMessage("transcribe.base", "{}")
    with pytest.raises(RateLimited, match="This key has 1 unfinished jobs") as refused:
        store.create(new_job("alice"), None, message, Caps(per_owner=1, overall=10))
    assert refused.value.retry_after > 0
    with pytest.raises(Overloaded):
        store.create(new_job("bob"), None, message, Caps(per_owner=1, overall=1))
    assert redis_client.llen("transcribe.base") == 0
    assert len(redis_client.keys("whisper-jobs:job:*")) == 1
    store.create(new_job("bob"), caps=Caps(per_owner=1, overall=10))  # another owner's room


def test_a_long_jobs_parts_do_not_count_against_the_overall_cap(store: JobStore) -> None:
    for _ in range(3):
        store.create(new_job(PARTS_OWNER))
    store.create(new_job("bob"), caps=Caps(per_owner=5, overall=1))  # 3 parts, 0 jobs: room
    with pytest.raises(Overloaded):
        store.create(new_job("carol"), caps=Caps(per_owner=5, overall=1))


def test_the_jobs_one_key_keeps_are_capped_finished_or_not(store: JobStore) -> None:
    caps = Caps(per_owner=10, overall=100, stored_per_owner=2)
    first = store.create(new_job("alice"), caps=caps)
    store.create(new_job("alice"), caps=caps)
    store.mark_processing(first.id)
    store.mark_canceled(first.id)  # finished: still kept, still counted
    with pytest.raises(QuotaExceeded, match="keeps 2 jobs"):
        store.create(new_job("alice"), caps=caps)
    store.create(new_job("bob"), caps=caps)  # another key's room is its own
    store.delete(store.get(first.id))  # a deleted (or expired) job frees its place
    store.create(new_job("alice"), caps=caps)
    store.redis.delete(f"whisper-jobs:job:{store.list_owned('alice', 5)[-1].id}")  # expired
    store.create(new_job("alice"), caps=caps)  # its id, still in the index, was pruned


def test_a_replay_is_answered_at_the_cap_and_a_changed_request_refused(store: JobStore) -> None:
    first = store.create(new_job(), ("k", "f1"), caps=Caps(per_owner=1, overall=10))
    replay = store.create(new_job(), ("k", "f1"), caps=Caps(per_owner=1, overall=10))
    assert replay.id == first.id
    with pytest.raises(IdempotencyKeyReused):
        store.create(new_job(), ("k", "f2"), caps=Caps(per_owner=1, overall=10))


def test_a_key_whose_job_is_gone_makes_a_new_one(store: JobStore) -> None:
    first = store.create(new_job(), ("k", "f"))
    store.delete(first)
    again = store.create(new_job(), ("k", "f"))
    assert again.id != first.id
    assert store.create(new_job(), ("k", "f")).id == again.id


def test_parts_are_neither_indexed_nor_counted(store: JobStore, redis_client: redis.Redis) -> None:
    part = store.create(new_job(PARTS_OWNER))
    assert store.get(part.id) is not None
    assert redis_client.zcard(owner_jobs_key(PARTS_OWNER)) == 0
    assert stats.read(redis_client).submitted == {}
