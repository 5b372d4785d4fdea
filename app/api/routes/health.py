"""Liveness and readiness probes: both answer from memory, at once, without touching Redis."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.api.readiness import Readiness

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive (no dependency is checked)."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={503: {"description": "Redis unreachable, or no transcription worker alive"}},
)
async def readyz(request: Request) -> JSONResponse:
    """Redis answers and at least one worker consuming a `transcribe.*` queue is alive (from a
    state refreshed every few seconds in the background); `models` says which models have one,
    `workers` how each live worker decodes (its layout, chosen or set)."""
    state: Readiness = request.app.state.readiness.state
    body = {
        "checks": {"redis": state.redis, "workers": state.workers},
        "models": state.models,
        "workers": state.layouts,  # each live worker's decoding layout
    }
    if state.ready:
        return JSONResponse({"status": "ready", **body})
    return JSONResponse(
        status_code=503,
        content={"error": {"code": "not_ready", "message": state.reason}, **body},
    )
