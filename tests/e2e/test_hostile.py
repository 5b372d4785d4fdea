"""Hostile clients and failing parts against the whole service: its own real Valkey (so the test
can freeze and fill it), a real worker, the webhooks worker, the API over real HTTP, keys on.

Every loop is bounded in count and time, and all traffic goes to 127.0.0.1. The tests that break
Redis run last in this module and leave it working.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest
import redis

from app.core.auth import new_key
from app.core.embedded import EmbeddedRedis
from tests.conftest import DATA, JFK
from tests.e2e.conftest import Cluster, loopback_http_server, make_cluster, uploads_left

KEY, ENTRY = new_key("alice")
AUTH = {"Authorization": f"Bearer {KEY}"}
SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode()
MAX_STREAMS = 3
LONGEST_RETRY = 60.0
PACE_SECONDS = 3  # the header and body deadlines (the body's plus a second per KiB received)


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path_factory.mktemp("hostile-valkey"), persistent=False)
    server.start()
    yield server
    assert server.process is not None
    server.process.send_signal(signal.SIGCONT)  # in case a test stopped half way
    server.stop()


@pytest.fixture(scope="module")
def cluster(
    own_redis: EmbeddedRedis, models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    c = make_cluster(
        own_redis.url,
        tmp_path_factory.mktemp("hostile"),
        models_dir,
        WHISPER_JOBS_API_KEYS=ENTRY,
        WHISPER_JOBS_MAX_STREAMS_PER_KEY=str(MAX_STREAMS),
        WHISPER_JOBS_REDIS_SOCKET_TIMEOUT_SECONDS="1",
        WHISPER_JOBS_REDIS_CONNECT_TIMEOUT_SECONDS="1",
        WHISPER_JOBS_READY_REFRESH_SECONDS="0.5",
        WHISPER_JOBS_WEBHOOK_SECRET=SECRET,
        WHISPER_JOBS_ALLOWED_NETWORKS="127.0.0.1/32",
        WHISPER_JOBS_WEBHOOK_RETRY_SCHEDULE=f"30,{LONGEST_RETRY:g}",
        WHISPER_JOBS_HEADER_TIMEOUT_SECONDS=str(PACE_SECONDS),
        WHISPER_JOBS_BODY_TIMEOUT_SECONDS=str(PACE_SECONDS),
    )
    c.http.headers.update(AUTH)
    c.start("webhooks")
    try:
        yield c
    finally:
        c.stop_all()
        c.http.close()


def test_a_flood_of_readiness_probes_wedges_nothing(cluster: Cluster) -> None:
    def probe(_: int) -> int:
        with httpx.Client(base_url=cluster.url, timeout=5) as http:
            return http.get("/readyz").status_code

    with ThreadPoolExecutor(max_workers=64) as pool:  # 256 probes, 64 at a time
        codes = list(pool.map(probe, range(256)))
    assert codes == [200] * 256
    with httpx.Client(base_url=cluster.url, timeout=5, headers=AUTH) as http:
        assert http.get("/v1/jobs").status_code == 200
        assert http.get("/metrics").status_code == 200
        assert http.get("/healthz").status_code == 200
    job = cluster.submit(DATA / "silence.wav")
    assert cluster.wait(job["id"], timeout=60)["status"] == "completed"


def test_readiness_names_the_models_with_a_live_worker(cluster: Cluster) -> None:
    body = cluster.http.get("/readyz").json()
    assert body["status"] == "ready"
    assert body["checks"] == {"redis": True, "workers": 1}  # the webhooks worker does not count
    assert body["models"] == {"base": True, "tiny.en": True}


def test_an_unauthenticated_upload_is_refused_before_its_body(cluster: Cluster) -> None:
    host, port = cluster.url.removeprefix("http://").split(":")
    head = (
        f"POST /v1/jobs HTTP/1.1\r\nHost: {host}\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\n"
        f"Content-Length: {1024**3}\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(head.encode())  # and not one byte of the announced GiB
        response = b""
        while chunk := sock.recv(4096):  # the server closes after its answer (5 s timeout)
            response += chunk
    assert response.startswith(b"HTTP/1.1 401"), response[:200]
    assert b'"unauthorized"' in response
    assert not list((cluster.data_dir / "uploads").glob("*"))


def answer_to(sock: socket.socket, trickle: bytes = b"", seconds: float = 120) -> bytes:
    """Send `trickle` about a byte a second (if given) and read until the server closes, within
    `seconds`: what it answered."""
    sock.settimeout(1.0)
    response, unsent = b"", list(trickle)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if unsent and not response:  # once it answers, a byte more would be reset
            try:
                sock.sendall(bytes([unsent.pop(0)]))
            except OSError:  # it closed: read what it said
                unsent = []
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            continue
        except ConnectionResetError:  # it closed with bytes of ours unread
            chunk = b""
        if not chunk:
            return response
        response += chunk
    raise AssertionError(f"the server held the connection past {seconds} s: {response[:200]!r}")


@pytest.mark.parametrize("sent", [b"", b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthor"])
def test_half_sent_headers_are_cut_off_with_408(cluster: Cluster, sent: bytes) -> None:
    host, port = cluster.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(sent)  # and nothing more
        response = answer_to(sock)
    assert response.startswith(b"HTTP/1.1 408"), response[:200]
    assert b'"request_timeout"' in response


def test_a_trickled_body_is_cut_off_with_408_and_leaves_nothing(cluster: Cluster) -> None:
    host, port = cluster.url.removeprefix("http://").split(":")
    body = b"--x\r\nContent-Disposition: form-data; name=file; filename=a.wav\r\n\r\n" + bytes(200)
    head = (
        f"POST /v1/jobs HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {KEY}\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 100000\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(head.encode())
        response = answer_to(sock, trickle=body)  # a byte a second: far below 1 KiB/s
    assert response.startswith(b"HTTP/1.1 408"), response[:200]
    assert b'"request_timeout"' in response
    assert uploads_left(cluster.data_dir) == []


def test_a_slow_but_steady_upload_goes_through(cluster: Cluster) -> None:
    content = (DATA / "silence.wav").read_bytes()
    pieces = [content[i : i + 16384] for i in range(0, len(content), 16384)]

    def steady() -> Iterator[bytes]:
        yield b"--x\r\nContent-Disposition: form-data; name=file; filename=s.wav\r\n\r\n"
        for piece in pieces:  # 16 KiB every 0.5 s: well over the deadline's base in all
            time.sleep(0.5)
            yield piece
        yield b"\r\n--x--\r\n"

    response = cluster.http.post(
        "/v1/jobs", content=steady(), headers={"Content-Type": "multipart/form-data; boundary=x"}
    )
    assert len(pieces) * 0.5 > PACE_SECONDS
    assert response.status_code == 202, response.text


def test_hostile_fields_are_refused_and_ids_are_checked(cluster: Cluster) -> None:
    with JFK.open("rb") as f:
        content = f.read()
    for form in (
        {"metadata": '{"a":' * 250 + "1" + "}" * 250},
        {"temperature": ",".join(["0"] * 499)},
        {"language": "x" * 5000},
    ):
        response = cluster.http.post("/v1/jobs", files={"file": ("a.flac", content)}, data=form)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "invalid_request"
    job = cluster.submit(DATA / "silence.wav")
    response = cluster.http.get(f"/v1/jobs/{job['id']}:result")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert cluster.http.get("/v1/jobs").status_code == 200


def test_event_streams_are_capped_per_key(cluster: Cluster, long_speech: Path) -> None:
    job_id = cluster.submit(long_speech)["id"]
    with httpx.Client(base_url=cluster.url, headers=AUTH, timeout=30) as http:
        streams = [http.stream("GET", f"/v1/jobs/{job_id}/events") for _ in range(MAX_STREAMS)]
        opened = [s.__enter__() for s in streams]
        try:
            assert [r.status_code for r in opened] == [200] * MAX_STREAMS
            refused = http.get(f"/v1/jobs/{job_id}/events")
            assert refused.status_code == 429
            assert refused.json()["error"]["code"] == "rate_limited"
            assert refused.headers["retry-after"].isdigit()
        finally:
            for stream in streams:
                stream.__exit__(None, None, None)
        deadline = time.monotonic() + 10
        while True:  # the server notices the closed streams
            with http.stream("GET", f"/v1/jobs/{job_id}/events") as again:
                if again.status_code == 200:
                    break
            assert time.monotonic() < deadline, "closed streams were never released"
            time.sleep(0.2)
    assert cluster.http.delete(f"/v1/jobs/{job_id}").status_code == 204


class Busy(BaseHTTPRequestHandler):
    """A receiver that answers 429 with a Retry-After no schedule should follow."""

    values = {
        "/huge": b"99999999999999",  # OverflowError before
        "/latin": b"\xe9\xe9",  # ValueError before
        "/date": b"Thu, 01 Jan 2099 00:00:00 GMT",  # a valid date, decades away
    }
    calls: list[str] = []

    def log_message(self, *_: object) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        self.rfile.read(int(self.headers["Content-Length"]))
        self.calls.append(self.path)
        self.send_response(429)
        # Raw bytes: send_header would encode the value itself.
        self._headers_buffer.append(b"Retry-After: " + self.values[self.path] + b"\r\n")  # type: ignore[attr-defined]
        self.send_header("Content-Length", "0")
        self.end_headers()


def test_a_receivers_retry_after_cannot_break_the_schedule(cluster: Cluster) -> None:
    with loopback_http_server(Busy) as url:
        ids = {}
        for path in Busy.values:
            with (DATA / "silence.wav").open("rb") as f:
                response = cluster.http.post(
                    "/v1/jobs", files={"file": ("s.wav", f)}, data={"webhook_url": url + path}
                )
            assert response.status_code == 202, response.text
            ids[path] = response.json()["id"]
        for path, job_id in ids.items():
            job = cluster.wait_for(
                job_id, lambda j: (j["webhook"] or {}).get("attempts", 0) >= 1, timeout=60
            )
            seen = datetime.now(UTC)  # the attempt was made before this
            hook = job["webhook"]
            assert hook["attempts"] == 1 and hook["last_status_code"] == 429, (path, hook)
            # Its next attempt comes after the job ended, and at most the longest retry after the
            # attempt (not after the job's end: deliveries to one receiver may queue a while).
            next_at = datetime.fromisoformat(hook["next_attempt_at"])
            assert next_at >= datetime.fromisoformat(job["completed_at"]), (path, hook)
            assert (next_at - seen).total_seconds() <= LONGEST_RETRY, (path, hook)
        time.sleep(2)
        assert sorted(Busy.calls) == sorted(Busy.values)  # one attempt each, not a resend loop


def test_a_frozen_redis_gives_fast_503s_and_the_loop_stays_free(
    cluster: Cluster, own_redis: EmbeddedRedis
) -> None:
    job_id = cluster.submit(DATA / "silence.wav")["id"]
    cluster.wait(job_id, timeout=60)
    assert own_redis.process is not None
    own_redis.process.send_signal(signal.SIGSTOP)
    results: dict[str, int] = {}

    def call(name: str, method: str, path: str, **kwargs: object) -> None:
        with httpx.Client(base_url=cluster.url, headers=AUTH, timeout=20) as http:
            results[name] = http.request(method, path, **kwargs).status_code  # type: ignore[arg-type]

    try:
        callers = [
            threading.Thread(target=call, args=("get", "GET", f"/v1/jobs/{job_id}")),
            threading.Thread(target=call, args=("list", "GET", "/v1/jobs")),
            threading.Thread(
                target=call,
                args=("post", "POST", "/v1/jobs"),
                kwargs={"files": {"file": ("s.wav", (DATA / "silence.wav").read_bytes())}},
            ),
        ]
        for t in callers:
            t.start()
        # While those wait on the frozen Redis, the event loop still answers at once.
        with httpx.Client(base_url=cluster.url, timeout=1.0) as http:
            for _ in range(5):
                assert http.get("/healthz").status_code == 200
                time.sleep(0.1)
        for t in callers:
            t.join(30)
        assert results == {"get": 503, "list": 503, "post": 503}
        deadline = time.monotonic() + 10
        while cluster.http.get("/readyz").status_code != 503:
            assert time.monotonic() < deadline, "readiness never noticed the frozen Redis"
            time.sleep(0.2)
    finally:
        own_redis.process.send_signal(signal.SIGCONT)
    cluster.wait_ready(60)
    again = cluster.submit(DATA / "silence.wav")["id"]
    assert cluster.wait(again, timeout=120)["status"] == "completed"


def test_a_full_redis_refuses_submissions_with_503(
    cluster: Cluster, own_redis: EmbeddedRedis
) -> None:
    admin = redis.Redis.from_url(own_redis.url)
    try:
        admin.config_set("maxmemory", "1")
        with (DATA / "silence.wav").open("rb") as f:
            response = cluster.http.post("/v1/jobs", files={"file": ("s.wav", f)})
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "queue_unavailable"
        assert response.headers["retry-after"].isdigit()
        assert cluster.http.get("/v1/jobs").status_code == 200  # reads still work
    finally:
        admin.config_set("maxmemory", "0")
        admin.close()
    assert cluster.submit(DATA / "silence.wav")["status"] == "queued"
