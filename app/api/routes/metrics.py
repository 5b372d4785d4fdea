"""`GET /metrics`: Prometheus' text format (unauthenticated, like the health probes: it holds
counts, never job contents or key names)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

router = APIRouter(tags=["health"])


@router.get(
    "/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}}
)
def metrics(request: Request) -> Response:
    """Jobs by status and model, queue depths, durations, real-time factor, webhook outcomes
    (deployment-wide, read from Redis now) and this process's request latency."""
    body = generate_latest(request.app.state.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
