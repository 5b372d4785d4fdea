"""The API's documentation page, `/docs` (Swagger UI), with every file it loads served from here:
pinned copies shipped in the `fastapi-offline` package, nothing from a CDN. (No `/redoc`: ReDoc
loads its logo from its vendor's CDN whatever it is told.)

So the page works on a machine without internet, and no third-party script runs on this origin,
where the console keeps its API key in `sessionStorage`. Every answer carries a strict
Content-Security-Policy: scripts from this origin only, no inline script. (Inline styles are
allowed: Swagger UI sets them, and a style cannot read storage.)
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

VENDORED = Path(fastapi_offline.__file__).resolve().parent / "static"
OURS = Path(__file__).resolve().parents[1] / "docs_ui"
ASSETS = {
    "swagger-ui-bundle.js": VENDORED / "swagger-ui-bundle.js",
    "swagger-ui.css": VENDORED / "swagger-ui.css",
    "favicon.png": VENDORED / "favicon.png",
    "swagger-init.js": OURS / "swagger-init.js",
}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# Relative URLs: the page works behind a reverse proxy under a path prefix too.
SWAGGER_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>whisper-jobs API</title>
<link rel="icon" href="docs-assets/favicon.png">
<link rel="stylesheet" href="docs-assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="docs-assets/swagger-ui-bundle.js"></script>
<script src="docs-assets/swagger-init.js"></script></body></html>
"""

router = APIRouter(include_in_schema=False)


@router.get("/docs")
async def swagger_ui() -> HTMLResponse:
    return HTMLResponse(SWAGGER_PAGE, headers=HEADERS)


@router.get("/docs-assets/{name}")
async def asset(name: str) -> FileResponse:
    path = ASSETS.get(name)
    if path is None:  # only the files named above: no path from the URL reaches the disk
        raise HTTPException(404)
    return FileResponse(path, headers={**HEADERS, "Cache-Control": "public, max-age=86400"})
