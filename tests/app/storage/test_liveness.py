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
