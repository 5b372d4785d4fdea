"""How many webhook attempts are in flight at once, per receiver and per API key, over every
webhook worker: one slow receiver (or one key's many receivers) may hold only a few of the
webhook threads, and the rest stay free for everyone else's events.

Each bound is a sorted set of the job ids whose attempt holds a slot, scored by the time the
slot lapses by itself (an attempt's deadline and a margin), so a worker that dies mid-attempt
frees its slots without anyone's help. Both slots are taken in one script, or neither.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.storage.keys import webhook_inflight_key

if TYPE_CHECKING:
    from redis import Redis

# KEYS: the receiver's set, the key's set. ARGV: now, lapse time, job id, the two limits, TTL.
ACQUIRE = """
local now = tonumber(ARGV[1])
for i = 1, 2 do redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now) end
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then return 1 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[5]) then return 0 end
for i = 1, 2 do
  redis.call('ZADD', KEYS[i], ARGV[2], ARGV[3])
  redis.call('EXPIRE', KEYS[i], ARGV[6])
end
return 1
"""


@dataclass(frozen=True)
class SlotLimits:
    per_receiver: int
    per_key: int


class WebhookSlots:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._acquire = redis.register_script(ACQUIRE)

    @staticmethod
    def _keys(receiver: str, owner: str) -> list[str]:
        return [webhook_inflight_key("receiver", receiver), webhook_inflight_key("owner", owner)]

    def acquire(
        self, job_id: str, receiver: str, owner: str, limits: SlotLimits, hold_seconds: float
    ) -> bool:
        """A slot for this job's attempt under both bounds, held at most `hold_seconds`; False
        when either is full (the caller tries again later, which costs the job no attempt)."""
        now = time.time()
        ttl = int(hold_seconds) + 60
        args: list[str | float] = [
            now,
            now + hold_seconds,
            job_id,
            limits.per_receiver,
            limits.per_key,
            ttl,
        ]
        return bool(self._acquire(keys=self._keys(receiver, owner), args=args))

    def release(self, job_id: str, receiver: str, owner: str) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for key in self._keys(receiver, owner):
            pipe.zrem(key, job_id)
        pipe.execute()

    def in_flight(self, receiver: str) -> int:
        """Attempts holding a slot for this receiver now (for tests and inspection)."""
        key = webhook_inflight_key("receiver", receiver)
        return int(self.redis.zcount(key, time.time(), "+inf"))
