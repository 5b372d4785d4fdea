"""The default model is loaded as each worker process starts, not on its first job: a real
worker of two pool processes on the session's Valkey, the real model, Celery and HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.embedded import EmbeddedRedis
from tests.conftest import JFK
from tests.e2e.conftest import Cluster, cluster_on_db

LOADING = "loading model base"


@pytest.fixture(scope="module")
def cluster(
    redis_server: EmbeddedRedis, models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    with cluster_on_db(
        redis_server,
        12,
        tmp_path_factory.mktemp("preload"),
        models_dir,
        WHISPER_JOBS_WORKER_CONCURRENCY="2",
        WHISPER_JOBS_CPU_THREADS="1",
    ) as c:
        yield c


def loads(cluster: Cluster) -> int:
    return (cluster.logs / "worker.log").read_text().count(LOADING)


def test_each_pool_process_loads_the_default_model_before_any_job(cluster: Cluster) -> None:
    deadline = time.monotonic() + 60
    while loads(cluster) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert loads(cluster) == 2, cluster.tail()  # one per pool process, no job submitted yet
    ids = [cluster.submit(JFK, temperature="0")["id"] for _ in range(2)]
    for job_id in ids:
        assert cluster.wait(job_id)["status"] == "completed"
    assert loads(cluster) == 2  # the jobs used the loaded model: no load of their own
