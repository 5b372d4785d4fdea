"""The hard time limit where Celery cannot enforce it: in a pool of threads (jobs decoded
together) a task past its hard limit cannot be killed alone, so the whole worker process ends,
as a process pool's child would. Its jobs are not lost: they were never acknowledged, and once
their leases lapse the sweep queues them again (each counts the attempt; a job that keeps doing
this ends as `worker_lost`). Whatever restarts workers (compose, `whisper-jobs serve`) starts
it again.

Knows nothing of Celery or Redis; the exit is injectable for tests.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

logger = logging.getLogger(__name__)

# The exit status of a worker ended by the watchdog (EX_SOFTWARE).
EXIT_STATUS = 70


def end_process(status: int) -> None:
    logging.shutdown()  # the last line logged is the reason
    os._exit(status)


class HardLimitWatchdog:
    def __init__(
        self, period: float = 5.0, exit: Callable[[int], object] = end_process,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self.period, self._exit, self._clock = period, exit, clock
        self._deadlines: dict[str, float] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @contextmanager
    def watching(self, job_id: str, hard_limit_seconds: float) -> Iterator[None]:
        """While the block runs, the job may take at most `hard_limit_seconds`."""
        with self._lock:
            self._deadlines[job_id] = self._clock() + hard_limit_seconds
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="hard-limits",
                                                daemon=True)  # fmt: skip
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                self._deadlines.pop(job_id, None)

    def overdue(self) -> str | None:
        """A job past its hard limit, if any."""
        now = self._clock()
        with self._lock:
            return next((j for j, deadline in self._deadlines.items() if now > deadline), None)

    def _watch(self) -> None:
        while True:
            time.sleep(self.period)
            job_id = self.overdue()
            if job_id is not None:
                logger.critical("job %s ran past its hard time limit; ending this worker process "
                                "(its jobs run again)", job_id)  # fmt: skip
                self._exit(EXIT_STATUS)
                return
