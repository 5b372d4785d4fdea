"""A 202 only once a replica holds the job (`WHISPER_JOBS_REDIS_MIN_REPLICAS`), against a real
primary, a real replica and three real Sentinels: with the replica down, submissions are refused
with 503 and nothing is accepted that a failover could lose."""

from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient

from app.api.main import create_app
from app.core.config import Settings
from app.storage.clients import redis_client
from tests.app.api.test_jobs_routes import assert_error, submit
from tests.redis_topology import MASTER, SentinelTopology


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelTopology]:
    topology = SentinelTopology(tmp_path_factory.mktemp("ha")).start()
    try:
        yield topology
    finally:
        topology.stop()


@pytest.fixture
def ha_settings(topology: SentinelTopology, settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "redis_url": topology.url,
            "redis_sentinel_master": MASTER,
            "redis_min_replicas": 1,
            "redis_replica_timeout_ms": 300,
        }
    )


def statuses(client: TestClient) -> dict[str, str]:
    jobs = client.get("/v1/jobs").json()["data"]
    return {j["id"]: j["status"] + (f":{j['error']['code']}" if j["error"] else "") for j in jobs}


def test_every_client_finds_the_primary_through_sentinel(
    topology: SentinelTopology, ha_settings: Settings
) -> None:
    client = redis_client(ha_settings)
    try:
        assert client.connection_pool.connection_kwargs["socket_timeout"] == 5.0
        client.set("whisper-jobs:test:probe", "1")
        info = client.info("replication")
        assert info["role"] == "master" and int(info["connected_slaves"]) == 1
    finally:
        client.close()
    with redis.Redis(port=topology.primary.port) as primary:
        assert primary.get("whisper-jobs:test:probe") == b"1"  # it wrote to the primary


def test_a_job_is_accepted_once_a_replica_holds_it(
    topology: SentinelTopology, ha_settings: Settings
) -> None:
    with TestClient(create_app(ha_settings)) as client:
        response = submit(client, headers={"Idempotency-Key": "durable-1"})
        assert response.status_code == 202, response.text
        job_id = response.json()["id"]
    (replica,) = topology.replicas
    with redis.Redis(port=replica.port) as r:
        assert r.exists(f"whisper-jobs:job:{job_id}") == 1  # on the replica before the 202


def test_with_the_replica_down_submissions_are_refused_not_accepted(
    topology: SentinelTopology, ha_settings: Settings
) -> None:
    (replica,) = topology.replicas
    replica.stop()
    try:
        with TestClient(create_app(ha_settings)) as client:
            before = statuses(client)
            refused = submit(client, headers={"Idempotency-Key": "durable-2"})
            assert_error(refused, 503, "queue_unavailable")
            assert refused.headers["Retry-After"] == "5"
            assert (
                "could not be confirmed on the 1 replica(s) required"
                in refused.json()["error"]["message"]
            )
            # Nothing that could be lost was accepted: the one new record says it was refused.
            after = statuses(client)
            assert [after[k] for k in after.keys() - before.keys()] == ["failed:queue_unavailable"]
    finally:
        replica.start()
        SentinelTopology.wait_linked(replica, deadline=float("inf"))
    with TestClient(create_app(ha_settings)) as client:
        # The same Idempotency-Key was freed by the refusal: the retry makes a new job.
        again = submit(client, headers={"Idempotency-Key": "durable-2"})
        assert again.status_code == 202, again.text
