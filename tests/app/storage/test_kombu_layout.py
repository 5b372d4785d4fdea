"""The transcription message the store pushes itself, against the one Celery's own `send_task`
pushes for the same job (both to the real Valkey): the same envelope but for the ids each
message gets anew. That a real worker consumes it is what every end-to-end test does."""

from __future__ import annotations

import base64
import json

import redis

from app.contract.jobs import new_job_id
from app.core.config import Settings
from app.storage.broker import enqueue_transcription, make_producer, transcription_message
from app.storage.kombu_layout import pending_job_ids

FRESH_HEADERS = {"id", "root_id"}
FRESH_PROPERTIES = {"correlation_id", "delivery_tag"}


def test_the_store_pushes_what_celery_would_send(settings: Settings, redis_client: redis.Redis):
    producer = make_producer(settings)
    job_id = new_job_id()
    enqueue_transcription(producer, job_id, "base", 300, 360)
    (celery_raw,) = redis_client.lrange("transcribe.base", 0, -1)
    ours = transcription_message(producer, job_id, "base", 300, 360)
    assert ours.queue == "transcribe.base"

    theirs, mine = json.loads(celery_raw), json.loads(ours.payload)
    assert set(mine) == set(theirs)
    assert {k: v for k, v in mine["headers"].items() if k not in FRESH_HEADERS} == {
        k: v for k, v in theirs["headers"].items() if k not in FRESH_HEADERS
    }
    assert mine["headers"]["id"] == mine["headers"]["root_id"] != theirs["headers"]["id"]
    assert {k: v for k, v in mine["properties"].items() if k not in FRESH_PROPERTIES} == {
        k: v for k, v in theirs["properties"].items() if k not in FRESH_PROPERTIES
    }
    assert mine["properties"]["correlation_id"] == mine["headers"]["id"]
    assert base64.b64decode(mine["body"]) == base64.b64decode(theirs["body"])
    assert mine["content-type"] == "application/json"
    assert mine["headers"]["timelimit"] == [360, 300]

    redis_client.delete("transcribe.base")
    redis_client.lpush(ours.queue, ours.payload)
    assert pending_job_ids(redis_client) == {job_id}  # the layout's own reader finds it
