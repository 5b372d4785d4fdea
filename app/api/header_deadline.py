"""A deadline for a request's headers, which uvicorn does not have.

uvicorn times out an idle kept-alive connection, but not one that sends half a request line or
half its headers and then nothing more (nor a new connection that sends nothing): each holds a
socket for ever, and enough of them fill the server's file descriptors (slowloris). This HTTP
protocol is uvicorn's own (httptools) with one timer: from the first byte of a request (or the
connection's start) to its last header, at most `WHISPER_JOBS_HEADER_TIMEOUT_SECONDS`; past it the
caller gets `408 request_timeout` and the connection is closed. The body's pace is
`app.api.limits`' job. `whisper-jobs api` runs uvicorn with this class (`http=`); it may not touch
anything but the connection.
"""

from __future__ import annotations

import asyncio
import logging

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.api.error_shapes import shaped_bytes
from app.core.config import get_settings

logger = logging.getLogger(__name__)


class HeaderDeadlineProtocol(HttpToolsProtocol):
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        between_requests = self.cycle is None or self.cycle.response_complete
        if self._header_timer is None and between_requests:
            self._arm()  # a kept-alive connection's next request has begun
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        seconds = get_settings().header_timeout_seconds
        self._header_timer = self.loop.call_later(seconds, self._expired, seconds)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _expired(self, seconds: float) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        message = f"The request's headers did not arrive within {seconds:g} s."
        status, body = shaped_bytes("/", 408, "request_timeout", message)
        head = (
            f"HTTP/1.1 {status} Request Timeout\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        )
        logger.info("closed a connection whose request headers took over %g s", seconds)
        self.transport.write(head.encode() + body)
        self.transport.close()
