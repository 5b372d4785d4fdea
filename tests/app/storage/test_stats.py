"""Counters and histograms written by the store's transitions, read back as a snapshot."""

from datetime import timedelta

from app.contract.jobs import JobOptions
from app.storage import stats
from app.storage.keys import key_for
from app.storage.store import JobStore
from tests.app.storage.test_store import RESULT, make_job


def test_a_completed_job_is_counted_and_observed(store: JobStore) -> None:
    job = make_job()
    store.create(job)
    started = store.mark_processing(job.id)
    # 1.5 s of processing for RESULT's 2.0 s of audio: an RTF of 0.75.
    started.started_at = started.started_at - timedelta(seconds=1.5)  # type: ignore[operator]
    store.redis.set(key_for(job.id), started.model_dump_json())
    store.mark_completed(job.id, RESULT)
    snap = stats.read(store.redis)
    assert snap.submitted == {"base": 1.0}
    assert snap.finished == {("completed", "base"): 1.0}
    audio = snap.histograms["job_audio_seconds"]["base"]
    assert audio.sum == 2.0 and audio.buckets[0] == ("5", 1.0) and audio.buckets[-1] == ("+Inf", 1)
    rtf = snap.histograms["job_real_time_factor"]["base"]
    assert 0.75 <= rtf.sum < 0.8
    assert dict(rtf.buckets)["0.5"] == 0 and dict(rtf.buckets)["1"] == 1
    duration = snap.histograms["job_duration_seconds"]["base"]
    assert dict(duration.buckets)["1"] == 0 and dict(duration.buckets)["2.5"] == 1


def test_failed_and_canceled_are_counted_without_observations(store: JobStore) -> None:
    failed, canceled = make_job(), make_job()
    canceled.options = JobOptions(model="tiny.en")
    for job in (failed, canceled):
        store.create(job)
    store.mark_processing(failed.id)
    store.mark_failed(failed.id, "invalid_audio", "bad")
    store.mark_canceled(canceled.id)
    snap = stats.read(store.redis)
    assert snap.submitted == {"base": 1.0, "tiny.en": 1.0}
    assert snap.finished == {("failed", "base"): 1.0, ("canceled", "tiny.en"): 1.0}
    assert snap.histograms == {name: {} for name in stats.HISTOGRAMS}


def test_webhook_outcomes_are_counted_with_the_attempt(store: JobStore) -> None:
    from app.contract.jobs import WebhookState

    job = make_job()
    job.webhook = WebhookState(url="https://example.com/hook")
    store.create(job)
    store.mark_canceled(job.id)
    store.webhooks.record_attempt(job.id, lambda j: "retry")
    store.webhooks.record_attempt(job.id, lambda j: "delivered")
    store.webhooks.record_attempt(job.id, lambda j: None)  # a redelivery request: no attempt
    assert stats.read(store.redis).webhook_attempts == {"retry": 1.0, "delivered": 1.0}


def test_jobs_in_flight_move_with_every_transition(store: JobStore) -> None:
    def in_flight() -> dict[tuple[str, str], float]:
        return {k: v for k, v in stats.read(store.redis).in_flight.items() if v}

    a, b, c = make_job(), make_job(), make_job()
    c.options = JobOptions(model="tiny.en")
    for job in (a, b, c):
        store.create(job)
    assert in_flight() == {("queued", "base"): 2, ("queued", "tiny.en"): 1}
    store.mark_processing(a.id)
    store.mark_processing(a.id)  # a redelivery: still one
    assert in_flight() == {
        ("queued", "base"): 1,
        ("processing", "base"): 1,
        ("queued", "tiny.en"): 1,
    }
    store.requeue(a.id)
    store.mark_canceled(b.id)
    store.mark_processing(c.id)
    store.mark_completed(c.id, RESULT)
    assert in_flight() == {("queued", "base"): 1}
    store.mark_failed(a.id, "internal_error", "x")
    assert in_flight() == {}
