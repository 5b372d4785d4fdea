"""Losing the Redis primary under load: the whole service (API, worker, beat, webhooks worker) on
a Sentinel URL over a real primary, two real replicas and three real Sentinels; jobs stream in,
the primary is SIGKILLed mid-stream, Sentinel promotes a replica, and submissions go on.

A long job is being decoded when the primary dies. Every job that got a 202 must end exactly
once, completed with its transcript, its webhook delivered once per event id; no request may get
a 500; the 503 window is reported (pytest -s shows it). Two
replicas, because acceptance waits for one (`WHISPER_JOBS_REDIS_MIN_REPLICAS=1`): after the
failover the other one still holds each new job. Loopback only; every loop bounded.
"""

from __future__ import annotations

import base64
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest

from tests.conftest import JFK, JFK_TEXT
from tests.e2e.conftest import TERMINAL, Cluster, loopback_http_server, make_cluster
from tests.redis_topology import MASTER, SentinelTopology
from tests.transcripts import wer

SECRET = "whsec_" + base64.b64encode(os.urandom(24)).decode()
BEFORE_KILL = 5  # jobs accepted before the primary dies
AFTER_FAILOVER = 5  # and after Sentinel promoted a replica
SUBMIT_DEADLINE_SECONDS = 120


class Receiver(BaseHTTPRequestHandler):
    deliveries: Counter[str] = Counter()  # webhook-id -> deliveries
    jobs: Counter[str] = Counter()  # job id -> deliveries
    lock = threading.Lock()

    def log_message(self, *_: object) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        self.rfile.read(int(self.headers["Content-Length"]))
        with self.lock:
            self.deliveries[self.headers["webhook-id"]] += 1
            self.jobs[self.path.rsplit("/", 1)[-1]] += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def topology(tmp_path: Path) -> Iterator[SentinelTopology]:
    topology = SentinelTopology(tmp_path / "ha", replicas=2).start()
    try:
        yield topology
    finally:
        topology.stop()


def test_killing_the_primary_loses_no_accepted_job(
    topology: SentinelTopology,
    tmp_path: Path,
    models_dir: Path,
    long_speech: Path,
    long_speech_text: str,
) -> None:
    with loopback_http_server(Receiver) as receiver:
        cluster = make_cluster(
            topology.url,
            tmp_path,
            models_dir,
            WHISPER_JOBS_REDIS_SENTINEL_MASTER=MASTER,
            WHISPER_JOBS_REDIS_MIN_REPLICAS="1",
            WHISPER_JOBS_REDIS_REPLICA_TIMEOUT_MS="500",
            WHISPER_JOBS_REDIS_SOCKET_TIMEOUT_SECONDS="1",
            WHISPER_JOBS_REDIS_CONNECT_TIMEOUT_SECONDS="1",
            WHISPER_JOBS_SWEEP_INTERVAL_SECONDS="3",
            WHISPER_JOBS_JOB_LEASE_SECONDS="10",
            WHISPER_JOBS_READY_REFRESH_SECONDS="0.5",
            WHISPER_JOBS_ALLOWED_NETWORKS="127.0.0.1/32",
            WHISPER_JOBS_WEBHOOK_SECRET=SECRET,
            WHISPER_JOBS_WEBHOOK_RETRY_SCHEDULE="1,1,2,5",
            WHISPER_JOBS_WEBHOOK_TIMEOUT_SECONDS="2",
        )
        try:
            cluster.start("beat")
            cluster.start("webhooks")
            # A long job the worker is decoding when the primary dies.
            # Greedy and unconditioned: Whisper's random fallback can loop on repeated speech.
            running = cluster.submit(
                long_speech, model="base", temperature="0", condition_on_previous_text="false"
            )["id"]
            cluster.wait(running, until={"processing"}, timeout=60)
            _run(cluster, topology, receiver, running, long_speech_text)
        finally:
            cluster.stop_all()
            cluster.http.close()


