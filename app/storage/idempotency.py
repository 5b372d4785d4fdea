"""Job creation, with admission and `Idempotency-Key`: a component of `JobStore`
(`store.creation`; `store.create` is its door). One Lua script (`app.storage.job_creation`)
answers a replay, admits the job against the caps and writes it with its indexes, counters,
queue message and the key's record (`idempotency:{owner}:{key}` -> the job id and the request's
fingerprint): a replay finds either all or nothing. With `min_replicas`, creation and Redis'
`WAIT` for it run on one connection (the host's `durably`): a job is accepted only once that
many replicas hold it. What it needs of the store is named by `CreationHost`; it calls nothing
else back.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from typing import TYPE_CHECKING, Protocol, Self, TypeVar

from app.contract.errors import (
    IdempotencyKeyReused,
    InvalidTransition,
    Overloaded,
    QueueUnavailable,
    QuotaExceeded,
    RateLimited,
)
from app.contract.jobs import Job
from app.storage.clients import is_redis_unavailable
from app.storage.job_creation import Caps, create_job
from app.storage.keys import idempotency_key_for
from app.storage.kombu_layout import QueuedMessage

if TYPE_CHECKING:
    from redis import Redis
    from redis.commands.core import Script

# A caller at its cap is told to come back after this long.
RETRY_AFTER_SECONDS = 10


T = TypeVar("T")


class CreationHost(Protocol):
    """What creation needs of the store: its client, its replica rule, a read and a failure
    mark, and `durably` (a write on one connection followed by `WAIT`)."""

    redis: Redis
    min_replicas: int
    replica_timeout_ms: int

    def get(self, job_id: str, *, with_result: bool = True) -> Job | None: ...

    def mark_failed(self, job_id: str, code: str, message: str) -> Job: ...

    def durably(self, write: Callable[[Self], T]) -> tuple[T, bool]: ...


class JobCreation:
    """Holds the creation script; the store is passed to each call (not kept: a store that
    held this and this the store would be a cycle, freed only by the garbage collector, its
    connections with it)."""

    def __init__(self, script: Script) -> None:
        self.script = script  # the creation script, registered on the store's client

    def create(
        self,
        host: CreationHost,
        job: Job,
        idempotency: tuple[str, str] | None = None,
        message: QueuedMessage | None = None,
        caps: Caps | None = None,
    ) -> Job:
        """Store a new job; with `(key, fingerprint)`, a replay returns the original job (even
        when the caller is at its cap). With `caps`, a job over them is refused (`Overloaded`,
        `RateLimited`). With `message`, the job's queue message is pushed with it (not on a
        replay). With `min_replicas`, a job that fewer replicas acknowledged in time is refused
        (`QueueUnavailable`; it is marked failed and its idempotency key freed)."""
        try:
            created, durable = host.durably(
                lambda pinned: self._create(pinned, job, idempotency, message, caps)
            )
        except Exception as e:
            if host.min_replicas == 0 or not is_redis_unavailable(e):
                raise
            # The write may have landed before the connection failed (WAIT's answer lost):
            # refuse it the same way, as far as Redis lets us now.
            created, durable = job, False
        if not durable and created is job:
            refusal = (
                f"The job could not be confirmed on the {host.min_replicas} replica(s) required "
                f"within {host.replica_timeout_ms} ms, so it was not accepted; try again shortly."
            )
            with suppress(Exception):  # Redis may still be away: the sweep then finds no audio
                host.mark_failed(job.id, QueueUnavailable.code, refusal)
                if idempotency is not None:
                    self.forget(host, job.owner, idempotency[0])
            raise QueueUnavailable(refusal)
        return created

    def _create(
        self,
        host: CreationHost,
        job: Job,
        idempotency: tuple[str, str] | None,
        message: QueuedMessage | None,
        caps: Caps | None,
    ) -> Job:
        outcome = create_job(self.script, host.redis, job, message, idempotency, caps)
        if outcome.kind == "created":
            return job
        if outcome.kind == "exists":
            raise InvalidTransition(f"Job {job.id} already exists.")
        if outcome.kind == "overloaded":
            raise Overloaded("The service holds too many unfinished jobs; try again later.")
        if outcome.kind == "rate_limited":
            assert caps is not None
            raise RateLimited(
                f"This key has {outcome.unfinished} unfinished jobs (the limit is "
                f"{caps.per_owner}); wait for some to finish.",
                retry_after=RETRY_AFTER_SECONDS,
            )
        if outcome.kind == "quota_exceeded":
            assert caps is not None
            raise QuotaExceeded(
                f"This key keeps {outcome.unfinished} jobs (the limit is {caps.stored_per_owner}); "
                "DELETE finished jobs you no longer need, or wait for them to expire."
            )
        assert idempotency is not None and outcome.earlier is not None  # a replay
        key, fingerprint = idempotency
        if outcome.earlier["fingerprint"] != fingerprint:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was used for a different request in the last 24 h."
            )
        original = host.get(outcome.earlier["job_id"])
        if original is None:  # the original expired or was deleted: a new job is due
            host.redis.delete(idempotency_key_for(job.owner, key))
            return self._create(host, job, idempotency, message, caps)
        return original

    def forget(self, host: CreationHost, owner: str, key: str) -> None:
        """A submission that failed after its record was written (it could not be queued): the
        key is freed, so retrying the same request makes a new job instead of replaying that."""
        host.redis.delete(idempotency_key_for(owner, key))
