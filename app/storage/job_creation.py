"""Creating a job in one Lua script: one round trip, all or nothing. In order: the job an
earlier request with the same `Idempotency-Key` created (a replay is answered before any cap),
admission against the caps on unfinished jobs, then the record, the sets of unfinished jobs, the
owner's index and the counters, the job's queue message and its `Idempotency-Key` record.
(`app.storage.idempotency.JobCreation`, the store's creation component, calls it.)

May not: choose the caps (the API's settings do) or build the message (`app.storage.broker`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.contract.jobs import Job
from app.storage import stats
from app.storage.job_parts import PARTS_OWNER
from app.storage.keys import (
    ACTIVE_KEY,
    IDEMPOTENCY_TTL_SECONDS,
    idempotency_key_for,
    key_for,
    owner_active_key,
    owner_jobs_key,
)
from app.storage.kombu_layout import QueuedMessage
from app.storage.records import dump_job

if TYPE_CHECKING:
    from redis import Redis
    from redis.commands.core import Script

# KEYS: record, unfinished (all), unfinished (owner's), owner's index, submitted counter,
# in-flight gauge, queue, Idempotency-Key record, unfinished (long jobs' parts).
# ARGV: record, id, created (epoch s), model, in-flight field, message ("": none), owner's cap,
# overall cap ("": no admission), Idempotency-Key record ("": none), its TTL, counted ("1"/"0"),
# the owner's cap on stored jobs, the prefix of job records' keys.
# A long job's parts are not jobs of their own for the overall cap (their job is counted). The
# owner's index keeps the ids of expired jobs until a listing prunes them: at the stored cap, up
# to 100 of its oldest ids are looked at and the expired ones dropped before it is applied.
SCRIPT = """
local record, id, created, model, flight, message, mine_cap, all_cap, idem, idem_ttl, counted,
  stored_cap, prefix = unpack(ARGV)
if idem ~= '' then
  local earlier = redis.call('GET', KEYS[8])
  if earlier then return {'replay', earlier} end
end
if all_cap ~= '' then
  local all = redis.call('SCARD', KEYS[2]) - redis.call('SCARD', KEYS[9])
  if all >= tonumber(all_cap) then return {'overloaded', '0'} end
  local mine = redis.call('SCARD', KEYS[3])
  if mine >= tonumber(mine_cap) then return {'rate_limited', tostring(mine)} end
  local stored = redis.call('ZCARD', KEYS[4])
  if stored >= tonumber(stored_cap) then
    for _, old in ipairs(redis.call('ZRANGE', KEYS[4], 0, 99)) do
      if redis.call('EXISTS', prefix .. old) == 0 then redis.call('ZREM', KEYS[4], old) end
    end
    stored = redis.call('ZCARD', KEYS[4])
    if stored >= tonumber(stored_cap) then return {'quota_exceeded', tostring(stored)} end
  end
end
if not redis.call('SET', KEYS[1], record, 'NX') then return {'exists', '0'} end
redis.call('SADD', KEYS[2], id)
redis.call('SADD', KEYS[3], id)
if counted == '1' then
  redis.call('ZADD', KEYS[4], created, id)
  redis.call('HINCRBY', KEYS[5], model, 1)
  redis.call('HINCRBY', KEYS[6], flight, 1)
end
if message ~= '' then redis.call('LPUSH', KEYS[7], message) end
if idem ~= '' then redis.call('SET', KEYS[8], idem, 'EX', idem_ttl) end
return {'created', '0'}
"""


@dataclass(frozen=True)
class Caps:
    """Admission: at most `per_owner` unfinished jobs of one owner, `overall` of everyone's (a
    long job's parts not counted), and `stored_per_owner` jobs of one owner kept, finished or
    not."""

    per_owner: int
    overall: int
    stored_per_owner: int = 10_000


@dataclass(frozen=True)
class Outcome:
    """`created`; `exists` (the id is taken); `replay` (`earlier`: the key's record, JSON);
    `overloaded`; `rate_limited` (`unfinished`: the owner's count); `quota_exceeded`
    (`unfinished`: the owner's stored jobs)."""

    kind: str
    earlier: dict[str, str] | None = None
    unfinished: int = 0


def script_for(redis: Redis) -> Script:
    return redis.register_script(SCRIPT)


def create_job(
    script: Script,
    redis: Redis,
    job: Job,
    message: QueuedMessage | None,
    idempotency: tuple[str, str] | None,
    caps: Caps | None,
) -> Outcome:
    """Run the script on `redis` (the store's client, or one pinned connection of it)."""
    owner, model = job.owner, job.options.model
    idem_key = idempotency_key_for(owner, idempotency[0]) if idempotency else key_for(job.id)
    keys = [
        key_for(job.id),
        ACTIVE_KEY,
        owner_active_key(owner),
        owner_jobs_key(owner),
        stats.SUBMITTED_KEY,
        stats.IN_FLIGHT_KEY,
        message.queue if message else key_for(job.id),
        idem_key,
        owner_active_key(PARTS_OWNER),
    ]
    idem_record = (
        json.dumps({"job_id": job.id, "fingerprint": idempotency[1]}) if idempotency else ""
    )
    args: list[str | int | float] = [
        dump_job(job),
        job.id,
        job.created_at.timestamp(),
        model,
        f"{job.status.value}|{model}",
        message.payload if message else "",
        caps.per_owner if caps else "",
        caps.overall if caps else "",
        idem_record,
        IDEMPOTENCY_TTL_SECONDS,
        "1" if owner != PARTS_OWNER else "0",
        caps.stored_per_owner if caps else "",
        key_for(""),
    ]
    kind, detail = script(keys=keys, args=args, client=redis)
    kind = kind.decode() if isinstance(kind, bytes) else str(kind)
    if kind == "replay":
        return Outcome(kind, earlier=json.loads(detail))
    return Outcome(kind, unfinished=int(detail))
