"""The two shapes an error leaves the API in, chosen by the route it answers.

- Our own routes: `{"error": {"code", "message"}}` (the contract; `app.contract.errors` lists
  the codes).
- OpenAI's routes (`/v1/audio/*`, `/v1/models`): OpenAI's shape,
  `{"error": {"message", "type", "param", "code"}}`, and `400` where we would say `422`, so code
  written against the official SDKs (`BadRequestError`, `AuthenticationError`, ...) works.

Plain functions of (path, status, code, message): the ASGI middlewares that answer before any
route runs (the key check, the upload cap) use them too. No FastAPI in here.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

OPENAI_PREFIXES = ("/v1/audio/", "/v1/models")

_OPENAI_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    429: "rate_limit_error",
}


def is_openai_path(path: str) -> bool:
    return path.startswith(OPENAI_PREFIXES) or path == "/v1/models"


def shaped(
    path: str, status: int, code: str, message: str, param: str | None = None
) -> tuple[int, dict[str, Any]]:
    """(status, body) of an error on `path`."""
    if not is_openai_path(path):
        return status, {"error": {"code": code, "message": message}}
    if status == 422:
        status = 400  # OpenAI answers every invalid request with 400
    kind = _OPENAI_TYPES.get(status) or (
        "server_error" if status >= 500 else "invalid_request_error"
    )
    return status, {"error": {"message": message, "type": kind, "param": param, "code": code}}


async def send_refusal(
    send: Callable[[dict[str, Any]], Awaitable[None]],
    path: str,
    status: int,
    code: str,
    message: str,
    extra_headers: tuple[tuple[bytes, bytes], ...] = (),
) -> None:
    """An error answered straight on ASGI (by a middleware, before any route runs), closing the
    connection: the request's body was not (wholly) read, so it cannot carry another request."""
    status, body = shaped_bytes(path, status, code, message)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *extra_headers,
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def shaped_bytes(path: str, status: int, code: str, message: str) -> tuple[int, bytes]:
    status, body = shaped(path, status, code, message)
    return status, json.dumps(body).encode()
