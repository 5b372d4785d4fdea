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


@pytest.fixture(scope="module")
def config() -> dict:
    assert COMPOSE is not None
    env = {**os.environ, "WHISPER_JOBS_REDIS_PASSWORD": "s3cret"}
    run = subprocess.run([COMPOSE, "-f", str(ROOT / "docker-compose.yml"), "config"],
                         capture_output=True, text=True, cwd=ROOT, timeout=60, env=env)  # fmt: skip
    assert run.returncode == 0, run.stderr
    return yaml.safe_load(run.stdout)


def test_every_service_has_a_health_check(config: dict) -> None:
    services = config["services"]
    assert set(services) == {"redis", "api", "beat", "webhooks", "worker", "worker-cpu", "flower"}
    for name, service in services.items():
        assert service["healthcheck"]["test"], name
        assert service["restart"] == "unless-stopped", name


def test_profiles_and_the_gpu_reservation(config: dict) -> None:
    services = config["services"]
    assert services["worker-cpu"]["profiles"] == ["cpu"]
    assert services["flower"]["profiles"] == ["flower"]
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
