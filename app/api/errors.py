"""Every error leaves the API as `{"error": {"code", "message"}}`; no stack trace leaks."""

from __future__ import annotations

import logging
from typing import Any

import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.errors import QueueUnavailable, RateLimited, Unauthorized, WhisperJobsError

logger = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media",
}


def error_response(
    status_code: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    content = {"error": {"code": code, "message": message}}
    return JSONResponse(status_code=status_code, content=content, headers=headers)


def _describe(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        parts.append(f"{where or 'request'}: {err.get('msg', 'invalid value')}")
    return "Invalid request: " + "; ".join(parts) + "."


REDIS_RETRY_AFTER_SECONDS = 5
# Replies of a Redis that works but cannot take this write now (full, read-only replica after a
# failover, loading its data, a primary without enough replicas): the caller should retry.
_REDIS_BUSY_REPLIES = ("OOM", "READONLY", "LOADING", "MISCONF", "MASTERDOWN", "NOREPLICAS")


def is_redis_unavailable(exc: BaseException) -> bool:
    """Redis is down, frozen, full or read-only: a 503 for the caller, not a bug of ours."""
    if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
        return True
    return isinstance(exc, redis.ResponseError) and str(exc).startswith(_REDIS_BUSY_REPLIES)


def queue_unavailable_response() -> JSONResponse:
    return error_response(
        503, QueueUnavailable.code, "The job store is unavailable; try again shortly.",
        {"Retry-After": str(REDIS_RETRY_AFTER_SECONDS)},
    )  # fmt: skip


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(WhisperJobsError)
    async def domain_error(_: Request, exc: WhisperJobsError) -> JSONResponse:
        headers = {}
        if isinstance(exc, Unauthorized):
            headers["WWW-Authenticate"] = "Bearer"
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(exc.retry_after)
        if isinstance(exc, QueueUnavailable):
            headers["Retry-After"] = str(REDIS_RETRY_AFTER_SECONDS)
        return error_response(exc.status_code, exc.code, exc.message, headers)

    @app.exception_handler(redis.RedisError)
    async def redis_error(_: Request, exc: redis.RedisError) -> JSONResponse:
        if is_redis_unavailable(exc):
            logger.warning("Redis unavailable: %s", exc)
            return queue_unavailable_response()
        logger.error("unexpected Redis error", exc_info=exc)
        return error_response(500, "internal_error", "The server hit an unexpected error.")

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "invalid_request", _describe(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected_error(_: Request, exc: Exception) -> JSONResponse:
        logger.error("unhandled error", exc_info=exc)
        return error_response(500, "internal_error", "The server hit an unexpected error.")


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorDetail


def document_errors(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI schema, with every 4xx/5xx response (FastAPI's own 422 included) described by
    the one shape errors really have."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, summary=app.summary,
                         routes=app.routes)  # fmt: skip
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["ErrorDetail"] = ErrorDetail.model_json_schema()
    components["ErrorResponse"] = {
        "type": "object", "required": ["error"], "title": "ErrorResponse",
        "properties": {"error": {"$ref": "#/components/schemas/ErrorDetail"}},
    }  # fmt: skip
    error_content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
    for route, path in schema.get("paths", {}).items():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            if route.startswith("/v1/"):
                responses.setdefault("401", {"description": "API key missing (`unauthorized`)"})
            responses.setdefault("422", {"description": "Invalid request (`invalid_request`)"})
            responses.setdefault("500", {"description": "Unexpected error (`internal_error`)"})
            for status, response in responses.items():
                if status[0] in "45":
                    response["content"] = error_content
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    app.openapi_schema = schema
    return schema
