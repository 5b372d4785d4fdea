"""Webhooks end to end: a real receiver on 127.0.0.1 (allowed for these tests only), signatures
verified with the `standardwebhooks` package, retries, 410, redirects, timeouts, redelivery."""

from __future__ import annotations

import base64
import json
import os
import select
import socket
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from standardwebhooks.webhooks import Webhook

from app.core.embedded import EmbeddedRedis
from tests.conftest import DATA, JFK, JFK_TEXT
from tests.e2e.conftest import Cluster, cluster_on_db, loopback_http_server

SECRET = "whsec_" + base64.b64encode(os.urandom(24)).decode()
OLD_SECRET = "whsec_" + base64.b64encode(os.urandom(24)).decode()
SCHEDULE = [0.5, 0.5, 0.5]


class Receiver(BaseHTTPRequestHandler):
    calls: dict[str, list[dict]] = defaultdict(list)
    lock = threading.Lock()

    def log_message(self, *_: object) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with self.lock:
            calls = self.calls[self.path]
            calls.append({"headers": dict(self.headers), "body": body})
            n = len(calls)
        behaviour = {
            "/ok": [200],
            "/flaky": [500, 500, 200],
            "/gone": [410],
            "/redirect": [302],
            "/hang": ["hang", 200],
            "/busy": [503, 200],
        }[self.path]
        status = behaviour[min(n, len(behaviour)) - 1]
        if status == "hang":
            time.sleep(2.5)  # longer than the 1 s delivery timeout
            status = 200
        self.send_response(status)
        if status == 302:
            self.send_header("Location", "/ok")
        if status == 503:
            self.send_header("Retry-After", "1")
        self.send_header("Content-Length", "0")
        self.end_headers()


class TrickleReceiver(BaseHTTPRequestHandler):
    """A receiver that answers one byte every 0.2 s (each read is quick, the answer is not),
    counting how many of its calls are open at once."""

    open_now = 0
    most_open = 0
    calls = 0
    lock = threading.Lock()

    def log_message(self, *_: object) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        self.rfile.read(int(self.headers["Content-Length"]))
        cls = TrickleReceiver
        with cls.lock:
            cls.calls += 1
            cls.open_now += 1
            cls.most_open = max(cls.most_open, cls.open_now)
        try:
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"x" * 100:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                if self.hung_up(within=0.2):
                    break
        except OSError:
            pass  # the sender gave up: as it should
        finally:
            with cls.lock:
                cls.open_now -= 1
        self.close_connection = True

    def hung_up(self, within: float) -> bool:
        """Whether the sender closes its side within `within` s (waking as it does: a write
        would still succeed for a while after)."""
        readable, _, _ = select.select([self.connection], [], [], within)
        return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""


@pytest.fixture(scope="module")
def receiver() -> Iterator[str]:
    with loopback_http_server(Receiver) as url:
        yield url


