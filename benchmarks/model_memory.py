"""A worker process's resident memory per loaded model: a process of its own loads `base`, then
`tiny.en`, through the worker's own engine and model cache (the models the service ships, int8
on the CPU), runs one job on each, then unloads them as `WHISPER_JOBS_MODEL_IDLE_SECONDS` would.
Prints one JSON object of RSS figures in MiB; `benchmarks/run.py` turns it into table rows."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import time

import psutil

from benchmarks.harness import DATA, ROOT
from worker.decoding.engine import EngineConfig, WhisperEngine
from worker.decoding.weights import prepare_models

MIB = 1 << 20


def rss() -> float:
    gc.collect()
    return psutil.Process().memory_info().rss / MIB


def measure(threads: int) -> dict[str, float]:
    """Run this module in a fresh process: its RSS figures."""
    command = [sys.executable, "-m", "benchmarks.model_memory", str(threads)]
    out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True, timeout=600)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    models_dir = ROOT / "data" / "models"
    prepare_models(["base", "tiny.en"], models_dir)
    engine = WhisperEngine(
        EngineConfig(models_dir=models_dir, cpu_threads=threads, model_idle_seconds=0.1)
    )
    from app.contract.jobs import JobOptions

    figures = {"idle process": rss()}
    for name in ("base", "tiny.en"):
        engine.transcribe(DATA / "jfk.flac", JobOptions(model=name), lambda *_: None)
        figures[f"{name} loaded"] = rss()
    time.sleep(0.2)
    engine.models.unload_idle()
    figures["after unloading both"] = rss()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
