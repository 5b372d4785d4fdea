"""A Redis high-availability topology on loopback, from the Valkey binary the project ships: a
primary, its replicas and three Sentinel processes (`valkey-server sentinel.conf --sentinel`),
each on a free port. Real servers: the failover a test provokes is Sentinel's own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import redis

from app.core.embedded import EmbeddedRedis, free_port, valkey_binary

MASTER = "whisper-jobs"
# Quick to notice a dead primary (the default is 30 s), yet not so quick that a live one stalled
# by a loaded 2-core host (a fork, a model on every core) is taken for dead: a second, spurious
# failover would promote a replica that missed the writes since the first.
DOWN_AFTER_MS = 3000
FAILOVER_TIMEOUT_MS = 10_000


class SentinelTopology:
    def __init__(self, root: Path, replicas: int = 1, sentinels: int = 3) -> None:
        self.root = root
        # Every port chosen before any server binds one: the OS may offer the same free port
        # twice (seen: a replica given its primary's port), so they are made distinct here.
        ports: list[int] = []
        while len(ports) < 1 + replicas + sentinels:
            port = free_port()
            if port not in ports:
                ports.append(port)
        self.primary = EmbeddedRedis(root / "primary", ports[0], maxmemory="256mb")
        self.replicas = [
            EmbeddedRedis(
                root / f"replica{i}",
                ports[1 + i],
                maxmemory="256mb",
                extra_args=("--replicaof", "127.0.0.1", str(self.primary.port)),
            )
            for i in range(replicas)
        ]
        self.sentinel_ports = ports[1 + replicas :]
        self.sentinels: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        return ";".join(f"sentinel://127.0.0.1:{port}/0" for port in self.sentinel_ports)

    def start(self, timeout: float = 30.0) -> SentinelTopology:
        self.primary.start()
        for replica in self.replicas:
            replica.start()
        for port in self.sentinel_ports:
            self.sentinels.append(self._start_sentinel(port))
        deadline = time.monotonic() + timeout
        for replica in self.replicas:
            self.wait_linked(replica, deadline)
        while self.sentinel_view() != self.primary.port or not self._sentinels_agree():
            assert time.monotonic() < deadline, "the Sentinels did not come up"
            time.sleep(0.1)
        return self

    def _start_sentinel(self, port: int) -> subprocess.Popen[bytes]:
        directory = self.root / f"sentinel{port}"
        directory.mkdir(parents=True)
        conf = directory / "sentinel.conf"  # Sentinel rewrites its file: it must be its own
        conf.write_text(
            f"port {port}\nbind 127.0.0.1\ndir {directory}\n"
            f"sentinel monitor {MASTER} 127.0.0.1 {self.primary.port} 2\n"
            f"sentinel down-after-milliseconds {MASTER} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {MASTER} {FAILOVER_TIMEOUT_MS}\n"
            f"sentinel parallel-syncs {MASTER} 1\n"
        )
        with (directory / "sentinel.log").open("ab") as out:
            return subprocess.Popen(
                [str(valkey_binary()), str(conf), "--sentinel"],
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def _sentinels_agree(self) -> bool:
        """Every Sentinel knows the others and the replicas (so a quorum can act)."""
        for port in self.sentinel_ports:
            with redis.Redis(port=port, socket_timeout=1) as client:
                info = client.sentinel_master(MASTER)
                if int(info["num-other-sentinels"]) < len(self.sentinel_ports) - 1:
                    return False
                if int(info["num-slaves"]) < len(self.replicas):
                    return False
        return True

    def sentinel_view(self) -> int | None:
        """The primary's port as the first Sentinel that answers sees it."""
        for port in self.sentinel_ports:
            try:
                with redis.Redis(port=port, socket_timeout=1) as client:
                    address = client.sentinel_get_master_addr_by_name(MASTER)
                    return int(address[1]) if address else None
            except redis.ConnectionError:
                continue
        return None

    @staticmethod
    def wait_linked(replica: EmbeddedRedis, deadline: float) -> None:
        with redis.Redis(port=replica.port, socket_timeout=1) as client:
            while client.info("replication").get("master_link_status") != "up":
                assert time.monotonic() < deadline, "a replica did not sync"
                time.sleep(0.05)

    def kill_primary(self) -> int:
        """SIGKILL the current primary (no shutdown, no last write): its port."""
        assert self.primary.process is not None
        os.kill(self.primary.process.pid, signal.SIGKILL)
        self.primary.process.wait()
        return self.primary.port

    def wait_promoted(self, old_port: int, timeout: float = 30.0) -> int:
        """Wait until the Sentinels name another primary: its port."""
        deadline = time.monotonic() + timeout
        while (port := self.sentinel_view()) in (old_port, None):
            assert time.monotonic() < deadline, "Sentinel did not fail over"
            time.sleep(0.1)
        assert port is not None
        return port

    def stop(self) -> None:
        for process in self.sentinels:
            process.terminate()
        for process in self.sentinels:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        for server in (*self.replicas, self.primary):
            server.stop()
