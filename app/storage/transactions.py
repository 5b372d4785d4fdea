"""One shape for every read-modify-write of a record: WATCH the key, read it, decide, write in
MULTI/EXEC; if anything changed the key meanwhile, Redis refuses the EXEC and the whole is run
again (redis-py's `transaction`). Every status change, segment, webhook attempt and idempotent
creation goes through `watch_update`, so none can interleave with another on the same record.
`pinned` runs writes on one connection, for a `WAIT` that must follow them there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


class _OneConnection:
    """A connection pool that always hands out the same connection (taken from a real pool by
    `pinned`, which gives it back): everything else is the real pool's."""

    def __init__(self, pool: Any, connection: Any) -> None:
        self._pool, self._connection = pool, connection

    def get_connection(self, *_: Any, **__: Any) -> Any:
        return self._connection

    def release(self, connection: Any) -> None:
        pass  # `pinned` returns it to the real pool once

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)


@contextmanager
def pinned(redis: Redis) -> Iterator[Redis]:
    """A client whose every command and transaction runs on one connection of `redis`'s pool.

    Why: Redis' `WAIT` counts the replicas that acknowledged *this connection's* writes, so a
    creation and the `WAIT` for it must share a connection, which a pool does not promise."""
    from redis import Redis as SyncRedis

    pool = redis.connection_pool
    connection = pool.get_connection()
    try:
        yield SyncRedis(connection_pool=_OneConnection(pool, connection))  # type: ignore[arg-type]
    finally:
        pool.release(connection)
