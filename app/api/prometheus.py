"""Prometheus metrics: the deployment's numbers read from Redis at scrape time, and this API
process's request latency.

Job counts, histograms and webhook outcomes are written to Redis by whichever process made the
change (`app.storage.stats`), so every API process reports the same deployment-wide values; the
gauges (jobs in flight: counters moved by each transition; queue depth) are read when scraped, never
cached, at a cost that does not grow with the number of active jobs. Request latency is per process:
with several API processes, each reports its own (scrape each, or sum them)."""

from __future__ import annotations

import time
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.contract.jobs import MAINTENANCE_QUEUE, WEBHOOK_QUEUE, JobStatus, queue_for
from app.core.config import Settings
from app.storage import liveness, stats
from app.storage.store import JobStore

PREFIX = "whisper_jobs"


class RedisCollector(Collector):
    def __init__(self, store: JobStore, settings: Settings) -> None:
        self.store = store
        self.models = list(settings.models)
        self.queues = [*(queue_for(m) for m in settings.models), MAINTENANCE_QUEUE, WEBHOOK_QUEUE]

    def describe(self) -> Iterable[Metric]:
        # Without it the registry would call `collect` when registering, and an API whose Redis
        # is away at start-up would fail to start instead of answering 503.
        return []

    def collect(self) -> Iterable[Metric]:
        snapshot = self.store.inspect.stats()
        jobs = GaugeMetricFamily(
            f"{PREFIX}_jobs", "Jobs not yet ended, by status and model.", labels=["status", "model"]
        )
        in_flight = snapshot.in_flight
        for status in (JobStatus.QUEUED, JobStatus.PROCESSING):
            for model in sorted({m for _, m in in_flight} | set(self.models)):
                jobs.add_metric([status.value, model], in_flight.get((status.value, model), 0))
        yield jobs
        submitted = CounterMetricFamily(
            f"{PREFIX}_jobs_submitted", "Jobs created, by model.", labels=["model"]
        )
        for model, n in sorted(snapshot.submitted.items()):
            submitted.add_metric([model], n)
        yield submitted
        finished = CounterMetricFamily(
            f"{PREFIX}_jobs_finished",
            "Jobs that ended, by final status and model.",
            labels=["status", "model"],
        )
        for (status_name, model), n in sorted(snapshot.finished.items()):
            finished.add_metric([status_name, model], n)
        yield finished
        depth = GaugeMetricFamily(
            f"{PREFIX}_queue_depth", "Messages waiting in each queue.", labels=["queue"]
        )
        for queue, n in self.store.inspect.queue_depths(self.queues).items():
            depth.add_metric([queue], n)
        yield depth
        webhooks = CounterMetricFamily(
            f"{PREFIX}_webhook_attempts",
            "Webhook delivery attempts, by outcome.",
            labels=["outcome"],
        )
        for outcome, n in sorted(snapshot.webhook_attempts.items()):
            webhooks.add_metric([outcome], n)
        yield webhooks
        # Results live in Redis until their TTL: how full it is, against its limit
        # (docs/object-storage.md: "What stays in Redis").
        memory = self.store.redis.info("memory")
        yield GaugeMetricFamily(
            f"{PREFIX}_redis_memory_used_bytes",
            "Memory Redis uses (INFO used_memory).",
            value=memory["used_memory"],
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_redis_memory_max_bytes",
            "Redis maxmemory (0: no limit).",
            value=memory.get("maxmemory", 0),
        )
        workers = GaugeMetricFamily(
            f"{PREFIX}_worker_info",
            "Live transcription workers (1 each), with the decoding layout each runs.",
            labels=["worker", "layout"],
        )
        for name, layout in sorted(liveness.live_workers(self.store.redis).layouts.items()):
            workers.add_metric([name, layout], 1)
        yield workers
        yield from self._histograms(snapshot)

    def _histograms(self, snapshot: stats.Snapshot) -> Iterable[Metric]:
        helps = {
            "job_duration_seconds": "Processing time of completed jobs (worker start to result).",
            "job_audio_seconds": "Audio duration of completed jobs.",
            "job_real_time_factor": "Processing time / audio duration of completed jobs.",
        }
        for name, per_model in snapshot.histograms.items():
            family = HistogramMetricFamily(f"{PREFIX}_{name}", helps[name], labels=["model"])
            for model, hist in sorted(per_model.items()):
                family.add_metric([model], hist.buckets, hist.sum)
            yield family


class Metrics:
    """A registry per app (not prometheus_client's global one, so several apps can share a
    process): request latency from the start, the Redis collector while the store exists."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.latency = Histogram(
            f"{PREFIX}_http_request_duration_seconds",
            "API request latency (this process), by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )
        self._collector: RedisCollector | None = None

    def watch(self, store: JobStore, settings: Settings) -> None:
        self._collector = RedisCollector(store, settings)
        self.registry.register(self._collector)

    def unwatch(self) -> None:
        if self._collector is not None:
            self.registry.unregister(self._collector)
            self._collector = None


class RequestLatency:
    """Pure ASGI middleware (cheaper than BaseHTTPMiddleware on the submission path). The route
    label is the matched template (`/v1/jobs/{job_id}`), so ids never become label values."""

    def __init__(self, app: ASGIApp, histogram: Histogram) -> None:
        self.app = app
        self.histogram = histogram

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.histogram.labels(scope["method"], route, str(status)).observe(
                time.perf_counter() - start
            )
