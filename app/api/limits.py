"""Request body limits, enforced while the body streams in: its size and its pace.

- Size: a declared `Content-Length` over the cap is refused before any body byte is read; a
  chunked body is counted as it arrives and cut off at the cap (`413 payload_too_large`).
- Pace: a body must arrive within `body_seconds`, extended by a second for every
  `min_bytes_per_second` bytes received (Apache's `mod_reqtimeout` rule), or it is cut off with
  `408 request_timeout`: a caller trickling a byte every few seconds cannot hold a connection,
  a task and a file open for ever, while a slow but steady upload of any size goes through.

Either way the route sees a disconnect and stops (an upload's partial file is removed as for any
disconnect), and the caller gets the refusal with `Connection: close`. Once the body is complete
nothing here waits on the caller: an event stream's wait for a disconnect is not timed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.error_shapes import send_refusal


@dataclass(frozen=True)
class BodyRules:
    max_bytes: int
    body_seconds: float
    min_bytes_per_second: int


class BodyLimits:
    def __init__(self, app: ASGIApp, rules: BodyRules) -> None:
        self.app = app
        self.rules = rules

    async def _refuse(self, path: str, too_slow: bool, send: Send) -> None:
        if too_slow:
            message = (
                f"The request body came too slowly: allow {self.rules.body_seconds:g} s, plus one "
                f"for every {self.rules.min_bytes_per_second} bytes."
            )
            await send_refusal(send, path, 408, "request_timeout", message)
        else:
            message = f"The upload exceeds the limit of {self.rules.max_bytes} bytes."
            await send_refusal(send, path, 413, "payload_too_large", message)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.rules.max_bytes:
            await self._refuse(scope["path"], False, send)
            return
        loop = asyncio.get_running_loop()
        started_at = loop.time()
        received = 0
        body_done = False
        refused: bool | None = None  # True: too slow; False: too large
        started = False

        async def guarded_receive() -> Message:
            nonlocal received, body_done, refused
            if refused is not None:
                return {"type": "http.disconnect"}
            if body_done:
                return await receive()
            allowed = started_at + self.rules.body_seconds - loop.time()
            allowed += received / self.rules.min_bytes_per_second
            try:
                # A timeout scope, not wait_for: no task made per chunk of a large upload.
                async with asyncio.timeout(max(allowed, 0.0)):
                    message = await receive()
            except TimeoutError:
                refused = True  # the app sees a disconnect and stops; we answer below
                return {"type": "http.disconnect"}
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
                if received > self.rules.max_bytes:
                    refused = False
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused is not None and not started:
                return  # the app's own answer to the "disconnect" is replaced by the refusal
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except Exception:
            if refused is None:
                raise
        if refused is not None and not started:
            await self._refuse(scope["path"], refused, send)
