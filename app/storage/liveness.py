"""Which workers are alive, and which queues they consume: a heartbeat each worker writes to Redis.

A worker's main process writes `{hostname: {"queues": [...], "seen": unix time, "layout": how it
decodes, "slots": model calls it runs at once}}` into one hash
every few seconds and removes its entry when it stops. Readiness reads the hash (one `HGETALL`),
so it never broadcasts a Celery ping or borrows a broker connection. An entry older than
`stale_seconds` belongs to a worker that died without saying so; it is dropped when read.

It may not touch any job key: that is `app.storage.store`'s.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from app.contract.jobs import TRANSCRIBE_QUEUE
from app.storage.keys import WORKERS_KEY

if TYPE_CHECKING:
    from redis import Redis

HEARTBEAT_SECONDS = 5.0
STALE_SECONDS = 15.0


@dataclass(frozen=True)
class LiveWorkers:
    """The transcription workers that beat recently, and the models they serve."""

    hostnames: tuple[str, ...]
    models: frozenset[str]
    layouts: dict[str, str] = field(default_factory=dict)  # hostname: its layout, in words
    #: model: the model calls the live workers serving it can run at once, all together (what
    #: a long job's parts can use: `worker.split_jobs`)
    slots: dict[str, int] = field(default_factory=dict)


def beat(
    redis: Redis,
    hostname: str,
    queues: list[str],
    now: float | None = None,
    layout: str = "",
    slots: int = 1,
) -> None:
    """`layout`: how the worker decodes (`app.core.worker_layout`), said as words; `slots`: the
    model calls it runs at once."""
    entry = {"queues": sorted(queues), "seen": time.time() if now is None else now}
    redis.hset(WORKERS_KEY, hostname, json.dumps({**entry, "layout": layout, "slots": slots}))


def leave(redis: Redis, hostname: str) -> None:
    redis.hdel(WORKERS_KEY, hostname)


def live_workers(redis: Redis, now: float | None = None) -> LiveWorkers:
    """Workers that consume at least one `transcribe.*` queue and beat within `STALE_SECONDS`."""
    now = time.time() if now is None else now
    hostnames: list[str] = []
    models: set[str] = set()
    layouts: dict[str, str] = {}
    slots: dict[str, int] = {}
    stale: list[bytes | str] = []
    prefix = f"{TRANSCRIBE_QUEUE}."
    for host, raw in redis.hgetall(WORKERS_KEY).items():
        try:
            entry = json.loads(raw)
            seen, queues = float(entry["seen"]), [str(q) for q in entry["queues"]]
            runs = max(1, int(entry.get("slots", 1)))
        except (ValueError, KeyError, TypeError):
            stale.append(host)
            continue
        if now - seen > STALE_SECONDS:
            stale.append(host)
            continue
        served = {q.removeprefix(prefix) for q in queues if q.startswith(prefix)}
        if served:
            name = host.decode() if isinstance(host, bytes) else str(host)
            hostnames.append(name)
            layouts[name] = str(entry.get("layout", ""))
            models |= served
            for model in served:
                slots[model] = slots.get(model, 0) + runs
    if stale:
        redis.hdel(WORKERS_KEY, *stale)
    return LiveWorkers(tuple(sorted(hostnames)), frozenset(models), layouts, slots)
