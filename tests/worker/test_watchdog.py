"""The hard time limit kept for a pool of threads: an overdue job is stopped on its own first;
only one that cannot be stopped ends the process, and then the other jobs' attempts are given
back. (The refusal itself: `tests/worker/decoding/test_batching.py`.)"""

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


def test_an_overdue_job_is_stopped_alone_and_the_process_goes_on() -> None:
    clock, stopped, exits = Clock(), [], []
    dog = HardLimitWatchdog(
        period=3600, exit=exits.append, clock=clock, grace=30, stop=stopped.append
    )
    with dog.watching("slow", 10), dog.watching("other", 1000):
        clock.now = 11
        assert not dog.check()
        assert stopped == [threading.get_ident()]  # its thread's next model call is refused
        clock.now = 40  # within the grace
        assert not dog.check()
    # It left in time: nothing more happens.
    clock.now = 1000
    assert not dog.check()
    assert exits == [] and len(stopped) == 1


def test_a_job_that_cannot_be_stopped_ends_the_process_and_refunds_the_others() -> None:
    clock, exits, refunded = Clock(), [], []
    dog = HardLimitWatchdog(
        period=3600, exit=exits.append, clock=clock, grace=30, before_exit=refunded.append
    )
    with dog.watching("stuck", 10), dog.watching("b", 1000), dog.watching("c", 1000):
        clock.now = 11
        assert not dog.check()  # stopped first
        clock.now = 42  # past the grace
        assert dog.check()
    assert exits == [EXIT_STATUS]
    assert sorted(refunded[0]) == ["b", "c"]  # not "stuck": its attempt counts


def test_the_watch_thread_ends_the_process_of_a_job_that_never_stops() -> None:
    exited = threading.Event()
    statuses: list[int] = []

    def exit_(status: int) -> None:
        statuses.append(status)
        exited.set()

    dog = HardLimitWatchdog(period=0.05, exit=exit_, grace=0.1)
    with dog.watching("stuck", 0.1):
        assert exited.wait(10)
    assert statuses == [EXIT_STATUS]
