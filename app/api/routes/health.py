"""Liveness and readiness probes."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.api.deps import ProducerDep, SettingsDep, StoreDep

logger = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive (no dependency is checked)."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Redis or every worker unreachable"}})
def readyz(store: StoreDep, producer: ProducerDep, settings: SettingsDep) -> JSONResponse:
    """Redis answers and at least one worker answers a ping."""
    checks = {"redis": False, "workers": 0}
    try:
        checks["redis"] = store.ping()
        replies = producer.control.ping(timeout=settings.ready_ping_timeout_seconds)
        checks["workers"] = len(replies or [])
    except Exception as e:  # any failure to reach Redis means "not ready", never a 500
        logger.warning("readiness check failed: %s", e)
    ready = bool(checks["redis"]) and int(checks["workers"]) > 0
    if ready:
        return JSONResponse({"status": "ready", "checks": checks})
    message = "Redis is unreachable." if not checks["redis"] else "No worker answered a ping."
    return JSONResponse(
        status_code=503,
        content={"error": {"code": "not_ready", "message": message}, "checks": checks},
    )
