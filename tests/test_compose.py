"""The compose file, as `docker-compose config` (Debian's package) resolves it. No engine runs
here, so this checks what can be checked without one: it parses, and every service is wired."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = shutil.which("docker-compose")
pytestmark = pytest.mark.skipif(COMPOSE is None, reason="docker-compose is not installed")


def resolved(*files: str) -> dict:
    assert COMPOSE is not None
    env = {**os.environ, "WHISPER_JOBS_REDIS_PASSWORD": "s3cret"}
    names = [arg for f in files for arg in ("-f", str(ROOT / f))]
    run = subprocess.run([COMPOSE, *names, "config"],
                         capture_output=True, text=True, cwd=ROOT, timeout=60, env=env)  # fmt: skip
    assert run.returncode == 0, run.stderr
    return yaml.safe_load(run.stdout)


@pytest.fixture(scope="module")
def config() -> dict:
    return resolved("docker-compose.yml")


def test_the_ha_override_points_every_part_at_the_sentinels() -> None:
    services = resolved("docker-compose.yml", "docker/compose.ha.yml")["services"]
    for name in ("api", "beat", "webhooks", "worker", "worker-cpu"):
        env = services[name]["environment"]
        assert env["WHISPER_JOBS_REDIS_URL"] == (
            "sentinel://:s3cret@sentinel-1:26379/0;sentinel://sentinel-2:26379;"
            "sentinel://sentinel-3:26379"
        ), name
        assert env["WHISPER_JOBS_REDIS_SENTINEL_MASTER"] == "whisper-jobs", name
        assert env["WHISPER_JOBS_REDIS_MIN_REPLICAS"] == "1", name
        assert env["WHISPER_JOBS_DATA_DIR"] == "/data", name  # the rest of the env is kept
    replica = services["redis-replica"]["command"]
    assert replica[replica.index("--replicaof") + 1 :][:2] == ["redis", "6379"]
    for name in ("sentinel-1", "sentinel-2", "sentinel-3"):
        script = services[name]["command"][0]
        assert "sentinel monitor whisper-jobs redis 6379 2" in script, name
        assert "--sentinel" in script, name


def test_every_service_has_a_health_check(config: dict) -> None:
    services = config["services"]
    assert set(services) == {"redis", "api", "beat", "webhooks", "worker", "worker-cpu", "flower",
                             "redis-replica", "sentinel-1", "sentinel-2", "sentinel-3"}  # fmt: skip
    for name, service in services.items():
        assert service["healthcheck"]["test"], name
        assert service["restart"] == "unless-stopped", name


def test_profiles_and_the_gpu_reservation(config: dict) -> None:
    services = config["services"]
    assert services["worker-cpu"]["profiles"] == ["cpu"]
    assert services["flower"]["profiles"] == ["flower"]
    for name in ("redis-replica", "sentinel-1", "sentinel-2", "sentinel-3"):
        assert services[name]["profiles"] == ["ha"], name
    assert all(
        "profiles" not in services[n] for n in ("redis", "api", "beat", "webhooks", "worker")
    )
    (device,) = services["worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert device["capabilities"] == ["gpu"] and device["count"] == 1
    assert services["worker"]["environment"]["WHISPER_JOBS_DEVICE"] == "cuda"
    assert services["worker-cpu"]["environment"]["WHISPER_JOBS_DEVICE"] == "cpu"


def test_everything_shares_redis_and_the_data_volume(config: dict) -> None:
    for name in ("api", "beat", "webhooks", "worker", "worker-cpu"):
        service = config["services"][name]
        url = service["environment"]["WHISPER_JOBS_REDIS_URL"]
        assert url == "redis://:s3cret@redis:6379/0", name
        assert service["environment"]["WHISPER_JOBS_DATA_DIR"] == "/data", name
        assert "uploads:/data:rw" in service["volumes"], name  # v1 prints the short form
        assert service["depends_on"]["redis"]["condition"] == "service_healthy", name
    redis = config["services"]["redis"]
    assert "--appendonly" in redis["command"] and "noeviction" in redis["command"]


def test_secure_defaults(config: dict) -> None:
    redis = config["services"]["redis"]["command"]
    assert redis[redis.index("--requirepass") + 1] == "s3cret"
    assert redis[redis.index("--maxmemory") + 1] == "1gb"
    api = config["services"]["api"]
    assert api["environment"]["WHISPER_JOBS_ALLOW_OPEN"] == "false"
    (port,) = api["ports"]
    assert port["host_ip"] == "127.0.0.1" if isinstance(port, dict) else port.startswith("127.")


def test_compose_refuses_to_run_without_a_redis_password() -> None:
    assert COMPOSE is not None
    env = {k: v for k, v in os.environ.items() if k != "WHISPER_JOBS_REDIS_PASSWORD"}
    run = subprocess.run([COMPOSE, "-f", str(ROOT / "docker-compose.yml"), "config"],
                         capture_output=True, text=True, cwd=ROOT, timeout=60, env=env)  # fmt: skip
    assert run.returncode != 0
    assert "WHISPER_JOBS_REDIS_PASSWORD" in run.stderr


def test_each_dockerfile_named_exists(config: dict) -> None:
    for name, service in config["services"].items():
        if "build" in service:
            assert (ROOT / service["build"]["dockerfile"]).is_file(), name
