"""Uploads in a bucket, measured (`python -m benchmarks.object_store`; rows of `make bench`):

- a 1 GiB upload through the API into the bucket: the API's peak RSS growth, and its wall time
  against a direct upload of the same file to the same server with boto3 (`upload_file`, its
  default transfer settings), interleaved rounds;
- submission to completion of the same job (JFK) with uploads in the bucket and on local disk,
  two services side by side, interleaved rounds: the difference of the medians;
- what a finished job keeps in Redis (`MEMORY USAGE` of its keys), per hour of audio, with and
  without word timestamps, and how many such hours fit in the default `maxmemory`.

The S3 server is moto's (tests/s3_server.py) on loopback: its speed is not S3's, so only the
ratios and differences measured against it in the same run mean anything.
"""

from __future__ import annotations

import statistics
import struct
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import redis

from benchmarks.harness import JFK, PeakRss, Row, Service, long_speech, run_job
from tests.s3_server import S3Server, s3_server

GIB = 1 << 30
DEFAULT_MAXMEMORY = GIB  # WHISPER_JOBS_REDIS_MAXMEMORY's default, `1gb`


def big_wav(path: Path, size: int) -> Path:
    """`size` bytes of WAV (48 kHz stereo 16-bit silence: 93 min per GiB), written in chunks."""
    data = size - 44
    header = b"RIFF" + struct.pack("<I", 36 + data) + b"WAVEfmt "
    header += struct.pack("<IHHIIHH", 16, 1, 2, 48_000, 48_000 * 4, 4, 16)
    header += b"data" + struct.pack("<I", data)
    chunk = bytes(1 << 20)
    with path.open("wb") as out:
        out.write(header)
        for _ in range(data // len(chunk)):
            out.write(chunk)
        out.write(bytes(data % len(chunk)))
    return path


def multipart(path: Path, boundary: str) -> Iterator[bytes]:
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{path.name}"\r\nContent-Type: audio/wav\r\n\r\n'
    ).encode()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            yield chunk
    yield f"\r\n--{boundary}--\r\n".encode()


def upload_rows(svc: Service, s3: S3Server, path: Path, rounds: int) -> list[Row]:
    assert svc.api is not None
    client = s3.client()
    direct, through, growth, statuses = [], [], [], set()
    boundary = "benchboundary7d1"
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    for i in range(rounds):
        started = time.perf_counter()
        client.upload_file(str(path), s3.bucket, f"direct/{i}")
        direct.append(time.perf_counter() - started)
        client.delete_object(Bucket=s3.bucket, Key=f"direct/{i}")
        meter = PeakRss(svc.api.pid)
        started = time.perf_counter()
        response = httpx.post(
            f"{svc.url}/v1/jobs", content=multipart(path, boundary), headers=headers, timeout=900
        )
        through.append(time.perf_counter() - started)
        growth.append(meter.growth())
        statuses.add(response.status_code)
        if response.status_code == 202:
            job = response.json()["id"]
            httpx.delete(f"{svc.url}/v1/jobs/{job}", timeout=60)  # its object goes too
    client.close()
    size = path.stat().st_size >> 20
    ratio = statistics.median(through) / statistics.median(direct)
    peak = max(growth) / 2**20
    return [
        Row(
            f"upload {size} MiB into the bucket: API peak RSS growth (status {statuses})",
            f"{peak:.1f} MiB",
            "< 64 MiB",
            peak < 64,
        ),
        Row(
            f"upload {size} MiB: through the API / boto3 `upload_file` direct, same server "
            f"(medians of {rounds}: {statistics.median(through):.1f} s / "
            f"{statistics.median(direct):.1f} s)",
            f"{ratio:.2f}×",
            "≤ 1.25×",
            ratio <= 1.25,
        ),
    ]


def overhead_rows(local: Service, bucket: Service, rounds: int) -> list[Row]:
    times: dict[str, list[float]] = {"local": [], "bucket": []}
    texts = set()
    for _ in range(rounds):
        for name, svc in (("local", local), ("bucket", bucket)):
            with httpx.Client(base_url=svc.url, timeout=300) as client:
                seconds, job = run_job(client, JFK)
                texts.add(client.get(f"/v1/jobs/{job['id']}").json()["result"]["text"])
            times[name].append(seconds)
    gap = statistics.median(times["bucket"]) - statistics.median(times["local"])
    return [
        Row(
            f"JFK submitted to completed, uploads in the bucket − on local disk (medians of "
            f"{rounds}: {statistics.median(times['bucket']):.2f} s − "
            f"{statistics.median(times['local']):.2f} s; texts equal: {len(texts) == 1})",
            f"{gap * 1000:+.0f} ms",
            "≤ +200 ms",
            gap <= 0.2 and len(texts) == 1,
        )
    ]


def redis_rows(svc: Service, audio: Path) -> list[Row]:
    assert svc.redis is not None
    rows = []
    client = redis.Redis.from_url(svc.redis.url)
    with httpx.Client(base_url=svc.url, timeout=600) as http:
        for words in ("false", "true"):
            _, done = run_job(http, audio, word_timestamps=words)
            job = http.get(f"/v1/jobs/{done['id']}").json()
            keys = client.keys(f"whisper-jobs:job:{job['id']}*")
            kept = sum(client.memory_usage(k) or 0 for k in keys)
            per_hour = kept / job["result"]["duration"] * 3600
            hours = DEFAULT_MAXMEMORY / per_hour
            rows.append(
                Row(
                    f"Redis per hour of audio, word timestamps {words} "
                    f"({len(keys)} keys, {job['result']['duration']:.0f} s of speech)",
                    f"{per_hour / 2**20:.2f} MiB (1 GiB holds {hours:,.0f} h)",
                    "info",
                    None,
                )
            )
    client.close()
    return rows


def measure(work: Path, quick: bool = False) -> list[Row]:
    rows: list[Row] = []
    with s3_server(work / "moto.log") as s3:
        env = {**s3.env("bench"), "WHISPER_JOBS_CPU_THREADS": "2"}
        bucket = Service(work / "bucket", env).start()
        local = Service(work / "local", {"WHISPER_JOBS_CPU_THREADS": "2"}).start()
        try:
            rows += overhead_rows(local, bucket, 3 if quick else 7)
            rows += redis_rows(bucket, long_speech(work))
            local.stop_worker()
            bucket.stop_worker()
            path = big_wav(work / "big.wav", (256 << 20) if quick else GIB)
            rows += upload_rows(bucket, s3, path, 1 if quick else 2)
        finally:
            local.stop()
            bucket.stop()
    return rows


if __name__ == "__main__":
    import sys

    with tempfile.TemporaryDirectory(prefix="whisper-jobs-s3-") as tmp:
        found = measure(Path(tmp), quick="--quick" in sys.argv)
    print("| measure | value | goal | met |\n|---|---|---|---|")
    for r in found:
        met = "—" if r.ok is None else ("yes" if r.ok else "**no**")
        print(f"| {r.name} | {r.value} | {r.goal} | {met} |")
