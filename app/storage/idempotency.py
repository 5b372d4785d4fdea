"""Job creation with `Idempotency-Key`: a part of `JobStore` (its base class), kept apart for
size. The key's record (`idempotency:{owner}:{key}` -> the job id and the request's fingerprint)
is written in the same transaction as the job, so a replay finds either both or neither. With
`min_replicas`, creation and Redis' `WAIT` for it run on one connection (`durably`): a job is
accepted only once that many replicas hold it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Self, TypeVar

from app.contract.errors import IdempotencyKeyReused, QueueUnavailable
from app.contract.jobs import Job
from app.storage.clients import is_redis_unavailable
from app.storage.keys import IDEMPOTENCY_TTL_SECONDS, idempotency_key_for
from app.storage.kombu_layout import QueuedMessage
from app.storage.transactions import Write, pinned, watch_update

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline


T = TypeVar("T")


class IdempotentCreation:
    redis: Redis
    # Replicas that must acknowledge a new job before `create` returns (Redis `WAIT`).
    min_replicas: int = 0
    replica_timeout_ms: int = 1000

    def _create(self, job: Job, pipe: Pipeline | None, message: QueuedMessage | None) -> None:
        raise NotImplementedError

    def get(self, job_id: str, *, with_result: bool = True) -> Job | None:
        raise NotImplementedError

    def mark_failed(self, job_id: str, code: str, message: str) -> Job:
        raise NotImplementedError

    def create(
        self, job: Job, idempotency: tuple[str, str] | None = None,
        message: QueuedMessage | None = None,
    ) -> Job:  # fmt: skip
        """Store a new job; with `(key, fingerprint)`, a replay returns the original job. With
        `message`, the job's queue message is pushed in the same transaction (not on a replay).
        With `min_replicas`, a job that fewer replicas acknowledged in time is refused
        (`QueueUnavailable`; it is marked failed and its idempotency key freed)."""
        try:
            created, durable = self.durably(
                lambda store: store._create_on(job, idempotency, message)
            )
        except Exception as e:
            if self.min_replicas == 0 or not is_redis_unavailable(e):
                raise
            # The write may have landed before the connection failed (WAIT's answer lost):
            # refuse it the same way, as far as Redis lets us now.
            created, durable = job, False
        if not durable and created is job:
            refusal = (
                f"The job could not be confirmed on the {self.min_replicas} replica(s) required "
                f"within {self.replica_timeout_ms} ms, so it was not accepted; try again shortly."
            )
            with suppress(Exception):  # Redis may still be away: the sweep then finds no audio
                self.mark_failed(job.id, QueueUnavailable.code, refusal)
                if idempotency is not None:
                    self.forget_idempotency(job.owner, idempotency[0])
            raise QueueUnavailable(refusal)
        return created

    def durably(self, write: Callable[[Self], T]) -> tuple[T, bool]:
        """`write(store)` on one connection, then Redis' `WAIT` for `min_replicas` on it: (the
        write's outcome, whether that many replicas hold it). Without `min_replicas`: True."""
        if self.min_replicas == 0:
            return write(self), True
        with pinned(self.redis) as connection:
            store = copy.copy(self)
            store.redis = connection
            outcome = write(store)
            acked = int(connection.wait(self.min_replicas, self.replica_timeout_ms))
        return outcome, acked >= self.min_replicas

    def _create_on(
        self, job: Job, idempotency: tuple[str, str] | None, message: QueuedMessage | None
    ) -> Job:
        if idempotency is None:
            self._create(job, None, message)
            return job
        key, fingerprint = idempotency
        idem_key = idempotency_key_for(job.owner, key)

        def decide(raw: Any) -> tuple[str | None, Write | None]:
            if raw is not None:
                record = json.loads(raw)
                if record["fingerprint"] != fingerprint:
                    raise IdempotencyKeyReused(
                        "This Idempotency-Key was used for a different request in the last 24 h."
                    )
                return str(record["job_id"]), None

            def write(pipe: Pipeline) -> None:
                self._create(job, pipe, message)
                record = json.dumps({"job_id": job.id, "fingerprint": fingerprint})
                pipe.set(idem_key, record, ex=IDEMPOTENCY_TTL_SECONDS)

            return None, write

        existing = watch_update(self.redis, idem_key, decide)
        if existing is None:
            return job
        original = self.get(existing)
        if original is None:  # the original expired or was deleted: a new job is due
            self.redis.delete(idem_key)
            return self._create_on(job, idempotency, message)
        return original

    def find_idempotent(self, owner: str, key: str, fingerprint: str) -> Job | None:
        """The job an earlier request with this `Idempotency-Key` created, if it still exists
        (checked before admission, so a replay is answered even when the caller is at its cap).
        The same key with another request is refused."""
        raw = self.redis.get(idempotency_key_for(owner, key))
        if raw is None:
            return None
        record = json.loads(raw)
        if record["fingerprint"] != fingerprint:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was used for a different request in the last 24 h."
            )
        return self.get(record["job_id"])

    def forget_idempotency(self, owner: str, key: str) -> None:
        """A submission that failed after its record was written (it could not be queued): the
        key is freed, so retrying the same request makes a new job instead of replaying that."""
        self.redis.delete(idempotency_key_for(owner, key))