def _run(
    cluster: Cluster, topology: SentinelTopology, receiver: str, running: str, running_text: str
) -> None:
    accepted: list[str] = [running]
    statuses: Counter[int] = Counter()
    unavailable: list[float] = []  # when a request got 503
    killed_at = promoted_at = None
    after = 0
    deadline = time.monotonic() + SUBMIT_DEADLINE_SECONDS
    for n in range(400):
        if after >= AFTER_FAILOVER or time.monotonic() > deadline:
            break
        with JFK.open("rb") as f:
            form = (
                {"model": "tiny.en", "webhook_url": f"{receiver}/hook/{n}"}
                if n % 2
                else {"model": "tiny.en"}
            )
            try:
                response = cluster.http.post(
                    "/v1/jobs", files={"file": ("jfk.flac", f)}, data=form, timeout=30
                )
            except httpx.TransportError as e:
                raise AssertionError(f"the API stopped answering: {e!r}\n{cluster.tail()}") from e
        statuses[response.status_code] += 1
        if response.status_code == 202:
            accepted.append(response.json()["id"])
            after += promoted_at is not None
        elif response.status_code == 503:
            assert response.json()["error"]["code"] == "queue_unavailable"
            assert response.headers["Retry-After"]
            unavailable.append(time.monotonic())
        else:
            raise AssertionError(f"{response.status_code}: {response.text}\n{cluster.tail()}")
        read = cluster.http.get(f"/v1/jobs/{running}")  # reads: 200 or 503, never 500
        assert read.status_code in (200, 503), read.text
        statuses[read.status_code] += 1
        if killed_at is None and len(accepted) > BEFORE_KILL:
            assert cluster.http.get(f"/v1/jobs/{running}").json()["status"] == "processing"
            old = topology.kill_primary()
            killed_at = time.monotonic()
        elif (
            killed_at is not None
            and promoted_at is None
            and topology.sentinel_view() not in (old, None)
        ):
            promoted_at = time.monotonic()
        time.sleep(0.2)
    assert killed_at is not None and promoted_at is not None, (statuses, cluster.tail())
    assert after >= AFTER_FAILOVER, f"no recovery within {SUBMIT_DEADLINE_SECONDS} s: {statuses}"
    window = (unavailable[-1] - unavailable[0]) if unavailable else 0.0
    report = (
        f"\nfailover: promoted {promoted_at - killed_at:.1f} s after the kill; "
        f"{len(unavailable)} requests got 503 over {window:.1f} s; statuses {dict(statuses)}"
    )

    ends: dict[str, dict] = {}
    end_deadline = time.monotonic() + 180
    for job_id in accepted:
        while time.monotonic() < end_deadline:
            response = cluster.http.get(f"/v1/jobs/{job_id}")
            assert response.status_code in (200, 503), response.text
            if response.status_code == 200 and response.json()["status"] in TERMINAL:
                ends[job_id] = response.json()
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"job {job_id} never ended\n{cluster.tail()}")
    for job_id, job in ends.items():
        assert job["status"] == "completed", (
            job["status"],
            job["error"],
            job["attempts"],
            cluster.tail(),
        )
        expected = running_text if job_id == running else JFK_TEXT  # the library's own words
        assert wer(expected, job["result"]["text"]) <= 0.25, job["result"]["text"]

    webhooked = [job for job in ends.values() if job["webhook"] is not None]
    wait_until = time.monotonic() + 60
    while time.monotonic() < wait_until and any(
        job["webhook"]["url"].rsplit("/", 1)[-1] not in Receiver.jobs for job in webhooked
    ):
        time.sleep(0.2)
    for job in webhooked:
        assert Receiver.jobs[job["webhook"]["url"].rsplit("/", 1)[-1]] >= 1, job["id"]
    # A redelivery keeps its event id; the receiver saw each event id once.
    assert Receiver.deliveries and max(Receiver.deliveries.values()) == 1, Receiver.deliveries
    assert len(Receiver.deliveries) == len(webhooked)
    print(f"{report}; the running job took {ends[running]['attempts']} attempt(s)")  # noqa: T201
    # Each job ended exactly once: its status stays what it became.
    time.sleep(3)
    for job_id, job in ends.items():
        again = cluster.http.get(f"/v1/jobs/{job_id}").json()
        assert (again["status"], again["completed_at"]) == (job["status"], job["completed_at"])
