"""THE map from gRPC status codes to the gateway's HTTP errors (every client uses it).

=====================  ======  ==========================================================
gRPC status            HTTP    notes
=====================  ======  ==========================================================
INVALID_ARGUMENT       400     422 for the auth service (a weak password is a body problem)
FAILED_PRECONDITION    400
UNAUTHENTICATED        401     with ``WWW-Authenticate: Bearer realm="earshot"``
PERMISSION_DENIED      403
NOT_FOUND              404
ALREADY_EXISTS         409
RESOURCE_EXHAUSTED     429     ``Retry-After`` from the trailing metadata (default 1 s)
UNIMPLEMENTED          501     (the auth client answers 404 for an OAuth provider not configured)
DEADLINE_EXCEEDED      504
UNAVAILABLE            503     the service cannot be reached; "Database unavailable" /
                               "Storage unavailable" when the service named the dependency
                               (trailing metadata ``earshot-unavailable``)
anything else          502     the service failed
=====================  ======  ==========================================================
"""

from __future__ import annotations

from collections.abc import Mapping

import grpc

from services.common.faults import DATABASE, GRPC_METADATA_KEY, STORAGE
from services.common.logging import get_logger
from services.gateway.shared.errors import REALM, ApiError, dependency_unavailable

__all__ = ["api_error"]

log = get_logger("earshot.gateway.clients")

_STATUS: dict[grpc.StatusCode, tuple[int, str]] = {
    grpc.StatusCode.INVALID_ARGUMENT: (400, "Invalid request"),
    grpc.StatusCode.FAILED_PRECONDITION: (400, "Bad request"),
    grpc.StatusCode.UNAUTHENTICATED: (401, "Unauthorized"),
    grpc.StatusCode.PERMISSION_DENIED: (403, "Forbidden"),
    grpc.StatusCode.NOT_FOUND: (404, "Not found"),
    grpc.StatusCode.ALREADY_EXISTS: (409, "Conflict"),
    grpc.StatusCode.RESOURCE_EXHAUSTED: (429, "Too many requests"),
    grpc.StatusCode.UNIMPLEMENTED: (501, "Not implemented"),
    grpc.StatusCode.DEADLINE_EXCEEDED: (504, "Timeout"),
    grpc.StatusCode.UNAVAILABLE: (503, "Service unavailable"),
}


def _unavailable_dependency(exc: grpc.aio.AioRpcError) -> str | None:
    """The dependency a service named in UNAVAILABLE's trailing metadata, if any."""
    for key, value in exc.trailing_metadata() or ():
        if key == GRPC_METADATA_KEY and value in (DATABASE, STORAGE):
            return str(value)
    return None


def api_error(
    exc: grpc.aio.AioRpcError,
    service: str,
    *,
    invalid_status: int = 400,
    invalid_title: str = "Invalid request",
    overrides: Mapping[grpc.StatusCode, tuple[int, str]] | None = None,
    hide_unavailable_details: bool = True,
) -> ApiError:
    """The :class:`ApiError` for a failed call to ``service`` (table in the module docstring).

    Args:
        exc: the gRPC error.
        service: the callee's human name, e.g. ``"auth service"``, for 502/503 messages.
        invalid_status, invalid_title: the answer to ``INVALID_ARGUMENT`` (400 "Invalid request").
        overrides: a client's own ``(status, title)`` for some codes (e.g. analysis: 422, 503).
        hide_unavailable_details: a 503 says only that the service is unavailable (its
            details may name internal hosts); ``False`` keeps them.

    Every 503 carries ``Retry-After: 5``.
    """
    code = exc.code()
    dependency = _unavailable_dependency(exc) if code == grpc.StatusCode.UNAVAILABLE else None
    if dependency is not None:
        log.warning("gateway.upstream_dependency_unavailable", service=service, dependency=dependency)
        return dependency_unavailable(dependency)
    status, title = _STATUS.get(code, (502, f"{service[:1].upper()}{service[1:]} error"))
    details = exc.details() or f"the {service} did not answer ({code.name})"
    headers: dict[str, str] = {}
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        status, title = invalid_status, invalid_title
    if overrides and code in overrides:
        status, title = overrides[code]
    if status == 401:
        headers["WWW-Authenticate"] = REALM
    elif status == 429:
        trailing = dict(exc.trailing_metadata() or ())
        headers["Retry-After"] = str(trailing.get("retry-after", "1"))
    elif status == 503:
        log.warning("gateway.upstream_unavailable", service=service, code=code.name, details=details)
        headers["Retry-After"] = "5"
        if not (overrides and code in overrides):
            title = f"{service[:1].upper()}{service[1:]} unavailable"
        if hide_unavailable_details:
            details = f"the {service} is unavailable; try again shortly"
    elif status == 502:
        details = f"{code.name}: {details}"
    return ApiError(status, title, details, headers=headers)
