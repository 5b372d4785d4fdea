"""Read-only views of Redis for the store's callers: the deployment's counters, queue depths, a
job's place in its queue, and which jobs still have a queue message. A part of `JobStore`
(`store.inspect`), so nothing outside `app.storage` reads Redis itself."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.storage import stats
from app.storage.kombu_layout import pending_job_ids, queue_depths, queue_position

if TYPE_CHECKING:
    from redis import Redis


class Inspection:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    def stats(self) -> stats.Snapshot:
        return stats.read(self.redis)

    def queue_depths(self, queues: list[str]) -> dict[str, int]:
        return queue_depths(self.redis, queues)

    def queue_position(self, queue: str, job_id: str) -> int | None:
        return queue_position(self.redis, queue, job_id)

    def pending_job_ids(self) -> set[str]:
        return pending_job_ids(self.redis)
