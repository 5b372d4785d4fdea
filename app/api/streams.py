"""How many waits each API key holds open in this process, with a cap (429 beyond): event
streams, OpenAI-style streamed transcriptions and OpenAI-style synchronous waits alike.

Each wait holds a Redis pub/sub connection; without a cap, one key could open hundreds and take
Redis' connections from everyone. Counted per process: with several API processes each holds its
own count (the cap is then per key and process, as documented). The API's async pool is sized
for every configured key's full share (`app.api.main`), so one key at its cap cannot empty it.
A caller that hangs up frees its wait at once (`until_hung_up`; streams: Starlette's own check).
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Coroutine
from typing import Any, TypeVar

from starlette.requests import Request

from app.contract.errors import RateLimited

RETRY_AFTER_SECONDS = 5
# How often a held synchronous wait looks whether its caller is still there.
HANG_UP_POLL_SECONDS = 0.5
# nginx's name for it: the client closed the connection before the answer (nobody reads it).
CLIENT_CLOSED_REQUEST = 499
T = TypeVar("T")


class StreamSlot:
    """One open stream; releasing it twice is harmless (the stream's end and the response's
    background task both release it, whichever runs)."""

    def __init__(self, limiter: StreamLimiter, caller: str) -> None:
        self._limiter = limiter
        self._caller = caller
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._limiter._release(self._caller)


class StreamLimiter:
    def __init__(self, per_key: int) -> None:
        self.per_key = per_key
        self._open: Counter[str] = Counter()
        self._lock = threading.Lock()

    def acquire(self, caller: str) -> StreamSlot:
        with self._lock:
            if self._open[caller] >= self.per_key:
                raise RateLimited(
                    f"This key has {self.per_key} event streams or synchronous transcriptions "
                    "waiting (the limit); close one or poll the job instead.",
                    retry_after=RETRY_AFTER_SECONDS,
                )
            self._open[caller] += 1
        return StreamSlot(self, caller)

    def _release(self, caller: str) -> None:
        with self._lock:
            self._open[caller] -= 1
            if self._open[caller] <= 0:
                del self._open[caller]


async def until_hung_up(request: Request, wait: Coroutine[Any, Any, T]) -> T | None:
    """`wait`'s result, or None as soon as the caller has hung up (`wait` is then canceled,
    which releases its Redis connection)."""
    waiting = asyncio.ensure_future(wait)

    async def caller_gone() -> None:
        while not await request.is_disconnected():
            await asyncio.sleep(HANG_UP_POLL_SECONDS)

    watching = asyncio.ensure_future(caller_gone())
    try:
        await asyncio.wait({waiting, watching}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (waiting, watching):
            if not task.done():
                task.cancel()
        await asyncio.gather(watching, return_exceptions=True)
    if waiting.done() and not waiting.cancelled():
        return waiting.result()
    await asyncio.gather(waiting, return_exceptions=True)
    return None
