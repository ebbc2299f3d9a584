"""One access-log line per HTTP request (pure ASGI middleware, no ``BaseHTTPMiddleware``).

The line is the structlog event ``http.access`` at info level with ``method``, ``route``
(the route template, e.g. ``/photos/{task_id}``; ``<unmatched>`` for a 404 without a
route), ``path``, ``status``, ``duration_ms``, ``user_id`` (when a route authenticated
the caller: the gateway's user dependencies put it in ``scope["state"]["user_id"]``) and,
through the log context bound by the request-context middleware around it, ``request_id``
and the trace ids. Probes and metrics scrapes (``/metrics``, ``/ready``, ``/health``,
``/livez``) are logged at debug level so that they do not drown the log.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from services.common.logging import get_logger

__all__ = ["PROBE_PATHS", "AccessLogMiddleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]
]

PROBE_PATHS = frozenset({"/metrics", "/ready", "/health", "/livez"})
"""Paths logged at debug level."""

log = get_logger("earshot.access")


class AccessLogMiddleware:
    """ASGI middleware writing one ``http.access`` line per HTTP request once it is answered
    (or failed: status 500 when the app raised before starting a response).

    Args:
        app: the wrapped ASGI application.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            path = str(scope.get("path", ""))
            route = getattr(scope.get("route"), "path", None) or "<unmatched>"
            state = scope.get("state") or {}
            fields: dict[str, Any] = {
                "method": scope.get("method", "GET"),
                "route": route,
                "path": path,
                "status": status,
                "duration_ms": round((time.perf_counter() - start) * 1000, 2),
            }
            user_id = state.get("user_id") if isinstance(state, dict) else None
            if user_id:
                fields["user_id"] = str(user_id)
            if path in PROBE_PATHS:
                log.debug("http.access", **fields)
            else:
                log.info("http.access", **fields)
