"""Jobs stopped at their hard time limit in a pool of threads (`worker.watchdog`): the thread
that runs such a job has its next model call refused (`worker.decoding.batching` asks here
before every call), so that job fails with `timeout` on its own while the others decode on.

Process-wide: a thread runs one job at a time, whichever model it uses; a thread leaves the set
when its job leaves the model.
"""

from __future__ import annotations

import threading


class CallRefused(RuntimeError):
    """A job's model call refused: the job ran past its hard time limit."""


_refused: set[int] = set()
_lock = threading.Lock()


def refuse_calls_of(thread: int) -> None:
    with _lock:
        _refused.add(thread)


def check(thread: int) -> None:
    if thread in _refused:
        raise CallRefused("The job ran past its hard time limit.")


def forget(thread: int) -> None:
    with _lock:
        _refused.discard(thread)
