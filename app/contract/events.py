"""A job's events, as its stream delivers them (`GET /v1/jobs/{id}/events`, OpenAI's streaming).

Kinds: `segment` (a segment's JSON), `queued` (`{"position": n | null}`: 1 is next in its model's
queue), `processing` (a worker started it), `progress` (`{"progress": p}`), `keepalive` (nothing
happened for a while), and the final one, named after the job's terminal status (`completed`,
`failed`, `canceled`; `{"job": ...}` without the result).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.contract.jobs import TERMINAL_STATUSES

FINAL_KINDS = frozenset(status.value for status in TERMINAL_STATUSES)


@dataclass(frozen=True)
class JobEvent:
    kind: str
    data: dict[str, Any]

    @property
    def is_final(self) -> bool:
        return self.kind in FINAL_KINDS
