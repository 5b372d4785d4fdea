"""The hard time limit kept for a pool of threads: the process ends when a job overruns it."""

from __future__ import annotations

import threading

from worker.watchdog import EXIT_STATUS, HardLimitWatchdog


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_job_within_its_limit_is_left_alone_and_forgotten_when_it_ends() -> None:
    clock = Clock()
    dog = HardLimitWatchdog(period=3600, exit=lambda _: None, clock=clock)
    with dog.watching("a", 10):
        clock.now = 9
        assert dog.overdue() is None
    clock.now = 100
    assert dog.overdue() is None  # ended: no longer watched


def test_a_job_past_its_limit_ends_the_process() -> None:
    exited = threading.Event()
    statuses: list[int] = []

    def exit_(status: int) -> None:
        statuses.append(status)
        exited.set()

    dog = HardLimitWatchdog(period=0.05, exit=exit_)
    with dog.watching("stuck", 0.1):
        assert exited.wait(5)
    assert statuses == [EXIT_STATUS]
