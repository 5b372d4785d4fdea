"""How a worker lays out its decoding when nobody said: chosen from what it finds.

Four settings decide a worker's layout: `WHISPER_JOBS_BATCH_JOBS` (jobs decoded together in one
process), `WHISPER_JOBS_MODEL_REPLICAS` (model calls run at once), `WHISPER_JOBS_CPU_THREADS`
(threads per call) and `WHISPER_JOBS_WORKER_CONCURRENCY` (processes). If any of them is set, the
operator chose: all four are taken as configured. If none is, `whisper-jobs worker` picks:

- on a CPU, one model replica per usable core (up to `MAX_REPLICAS`, the cores shared out
  between them as threads past that), and 8 jobs decoded together per replica (up to
  `MAX_BATCH_JOBS`): jobs decoded together are exact on a CPU (docs/decoding.md). Measured on
  the 2-core development machine (BENCHMARKS.md), 32 short clips: 1 replica of 2 threads gave
  1.43x a plain library loop, 2 replicas of 1 thread 1.65x, every text the same either way. A
  long job alone would take about 1.8x as long on one replica of 1 thread; but two replicas
  are two model calls live, so such a job is cut into parts that both decode
  (`worker.split_jobs`, with no split setting);
- on a GPU, one job per model call, as before: merged calls moved transcripts there.

Usable cores: the CPU affinity mask, capped by a cgroup CPU quota (a container's `--cpus`). The
choice is passed to the Celery process as those four settings, so the worker runs exactly as if
the operator had set them, and says so in its log and heartbeat (`/readyz`, `/metrics`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from app.core.config import Settings

LAYOUT_SETTINGS = ("batch_jobs", "model_replicas", "cpu_threads", "worker_concurrency")
MAX_REPLICAS = 4
JOBS_PER_REPLICA = 8
MAX_BATCH_JOBS = 16


@dataclass(frozen=True)
class WorkerLayout:
    batch_jobs: int
    model_replicas: int
    cpu_threads: int  # 0: CTranslate2's default
    processes: int
    why: str

    def settings(self) -> dict[str, int]:
        """The layout as the values of `LAYOUT_SETTINGS`."""
        values = (self.batch_jobs, self.model_replicas, self.cpu_threads, self.processes)
        return dict(zip(LAYOUT_SETTINGS, values, strict=True))

    def env(self) -> dict[str, str]:
        return {f"WHISPER_JOBS_{k.upper()}": str(v) for k, v in self.settings().items()}

    def slots(self) -> int:
        """Model calls the worker runs at once: one per replica when jobs are decoded together
        (each replica runs its own calls), else one per process."""
        return self.model_replicas if self.batch_jobs > 1 else self.processes

    def summary(self) -> str:
        threads = self.cpu_threads or "default"
        if self.batch_jobs > 1:
            shape = f"{self.batch_jobs} jobs decoded together on {self.model_replicas} replica(s)"
        else:
            shape = f"one job at a time in each of {self.processes} process(es)"
        return f"{shape} × {threads} thread(s)"


def usable_cores(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """Cores this process may run on, capped by a cgroup CPU quota where one is set."""
    cores = len(os.sched_getaffinity(0))
    quota = _cgroup_quota(cgroup)
    return max(1, min(cores, math.floor(quota)) if quota else cores)


def _cgroup_quota(root: Path) -> float | None:
    try:  # cgroup v2: "max 100000" or "200000 100000"
        limit, period = (root / "cpu.max").read_text().split()[:2]
        return None if limit == "max" else int(limit) / int(period)
    except (OSError, ValueError):
        pass
    try:  # cgroup v1
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        every = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return None if quota <= 0 else quota / every
    except (OSError, ValueError):
        return None


def choose_layout(settings: Settings, device: str, cores: int) -> WorkerLayout:
    """`device`: "cpu" or "cuda", as the worker will decode."""
    given = sorted(set(LAYOUT_SETTINGS) & settings.model_fields_set)
    if given or device == "cuda":
        why = (
            "set by " + ", ".join(f"WHISPER_JOBS_{name.upper()}" for name in given)
            if given
            else "a GPU: one job per model call (docs/decoding.md)"
        )
        return WorkerLayout(
            settings.batch_jobs,
            settings.model_replicas,
            settings.cpu_threads,
            settings.worker_concurrency,
            why,
        )
    replicas = min(cores, MAX_REPLICAS)
    return WorkerLayout(
        batch_jobs=min(JOBS_PER_REPLICA * replicas, MAX_BATCH_JOBS),
        model_replicas=replicas,
        cpu_threads=max(1, cores // replicas),
        processes=1,
        why=f"chosen for {cores} usable CPU core(s); set any of "
        "WHISPER_JOBS_BATCH_JOBS, _MODEL_REPLICAS, _CPU_THREADS, _WORKER_CONCURRENCY to choose",
    )


def worker_device(setting: str) -> str:
    """ "cpu" or "cuda": what `WHISPER_JOBS_DEVICE` resolves to on this machine (CTranslate2 is
    asked only where it is installed, i.e. in the worker's image)."""
    if setting in ("cpu", "cuda"):
        return setting
    try:
        import ctranslate2

        return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    except ImportError:
        return "cpu"
