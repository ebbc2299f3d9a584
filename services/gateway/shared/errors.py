"""The gateway's error shape: ``{error, details, timestamp}`` with a 4xx/5xx status.

Every error the gateway returns, including FastAPI's validation errors, unknown
routes and (never expected) unhandled exceptions, uses this JSON body. A database or
storage fault (:func:`services.common.faults.unavailable_dependency`) is a 503 naming the
dependency ("Database unavailable" / "Storage unavailable") with ``Retry-After``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.common.faults import RETRY_AFTER_S, DependencyUnavailable, unavailable_dependency
from services.common.logging import get_logger
from services.gateway.shared.timefmt import utc_timestamp

log = get_logger("earshot.gateway.errors")


__all__ = [
    "ApiError",
    "ErrorBody",
    "dependency_unavailable",
    "error_response",
    "install_error_handlers",
    "not_found",
    "unauthorized",
]

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


def dependency_unavailable(dependency: str) -> ApiError:
    """The 503 for a dependency that cannot be used right now (``database`` or ``storage``),
    with ``Retry-After``; its title and details name the dependency, never a host or a path."""
    return ApiError(
        503,
        f"{dependency.capitalize()} unavailable",
        f"the {dependency} is unavailable or read-only right now; nothing was stored, try again shortly",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def error_response(
    status: int, error: str, details: Any, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A JSON error response in the documented shape."""
    return JSONResponse(
        {"error": error, "details": details, "timestamp": utc_timestamp()},
        status_code=status,
        headers=headers,
    )


def _with_detail(response: JSONResponse, detail: Any) -> JSONResponse:
    body = json.loads(bytes(response.body))
    body["detail"] = detail
    headers = {
        k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")
    }
    return JSONResponse(body, status_code=response.status_code, headers=headers)


def install_error_handlers(app: FastAPI, *, seed_detail_prefixes: Sequence[str] = ()) -> None:
    """Route every exception type the app can raise to :func:`error_response`.

    Args:
        seed_detail_prefixes: paths whose errors also carry the FastAPI-style ``detail`` (a
            string; for a 422 the list of ``{loc, msg, type}``) beside ``error``, ``details`` and
            ``timestamp``, for clients written against a seed that documents that shape (seed 003).
    """
    prefixes = tuple(seed_detail_prefixes)

    def seed(request: Request) -> bool:
        return bool(prefixes) and request.url.path.startswith(prefixes)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        response = error_response(exc.status, exc.error, exc.details, exc.headers)
        return _with_detail(response, exc.details) if seed(request) else response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()
        )
        response = error_response(422, "Invalid request", problems)
        if not seed(request):
            return response
        detail = [
            {
                "loc": [str(p) if not isinstance(p, int) else p for p in e.get("loc", ())],
                "msg": str(e.get("msg")),
                "type": str(e.get("type")),
            }
            for e in exc.errors()
        ]
        return _with_detail(response, detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: "Not found", 405: "Method not allowed"}
        response = error_response(
            exc.status_code,
            titles.get(exc.status_code, "HTTP error"),
            str(exc.detail),
            dict(exc.headers or {}),
        )
        return _with_detail(response, str(exc.detail)) if seed(request) else response

    async def _dependency_or_bug(request: Request, exc: Exception) -> JSONResponse:
        # Registered for the classes a dependency fault arrives as. A class handler (unlike the
        # catch-all below, which Starlette re-raises and uvicorn answers by closing the
        # connection) keeps a keep-alive connection open.
        dependency = unavailable_dependency(exc)
        if dependency is None:
            log.exception("gateway.unhandled", path=request.url.path, error=type(exc).__name__)
            return error_response(
                500, "Internal server error", "an unexpected error occurred; it has been logged"
            )
        log.warning(
            "gateway.dependency_unavailable",
            dependency=dependency,
            path=request.url.path,
            error=f"{type(exc).__name__}: {exc}"[:300],
        )
        return await _api_error(request, dependency_unavailable(dependency))

    for fault in (DependencyUnavailable, SQLAlchemyError, OSError):
        app.add_exception_handler(fault, _dependency_or_bug)

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
        log.exception("gateway.unhandled", path=request.url.path, error=type(exc).__name__)
        return error_response(
            500, "Internal server error", "an unexpected error occurred; it has been logged"
        )
