"""Webhook retry decisions and the store's due set (what the sweep sends), on the real Redis."""

from datetime import timedelta

from app.jobs import Job, JobOptions, JobStatus, WebhookState, new_job_id, utcnow
from app.store import JobStore
from worker.webhooks import Outcome, apply_outcome

SCHEDULE = [5.0, 30.0, 120.0]


def job_with_webhook() -> Job:
    return Job(id=new_job_id(), status=JobStatus.COMPLETED, created_at=utcnow(),
               options=JobOptions(), webhook=WebhookState(url="https://example.org/h"))  # fmt: skip


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
    assert store.due_webhooks(utcnow()) == []
    store.mark_canceled(job.id)
    assert notified == [job.id]
    assert store.due_webhooks(utcnow() + timedelta(seconds=1)) == [job.id]

    later = utcnow() + timedelta(hours=1)

    def retry_later(stored: Job) -> None:
        stored.webhook.next_attempt_at = later

    store.record_webhook_attempt(job.id, retry_later)
    assert store.due_webhooks(utcnow()) == []  # waits in Redis for the sweep, not a countdown
    assert store.due_webhooks(later + timedelta(seconds=1)) == [job.id]
    store.delete(store.get(job.id))
    assert store.due_webhooks(later + timedelta(seconds=1)) == []


def test_one_delivery_of_an_event_at_a_time(store: JobStore) -> None:
    assert store.claim_webhook("j1", ttl_seconds=60)
    assert not store.claim_webhook("j1", ttl_seconds=60)  # a second message for the same event
    assert store.claim_webhook("j2", ttl_seconds=60)  # other jobs are not held up
    store.release_webhook("j1")
    assert store.claim_webhook("j1", ttl_seconds=60)
    assert 0 < store.redis.ttl("whisper-jobs:job:j1:webhook-claim") <= 60  # a dead worker's expires
