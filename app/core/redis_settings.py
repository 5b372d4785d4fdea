"""The Redis part of the settings (a base of `Settings`): where Redis is, how long any call to it
may wait, and what a new job's durability requires. Read from `WHISPER_JOBS_*` like the rest.
"""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.core.redis_url import SentinelTarget, is_sentinel_url, parse_sentinel_url
from app.core.settings_errors import ConfigurationError


class RedisSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="WHISPER_JOBS_", extra="ignore", env_ignore_empty=True
    )

    redis_url: str | None = Field(
        default=None,
        description="Redis URL for the queue and the job store (`redis://`, `rediss://`, or "
        "Sentinel: `sentinel://h1:26379;sentinel://h2:26379`). Unset: `whisper-jobs serve` "
        "starts an embedded Valkey server; `api` and `worker` refuse to start.",
    )
    redis_socket_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="Timeout of one Redis command (and of a wait for "
        "a pooled connection); beyond it the request gets `503 queue_unavailable`.",
    )
    redis_connect_timeout_seconds: float = Field(
        default=2.0, gt=0, le=60, description="Timeout of connecting to Redis."
    )
    redis_max_connections: int = Field(
        default=50, ge=2, le=10_000, description="Redis connections per process and client pool."
    )
    redis_sentinel_master: str | None = Field(
        default=None,
        max_length=200,
        description="With a Sentinel URL "
        "(`sentinel://h1:26379;sentinel://h2:26379`): the name Sentinel knows the primary by.",
    )
    redis_sentinel_password: str | None = Field(
        default=None,
        description="The Sentinels' own password, when they have one (the data "
        "nodes' goes in the URL: `sentinel://:PASSWORD@host:26379;…`).",
    )
    redis_min_replicas: int = Field(
        default=0,
        ge=0,
        le=16,
        description="Replicas that must hold a new job before its `202` "
        "(Redis `WAIT`); fewer within the timeout: `503 queue_unavailable`. 0: a single Redis.",
    )
    redis_replica_timeout_ms: int = Field(
        default=1000,
        ge=1,
        le=60_000,
        description="How long a submission waits for "
        "`WHISPER_JOBS_REDIS_MIN_REPLICAS` to acknowledge it.",
    )
    redis_maxmemory: str = Field(
        default="1gb",
        pattern=r"^[0-9]+(kb|mb|gb)?$",
        description="`maxmemory` of the embedded Valkey (`noeviction`: a full Redis refuses "
        "writes, which become 503, instead of dropping jobs).",
    )

    def require_redis_url(self) -> str:
        if not self.redis_url:
            raise ConfigurationError(
                "WHISPER_JOBS_REDIS_URL is not set; set it, or use `whisper-jobs serve`, "
                "which starts an embedded server"
            )
        return self.redis_url

    def sentinel_target(self) -> SentinelTarget | None:
        """The Sentinel-managed primary the URL names, or None for a plain Redis URL."""
        url = self.require_redis_url()
        if not is_sentinel_url(url):
            return None
        return parse_sentinel_url(url, self.redis_sentinel_master or "")

    @model_validator(mode="after")
    def _check_sentinel(self) -> RedisSettings:
        if self.redis_url and is_sentinel_url(self.redis_url):
            self.sentinel_target()  # raises ValueError naming what is missing
        if self.redis_min_replicas and (
            self.redis_replica_timeout_ms >= self.redis_socket_timeout_seconds * 1000
        ):
            # WAIT blocks on the socket: past the socket timeout its answer would be lost.
            raise ValueError(
                "WHISPER_JOBS_REDIS_REPLICA_TIMEOUT_MS must be below "
                "WHISPER_JOBS_REDIS_SOCKET_TIMEOUT_SECONDS (WAIT blocks on the socket)"
            )
        return self
