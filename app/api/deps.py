"""`Annotated` dependency aliases; the objects themselves are built once in the lifespan.

The providers are `async` although they only read `app.state`: FastAPI runs a sync dependency in
its thread pool, and those hops (not the work) dominated a submission under load.
"""

from __future__ import annotations

from typing import Annotated

from celery import Celery
from fastapi import Depends, Header, Request

from app.api.keycheck import MESSAGE, caller_of
from app.contract.errors import Unauthorized
from app.core.auth import KeyRing
from app.core.config import Settings
from app.storage.job_events import JobEvents
from app.storage.store import JobStore


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_store(request: Request) -> JobStore:
    store: JobStore = request.app.state.store
    return store


async def get_events(request: Request) -> JobEvents:
    events: JobEvents = request.app.state.events
    return events


async def get_producer(request: Request) -> Celery:
    producer: Celery = request.app.state.producer
    return producer


async def get_caller(
    request: Request,
    authorization: Annotated[
        str | None, Header(description="`Bearer <API key>` (when keys are configured)")
    ] = None,
) -> str:
    """The name of the calling key; every `/v1` route depends on it. `app.api.keycheck` has
    already checked it before the body was read. (`async`: a sync dependency would cost a
    thread-pool hop on every request.)"""
    checked = getattr(request.state, "caller", None)
    if checked is not None:
        return str(checked)
    keys: KeyRing = request.app.state.keys
    name = caller_of(keys, authorization)
    if name is None:
        raise Unauthorized(MESSAGE)
    return name


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[JobStore, Depends(get_store)]
ProducerDep = Annotated[Celery, Depends(get_producer)]
EventsDep = Annotated[JobEvents, Depends(get_events)]
CallerDep = Annotated[str, Depends(get_caller)]
