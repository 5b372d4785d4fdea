"""Service-wide counters and histograms kept in Redis, for `GET /metrics`.

Workers and API processes come and go, so what they count lives in Redis, written in the same
transaction as the change it counts (a job counted completed *is* completed), and any API process
reads the whole deployment's numbers at scrape time. Layout (under `whisper-jobs:stats:`):
- `submitted`           hash `{model}` -> jobs created;
- `finished`            hash `{status}|{model}` -> jobs that ended (completed, failed, canceled);
- `webhook_attempts`    hash `{outcome}` -> deliveries (`delivered`, `retry`, `gave_up`);
- `in_flight`           hash `{status}|{model}` -> jobs queued or processing now, moved by every
                        transition (so a scrape costs the same with 10 or 10,000 active jobs);
- `hist:{name}`         hash `{model}|{bucket index}`, `{model}|sum`, `{model}|count`: the
                        histograms of completed jobs (bucket counts are not cumulative here).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.contract.jobs import Job, JobStatus, TranscriptResult

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline

STATS = "whisper-jobs:stats:"
SUBMITTED_KEY = f"{STATS}submitted"
FINISHED_KEY = f"{STATS}finished"
WEBHOOK_ATTEMPTS_KEY = f"{STATS}webhook_attempts"
IN_FLIGHT_KEY = f"{STATS}in_flight"

#: Upper bounds of the histograms' buckets (the `+Inf` bucket is implied).
HISTOGRAMS: dict[str, tuple[float, ...]] = {
    # Wall time from a worker starting the job to its result.
    "job_duration_seconds": (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
    "job_audio_seconds": (5, 15, 30, 60, 120, 300, 600, 1800, 3600, 10800),
    # Processing time / audio duration: below 1 is faster than real time.
    "job_real_time_factor": (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5),
}


def hist_key(name: str) -> str:
    return f"{STATS}hist:{name}"


def _observe(pipe: Pipeline, name: str, model: str, value: float) -> None:
    bounds = HISTOGRAMS[name]
    index = next((i for i, bound in enumerate(bounds) if value <= bound), len(bounds))
    key = hist_key(name)
    pipe.hincrby(key, f"{model}|{index}", 1)
    pipe.hincrbyfloat(key, f"{model}|sum", value)
    pipe.hincrby(key, f"{model}|count", 1)


def move_in_flight(pipe: Pipeline, model: str, before: JobStatus, after: JobStatus) -> None:
    """Queue the in-flight gauge's change for one transition on the transaction making it."""
    if before == after:
        return
    if not before.is_terminal:
        pipe.hincrby(IN_FLIGHT_KEY, f"{before.value}|{model}", -1)
    if not after.is_terminal:
        pipe.hincrby(IN_FLIGHT_KEY, f"{after.value}|{model}", 1)


def count_finished(pipe: Pipeline, job: Job, result: TranscriptResult | None) -> None:
    """Queue the counts of a job that just ended on the transaction that ends it."""
    model = job.options.model
    pipe.hincrby(FINISHED_KEY, f"{job.status.value}|{model}", 1)
    if result is None or job.started_at is None or job.completed_at is None:
        return
    seconds = max((job.completed_at - job.started_at).total_seconds(), 0.0)
    _observe(pipe, "job_duration_seconds", model, seconds)
    _observe(pipe, "job_audio_seconds", model, result.duration)
    if result.duration > 0:
        _observe(pipe, "job_real_time_factor", model, seconds / result.duration)


def count_webhook_attempt(pipe: Pipeline, outcome: str) -> None:
    pipe.hincrby(WEBHOOK_ATTEMPTS_KEY, outcome, 1)


@dataclass
class Histogram:
    """Cumulative buckets `(upper bound, count)` ending with `+Inf`, and the sum."""

    buckets: list[tuple[str, float]] = field(default_factory=list)
    sum: float = 0.0


@dataclass
class Snapshot:
    submitted: dict[str, float]
    finished: dict[tuple[str, str], float]
    webhook_attempts: dict[str, float]
    histograms: dict[str, dict[str, Histogram]]
    in_flight: dict[tuple[str, str], float] = field(default_factory=dict)


def _decode(raw: dict[Any, Any]) -> dict[str, str]:
    return {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in raw.items()
    }


def _histograms(name: str, raw: dict[str, str]) -> dict[str, Histogram]:
    bounds = HISTOGRAMS[name]
    per_model: dict[str, dict[str, str]] = defaultdict(dict)
    for field_name, value in raw.items():
        model, _, part = field_name.rpartition("|")
        per_model[model][part] = value
    result: dict[str, Histogram] = {}
    for model, parts in per_model.items():
        running, hist = 0.0, Histogram(sum=float(parts.get("sum", 0)))
        for index, bound in enumerate([*map(str, bounds), "+Inf"]):
            running += float(parts.get(str(index), 0))
            hist.buckets.append((bound, running))
        result[model] = hist
    return result


def read(redis: Redis) -> Snapshot:
    """Everything the stats hold, in one round trip."""
    with redis.pipeline(transaction=False) as pipe:
        pipe.hgetall(SUBMITTED_KEY)
        pipe.hgetall(FINISHED_KEY)
        pipe.hgetall(WEBHOOK_ATTEMPTS_KEY)
        pipe.hgetall(IN_FLIGHT_KEY)
        for name in HISTOGRAMS:
            pipe.hgetall(hist_key(name))
        submitted, finished, webhooks, in_flight, *hists = (_decode(r) for r in pipe.execute())
    return Snapshot(
        submitted={model: float(n) for model, n in submitted.items()},
        finished={tuple(k.split("|", 1)): float(n) for k, n in finished.items()},  # type: ignore[misc]
        webhook_attempts={outcome: float(n) for outcome, n in webhooks.items()},
        histograms={
            name: _histograms(name, raw) for name, raw in zip(HISTOGRAMS, hists, strict=True)
        },
        # Never below 0: jobs already in flight when the gauge was introduced end uncounted.
        in_flight={tuple(k.split("|", 1)): max(float(n), 0.0) for k, n in in_flight.items()},  # type: ignore[misc]
    )
