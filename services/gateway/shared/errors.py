"""The gateway's error shape: ``{error, details, timestamp}`` with a 4xx/5xx status.

Every error the gateway returns, including FastAPI's validation errors, unknown
routes and (never expected) unhandled exceptions, uses this JSON body.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.common.logging import get_logger
from services.gateway.shared.timefmt import utc_timestamp

log = get_logger("earshot.gateway.errors")


__all__ = ["ApiError", "ErrorBody", "error_response", "install_error_handlers", "not_found", "unauthorized"]

REALM = 'Bearer realm="earshot"'
"""The ``WWW-Authenticate`` challenge of the gateway's bearer tokens (RFC 6750)."""


class ErrorBody(BaseModel):
    """The documented error shape of every gateway route."""

    error: str = Field(description="Short human title, e.g. 'Invalid file format'.")
    details: Any = Field(description="What the client should change.")
    timestamp: str = Field(description="ISO 8601 UTC, with Z.")


class ApiError(Exception):
    """An error to return to the client.

    Args:
        status: HTTP status code (4xx for the client's mistakes, 5xx for ours).
        error: short human title, e.g. ``"Invalid file format"``.
        details: one sentence telling the client what to change.
        headers: extra response headers (``Retry-After``...).
    """

    def __init__(self, status: int, error: str, details: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {error}: {details}")
        self.status = status
        self.error = error
        self.details = details
        self.headers = headers or {}


def not_found(what: str, ident: str | None = None) -> ApiError:
    """The 404 for a record that does not exist *or belongs to someone else* (same answer)."""
    return ApiError(404, "Not found", f"no {what} {ident!r}" if ident is not None else f"no such {what}")


def unauthorized(details: str, *, error: str | None = "invalid_token") -> ApiError:
    """A 401 with the RFC 6750 ``WWW-Authenticate`` challenge (``error`` omitted for a missing token)."""
    challenge = REALM if error is None else f'{REALM}, error="{error}", error_description="{details}"'
    return ApiError(401, "Unauthorized", details, headers={"WWW-Authenticate": challenge})


def error_response(
    status: int, error: str, details: Any, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A JSON error response in the documented shape."""
    return JSONResponse(
        {"error": error, "details": details, "timestamp": utc_timestamp()},
        status_code=status,
        headers=headers,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Route every exception type the app can raise to :func:`error_response`."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.error, exc.details, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()
        )
        return error_response(422, "Invalid request", problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: "Not found", 405: "Method not allowed"}
        return error_response(
            exc.status_code,
            titles.get(exc.status_code, "HTTP error"),
            str(exc.detail),
            dict(exc.headers or {}),
        )

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
        log.exception("gateway.unhandled", path=request.url.path, error=type(exc).__name__)
        return error_response(
            500, "Internal server error", "an unexpected error occurred; it has been logged"
        )
