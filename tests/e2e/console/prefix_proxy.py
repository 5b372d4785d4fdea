"""A reverse proxy on loopback that serves an upstream under a path prefix (`/whisper/...` ->
upstream `/...`), as nginx or Traefik would with a strip-prefix rule. Buffered: enough for
pages and JSON, not for event streams."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler

import httpx

from tests.e2e.conftest import loopback_http_server

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


@contextmanager
def prefix_proxy(upstream: str, prefix: str) -> Iterator[str]:
    client = httpx.Client(base_url=upstream, timeout=30)

    class Proxy(BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            pass

        def _forward(self) -> None:
            if not self.path.startswith(prefix + "/"):
                self.send_error(404)
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            answer = client.request(
                self.command, self.path[len(prefix) :], content=body, headers=headers
            )
            self.send_response(answer.status_code)
            for k, v in answer.headers.items():
                if k.lower() not in HOP_BY_HOP | {"content-encoding"}:
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        do_GET = do_POST = do_DELETE = do_HEAD = _forward  # noqa: N815 - the stdlib's names

    try:
        with loopback_http_server(Proxy) as url:
            yield url
    finally:
        client.close()
