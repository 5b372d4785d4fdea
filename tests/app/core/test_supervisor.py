"""`serve`'s supervision of its children: restart with backoff, stop when one keeps dying.
The children here are real processes that exit at once (`_popen` is our seam)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from app.core import supervisor
from app.core.config import Settings
from app.core.supervisor import Child, Supervisor


class Quitters(Supervisor):
    """Every child is a process that exits with 3 straight away."""

    started: int = 0

    def _popen(self, command: str) -> subprocess.Popen[bytes]:
        self.started += 1
        return subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])


@pytest.fixture
def quitters() -> Quitters:
    sup = Quitters(Settings())
    sup.children = [Child("worker", "worker", sup._popen("worker"))]
    sup.children[0].process.wait(10)
    return sup


def test_a_dead_child_is_restarted_after_a_backoff(quitters: Quitters) -> None:
    child = quitters.children[0]
    assert quitters.tend(100.0) is None
    assert child.restart_at == 101.0  # 1 s
    assert quitters.tend(100.5) is None and quitters.started == 1  # not before its time
    assert quitters.tend(101.0) is None and quitters.started == 2
    child.process.wait(10)
    assert quitters.tend(102.0) is None and child.restart_at == 104.0  # then 2 s


def test_a_child_that_keeps_dying_stops_the_service(quitters: Quitters) -> None:
    child, now, broken = quitters.children[0], 0.0, None
    for _ in range(supervisor.MAX_RESTARTS):
        broken = quitters.tend(now)
        if broken is not None:
            break
        assert child.restart_at is not None
        now = child.restart_at
        quitters.tend(now)  # restarts it
        child.process.wait(10)
    assert broken is child
    assert len(child.deaths) == supervisor.MAX_RESTARTS


def test_deaths_far_apart_are_forgiven(quitters: Quitters) -> None:
    child = quitters.children[0]
    for n in range(supervisor.MAX_RESTARTS + 2):
        now = n * (supervisor.RESTART_WINDOW_SECONDS + 1)
        assert quitters.tend(now) is None
        quitters.tend(child.restart_at or now)
        child.process.wait(10)
    assert len(child.deaths) == 1


STUBBORN = """
import signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a worker finishing a long job
signal.signal(signal.SIGQUIT, lambda *_: sys.exit(7))  # its cold shutdown
print("ready", flush=True)
time.sleep(600)
"""


def stubborn_child() -> Child:
    proc = subprocess.Popen([sys.executable, "-c", STUBBORN], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    return Child("worker", "worker", proc)


def test_a_second_ctrl_c_stops_at_once_and_the_first_one_forwarded_again_does_not() -> None:
    import signal
    import threading

    sup = Supervisor(Settings(shutdown_timeout_seconds=600))
    sup.children = [stubborn_child()]
    try:
        sup._request_stop(signal.SIGINT, None)
        sup._request_stop(signal.SIGINT, None)  # the same Ctrl-C, forwarded by `uv run`
        assert sup.stopping and not sup.hurry
        stopping = threading.Thread(target=sup.stop)
        stopping.start()
        stopping.join(1.5)
        assert stopping.is_alive()  # waiting (up to 600 s) for the job to finish
        sup.stop_requested_at -= 2 * supervisor.SAME_SIGNAL_SECONDS  # a later, second Ctrl-C
        sup._request_stop(signal.SIGINT, None)
        assert sup.hurry
        stopping.join(120)  # far below the 600 s it would otherwise wait
        assert not stopping.is_alive()
        assert sup.children[0].process.returncode == 7  # cold shutdown: SIGQUIT, not SIGKILL
    finally:
        sup.children[0].process.kill()
        sup.children[0].process.wait(10)
        sup.children[0].process.stdout.close()  # type: ignore[union-attr]


def test_celerys_parts_start_without_their_banners() -> None:
    from app.core.supervisor import child_argv

    for part in ("beat", "webhooks", "worker"):
        assert child_argv(part)[-2:] == [part, "--quiet"]
    assert child_argv("api")[-1] == "api"


def test_a_child_refusing_its_configuration_is_not_restarted() -> None:
    sup = Supervisor(Settings())
    proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(78)"])
    proc.wait(10)
    sup.children = [Child("api", "api", proc)]
    assert sup.tend(0.0) is sup.children[0]  # at its first exit, not its fifth
