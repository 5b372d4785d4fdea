"""Redis clients built one way for every process: explicit connect and socket timeouts, and a
bounded, blocking connection pool whose wait is bounded too.

No caller may wait on Redis without a limit: a stopped or frozen Redis must turn into an error
(`503 queue_unavailable` at the HTTP edge) within seconds, never into a hung thread or loop.
"""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio

from app.core.config import Settings


def pool_options(settings: Settings) -> dict[str, Any]:
    return {
        "socket_timeout": settings.redis_socket_timeout_seconds,
        "socket_connect_timeout": settings.redis_connect_timeout_seconds,
        "health_check_interval": 30,
        "max_connections": settings.redis_max_connections,
        # How long a caller waits for a free connection before an error.
        "timeout": settings.redis_socket_timeout_seconds,
    }


def redis_client(settings: Settings) -> redis.Redis:
    pool = redis.BlockingConnectionPool.from_url(
        settings.require_redis_url(), **pool_options(settings)
    )
    return redis.Redis.from_pool(pool)  # the client owns its pool: close() disconnects it


def async_redis_client(settings: Settings) -> redis.asyncio.Redis:
    pool = redis.asyncio.BlockingConnectionPool.from_url(
        settings.require_redis_url(), **pool_options(settings)
    )
    return redis.asyncio.Redis.from_pool(pool)
