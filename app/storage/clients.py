"""Redis clients built one way for every process: explicit connect and socket timeouts, and a
bounded connection pool whose wait is bounded too; behind Sentinel, the pool asks the Sentinels
for the current primary on every new connection, so a client follows a failover by itself.

No caller may wait on Redis without a limit: a stopped or frozen Redis (or a primary that died
and is not yet replaced) must turn into an error (`503 queue_unavailable` at the HTTP edge)
within seconds, never into a hung thread or loop.
"""

from __future__ import annotations

import re
from typing import Any

import redis
import redis.asyncio
import redis.asyncio.sentinel
import redis.sentinel

from app.core.config import Settings
from app.core.redis_url import SentinelTarget


def connection_options(settings: Settings) -> dict[str, Any]:
    return {
        "socket_timeout": settings.redis_socket_timeout_seconds,
        "socket_connect_timeout": settings.redis_connect_timeout_seconds,
        "health_check_interval": 30,
    }


def pool_options(settings: Settings, held: int = 0) -> dict[str, Any]:
    return {
        **connection_options(settings),
        "max_connections": settings.redis_max_connections + held,
        # How long a caller waits for a free connection before an error.
        "timeout": settings.redis_socket_timeout_seconds,
    }


def sentinel_options(settings: Settings) -> dict[str, Any]:
    """How to talk to the Sentinels themselves (their password is not the data nodes')."""
    options: dict[str, Any] = {
        "socket_timeout": settings.redis_socket_timeout_seconds,
        "socket_connect_timeout": settings.redis_connect_timeout_seconds,
    }
    if settings.redis_sentinel_password:
        options["password"] = settings.redis_sentinel_password
    return options


def _data_node_options(settings: Settings, target: SentinelTarget, held: int = 0) -> dict[str, Any]:
    # Sentinel's pool does not block when it is full: past `max_connections` a caller gets a
    # ConnectionError at once (a 503), which is bounded too.
    return {
        **connection_options(settings),
        "max_connections": settings.redis_max_connections + held,
        "db": target.db,
        "username": target.username,
        "password": target.password,
    }


def redis_client(settings: Settings) -> redis.Redis:
    target = settings.sentinel_target()
    if target is not None:
        sentinel = redis.sentinel.Sentinel(  # type: ignore[no-untyped-call]
            list(target.sentinels), sentinel_kwargs=sentinel_options(settings)
        )
        client: redis.Redis = sentinel.master_for(  # type: ignore[no-untyped-call]
            target.master, **_data_node_options(settings, target)
        )
        client.auto_close_connection_pool = True
        return client
    pool = redis.BlockingConnectionPool.from_url(
        settings.require_redis_url(), **pool_options(settings)
    )
    return redis.Redis.from_pool(pool)  # the client owns its pool: close() disconnects it


def async_redis_client(settings: Settings, held: int = 0) -> redis.asyncio.Redis:
    """`held`: connections on top of `WHISPER_JOBS_REDIS_MAX_CONNECTIONS` for the long waits
    (pub/sub) that callers may hold, so that those can never take the short calls' share."""
    target = settings.sentinel_target()
    if target is not None:
        sentinel = redis.asyncio.sentinel.Sentinel(  # type: ignore[no-untyped-call]
            list(target.sentinels), sentinel_kwargs=sentinel_options(settings)
        )
        aclient: redis.asyncio.Redis = sentinel.master_for(
            target.master, **_data_node_options(settings, target, held)
        )
        aclient.auto_close_connection_pool = True
        return aclient
    pool = redis.asyncio.BlockingConnectionPool.from_url(
        settings.require_redis_url(), **pool_options(settings, held)
    )
    return redis.asyncio.Redis.from_pool(pool)


# What a caller told "unavailable" is asked to wait before trying again.
REDIS_RETRY_AFTER_SECONDS = 5
# A Redis that works but cannot take this write now (full, a read-only replica after a failover,
# loading its data, a primary without enough replicas): the caller should retry. redis-py maps
# most replies to classes; the others are recognised by their reply code, which a pipeline's
# error message carries after its own prefix ("Command # 1 (...) of pipeline caused error: ").
# EXECABORT: Redis refused a command while a transaction was queued (how a full Redis answers
# a MULTI, depending on when it noticed); our transactions' commands are fixed, so it is that.
_REDIS_BUSY = (
    redis.exceptions.OutOfMemoryError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.MasterDownError,
    redis.exceptions.ExecAbortError,
)
_REDIS_BUSY_REPLY = re.compile(r"(^|: )(OOM|READONLY|LOADING|MISCONF|MASTERDOWN|NOREPLICAS)\b")


def is_redis_unavailable(exc: BaseException) -> bool:
    """Redis is down, frozen, full or read-only: a 503 for the caller, not a bug of ours."""
    if isinstance(exc, (redis.ConnectionError, redis.TimeoutError, *_REDIS_BUSY)):
        return True
    return isinstance(exc, redis.ResponseError) and bool(_REDIS_BUSY_REPLY.search(str(exc)))
