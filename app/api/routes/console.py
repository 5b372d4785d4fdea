"""The browser console: `GET /` (for a browser; API clients asking for JSON get the service's
index instead) and its static files under `/console/`, shipped inside the package.

The console is a client of the public API like any other: it holds no state here, needs no
key to load (its pages hold no data), and every response carries a strict Content-Security-
Policy (no inline script or style, nothing from another origin), so a string from a job that
slipped into the page as markup still could not run. URLs in the page are relative, so it works
behind a reverse proxy under a path prefix (open it as `/prefix/`).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC = Path(__file__).resolve().parents[1] / "console"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self' blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",  # a new version of the console is picked up at once
}

router = APIRouter(include_in_schema=False)


def wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept


@router.api_route("/", methods=["GET", "HEAD"])
async def index(request: Request) -> Response:
    """The console for a browser; where to go from here for anyone else."""
    if wants_html(request):
        return FileResponse(STATIC / "index.html", headers=SECURITY_HEADERS)
    settings = request.app.state.settings
    return JSONResponse(
        {
            "service": "whisper-jobs",
            "version": request.app.version,
            "console": "/",
            "docs": "/docs",
            "openapi": "/openapi.json",
            "health": "/healthz",
            "ready": "/readyz",
            "metrics": "/metrics",
            "keys_required": bool(settings.api_keys),
        }
    )


class _Secured:
    """The static files, with the console's security headers on every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_secured)


def static_files() -> ASGIApp:
    return _Secured(StaticFiles(directory=STATIC, html=False))
