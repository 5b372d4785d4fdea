"""Two keys against one API process: what one key holds cannot take another's share. Every wait
on a job (event streams, OpenAI-style streamed and synchronous transcriptions) counts against its
key's cap, a caller that hangs up frees its wait, and the async Redis pool holds every key's full
share. The worker is stopped first, so every job stays queued and every wait stays open."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from app.core.auth import new_key
from app.core.embedded import EmbeddedRedis
from tests.conftest import JFK
from tests.e2e.conftest import Cluster, cluster_on_db

KEY_A, ENTRY_A = new_key("alice")
KEY_B, ENTRY_B = new_key("bob")
CAP = 3


@pytest.fixture(scope="module")
def cluster(
    redis_server: EmbeddedRedis, models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    with cluster_on_db(
        redis_server,
        13,
        tmp_path_factory.mktemp("tenants"),
        models_dir,
        WHISPER_JOBS_API_KEYS=f"{ENTRY_A},{ENTRY_B}",
        WHISPER_JOBS_MAX_STREAMS_PER_KEY=str(CAP),
        # Small, so that A's waits would empty it if they were not capped.
        WHISPER_JOBS_REDIS_MAX_CONNECTIONS="4",
    ) as c:
        c.stop("worker")  # nothing ends: every wait is held until its caller leaves
        yield c


def client(cluster: Cluster, key: str, timeout: float = 30) -> httpx.Client:
    return httpx.Client(
        base_url=cluster.url, headers={"Authorization": f"Bearer {key}"}, timeout=timeout
    )


def submit(http: httpx.Client) -> str:
    with JFK.open("rb") as f:
        response = http.post("/v1/jobs", files={"file": ("jfk.flac", f)})
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def sync_transcription(key: str, cluster: Cluster, timeout: float) -> int | str:
    """An OpenAI-style synchronous request; the client gives up after `timeout`."""
    with client(cluster, key, timeout) as http, JFK.open("rb") as f:
        try:
            response = http.post(
                "/v1/audio/transcriptions",
                files={"file": ("jfk.flac", f)},
                data={"model": "whisper-1"},
            )
        except httpx.ReadTimeout:
            return "hung up"
    return response.status_code


def first_event(stream: httpx.Response) -> str:
    for line in stream.iter_lines():
        if line.startswith("event:"):
            return line.removeprefix("event:").strip()
    raise AssertionError("the stream ended without an event")


def test_one_keys_waits_cannot_stop_anothers_stream(cluster: Cluster) -> None:
    with client(cluster, KEY_A) as a, client(cluster, KEY_B) as b:
        job_a, job_b = submit(a), submit(b)
        streams = [a.stream("GET", f"/v1/jobs/{job_a}/events") for _ in range(CAP)]
        opened = [s.__enter__() for s in streams]
        try:
            assert [r.status_code for r in opened] == [200] * CAP
            # A's synchronous waits count against the same cap: refused at once, not held.
            with ThreadPoolExecutor(4) as pool:
                codes = list(pool.map(lambda _: sync_transcription(KEY_A, cluster, 20), range(4)))
            assert codes == [429] * 4
            # B is untouched: its stream opens and says where its job is.
            with b.stream("GET", f"/v1/jobs/{job_b}/events") as mine:
                assert mine.status_code == 200
                assert first_event(mine) == "queued"
            # A caller that hangs up frees its wait: A may open another in its place.
            streams.pop().__exit__(None, None, None)
            assert sync_transcription(KEY_A, cluster, 2) == "hung up"
            deadline = time.monotonic() + 15
            while True:
                with a.stream("GET", f"/v1/jobs/{job_a}/events") as again:
                    if again.status_code == 200:
                        break
                assert again.status_code == 429
                assert time.monotonic() < deadline, "a hung-up wait was never released"
                time.sleep(0.2)
        finally:
            for stream in streams:
                stream.__exit__(None, None, None)
