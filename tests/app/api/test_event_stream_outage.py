"""An event stream whose job store goes away mid-stream ends with an `error` event (and when to
reconnect), not with a cut connection; other errors are not hidden. The events are faked at
their `subscribe` seam (ours); the outage is redis-py's own exception."""

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
import redis

from app.api.openai_stream import openai_events
from app.api.routes.events import sse_events
from app.contract.events import JobEvent


class Slot:
    released = 0

    def release(self) -> None:
        self.released += 1


class Store:
    def __init__(self, failure: Exception) -> None:
        self.failure = failure

    async def subscribe(self, job_id: str) -> AsyncIterator[JobEvent]:
        yield JobEvent("progress", {"progress": 0.5})
        raise self.failure


def collect(store: Store, slot: Slot) -> list[str]:
    async def run() -> list[str]:
        return [chunk async for chunk in sse_events("0" * 32, store, slot)]  # type: ignore[arg-type]

    return asyncio.run(run())


def test_a_store_outage_ends_the_stream_with_an_error_event() -> None:
    slot = Slot()
    chunks = collect(Store(redis.ConnectionError("Connection reset by peer")), slot)
    assert chunks[0] == 'event: progress\ndata: {"progress": 0.5}\n\n'
    assert chunks[1] == (
        'retry: 5000\nevent: error\ndata: {"error": {"code": "queue_unavailable", '
        '"message": "The job store became unavailable; reconnect to resume (events are '
        'replayed)."}}\n\n'
    )
    assert slot.released == 1


def test_other_errors_are_not_dressed_up_as_an_outage() -> None:
    slot = Slot()
    with pytest.raises(ValueError):
        collect(Store(ValueError("a bug")), slot)
    assert slot.released == 1


def test_the_openai_stream_ends_with_an_error_event_on_an_outage() -> None:
    slot = Slot()

    async def run() -> list[str]:
        store = Store(redis.TimeoutError("Timeout reading from socket"))
        return [c async for c in openai_events("0" * 32, store, store, slot, 30.0)]  # type: ignore[arg-type]

    chunks = asyncio.run(run())
    last = json.loads(chunks[-1].removeprefix("data: "))
    assert last["type"] == "error" and last["error"]["code"] == "queue_unavailable"
    assert slot.released == 1
