"""Delivering a job's final event to its `webhook_url`, and deciding about the next attempt.

Success is a 2xx only; redirects are not followed (a 3xx is a failure); `410 Gone` stops the
retries; `429`/`503` with `Retry-After` set the next attempt. Otherwise retries follow the
configured schedule with up to 10 % jitter. The target is checked and pinned like `audio_url`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from app.errors import UrlNotAllowed
from app.jobs import Job
from app.netguard import UrlPolicy, check_url
from app.webhooks import build_event, encode, event_id, signed_headers


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None
    delivered: bool = False
    give_up: bool = False
    retry_after: float | None = None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    return float(value) if value.isdigit() else None


def deliver(
    job: Job, secrets: list[str], policy: UrlPolicy, timeout: float, now: datetime
) -> Outcome:
    assert job.webhook is not None
    try:
        target = check_url(job.webhook.url, policy)
    except UrlNotAllowed as e:
        return Outcome(None, e.message, give_up=True)
    body = encode(build_event(job, now, job.webhook.include_result))
    headers = {**signed_headers(event_id(job), now, body, secrets), "Host": target.host_header()}
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            response = client.post(
                target.pinned_url(), content=body, headers=headers, extensions=target.extensions()
            )
    except httpx.TimeoutException:
        return Outcome(None, f"timed out after {timeout:g} s")
    except httpx.HTTPError as e:
        return Outcome(None, f"{type(e).__name__}")
    code = response.status_code
    if response.is_success:
        return Outcome(code, None, delivered=True)
    if code == 410:
        return Outcome(code, "410 Gone: the receiver asked not to be called again", give_up=True)
    retry_after = _retry_after(response) if code in (429, 503) else None
    reason = "redirects are not followed" if response.is_redirect else f"HTTP {code}"
    return Outcome(code, reason, retry_after=retry_after)


def apply_outcome(job: Job, outcome: Outcome, schedule: list[float], now: datetime) -> float | None:
    """Record the attempt on `job.webhook`; returns the delay before the next one, or None."""
    state = job.webhook
    assert state is not None
    state.attempts += 1
    state.last_status_code = outcome.status_code
    state.last_error = outcome.error
    state.next_attempt_at = None
    if outcome.delivered:
        state.delivered_at = now
        return None
    if outcome.give_up or state.attempts > len(schedule):
        return None
    delay = outcome.retry_after
    if delay is None:
        delay = schedule[state.attempts - 1] * (1 + random.random() * 0.1)  # noqa: S311
    state.next_attempt_at = now + timedelta(seconds=delay)
    return delay
