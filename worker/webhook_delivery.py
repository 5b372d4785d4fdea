"""Delivering a job's final event to its `webhook_url`, and deciding about the next attempt.

Success is a 2xx only; redirects are not followed (a 3xx is a failure); `410 Gone` stops the
retries; `429`/`503` with `Retry-After` set the next attempt. Otherwise retries follow the
configured schedule with up to 10 % jitter. The target is checked and pinned like `audio_url`.

An attempt has one deadline for all of it (connect, send, status line and headers): a receiver
that trickles its answer a byte at a time is cut off there, not at a timeout per read. Its body
is never read. This module sends; how many attempts run at once is `app.storage`'s business.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import anyio
import httpx

from app.contract.errors import UrlNotAllowed
from app.contract.jobs import Job
from app.contract.webhook_events import build_event, encode, event_id, signed_headers
from app.core.netguard import HostUnresolved, Target, UrlPolicy, check_url

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None
    delivered: bool = False
    give_up: bool = False
    retry_after: float | None = None


def parse_retry_after(value: str, now: datetime) -> float | None:
    """`Retry-After` as seconds: a delay in digits or an HTTP date (RFC 9110 10.2.3); anything
    else (non-ASCII, negative, absurdly long) is ignored, and the schedule applies."""
    value = value.strip()
    if value.isascii() and value.isdigit() and len(value) <= 10:
        return float(value)
    try:
        when = parsedate_to_datetime(value) if value.isascii() and len(value) <= 64 else None
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)


def deliver(
    job: Job, secrets: list[str], policy: UrlPolicy, timeout: float, now: datetime
) -> Outcome:
    """One attempt. Whatever happens in it is an outcome, never an exception: an attempt that
    is not recorded would escape the schedule and its cap (and be resent by every sweep)."""
    try:
        return _deliver(job, secrets, policy, timeout, now)
    except Exception as e:
        logger.exception("webhook delivery of job %s failed unexpectedly", job.id)
        return Outcome(None, f"delivery failed: {type(e).__name__}")


def _deliver(
    job: Job, secrets: list[str], policy: UrlPolicy, timeout: float, now: datetime
) -> Outcome:
    assert job.webhook is not None
    try:
        target = check_url(job.webhook.url, policy)
    except UrlNotAllowed as e:
        return Outcome(None, e.message, give_up=True)
    except HostUnresolved:
        return Outcome(None, "the webhook URL's host name does not resolve")
    body = encode(build_event(job, now, job.webhook.include_result))
    headers = {**signed_headers(event_id(job), now, body, secrets), "Host": target.host_header()}
    try:
        code, retry_header = anyio.run(_post, target.pinned_url(), body, headers, target, timeout)
    except (TimeoutError, httpx.TimeoutException):
        return Outcome(None, f"timed out after {timeout:g} s")
    except httpx.HTTPError as e:
        return Outcome(None, f"{type(e).__name__}: {str(e)[:200] or 'no detail'}")
    if 200 <= code < 300:
        return Outcome(code, None, delivered=True)
    if code == 410:
        return Outcome(code, "410 Gone: the receiver asked not to be called again", give_up=True)
    retry_after = parse_retry_after(retry_header, now) if retry_header is not None else None
    reason = "redirects are not followed" if 300 <= code < 400 else f"HTTP {code}"
    return Outcome(code, reason, retry_after=retry_after)


async def _post(
    url: str, body: str | bytes, headers: dict[str, str], target: Target, timeout: float
) -> tuple[int, str | None]:
    """The status and `Retry-After` (for 429/503) of one POST, all of it within `timeout`
    (httpx's own timeouts bound each read, so a trickle of bytes would never end)."""
    with anyio.fail_after(timeout):
        async with (
            httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client,
            client.stream(
                "POST", url, content=body, headers=headers, extensions=target.extensions()
            ) as response,
        ):
            code = response.status_code
            header = response.headers.get("retry-after") if code in (429, 503) else None
            return code, header


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
    # A receiver's Retry-After may not push the next attempt past the schedule's longest wait.
    delay = min(delay, max(schedule))
    state.next_attempt_at = now + timedelta(seconds=delay)
    return delay
