"""The layout a worker picks when no layout setting is given, and none when one is."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.config import Settings
from app.core.worker_layout import MAX_REPLICAS, WorkerLayout, choose_layout, usable_cores


def test_on_a_cpu_with_nothing_set_it_decodes_jobs_together_on_a_replica_per_core() -> None:
    layout = choose_layout(Settings(), "cpu", cores=2)
    assert (layout.batch_jobs, layout.model_replicas, layout.cpu_threads, layout.processes) == (
        16,
        2,
        1,
        1,
    )
    assert "2 usable CPU core" in layout.why
    assert layout.env()["WHISPER_JOBS_BATCH_JOBS"] == "16"
    assert layout.slots() == 2  # a long job alone is cut for both replicas
    four = choose_layout(Settings(), "cpu", cores=4)
    assert (four.batch_jobs, four.model_replicas, four.cpu_threads) == (16, 4, 1)
    many = choose_layout(Settings(), "cpu", cores=16)
    assert (many.batch_jobs, many.model_replicas, many.cpu_threads) == (16, MAX_REPLICAS, 4)
    one = choose_layout(Settings(), "cpu", cores=1)
    assert (one.batch_jobs, one.model_replicas, one.cpu_threads) == (8, 1, 1)


@pytest.mark.parametrize(
    "name", ["batch_jobs", "model_replicas", "cpu_threads", "worker_concurrency"]
)
def test_any_layout_setting_means_the_operator_chose(name: str) -> None:
    value = {"batch_jobs": 1, "model_replicas": 1, "cpu_threads": 3, "worker_concurrency": 2}[name]
    settings = Settings(**{name: value})
    layout = choose_layout(settings, "cpu", cores=8)
    assert (layout.batch_jobs, layout.model_replicas, layout.cpu_threads, layout.processes) == (
        settings.batch_jobs,
        settings.model_replicas,
        settings.cpu_threads,
        settings.worker_concurrency,
    )
    assert f"WHISPER_JOBS_{name.upper()}" in layout.why


def test_on_a_gpu_it_keeps_one_job_per_call() -> None:
    layout = choose_layout(Settings(), "cuda", cores=16)
    assert layout.batch_jobs == 1 and "GPU" in layout.why


@pytest.mark.parametrize(
    ("files", "cores"),
    [
        ({"cpu.max": "150000 100000\n"}, 1),  # cgroup v2, --cpus=1.5
        ({"cpu.max": "max 100000\n"}, None),  # no quota: the affinity mask
        ({"cpu/cpu.cfs_quota_us": "100000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 1),  # v1
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({}, None),
    ],
)
def test_a_cgroup_quota_caps_the_cores(
    tmp_path: Path, files: dict[str, str], cores: int | None
) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    import os

    mask = len(os.sched_getaffinity(0))
    assert usable_cores(tmp_path) == (min(cores, mask) if cores else mask)


def test_the_model_calls_a_layout_runs_at_once() -> None:
    assert WorkerLayout(16, 2, 1, 1, why="").slots() == 2  # one per replica
    assert WorkerLayout(1, 1, 1, 2, why="").slots() == 2  # one per process
    assert WorkerLayout(1, 1, 2, 1, why="").slots() == 1
