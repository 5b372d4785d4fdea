"""Workers' heartbeats: who is alive, what they serve, how each decodes; the dead are dropped."""

from __future__ import annotations

import redis

from app.storage import liveness


def test_live_workers_with_their_models_and_layouts(redis_client: redis.Redis) -> None:
    liveness.beat(redis_client, "a@h", ["transcribe.base", "maintenance"], layout="8 jobs")
    liveness.beat(redis_client, "b@h", ["transcribe.tiny.en"], now=1.0)  # long dead
    liveness.beat(redis_client, "hooks@h", ["webhooks"])  # not a transcription worker
    live = liveness.live_workers(redis_client)
    assert live.hostnames == ("a@h",)
    assert live.models == frozenset({"base"})
    assert live.layouts == {"a@h": "8 jobs"}
    assert redis_client.hkeys("whisper-jobs:workers") != [] and b"b@h" not in redis_client.hkeys(
        "whisper-jobs:workers"
    )


def test_the_model_calls_live_for_each_model_are_summed(redis_client: redis.Redis) -> None:
    liveness.beat(redis_client, "a@h", ["transcribe.base"], slots=2)
    liveness.beat(redis_client, "b@h", ["transcribe.base", "transcribe.tiny.en"])
    liveness.beat(redis_client, "c@h", ["transcribe.base"], now=1.0, slots=8)  # long dead
    assert liveness.live_workers(redis_client).slots == {"base": 3, "tiny.en": 1}
