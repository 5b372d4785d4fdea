"""The state `/readyz` answers from, refreshed in the background.

A probe must be cheap and must not be a way to exhaust anything a request needs, so `/readyz` never
talks to Redis or the broker itself: a daemon thread with its own small Redis client pings Redis and
reads the workers' heartbeats (`app.storage.liveness`) every `ready_refresh_seconds`, and the
handler returns the last result (a few seconds old at most). A state older than three refreshes (the
thread stuck on a frozen Redis past its timeouts) counts as not ready."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import redis

from app.core.config import Settings
from app.storage import liveness
from app.storage.clients import redis_client

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Readiness:
    redis: bool = False
    workers: int = 0
    models: dict[str, bool] = field(default_factory=dict)
    layouts: dict[str, str] = field(default_factory=dict)  # each live worker's, in words
    checked_at: float = 0.0  # time.monotonic() of the check; 0: never checked
    reason: str = "Not checked yet."

    @property
    def ready(self) -> bool:
        return self.redis and self.workers > 0


class ReadinessMonitor:
    def __init__(self, settings: Settings) -> None:
        self.interval = settings.ready_refresh_seconds
        self.models = list(settings.models)
        self.client: redis.Redis = redis_client(
            settings.model_copy(
                update={
                    "redis_max_connections": 2,
                    "redis_socket_timeout_seconds": min(
                        settings.redis_socket_timeout_seconds, self.interval
                    ),
                }
            )
        )
        self._state = Readiness()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="readiness", daemon=True)

    @property
    def state(self) -> Readiness:
        state = self._state
        if time.monotonic() - state.checked_at > 3 * self.interval + 1:
            return Readiness(reason="The readiness check is stale (Redis is not answering).")
        return state

    def start(self) -> None:
        # One check before serving, so the first probe already has an answer (bounded by the
        # client's timeouts when Redis is away).
        self._state = self.check()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)
        self.client.close()

    def check(self) -> Readiness:
        try:
            self.client.ping()
            workers = liveness.live_workers(self.client)
        except redis.RedisError as e:
            return Readiness(checked_at=time.monotonic(), reason=f"Redis is unreachable ({e}).")
        served = {m: m in workers.models for m in self.models}
        reason = "" if workers.hostnames else "No transcription worker is alive."
        return Readiness(
            True, len(workers.hostnames), served, workers.layouts, time.monotonic(), reason
        )

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._state = self.check()
