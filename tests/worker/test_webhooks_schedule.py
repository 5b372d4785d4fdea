"""Webhook retry decisions and the store's due set (what the sweep sends), on the real Redis."""

import base64
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.contract.jobs import Job, JobOptions, JobStatus, WebhookState, new_job_id, utcnow
from app.core.netguard import UrlPolicy
from app.storage.store import JobStore
from app.storage.webhook_slots import SlotLimits
from worker.webhook_delivery import Outcome, apply_outcome, deliver, parse_retry_after

SCHEDULE = [5.0, 30.0, 120.0]
SECRET = "whsec_" + base64.b64encode(b"s" * 32).decode()


def job_with_webhook() -> Job:
    return Job(
        id=new_job_id(),
        status=JobStatus.COMPLETED,
        created_at=utcnow(),
        options=JobOptions(),
        webhook=WebhookState(url="https://example.org/h"),
    )


def test_backoff_follows_the_schedule_with_jitter_then_gives_up() -> None:
    job, now = job_with_webhook(), utcnow()
    delays = [apply_outcome(job, Outcome(500, "HTTP 500"), SCHEDULE, now) for _ in range(4)]
    for delay, base in zip(delays[:3], SCHEDULE, strict=True):
        assert delay is not None and base <= delay <= base * 1.1
    assert delays[3] is None and job.webhook.next_attempt_at is None  # 1 + 3 retries spent
    assert job.webhook.attempts == 4 and job.webhook.last_error == "HTTP 500"


def test_retry_after_wins_and_410_gives_up() -> None:
    job, now = job_with_webhook(), utcnow()
    assert apply_outcome(job, Outcome(503, "HTTP 503", retry_after=7), SCHEDULE, now) == 7
    assert job.webhook.next_attempt_at == now + timedelta(seconds=7)
    assert apply_outcome(job, Outcome(410, "gone", give_up=True), SCHEDULE, now) is None
    assert job.webhook.next_attempt_at is None and job.webhook.delivered_at is None


def test_terminal_transition_puts_the_event_in_the_due_set(store: JobStore) -> None:
    notified: list[str] = []
    store.on_terminal = lambda j: notified.append(j.id)
    job = job_with_webhook()
    job.status = JobStatus.QUEUED
    store.create(job)
    assert store.webhooks.due(utcnow()) == []
    store.mark_canceled(job.id)
    assert notified == [job.id]
    assert store.webhooks.due(utcnow() + timedelta(seconds=1)) == [job.id]

    later = utcnow() + timedelta(hours=1)

    def retry_later(stored: Job) -> None:
        stored.webhook.next_attempt_at = later

    store.webhooks.record_attempt(job.id, retry_later)
    assert store.webhooks.due(utcnow()) == []  # waits in Redis for the sweep, not a countdown
    assert store.webhooks.due(later + timedelta(seconds=1)) == [job.id]
    store.delete(store.get(job.id))
    assert store.webhooks.due(later + timedelta(seconds=1)) == []


def test_one_delivery_of_an_event_at_a_time(store: JobStore) -> None:
    assert store.webhooks.claim("j1", "a", ttl_seconds=60)
    assert not store.webhooks.claim("j1", "b", ttl_seconds=60)  # a second message, same event
    assert store.webhooks.claim("j2", "c", ttl_seconds=60)  # other jobs are not held up
    store.webhooks.release("j1", "a")
    assert store.webhooks.claim("j1", "d", ttl_seconds=60)
    assert 0 < store.redis.ttl("whisper-jobs:job:j1:webhook-claim") <= 60  # a dead worker's expires


def test_a_lapsed_claim_is_not_released_by_its_old_holder(store: JobStore) -> None:
    assert store.webhooks.claim("j3", "old", ttl_seconds=60)
    store.redis.delete("whisper-jobs:job:j3:webhook-claim")  # lapsed
    assert store.webhooks.claim("j3", "new", ttl_seconds=60)
    store.webhooks.release("j3", "old")  # the old attempt ends late: the new claim stays
    assert not store.webhooks.claim("j3", "third", ttl_seconds=60)


