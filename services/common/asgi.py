"""Pure ASGI middleware for every request: request id, log context and the request's span.

Replaces a Starlette ``@app.middleware("http")`` function (``BaseHTTPMiddleware``), which
runs the rest of the app in a separate task and streams the response through a memory
channel: on the gateway's authenticated hot path that cost more than JWT verification.
"""

from __future__ import annotations

import time
from typing import Any

from services.common import telemetry
from services.common.logging import bind, unbind
from services.common.metrics import ASGIApp, Message, Scope

REQUEST_ID_HEADER = b"x-request-id"


class RequestContextMiddleware:
    """Give each HTTP request an id, bind it to log lines and open its trace span.

    The id is the caller's ``X-Request-ID`` header or ``req_<hex ns clock>``; it is bound
    as ``request_id`` in the structlog context for the request and echoed in the
    response's ``X-Request-ID`` header. The span (``"<METHOD> <path>"``, instrumentation
    scope ``scope_name``) continues the W3C ``traceparent`` of the request headers
    (:func:`services.common.telemetry.span_from`). WebSockets and lifespan pass through.

    Args:
        app: the wrapped ASGI application.
        scope_name: instrumentation scope of the span, e.g. ``"earshot.gateway"``.
    """

    def __init__(self, app: ASGIApp, scope_name: str = "earshot.gateway") -> None:
        self.app = app
        self.scope_name = scope_name

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: dict[str, str] = {}
        request_id = ""
        for name, value in scope.get("headers") or ():
            if name == REQUEST_ID_HEADER:
                request_id = value.decode("latin-1")
            elif name in (b"traceparent", b"tracestate"):
                headers[name.decode()] = value.decode("latin-1")
        request_id = request_id or f"req_{time.time_ns():x}"
        encoded_id = request_id.encode("latin-1", "replace")

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (REQUEST_ID_HEADER, encoded_id)]
            await send(message)

        method, path = scope.get("method", "GET"), scope.get("path", "")
        bind(request_id=request_id)
        try:
            with telemetry.span_from(
                headers,
                f"{method} {path}",
                self.scope_name,
                **{"http.method": method, "http.target": path},
            ):  # the span records an exception and sets its status to ERROR
                await self.app(scope, receive, send_with_id)
        finally:
            unbind("request_id")
