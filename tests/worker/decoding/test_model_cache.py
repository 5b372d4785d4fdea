"""The per-process model cache: one load under concurrency, LRU eviction, idle unloading (a
fake clock and a fake loader: the cache knows nothing of Whisper)."""

import threading
import time

from worker.decoding.model_cache import ModelCache


def test_cache_loads_each_model_once_under_concurrency() -> None:
    calls: list[str] = []

    def slow_load(name: str) -> str:
        calls.append(name)
        time.sleep(0.05)
        return f"model:{name}"

    cache: ModelCache[str] = ModelCache(slow_load, max_loaded=2)
    threads = [threading.Thread(target=cache.get, args=("base",)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == ["base"]


def test_cache_evicts_the_least_recently_used() -> None:
    cache: ModelCache[str] = ModelCache(lambda name: name.upper(), max_loaded=2)
    cache.get("a")
    cache.get("b")
    cache.get("a")  # b is now the least recently used
    cache.get("c")
    assert cache.loads == 3
    cache.get("a")
    assert cache.loads == 3
    cache.get("b")
    assert cache.loads == 4


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_an_idle_model_is_unloaded_and_loaded_again_when_needed() -> None:
    clock = Clock()
    cache: ModelCache[str] = ModelCache(str.upper, max_loaded=2, idle_seconds=60, clock=clock)
    cache.get("base")
    clock.now = 59
    assert cache.unload_idle() == [] and cache.loaded == ["base"]
    clock.now = 60
    assert cache.unload_idle() == ["base"] and cache.loaded == []
    assert cache.get("base") == "BASE" and cache.loads == 2


def test_a_model_in_use_is_never_unloaded_for_idleness() -> None:
    clock = Clock()
    cache: ModelCache[str] = ModelCache(str.upper, max_loaded=2, idle_seconds=10, clock=clock)
    with cache.use("base") as model:
        assert model == "BASE"
        clock.now = 1000  # a job far longer than the idle time
        assert cache.unload_idle() == []
    clock.now = 1009  # its idle time starts when the job ends
    assert cache.unload_idle() == []
    clock.now = 1010
    assert cache.unload_idle() == ["base"]


def test_without_an_idle_time_nothing_is_unloaded() -> None:
    clock = Clock()
    cache: ModelCache[str] = ModelCache(str.upper, max_loaded=2, clock=clock)
    cache.get("base")
    clock.now = 10**9
    assert cache.unload_idle() == [] and cache.start_reaper() is None


def test_the_reaper_unloads_in_the_background() -> None:
    cache: ModelCache[str] = ModelCache(str.upper, max_loaded=2, idle_seconds=0.2)
    cache.get("base")
    assert cache.start_reaper() is not None
    deadline = time.monotonic() + 5
    while cache.loaded and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cache.loaded == []
