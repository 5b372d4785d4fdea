"""When the clients retry a request, and how long they wait first (as the OpenAI and AssemblyAI
SDKs do): transient failures only, with exponential backoff and jitter, honouring `Retry-After`.

A request is retried after a connection failure or a 502/504 only when repeating it cannot do
twice what it did once: a GET, or a submission (it always carries an `Idempotency-Key`, so the
server answers a repeat with the job it already made). A 429 or 503 means the server refused
before acting, so any request may be retried after one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from whisper_jobs_client._errors import APIError, ClientError, ConnectionFailed, RateLimitError

DEFAULT_MAX_RETRIES = 2
REFUSED_BEFORE_ACTING = frozenset({429, 503})
TRANSIENT = frozenset({502, 504})
MAX_BACKOFF_SECONDS = 8.0
MAX_RETRY_AFTER_SECONDS = 60.0


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = DEFAULT_MAX_RETRIES
    base_delay: float = 0.5

    def should_retry(self, attempt: int, error: ClientError, repeatable: bool) -> bool:
        """`attempt`: retries made so far."""
        if attempt >= self.max_retries:
            return False
        if isinstance(error, ConnectionFailed):
            return repeatable
        if isinstance(error, APIError):
            return error.status_code in REFUSED_BEFORE_ACTING or (
                repeatable and error.status_code in TRANSIENT
            )
        return False

    def delay(self, attempt: int, error: ClientError) -> float:
        retry_after = error.retry_after if isinstance(error, RateLimitError) else None
        if retry_after is not None:
            return float(min(retry_after, MAX_RETRY_AFTER_SECONDS))
        backoff = min(self.base_delay * 2.0**attempt, MAX_BACKOFF_SECONDS)
        return backoff * (1 + random.random() * 0.25)  # noqa: S311 - jitter, not a secret


def is_repeatable(method: str, kwargs: dict[str, Any]) -> bool:
    return method == "GET" or "Idempotency-Key" in kwargs.get("headers", {})


def rewind(kwargs: dict[str, Any], positions: dict[str, int]) -> None:
    """Put uploaded file objects back where the first attempt started reading them."""
    for name, part in (kwargs.get("files") or {}).items():
        content = part[1]
        if hasattr(content, "seek") and hasattr(content, "tell"):
            if name not in positions:
                positions[name] = content.tell()
            else:
                content.seek(positions[name])
