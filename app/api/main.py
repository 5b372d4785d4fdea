"""The FastAPI app factory: `uvicorn --factory app.api.main:create_app`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import __version__
from app.api.error_handlers import document_errors, install_error_handlers
from app.api.keycheck import KeyCheck
from app.api.limits import BodyLimits, BodyRules
from app.api.prometheus import Metrics, RequestLatency
from app.api.readiness import ReadinessMonitor
from app.api.routes import console, docs, events, formats, health, jobs, metrics, models, openai
from app.api.streams import StreamLimiter
from app.core.auth import KeyRing
from app.core.config import Settings, get_settings
from app.storage.broker import make_producer, webhook_notifier
from app.storage.clients import async_redis_client, redis_client
from app.storage.job_events import JobEvents
from app.storage.store import JobStore

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.uploads.check()
        app.state.settings = settings
        if app.state.keys.is_open:
            logger.warning(
                "no API keys configured (WHISPER_JOBS_API_KEYS): anyone who can reach this "
                "service can submit and read every job"
            )
        app.state.producer = make_producer(settings)
        app.state.store = JobStore(
            redis_client(settings),
            settings.result_ttl_seconds,
            on_terminal=webhook_notifier(app.state.producer),  # e.g. a cancel sends its event
            # A 202 only once this many replicas hold the job (Redis `WAIT`).
            min_replicas=settings.redis_min_replicas,
            replica_timeout_ms=settings.redis_replica_timeout_ms,
        )
        # Event streams and sync waits hold pub/sub connections: room for every key's full
        # share of them (open mode: one caller) beside the pool's usual size.
        held = settings.max_streams_per_key * max(1, len(settings.api_keys))
        app.state.events = JobEvents(app.state.store, async_redis_client(settings, held=held))
        app.state.metrics.watch(app.state.store, settings)
        app.state.streams = StreamLimiter(settings.max_streams_per_key)
        app.state.readiness = ReadinessMonitor(settings)
        app.state.readiness.start()
        try:
            yield
        finally:
            app.state.readiness.stop()
            app.state.metrics.unwatch()
            app.state.producer.close()
            app.state.store.close()
            await app.state.events.aclose()

    app = FastAPI(
        title="whisper-jobs",
        version=__version__,
        summary="Asynchronous speech transcription with Whisper: submit audio, poll the job.",
        lifespan=lifespan,
        docs_url=None,  # served by `routes.docs`, from the package, not from a CDN
        redoc_url=None,
    )
    install_error_handlers(app)
    app.openapi = lambda: document_errors(app)  # type: ignore[method-assign]
    rules = BodyRules(
        settings.max_upload_bytes, settings.body_timeout_seconds, settings.body_min_bytes_per_second
    )
    app.add_middleware(BodyLimits, rules=rules)
    # Added after the size limit, so it runs first: no key, no body read.
    app.state.keys = KeyRing(settings.api_keys)
    app.add_middleware(KeyCheck, keys=app.state.keys)
    app.state.metrics = Metrics()
    app.add_middleware(RequestLatency, histogram=app.state.metrics.latency)
    app.include_router(health.router)
    app.include_router(jobs.router)
    app.include_router(events.router)
    app.include_router(models.router)
    app.include_router(formats.router)
    app.include_router(openai.router)
    app.include_router(metrics.router)
    app.include_router(console.router)
    app.include_router(docs.router)
    app.mount("/console", console.static_files(), name="console")
    return app
