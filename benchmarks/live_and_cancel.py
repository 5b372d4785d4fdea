"""How live a long job is, and how soon a cancel frees its worker, per decoding mode.

On the running service (`benchmarks.run`'s, defaults but the CPU threads): the 3-minute speech
file, sequential (`batched=false`) and batched (`batched=true`, the default above 60 s):
- live: when the job's first `segment` event arrives, as a share of the time to its end;
- cancel: the job is canceled 3 s after it starts to run (mid-run in both modes with `base` on
  2 cores, and not at a window's or step's end), a short job (JFK) is submitted at once, and the
  time from the DELETE to that job starting to run (`started_at`) is the time the worker was
  still busy with the canceled one.
Part of `make bench`; alone: `python -m benchmarks.live_and_cancel`.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks.harness import JFK, Row, Service, long_speech

MODES = {"sequential": "false", "batched": "true"}
GOAL_CANCEL_SECONDS = 5.0
CANCEL_AFTER_SECONDS = 3.0


def _submit(client: httpx.Client, audio: Path, **form: str) -> str:
    with audio.open("rb") as f:
        response = client.post("/v1/jobs", files={"file": (audio.name, f)}, data=form)
    response.raise_for_status()
    return str(response.json()["id"])


def _events(client: httpx.Client, job_id: str) -> Any:
    """(kind, seconds since the call) of each event of the job, to its final one."""
    started = time.perf_counter()
    with client.stream("GET", f"/v1/jobs/{job_id}/events", timeout=600) as events:
        kind = ""
        for line in events.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                yield kind, time.perf_counter() - started
                if kind in {"completed", "failed", "canceled"}:
                    return


def first_segment_share(client: httpx.Client, audio: Path, batched: str) -> float:
    job_id = _submit(client, audio, batched=batched, temperature="0")
    first, end = None, 0.0
    for kind, at in _events(client, job_id):
        if kind == "segment" and first is None:
            first = at
        end = at
    assert first is not None, "no segment event"
    return first / end


def _started(client: httpx.Client, job_id: str) -> datetime:
    """When the job began to run (polled: it may start before an event stream could open)."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["started_at"] is not None:
            return datetime.fromisoformat(job["started_at"])
        time.sleep(0.05)
    raise RuntimeError(f"job {job_id} never started")


def cancel_to_free(client: httpx.Client, audio: Path, batched: str) -> float:
    job_id = _submit(client, audio, batched=batched, temperature="0")
    _started(client, job_id)
    time.sleep(CANCEL_AFTER_SECONDS)
    canceled = datetime.now().astimezone()
    assert client.delete(f"/v1/jobs/{job_id}").status_code == 204
    status = client.get(f"/v1/jobs/{job_id}").json()["status"]
    assert status == "canceled", f"the job was {status} before its cancel: measure nothing"
    next_id = _submit(client, JFK, batched="false")
    started = _started(client, next_id)
    for _event in _events(client, next_id):
        pass  # let it end, so the next measure starts on an idle worker
    return (started - canceled).total_seconds()


def rows(svc_url: str, long_path: Path) -> list[Row]:
    out = []
    with httpx.Client(base_url=svc_url, timeout=600) as client:
        for mode, batched in MODES.items():
            share = first_segment_share(client, long_path, batched)
            out.append(
                Row(
                    f"first segment event of a 3+ min job, {mode}",
                    f"at {share:.0%} of its run",
                    "< 50 %",
                    share < 0.5,
                )
            )
            seconds = cancel_to_free(client, long_path, batched)
            out.append(
                Row(
                    f"cancel to worker free (next job started), {mode}",
                    f"{seconds:.1f} s",
                    f"<= {GOAL_CANCEL_SECONDS:.0f} s",
                    seconds <= GOAL_CANCEL_SECONDS,
                )
            )
    return out


def main() -> None:
    import os
    import tempfile

    with tempfile.TemporaryDirectory(prefix="whisper-jobs-cancel-") as tmp:
        env = {"WHISPER_JOBS_CPU_THREADS": str(os.cpu_count() or 2)}
        svc = Service(Path(tmp) / "svc", env).start()
        try:
            for row in rows(svc.url, long_speech(Path(tmp))):
                print(f"| {row.name} | {row.value} | {row.goal} | {row.ok} |")  # noqa: T201
        finally:
            svc.stop()


if __name__ == "__main__":
    main()