def test_attempts_in_flight_are_bounded_per_receiver_and_per_key(store: JobStore) -> None:
    slots, limits = store.webhooks.slots, SlotLimits(per_receiver=2, per_key=3)
    slow, other = "http://slow.example:80", "http://other.example:80"
    assert slots.acquire("a1", slow, "A", limits, 60)
    assert slots.acquire("a2", slow, "A", limits, 60)
    assert not slots.acquire("a3", slow, "A", limits, 60)  # the receiver's share is taken
    assert slots.acquire("b1", slow, "B", SlotLimits(2, 3), 60) is False  # for every key
    assert slots.acquire("b1", other, "B", limits, 60)  # another receiver is not held up
    assert slots.acquire("a4", other, "A", limits, 60)  # A's third
    assert not slots.acquire("a5", "http://third.example:80", "A", limits, 60)  # A's share
    assert slots.in_flight(slow) == 2
    slots.release("a1", slow, "A")
    assert slots.acquire("a3", slow, "A", limits, 60)
    # A slot lapses by itself (a worker that died mid-attempt): here at once.
    assert slots.acquire("c1", "http://lapse.example:80", "C", limits, 0.0)
    assert slots.in_flight("http://lapse.example:80") == 0


class Trickle(BaseHTTPRequestHandler):
    """Answers 200 one byte at a time, a byte every 0.2 s: each read is quick, the whole is not
    (its status line and headers take about 8 s, its promised body far longer)."""

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        self.rfile.read(int(self.headers["Content-Length"]))
        head = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"x" * 20 + b"\r\nContent-Length: 100000\r\n\r\n"
        try:
            for byte in head + b"y" * 100:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:
            return  # the client hung up: as it should

    def log_message(self, *_: object) -> None:
        pass


def test_an_attempt_has_one_deadline_however_slowly_the_receiver_answers() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        job = job_with_webhook()
        job.webhook.url = f"http://127.0.0.1:{server.server_address[1]}/h"
        policy = UrlPolicy.from_settings(["127.0.0.1/32"], [])
        outcome = deliver(job, [SECRET], policy, 1.0, utcnow())
        assert outcome == Outcome(None, "timed out after 1 s")
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        (" 12 ", 12.0),
        ("Fri, 27 Nov 2026 12:00:30 GMT", 30.0),
        ("Fri, 27 Nov 2026 11:00:00 GMT", 0.0),  # in the past: now
        ("99999999999999", None),  # OverflowError before
        ("-5", None),
        ("1.5", None),
        ("１２", None),  # non-ASCII digits: ValueError before
        ("soon", None),
        ("", None),
        ("Fri, 27 Nov 99999 12:00:30 GMT", None),
        ("x" * 10_000, None),
    ],
)
def test_retry_after_is_parsed_strictly(header: str, seconds: float | None) -> None:
    assert parse_retry_after(header, NOW) == seconds


def test_a_huge_retry_after_is_clamped_to_the_schedule() -> None:
    job, now = job_with_webhook(), utcnow()
    delay = apply_outcome(job, Outcome(429, "HTTP 429", retry_after=10**9), SCHEDULE, now)
    assert delay == max(SCHEDULE)
    assert job.webhook.next_attempt_at == now + timedelta(seconds=max(SCHEDULE))


def test_a_delivery_that_raises_is_an_outcome(monkeypatch: pytest.MonkeyPatch) -> None:
    import worker.webhook_delivery as webhooks

    def explode(*_: object) -> str:
        raise OverflowError("something no branch expected")

    monkeypatch.setattr(webhooks, "encode", explode)
    policy = UrlPolicy.from_settings(["127.0.0.1/32"], [])
    job = job_with_webhook()
    job.webhook.url = "http://127.0.0.1:9/h"
    outcome = webhooks.deliver(job, [SECRET], policy, 1.0, utcnow())
    assert outcome == Outcome(None, "delivery failed: OverflowError")
    assert apply_outcome(job, outcome, SCHEDULE, utcnow()) is not None  # the schedule applies
    assert job.webhook.attempts == 1
