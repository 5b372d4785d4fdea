"""The compose file, as `docker-compose config` (Debian's package) resolves it. No engine runs
here, so this checks what can be checked without one: it parses, and every service is wired."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from app.core.config import Settings
from app.core.env_example import env_names

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = shutil.which("docker-compose")
pytestmark = pytest.mark.skipif(COMPOSE is None, reason="docker-compose is not installed")


def resolved(*files: str, env_file: Path | None = None) -> dict:
    assert COMPOSE is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHISPER_JOBS_")}
    env["WHISPER_JOBS_REDIS_PASSWORD"] = "s3cret"
    names = [arg for f in files for arg in ("-f", str(ROOT / f))]
    given = ["--env-file", str(env_file)] if env_file else []
    run = subprocess.run(
        [COMPOSE, *names, *given, "config"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env=env,
    )
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
    assert set(services) == {
        "redis",
        "api",
        "beat",
        "webhooks",
        "worker",
        "worker-cpu",
        "flower",
        "redis-replica",
        "sentinel-1",
        "sentinel-2",
        "sentinel-3",
        "config-check",
        "minio",
        "minio-bucket",
    }
    for name, service in services.items():
        if name in ("config-check", "minio-bucket"):
            continue  # runs once, to its end
        assert service["healthcheck"]["test"], name
        assert service["restart"] == "unless-stopped", name


def test_profiles_and_the_gpu_reservation(config: dict) -> None:
    services = config["services"]
    assert services["worker-cpu"]["profiles"] == ["cpu"]
    assert services["flower"]["profiles"] == ["flower"]
    for name in ("redis-replica", "sentinel-1", "sentinel-2", "sentinel-3"):
        assert services[name]["profiles"] == ["ha"], name
    for name in ("minio", "minio-bucket"):
        assert services[name]["profiles"] == ["s3"], name
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
    run = subprocess.run(
        [COMPOSE, "-f", str(ROOT / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env=env,
    )
    assert run.returncode != 0
    assert "WHISPER_JOBS_REDIS_PASSWORD" in run.stderr


def test_each_dockerfile_named_exists(config: dict) -> None:
    for name, service in config["services"].items():
        if "build" in service:
            assert (ROOT / service["build"]["dockerfile"]).is_file(), name


# What docker-compose.yml sets itself, whatever `.env` says: the bundled Redis, the shared
# volume, where the API listens inside its container, and each worker's device.
FIXED = {"WHISPER_JOBS_REDIS_URL", "WHISPER_JOBS_DATA_DIR"}
FIXED_IN = {
    "api": {"WHISPER_JOBS_API_HOST", "WHISPER_JOBS_API_PORT"},
    "config-check": {"WHISPER_JOBS_API_HOST", "WHISPER_JOBS_API_PORT"},
    "worker": {"WHISPER_JOBS_DEVICE"},
    "worker-cpu": {"WHISPER_JOBS_DEVICE"},
}
PARTS = ("api", "config-check", "beat", "webhooks", "worker", "worker-cpu")


def test_every_setting_in_dot_env_reaches_every_part(tmp_path: Path) -> None:
    dot_env = tmp_path / ".env"
    dot_env.write_text("".join(f"{name}=set-{name.lower()}\n" for name in env_names()))
    services = resolved("docker-compose.yml", env_file=dot_env)["services"]
    for part in PARTS:
        env = services[part]["environment"]
        for name in set(env_names()) - FIXED - FIXED_IN.get(part, set()):
            assert env.get(name) == f"set-{name.lower()}", (part, name)


def test_a_setting_left_out_keeps_its_default(config: dict) -> None:
    """Forwarded empty, which `Settings` reads as unset (`env_ignore_empty`)."""
    env = config["services"]["worker-cpu"]["environment"]
    assert env["WHISPER_JOBS_SPLIT_MIN_SECONDS"] == ""
    for name in ("BATCH_JOBS", "MODEL_REPLICAS", "CPU_THREADS", "WORKER_CONCURRENCY"):
        assert env[f"WHISPER_JOBS_{name}"] == "", name  # unset: the worker picks its layout
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        settings = Settings()
    assert settings.split_min_seconds == Settings.model_fields["split_min_seconds"].default
    assert not {"batch_jobs", "model_replicas", "cpu_threads"} & settings.model_fields_set


def test_the_configuration_is_checked_once_before_any_part_starts(config: dict) -> None:
    services = config["services"]
    check = services["config-check"]
    assert check["command"] == ["whisper-jobs", "check"] and check["restart"] == "no"
    assert check["environment"] == services["api"]["environment"]  # the strictest rules
    for part in PARTS[2:] + ("api",):
        condition = services[part]["depends_on"]["config-check"]["condition"]
        assert condition == "service_completed_successfully", part


def test_beat_and_webhooks_run_on_the_api_image(config: dict) -> None:
    """They never load a model: no CTranslate2, no weights in their image."""
    for part in ("beat", "webhooks", "config-check"):
        assert config["services"][part]["build"]["dockerfile"] == "docker/api.Dockerfile", part


def test_the_build_context_leaves_out_the_venv_and_data() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", "data", ".git", ".env"} <= ignored
    copied = {"pyproject.toml", "uv.lock", "README.md", "client", "app", "worker"}
    assert not copied & ignored


def test_the_s3_profile_has_no_default_password_and_a_persistent_volume(config: dict) -> None:
    minio = config["services"]["minio"]
    assert minio["environment"]["MINIO_ROOT_PASSWORD"] == ""  # unset: it refuses to start
    assert 'test -n "$$MINIO_ROOT_PASSWORD"' in minio["command"][0]
    assert any(str(v).startswith("minio-data:/data") for v in minio["volumes"]), minio["volumes"]
    assert all(str(p).startswith("127.0.0.1:") for p in minio["ports"]), minio["ports"]
    bucket = config["services"]["minio-bucket"]
    assert bucket["depends_on"]["minio"]["condition"] == "service_healthy"
    assert "mc mb --ignore-existing local/whisper-jobs" in bucket["command"][0]
