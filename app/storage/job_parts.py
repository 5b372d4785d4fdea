"""A long job's parts: the jobs that decode each stretch of its audio (a part of `JobStore`,
kept apart for size).

A part is an ordinary job of its own (record, queue message, lease, attempts, recovery), owned
by `PARTS_OWNER`, which no API key is named, so no caller lists, reads or counts it; it is kept
in no owner's index and out of the job metrics (its job is counted). The plan —
which part covers which seconds, and the language they all decode in — is written once per job
(`SET NX`): a run that starts over finds the plan of the run before it and the same parts.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from app.storage.keys import key_for

if TYPE_CHECKING:
    from redis import Redis

# The owner of every part; API key names may not start with "~" (checked at start-up).
PARTS_OWNER = "~parts"


@dataclass(frozen=True)
class Part:
    job_id: str
    start: float  # seconds into the whole job's audio
    end: float


@dataclass(frozen=True)
class PartsPlan:
    parts: list[Part]
    language: str | None = None
    language_probability: float = 0.0
    language_probabilities: list[tuple[str, float]] = field(default_factory=list)

    def dumps(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def loads(cls, raw: str | bytes) -> PartsPlan:
        data = json.loads(raw)
        parts = [Part(**p) for p in data.pop("parts")]
        probabilities = [(str(lang), float(p)) for lang, p in data.pop("language_probabilities")]
        return cls(parts=parts, language_probabilities=probabilities, **data)


class JobParts:
    def __init__(self, redis: Redis, ttl_seconds: int) -> None:
        self.redis, self.ttl_seconds = redis, ttl_seconds

    def plan(self, job_id: str, plan: PartsPlan) -> PartsPlan:
        """Store `plan` unless the job has one already: the plan that holds."""
        key = parts_key_for(job_id)
        if self.redis.set(key, plan.dumps(), nx=True, ex=self.ttl_seconds):
            return plan
        existing = self.get(job_id)
        return existing if existing is not None else plan

    def get(self, job_id: str) -> PartsPlan | None:
        raw = self.redis.get(parts_key_for(job_id))
        return None if raw is None else PartsPlan.loads(raw)

    def part_ids(self, job_id: str) -> list[str]:
        """The ids of a long job's parts; none for a job that was not split (or an unreadable
        plan: its parts then expire with their TTL)."""
        try:
            plan = self.get(job_id)
        except (ValueError, TypeError, KeyError):
            return []
        return [] if plan is None else [part.job_id for part in plan.parts]


def parts_key_for(job_id: str) -> str:
    return f"{key_for(job_id)}:parts"