@pytest.fixture(scope="module")
def cluster(
    redis_server: EmbeddedRedis, models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    with cluster_on_db(
        redis_server,
        6,
        tmp_path_factory.mktemp("webhooks"),
        models_dir,
        WHISPER_JOBS_ALLOWED_NETWORKS="127.0.0.1/32",
        WHISPER_JOBS_WEBHOOK_SECRET=SECRET,
        WHISPER_JOBS_WEBHOOK_SECRETS_PREVIOUS=OLD_SECRET,
        WHISPER_JOBS_WEBHOOK_RETRY_SCHEDULE=",".join(map(str, SCHEDULE)),
        WHISPER_JOBS_WEBHOOK_TIMEOUT_SECONDS="1",
    ) as c:
        c.start("webhooks")
        yield c


def submit(cluster: Cluster, audio: Path, url: str, **form: str) -> str:
    with audio.open("rb") as f:
        response = cluster.http.post(
            "/v1/jobs", files={"file": (audio.name, f)}, data={"webhook_url": url, **form}
        )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def settled(cluster: Cluster, job_id: str, timeout: float = 60) -> dict:
    """Wait until the webhook is delivered or given up (no next attempt planned)."""
    return cluster.wait_for(
        job_id,
        lambda j: (
            j["status"] in {"completed", "failed", "canceled"}
            and j["webhook"]["attempts"] > 0
            and j["webhook"]["next_attempt_at"] is None
        ),
        timeout,
    )


def calls_for(path: str, job_id: str) -> list[dict]:
    with Receiver.lock:
        return [c for c in Receiver.calls[path] if json.loads(c["body"])["data"]["id"] == job_id]


def test_completed_event_is_signed_and_verifies(cluster: Cluster, receiver: str) -> None:
    job_id = submit(
        cluster, JFK, f"{receiver}/ok", metadata='{"ticket": 9}', webhook_include_result="true"
    )
    job = settled(cluster, job_id)
    assert job["webhook"]["delivered_at"] is not None and job["webhook"]["attempts"] == 1
    (call,) = calls_for("/ok", job_id)
    headers = {k.lower(): v for k, v in call["headers"].items()}
    assert len(headers["webhook-signature"].split(" ")) == 2  # current and previous secret
    for secret in (SECRET, OLD_SECRET):  # a receiver mid-rotation verifies with either
        event = Webhook(secret).verify(call["body"], headers)
        assert event["type"] == "job.completed"
    assert headers["webhook-id"] == f"msg_{job_id}"
    data = event["data"]
    assert data["metadata"] == {"ticket": 9} and data["status"] == "completed"
    assert data["links"] == {
        "self": f"/v1/jobs/{job_id}",
        "transcript": f"/v1/jobs/{job_id}/transcript",
    }
    assert data["result"]["text"] == JFK_TEXT.strip()
    with pytest.raises(Exception):  # noqa: B017 - any verification error will do
        Webhook("whsec_" + base64.b64encode(b"x" * 24).decode()).verify(call["body"], headers)

    # redelivery on demand: the same event id again
    response = cluster.http.post(f"/v1/jobs/{job_id}/webhook/redeliver")
    assert response.status_code == 202
    cluster.wait_for(
        job_id,
        lambda j: j["webhook"]["delivered_at"] is not None and len(calls_for("/ok", job_id)) == 2,
    )
    assert {c["headers"]["webhook-id"] for c in calls_for("/ok", job_id)} == {f"msg_{job_id}"}


def webhook_attempts(cluster: Cluster) -> Counter[str]:
    """`whisper_jobs_webhook_attempts_total` by outcome, from `GET /metrics`."""
    text = cluster.http.get("/metrics").text
    return Counter(
        {
            s.labels["outcome"]: int(s.value)
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name == "whisper_jobs_webhook_attempts_total"
        }
    )


def test_failures_are_retried_with_one_event_id(cluster: Cluster, receiver: str) -> None:
    before = webhook_attempts(cluster)
    job_id = submit(cluster, DATA / "silence.wav", f"{receiver}/flaky")
    job = settled(cluster, job_id)
    assert webhook_attempts(cluster) - before == Counter({"retry": 2, "delivered": 1})
    calls = calls_for("/flaky", job_id)
    assert len(calls) == 3
    assert {c["headers"]["webhook-id"] for c in calls} == {f"msg_{job_id}"}
    assert job["webhook"]["attempts"] == 3 and job["webhook"]["last_status_code"] == 200
    assert (
        "data" in json.loads(calls[0]["body"])
        and "result" not in json.loads(calls[0]["body"])["data"]
    )  # thin payload by default


def test_410_stops_retries(cluster: Cluster, receiver: str) -> None:
    before = webhook_attempts(cluster)
    job_id = submit(cluster, DATA / "silence.wav", f"{receiver}/gone")
    job = settled(cluster, job_id)
    assert webhook_attempts(cluster) - before == Counter({"gave_up": 1})
    time.sleep(2 * max(SCHEDULE))
    assert len(calls_for("/gone", job_id)) == 1
    assert job["webhook"]["last_status_code"] == 410 and job["webhook"]["delivered_at"] is None


def test_redirects_are_not_followed(cluster: Cluster, receiver: str) -> None:
    job_id = submit(cluster, DATA / "silence.wav", f"{receiver}/redirect")
    job = settled(cluster, job_id)
    assert len(calls_for("/redirect", job_id)) == 1 + len(SCHEDULE)  # all attempts spent
    assert calls_for("/ok", job_id) == []
    assert job["webhook"]["delivered_at"] is None
    assert job["webhook"]["last_error"] == "redirects are not followed"


def test_a_hanging_receiver_times_out_and_is_retried(cluster: Cluster, receiver: str) -> None:
    job_id = submit(cluster, DATA / "silence.wav", f"{receiver}/hang")
    job = settled(cluster, job_id)
    assert job["webhook"]["attempts"] == 2 and job["webhook"]["delivered_at"] is not None
    assert len(calls_for("/hang", job_id)) == 2


def test_503_retry_after_is_honoured(cluster: Cluster, receiver: str) -> None:
    job_id = submit(cluster, DATA / "silence.wav", f"{receiver}/busy")
    job = settled(cluster, job_id)
    assert job["webhook"]["attempts"] == 2 and job["webhook"]["delivered_at"] is not None


@pytest.mark.parametrize("host", ["127.0.0.2", "[::1]"])
def test_refused_webhook_targets_are_422(cluster: Cluster, host: str) -> None:
    with JFK.open("rb") as f:
        response = cluster.http.post(
            "/v1/jobs", files={"file": ("jfk.flac", f)}, data={"webhook_url": f"http://{host}:9/ok"}
        )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "url_not_allowed"


def test_a_canceled_job_sends_job_canceled(cluster: Cluster, receiver: str, long_speech: Path):
    busy = cluster.submit(long_speech)["id"]
    job_id = submit(cluster, JFK, f"{receiver}/ok")
    assert cluster.http.delete(f"/v1/jobs/{job_id}").status_code == 204
    settled(cluster, job_id)
    (call,) = calls_for("/ok", job_id)
    assert json.loads(call["body"])["type"] == "job.canceled"
    cluster.http.delete(f"/v1/jobs/{busy}")


def test_a_trickling_receiver_does_not_hold_up_other_receivers(
    cluster: Cluster, receiver: str
) -> None:
    with loopback_http_server(TrickleReceiver) as slow:
        # More events for the slow receiver than the webhook worker has threads (8).
        stuck = [submit(cluster, DATA / "silence.wav", f"{slow}/a") for _ in range(10)]
        other = submit(cluster, DATA / "silence.wav", f"{receiver}/ok")
        job = settled(cluster, other, timeout=60)
        assert job["webhook"]["delivered_at"] is not None and job["webhook"]["attempts"] == 1
        for job_id in stuck[:2]:
            job = settled(cluster, job_id, timeout=120)
            # Each attempt ended at its 1-s deadline although every read was quick.
            assert job["webhook"]["last_error"] == "timed out after 1 s"
    assert TrickleReceiver.calls >= 2
    assert TrickleReceiver.most_open <= 2  # WHISPER_JOBS_WEBHOOK_MAX_IN_FLIGHT_PER_HOST
