"""Constructing a `WhisperModel` so that decoding on it keeps its threads busy.

For the engine and for the benchmarks' library baselines alike; it constructs, nothing else.

Why a thread of its own: constructing the model runs OpenMP work on the calling thread, which
leaves that thread an OpenMP team for the rest of the process. CTranslate2 then decodes on its
own worker threads, which start a second team. GNU OpenMP counts every team's threads, and when
they outnumber the cores it stops spinning between parallel regions and sleeps on a futex
instead. On 2 cores with 2 decoding threads that made `transcribe` about 1.8x slower: 65 s of
speech in 5.6 s with the model constructed on the calling thread (64,000 voluntary context
switches) against 3.1 s with it constructed in a thread that had ended (under 50). A thread that
ends takes its team with it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def construct_apart(factory: Callable[[], T]) -> T:
    """`factory()` run on a new thread that ends before this returns; its result or its error."""
    outcome: dict[str, T] = {}
    failure: list[BaseException] = []

    def run() -> None:
        try:
            outcome["value"] = factory()
        except BaseException as e:  # handed back to the caller, raised on its own thread
            failure.append(e)

    thread = threading.Thread(target=run, name="model-construct", daemon=True)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return outcome["value"]
