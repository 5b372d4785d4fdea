"""How many event streams each API key holds open in this process, with a cap (429 beyond).

Each open stream holds a Redis pub/sub connection; without a cap, one key could open hundreds and
take Redis' connections from everyone. Counted per process: with several API processes each
holds its own count (the cap is then per key and process, as documented).
"""

from __future__ import annotations

import threading
from collections import Counter

from app.contract.errors import RateLimited

RETRY_AFTER_SECONDS = 5


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
                    f"This key has {self.per_key} event streams open (the limit); close one "
                    "or poll the job instead.",
                    retry_after=RETRY_AFTER_SECONDS,
                )
            self._open[caller] += 1
        return StreamSlot(self, caller)

    def _release(self, caller: str) -> None:
        with self._lock:
            self._open[caller] -= 1
            if self._open[caller] <= 0:
                del self._open[caller]
