"""One shape for every read-modify-write of a record: WATCH the key, read it, decide, write in
MULTI/EXEC; if anything changed the key meanwhile, Redis refuses the EXEC and the whole is run
again (redis-py's `transaction`). Every status change, segment, webhook attempt and idempotent
creation goes through `watch_update`, so none can interleave with another on the same record.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline

T = TypeVar("T")
Write = Callable[["Pipeline"], None]


def watch_update(redis: Redis, key: str, decide: Callable[[Any], tuple[T, Write | None]]) -> T:
    """`decide(raw value of key)` returns (its outcome, the writes to make or None); it may
    raise to refuse. Returns the outcome of the run whose writes were committed."""
    outcomes: list[T] = []

    def run(pipe: Pipeline) -> None:
        outcomes.clear()  # a retried run decides again, on the new value
        outcome, write = decide(pipe.get(key))
        outcomes.append(outcome)
        if write is not None:
            pipe.multi()
            write(pipe)

    redis.transaction(run, key)
    return outcomes[0]
