"""The API key is checked from the headers before a byte of the body is read.

Without it an unauthenticated client could make the API spool a whole upload (up to
`WHISPER_JOBS_MAX_UPLOAD_BYTES`) to disk before hearing 401. This ASGI middleware answers every
`/v1/` request that carries no valid key with `401 unauthorized` at once, and hands the key's name
to the route (`scope["state"]["caller"]`), which `deps.get_caller` reads.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.error_shapes import send_refusal
from app.core.auth import ANONYMOUS, KeyRing

MESSAGE = "A valid API key is required: send `Authorization: Bearer <key>`."


def caller_of(keys: KeyRing, authorization: str | None) -> str | None:
    """The name of the key in an `Authorization` header value, or None."""
    if keys.is_open:
        return ANONYMOUS
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or len(token) > 512:
        return None
    return keys.identify(token.strip())


class KeyCheck:
    def __init__(self, app: ASGIApp, keys: KeyRing) -> None:
        self.app = app
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        header = dict(scope["headers"]).get(b"authorization")
        caller = caller_of(self.keys, header.decode("latin-1") if header else None)
        if caller is None:
            await _refuse(scope["path"], send)
            return
        scope.setdefault("state", {})["caller"] = caller
        await self.app(scope, receive, send)


async def _refuse(path: str, send: Send) -> None:
    challenge = ((b"www-authenticate", b"Bearer"),)
    await send_refusal(send, path, 401, "unauthorized", MESSAGE, challenge)
