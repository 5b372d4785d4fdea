"""`Annotated` dependency aliases; the objects themselves are built once in the lifespan."""

from __future__ import annotations

from typing import Annotated

from celery import Celery
from fastapi import Depends, Request
from redis.asyncio import Redis as AsyncRedis

from app.config import Settings
from app.store import JobStore


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_store(request: Request) -> JobStore:
    store: JobStore = request.app.state.store
    return store


def get_producer(request: Request) -> Celery:
    producer: Celery = request.app.state.producer
    return producer


def get_async_redis(request: Request) -> AsyncRedis:
    client: AsyncRedis = request.app.state.async_redis
    return client


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[JobStore, Depends(get_store)]
ProducerDep = Annotated[Celery, Depends(get_producer)]
AsyncRedisDep = Annotated[AsyncRedis, Depends(get_async_redis)]
