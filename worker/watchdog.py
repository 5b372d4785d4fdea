"""The hard time limit where Celery cannot enforce it: in a pool of threads (jobs decoded
together) a task past its hard limit cannot be killed alone.

So first the job is stopped on its own: `stop(thread)` asks the engine to refuse that thread's
next model call (with temperature fallback, each temperature is a call of its own), and the job
fails with `timeout` while the others decode on. Only a job still running `grace` seconds later
(stuck inside one call) ends the whole worker process, as a process pool's child would; then
`before_exit(others)` is told which other jobs lose their work through no fault of their own, so
their next run is not counted against their attempts. No job is lost either way: unacknowledged,
they are queued again once their leases lapse. Whatever restarts workers (compose,
`whisper-jobs serve`) starts the process again.

Knows nothing of Celery or Redis; the exit and the hooks are injectable for tests.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

logger = logging.getLogger(__name__)

# The exit status of a worker ended by the watchdog (EX_SOFTWARE).
EXIT_STATUS = 70
# How long a job stopped at its hard limit has to leave before its process ends.
GRACE_SECONDS = 30.0


def end_process(status: int) -> None:
    logging.shutdown()  # the last line logged is the reason
    os._exit(status)


@dataclass
class _Watched:
    deadline: float
    thread: int
    stopping: bool = False


class HardLimitWatchdog:
    def __init__(
        self,
        period: float = 5.0,
        exit: Callable[[int], object] = end_process,
        clock: Callable[[], float] = time.monotonic,
        *,
        grace: float = GRACE_SECONDS,
        stop: Callable[[int], object] = lambda _thread: None,
        before_exit: Callable[[list[str]], object] = lambda _others: None,
    ) -> None:
        self.period, self._exit, self._clock = period, exit, clock
        self.grace, self._stop, self._before_exit = grace, stop, before_exit
        self._jobs: dict[str, _Watched] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @contextmanager
    def watching(self, job_id: str, hard_limit_seconds: float) -> Iterator[None]:
        """While the block runs (on the job's own thread), the job may take at most
        `hard_limit_seconds`."""
        watched = _Watched(self._clock() + hard_limit_seconds, threading.get_ident())
        with self._lock:
            self._jobs[job_id] = watched
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="hard-limits", daemon=True)
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                if self._jobs.get(job_id) is watched:
                    del self._jobs[job_id]

    def overdue(self) -> str | None:
        """A job past its hard limit (or, once stopped, past its grace), if any."""
        now = self._clock()
        with self._lock:
            return next((j for j, w in self._jobs.items() if now > w.deadline), None)

    def check(self) -> bool:
        """One look: stop an overdue job, or end the process for one past its grace. True
        when the process was ended."""
        job_id = self.overdue()
        if job_id is None:
            return False
        with self._lock:
            watched = self._jobs.get(job_id)
            if watched is None:  # it ended meanwhile
                return False
            if not watched.stopping:
                watched.stopping = True
                watched.deadline = self._clock() + self.grace
                logger.error("job %s ran past its hard time limit; stopping it", job_id)
                self._stop(watched.thread)
                return False
            others = [j for j in self._jobs if j != job_id]
        logger.critical(
            "job %s did not stop within %g s of its hard time limit; ending this "
            "worker process (its jobs run again)",
            job_id,
            self.grace,
        )
        try:
            self._before_exit(others)
        except Exception:  # the exit matters more than the refund
            logger.exception("could not record the jobs this exit interrupts")
        self._exit(EXIT_STATUS)
        return True

    def _watch(self) -> None:
        while True:
            time.sleep(self.period)
            if self.check():
                return
