"""Every error leaves the API as `{"error": {"code", "message"}}` (OpenAI's shape on OpenAI's
routes: `app.api.error_shapes`); no stack trace leaks."""

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

from app.api.error_shapes import is_openai_path, shaped
from app.contract.errors import (
    CALLER_FAULTS,
    InvalidRequest,
    JobFailed,
    QueueUnavailable,
    RateLimited,
    StorageUnavailable,
    Unauthorized,
    WhisperJobsError,
)
from app.storage.clients import REDIS_RETRY_AFTER_SECONDS, is_redis_unavailable

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
    request: Request,
    status_code: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    param: str | None = None,
) -> JSONResponse:
    status, content = shaped(request.url.path, status_code, code, message, param)
    return JSONResponse(status_code=status, content=content, headers=headers)


def _where(err: Any) -> str:
    return ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))


def _describe(exc: RequestValidationError) -> str:
    parts = [
        f"{_where(err) or 'request'}: {err.get('msg', 'invalid value')}" for err in exc.errors()
    ]
    return "Invalid request: " + "; ".join(parts) + "."


#: The HTTP status of each domain error code: the only place the contract's errors meet HTTP
#: (`tests/app/api/test_error_table.py` checks it against the errors and the client's classes).
STATUS: dict[str, int] = {
    "not_found": 404,
    "model_not_found": 404,
    "job_not_completed": 409,
    "no_webhook": 409,
    "invalid_transition": 409,
    "canceled": 409,
    "empty_file": 400,
    "unauthorized": 401,
    "quota_exceeded": 403,
    "request_timeout": 408,
    "payload_too_large": 413,
    "unsupported_media": 415,
    "invalid_request": 422,
    "model_not_available": 422,
    "model_not_multilingual": 422,
    "audio_too_long": 422,
    "idempotency_key_reused": 422,
    "url_not_allowed": 422,
    "invalid_audio": 422,
    "rate_limited": 429,
    "internal_error": 500,
    "model_load_failed": 500,
    "download_failed": 502,
    "queue_unavailable": 503,
    "storage_unavailable": 503,
    "overloaded": 503,
    "sync_timeout": 504,
}


def status_for(exc: WhisperJobsError) -> int:
    if isinstance(exc, JobFailed):  # a sync request's job ended badly: whose fault was it?
        return 422 if exc.code in CALLER_FAULTS else 500
    return STATUS.get(exc.code, 500)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(WhisperJobsError)
    async def domain_error(request: Request, exc: WhisperJobsError) -> JSONResponse:
        headers = {}
        if isinstance(exc, Unauthorized):
            headers["WWW-Authenticate"] = "Bearer"
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(exc.retry_after)
        if isinstance(exc, QueueUnavailable | StorageUnavailable):
            headers["Retry-After"] = str(REDIS_RETRY_AFTER_SECONDS)
        param = exc.param if isinstance(exc, InvalidRequest) else None
        return error_response(request, status_for(exc), exc.code, exc.message, headers, param)

    @app.exception_handler(redis.RedisError)
    async def redis_error(request: Request, exc: redis.RedisError) -> JSONResponse:
        if is_redis_unavailable(exc):
            logger.warning("Redis unavailable: %s", exc)
            return error_response(
                request,
                503,
                QueueUnavailable.code,
                "The job store is unavailable; try again shortly.",
                {"Retry-After": str(REDIS_RETRY_AFTER_SECONDS)},
            )
        logger.error("unexpected Redis error", exc_info=exc)
        return error_response(request, 500, "internal_error", "The server hit an unexpected error.")

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        param = _where(errors[0]) or None if errors else None
        return error_response(request, 422, "invalid_request", _describe(exc), param=param)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return error_response(request, exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        logger.error("unhandled error", exc_info=exc)
        return error_response(request, 500, "internal_error", "The server hit an unexpected error.")


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorDetail


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


def document_errors(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI schema, with every 4xx/5xx response (FastAPI's own 422 included) described by
    the one shape errors really have."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, summary=app.summary, routes=app.routes
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["ErrorDetail"] = ErrorDetail.model_json_schema()
    components["ErrorResponse"] = {
        "type": "object",
        "required": ["error"],
        "title": "ErrorResponse",
        "properties": {"error": {"$ref": "#/components/schemas/ErrorDetail"}},
    }
    components["OpenAIErrorDetail"] = OpenAIErrorDetail.model_json_schema()
    components["OpenAIErrorResponse"] = {
        "type": "object",
        "required": ["error"],
        "title": "OpenAIErrorResponse",
        "properties": {"error": {"$ref": "#/components/schemas/OpenAIErrorDetail"}},
    }
    ours = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
    openais = {"application/json": {"schema": {"$ref": "#/components/schemas/OpenAIErrorResponse"}}}
    for route, path in schema.get("paths", {}).items():
        openai = is_openai_path(route)
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            if route.startswith("/v1/"):
                responses.setdefault("401", {"description": "API key missing (`unauthorized`)"})
            if openai:  # OpenAI answers invalid requests with 400
                invalid = responses.pop("422", None) or {}
                responses.setdefault("400", {"description": "Invalid request"})
                responses["400"]["description"] += " " + invalid.get("description", "")
            else:
                responses.setdefault("422", {"description": "Invalid request (`invalid_request`)"})
            responses.setdefault("500", {"description": "Unexpected error (`internal_error`)"})
            for status, response in responses.items():
                if status[0] in "45":
                    response["content"] = openais if openai else ours
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    app.openapi_schema = schema
    return schema
