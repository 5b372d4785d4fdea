"""`whisper-jobs serve`: one process that runs the embedded Redis (when no URL is set), beat, the
webhooks worker, a transcription worker and the API, and stops them in order.

A child that exits while the service runs is restarted after a backoff (1 s, doubling up to
30 s); one that dies `MAX_RESTARTS` times within `RESTART_WINDOW_SECONDS` is broken, not
unlucky, and then the whole service stops with a message naming it (exit code 1). It may not
import the API or the worker: children are started as `whisper-jobs <part>` processes.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from types import FrameType

from app.core.config import Settings
from app.core.embedded import EmbeddedRedis
from app.core.settings_errors import CONFIGURATION_ERROR

logger = logging.getLogger("whisper_jobs")

MAX_RESTARTS = 5
RESTART_WINDOW_SECONDS = 300.0
MAX_BACKOFF_SECONDS = 30.0
# A signal this soon after the first is the same Ctrl-C (`uv run` forwards the terminal's SIGINT,
# which also reaches us directly); a later one asks to stop at once.
SAME_SIGNAL_SECONDS = 1.0
HURRIED_SECONDS = 3.0  # how long a hurried stop waits for a cold shutdown before SIGKILL


@dataclass
class Child:
    name: str
    command: str
    process: subprocess.Popen[bytes]
    deaths: list[float] = field(default_factory=list)
    restart_at: float | None = None  # time.monotonic() of a pending restart


def child_argv(command: str) -> list[str]:
    """A part's command line. Celery's parts without their banners: `serve` says what started
    in a few lines (a newcomer reads them before the ready line)."""
    quiet = ["--quiet"] if command in ("beat", "webhooks", "worker") else []
    return [sys.executable, "-m", "app.core.cli", command, *quiet]


class Supervisor:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.embedded: EmbeddedRedis | None = None
        self.children: list[Child] = []
        self.env: dict[str, str] = dict(os.environ)
        self.stopping = False
        self.stop_requested_at = 0.0
        self.hurry = False  # a second Ctrl-C: stop without waiting for the running job

    def _popen(self, command: str) -> subprocess.Popen[bytes]:
        argv = child_argv(command)
        # A session of its own: Ctrl-C reaches only us, and we stop the children in order.
        return subprocess.Popen(argv, env=self.env, start_new_session=True)

    def start(self) -> None:
        if not self.settings.redis_url:
            self.embedded = EmbeddedRedis(
                self.settings.data_dir / "redis",
                self.settings.embedded_redis_port or None,
                maxmemory=self.settings.redis_maxmemory,
            )
            self.env["WHISPER_JOBS_REDIS_URL"] = self.embedded.start()
        for name in ("beat", "webhooks", "worker", "api"):
            self.children.append(Child(name, name, self._popen(name)))

    def _request_stop(self, signum: int, _frame: FrameType | None) -> None:
        now = time.monotonic()
        if not self.stopping:
            self.stopping, self.stop_requested_at = True, now
            logger.info(
                "received %s; stopping the API, the workers (a running job may finish), "
                "beat, then Redis. Ctrl-C again to stop at once",
                signal.Signals(signum).name,
            )
        elif now - self.stop_requested_at > SAME_SIGNAL_SECONDS and not self.hurry:
            # A second Ctrl-C (not the first one again, forwarded by a wrapper such as `uv run`).
            self.hurry = True
            logger.warning("stopping now: a running job goes back to the queue and runs again")

    def run(self) -> int:
        signal.signal(signal.SIGINT, self._request_stop)
        signal.signal(signal.SIGTERM, self._request_stop)
        self.start()
        code = 0
        announced, next_look = False, 0.0
        while not self.stopping:
            now = time.monotonic()
            if not announced and now >= next_look:
                announced, next_look = self.announce_when_ready(), now + 1.0
            broken = self.tend(now)
            if broken is not None and broken.process.returncode == CONFIGURATION_ERROR:
                logger.error(
                    "%s refused its configuration (above); stopping the service", broken.name
                )
                code = 1
                break
            if broken is not None:
                logger.error(
                    "%s exited %d times within %.0f s; stopping the service (see its log above)",
                    broken.name,
                    MAX_RESTARTS,
                    RESTART_WINDOW_SECONDS,
                )
                code = 1
                break
            time.sleep(0.2)
        self.stop()
        return code

    def api_url(self) -> str:
        host = self.settings.api_host
        host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - compared
        port = int(self.env.get("PORT", self.settings.api_port))
        return f"http://{host}:{port}"

    def announce_when_ready(self) -> bool:
        """Once the API says ready: one line with where it listens and whether it is open."""
        url = self.api_url()
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=1) as response:  # noqa: S310
                ready = bool(response.status == 200)
        except (OSError, ValueError):
            return False
        if ready:
            access = "keyed (WHISPER_JOBS_API_KEYS)" if self.settings.api_keys else "OPEN (no keys)"
            logger.info(
                "whisper-jobs is ready: API %s, docs %s/docs, console %s/ - %s",
                url,
                url,
                url,
                access,
            )
        return ready

    def tend(self, now: float) -> Child | None:
        """Restart dead children when their backoff is over; the one that keeps dying, if any."""
        for child in self.children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    logger.warning("restarting %s", child.name)
                    child.process = self._popen(child.command)
                    child.restart_at = None
                continue
            code = child.process.poll()
            if code is None:
                continue
            child.deaths = [t for t in child.deaths if now - t < RESTART_WINDOW_SECONDS] + [now]
            if len(child.deaths) >= MAX_RESTARTS or code == CONFIGURATION_ERROR:
                return child  # a configuration error stays one: restarting cannot help
            backoff = min(2.0 ** (len(child.deaths) - 1), MAX_BACKOFF_SECONDS)
            logger.error("%s exited with %s; restarting it in %.0f s", child.name, code, backoff)
            child.restart_at = now + backoff
        return None

    def stop(self) -> None:
        # API first (no new jobs), then the worker (warm shutdown: the running job finishes),
        # then Redis, which the other two need until they are gone.
        for child in reversed(self.children):
            proc = child.process
            # SIGTERM: Celery's warm shutdown (the running job may finish). If it does not in
            # time (or a second Ctrl-C hurries us), SIGQUIT: a cold shutdown that hands the job's
            # message back to the queue; then SIGKILL.
            for sig, wait in (
                (signal.SIGTERM, self.settings.shutdown_timeout_seconds),
                (signal.SIGQUIT, 15.0),
                (signal.SIGKILL, 15.0),
            ):
                if proc.poll() is not None:
                    break
                if sig is not signal.SIGTERM and not self.hurry:
                    logger.warning("%s did not stop in time; sending %s", child.name, sig.name)
                proc.send_signal(sig)
                if self._stopped_within(child, wait):
                    break
        if self.embedded is not None:
            self.embedded.stop()

    def _stopped_within(self, child: Child, seconds: float) -> bool:
        """Whether `child` ends within `seconds` (`HURRIED_SECONDS` once hurried). Saying, after
        a second, what it waits for: a worker finishing its job can take a minute."""
        start, said = time.monotonic(), False
        while child.process.poll() is None:
            waited = time.monotonic() - start
            if waited >= (min(seconds, HURRIED_SECONDS) if self.hurry else seconds):
                return False
            if not said and waited >= 1.0 and not self.hurry:
                logger.info(
                    "waiting up to %.0f s for %s to stop%s; Ctrl-C again to stop now",
                    seconds,
                    child.name,
                    " (it may be finishing a job)" if child.name == "worker" else "",
                )
                said = True
            time.sleep(0.05)
        return True
