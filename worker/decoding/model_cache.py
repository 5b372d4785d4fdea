"""Loaded models of one worker process: loaded once, least-recently-used evicted past a count,
and (with an idle time) unloaded when no job used them for that long, as the peers allow.

Knows nothing of Whisper: it holds whatever `load(name)` returns.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


def release_freed_memory() -> None:
    """Hand freed heap back to the system: glibc keeps a freed model's pages in its arenas
    (the process's RSS would hardly drop) unless asked to trim them. A no-op elsewhere."""
    with suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class ModelCache(Generic[T]):
    """Loaded models of one process, keyed by name, least-recently-used evicted; with
    `idle_seconds`, a model no job used for that long is unloaded (`unload_idle`).

    A lock makes concurrent first uses load a model once; a model is never loaded per task. A
    model in use (`use`) is never unloaded for idleness: a job longer than the idle time keeps it.
    """

    def __init__(
        self,
        load: Callable[[str], T],
        max_loaded: int = 2,
        idle_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._max_loaded = max_loaded
        self.idle_seconds = idle_seconds
        self._clock = clock
        self._models: OrderedDict[str, T] = OrderedDict()
        self._last_used: dict[str, float] = {}
        self._in_use: dict[str, int] = {}
        self._lock = threading.Lock()
        self.loads = 0

    @property
    def loaded(self) -> list[str]:
        with self._lock:
            return list(self._models)

    def get(self, name: str) -> T:
        with self._lock:
            self._last_used[name] = self._clock()
            if name in self._models:
                self._models.move_to_end(name)
                return self._models[name]
            model = self._load(name)
            self.loads += 1
            self._models[name] = model
            while len(self._models) > self._max_loaded:
                evicted, _ = self._models.popitem(last=False)
                logger.info("evicted model %s", evicted)
            return model

    @contextmanager
    def use(self, name: str) -> Iterator[T]:
        """The model, marked in use until the block ends (then its idle time starts)."""
        model = self.get(name)
        with self._lock:
            self._in_use[name] = self._in_use.get(name, 0) + 1
        try:
            yield model
        finally:
            with self._lock:
                self._in_use[name] -= 1
                self._last_used[name] = self._clock()

    def unload_idle(self) -> list[str]:
        """Unload every model unused for `idle_seconds`: the names unloaded."""
        if self.idle_seconds is None:
            return []
        with self._lock:
            now = self._clock()
            idle = [
                name
                for name in self._models
                if not self._in_use.get(name)
                and now - self._last_used.get(name, now) >= self.idle_seconds
            ]
            for name in idle:
                del self._models[name]
        if idle:
            gc.collect()  # CTranslate2 frees a model's memory when its last reference goes
            release_freed_memory()
            logger.info("unloaded idle model(s) %s", ", ".join(idle))
        return idle

    def start_reaper(self) -> threading.Thread | None:
        """A daemon thread that unloads idle models (none without `idle_seconds`)."""
        if self.idle_seconds is None:
            return None
        period = max(0.5, min(self.idle_seconds / 4, 30.0))

        def reap() -> None:
            while True:
                time.sleep(period)
                try:
                    self.unload_idle()
                except Exception:  # never let the reaper die; the next round tries again
                    logger.warning("unloading idle models failed", exc_info=True)

        thread = threading.Thread(target=reap, name="model-reaper", daemon=True)
        thread.start()
        return thread
