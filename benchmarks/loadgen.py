"""A minimal keep-alive HTTP/1.1 load generator on asyncio streams.

httpx's async client costs several milliseconds of CPU per request; on a 2-core machine it, not
the API, was the bottleneck (it used a whole core to drive 140 requests/s at `/healthz`). This
sends a pre-built request over N persistent connections and reads each response by its
Content-Length: a few microseconds per request on the client side.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


def build_request(method: str, path: str, body: bytes = b"", content_type: str = "") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n"
    if body or method == "POST":
        head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


def multipart_file(name: str, data: bytes) -> tuple[bytes, str]:
    boundary = "loadgenboundary0123456789"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    for line in lines[1:]:
        if line.lower().startswith("content-length:"):
            length = int(line.split(":", 1)[1])
    if length:
        await reader.readexactly(length)
    return status


async def run_load(
    host: str, port: int, request: bytes, clients: int, seconds: float
) -> LoadResult:
    result = LoadResult()
    deadline = time.perf_counter() + seconds

    async def one_client() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                writer.write(request)
                try:
                    status = await _read_response(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    result.errors += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                    continue
                result.statuses[status] = result.statuses.get(status, 0) + 1
                if status < 300:
                    result.latencies.append(time.perf_counter() - started)
                else:
                    result.errors += 1
        finally:
            writer.close()

    await asyncio.gather(*(one_client() for _ in range(clients)))
    return result


@dataclass
class OpenLoopResult:
    offered: float  # requests per second the schedule asked for
    sent: int
    seconds: float  # from the first scheduled send to the last answer
    latencies: list[float] = field(default_factory=list)  # from each request's scheduled time
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def achieved(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


async def run_open_loop(
    host: str, port: int, request: bytes, rate: float, seconds: float, connections: int = 256
) -> OpenLoopResult:
    """Requests at a fixed arrival rate, whatever the server's pace (no coordinated omission):
    request i is due at `i / rate`; its latency runs from then, so time spent waiting for a
    free connection (at most `connections` open) counts against the server, as a real client's
    would. Bounded: `rate * seconds` requests, and each waits at most 30 s."""
    count = int(rate * seconds)
    result = OpenLoopResult(offered=rate, sent=count, seconds=0.0)
    idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(await asyncio.open_connection(host, port))
    start = time.perf_counter() + 0.1

    async def one(i: int) -> None:
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        reader, writer = await idle.get()
        try:
            writer.write(request)
            status = await asyncio.wait_for(_read_response(reader), 30)
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            result.errors += 1
            writer.close()
            reader, writer = await asyncio.open_connection(host, port)
        else:
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if status < 300:
                result.latencies.append(time.perf_counter() - due)
            else:
                result.errors += 1
        idle.put_nowait((reader, writer))

    await asyncio.gather(*(one(i) for i in range(count)))
    result.seconds = time.perf_counter() - start
    while not idle.empty():
        idle.get_nowait()[1].close()
    return result
