"""What `WHISPER_JOBS_REDIS_URL` names: one Redis (`redis://`, `rediss://`, `unix://`), or a
primary found through Sentinel (`sentinel://h1:26379;sentinel://h2:26379`, the primary's name
in `WHISPER_JOBS_REDIS_SENTINEL_MASTER`).

The Sentinel form is the one Celery's Redis transport (kombu) reads, so the same string goes to
the broker unchanged: the user and password in the first address are the *data nodes'*, the
path (`/2`) is the database. Pure parsing: no connection is made here, and nothing but the
standard library is imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

SENTINEL_SCHEME = "sentinel"
DEFAULT_SENTINEL_PORT = 26379


@dataclass(frozen=True)
class SentinelTarget:
    sentinels: tuple[tuple[str, int], ...]
    master: str
    db: int = 0
    username: str | None = None
    password: str | None = None  # the primary's and replicas' (`requirepass`), not Sentinel's


def is_sentinel_url(url: str) -> bool:
    return url.strip().lower().startswith(f"{SENTINEL_SCHEME}://")


def parse_sentinel_url(url: str, master: str) -> SentinelTarget:
    """`sentinel://[user:password@]host[:port][/db];sentinel://host2[:port];…` -> the target.
    Raises ValueError with a message fit for a person on anything else."""
    parts = [part.strip() for part in url.split(";") if part.strip()]
    if not parts:
        raise ValueError("the Sentinel URL names no Sentinel")
    sentinels: list[tuple[str, int]] = []
    for part in parts:
        split = urlsplit(part)
        if split.scheme != SENTINEL_SCHEME or not split.hostname:
            raise ValueError(f"not a Sentinel address: {part.split('@')[-1]!r}")
        try:
            port = split.port or DEFAULT_SENTINEL_PORT
        except ValueError as e:
            raise ValueError(f"a Sentinel address has a bad port: {split.hostname!r}") from e
        sentinels.append((split.hostname, port))
    first = urlsplit(parts[0])
    path = first.path.strip("/")
    if path and not path.isdigit():
        raise ValueError(f"the database in a Sentinel URL must be a number, not {path!r}")
    if not master:
        raise ValueError(
            "a Sentinel URL needs WHISPER_JOBS_REDIS_SENTINEL_MASTER (the primary's name)"
        )
    return SentinelTarget(
        sentinels=tuple(sentinels),
        master=master,
        db=int(path or 0),
        username=unquote(first.username) if first.username else None,
        password=unquote(first.password) if first.password else None,
    )
