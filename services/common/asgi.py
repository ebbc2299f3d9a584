"""Pure ASGI middleware for every request: request id, log context and the request's span
(:class:`RequestContextMiddleware`); JSON body size and depth limits before parsing
(:class:`JsonLimitsMiddleware`).

Replaces a Starlette ``@app.middleware("http")`` function (``BaseHTTPMiddleware``), which
runs the rest of the app in a separate task and streams the response through a memory
channel: on the gateway's authenticated hot path that cost more than JWT verification.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import numpy as np

from services.common import telemetry
from services.common.logging import bind, unbind
from services.common.metrics import ASGIApp, Message, Scope
from services.common.timefmt import utc_timestamp

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


# --- JSON body limits -----------------------------------------------------------------------

DEFAULT_MAX_JSON_BYTES = 16 * 1024 * 1024
"""Largest JSON request body (bytes): a 10 MB photo as base64 (``/upload-photo``) fits."""

DEFAULT_MAX_JSON_DEPTH = 64
"""Deepest nesting of arrays/objects in a JSON request body."""

# A JSON string literal (unrolled loop: no backtracking on long base64 strings).
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_OPENERS = np.frombuffer(b"[{", dtype=np.uint8)
_CLOSERS = np.frombuffer(b"]}", dtype=np.uint8)


def json_depth(raw: bytes) -> int:
    """The deepest nesting of ``[``/``{`` in a JSON text, without parsing it.

    String literals are removed first (brackets inside strings do not count); the depth is
    the running sum of openers minus closers. Linear time and no recursion, so a body nested
    a million deep costs microseconds instead of a ``RecursionError`` in the parser.

    Args:
        raw: the body, UTF-8 JSON (malformed text gives a meaningless but finite number).

    Returns:
        0 for a scalar, 1 for ``[]`` or ``{}``, and so on.
    """
    stripped = _JSON_STRING.sub(b'""', raw)
    data = np.frombuffer(stripped, dtype=np.uint8)
    if data.size == 0:
        return 0
    steps = np.isin(data, _OPENERS).astype(np.int32) - np.isin(data, _CLOSERS).astype(np.int32)
    return int(max(0, np.cumsum(steps).max()))


DRAIN_LIMIT_BYTES = 64 * 1024 * 1024
"""An oversized body up to this many bytes is read and discarded before the 413 is sent (so
that a client that writes its whole body before reading, as most do, sees the 413 rather than
a reset connection); past it the connection is closed after the 413."""


async def _drain(receive: Any) -> None:
    """Read and discard the rest of a request body, up to :data:`DRAIN_LIMIT_BYTES`."""
    drained = 0
    while drained <= DRAIN_LIMIT_BYTES:
        try:
            message = await receive()
        except Exception:  # noqa: BLE001 - an outer limit refused the rest: stop draining
            return
        if message["type"] != "http.request":
            return
        drained += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def is_json_request(scope: Scope) -> bool:
    """Whether a request's body is JSON for :class:`JsonLimitsMiddleware`: a JSON content type
    (``application/json``, ``text/json``, ``*+json``) or none at all."""
    for name, value in scope.get("headers") or ():
        if name == b"content-type":
            kind = value.split(b";", 1)[0].strip().lower()
            return kind == b"application/json" or kind.endswith(b"+json") or kind == b"text/json"
    return True  # no content type: routes reading JSON parse the raw body anyway


async def _send_error(send: Any, status: int, error: str, details: str, close: bool = False) -> None:
    body = json.dumps({"error": error, "details": details, "timestamp": utc_timestamp()}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class JsonLimitsMiddleware:
    """Refuse oversized or too deeply nested JSON request bodies before any route parses them.

    For a request whose ``Content-Type`` is JSON (``application/json``, ``*+json``) or
    absent: a ``Content-Length`` over the limit answers 413 at once; otherwise the body is
    read (chunked bodies included) and answers 413 as soon as it passes ``max_bytes``,
    400 when its nesting (:func:`json_depth`) passes ``max_depth``. A body within the
    limits is replayed to the application unchanged. Errors are the gateway's
    ``{error, details, timestamp}``. Multipart and other bodies pass through (their routes
    bound them).

    The limits are read per request from ``scope["app"].state.json_limits``
    (``(max_bytes, max_depth)``, set by the gateway from its settings) when present.

    Args:
        app: the wrapped ASGI application.
        max_bytes: largest body (bytes).
        max_depth: deepest nesting of arrays/objects.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int = DEFAULT_MAX_JSON_BYTES,
        max_depth: int = DEFAULT_MAX_JSON_DEPTH,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if (
            scope["type"] != "http"
            or scope.get("method") in ("GET", "HEAD", "OPTIONS")
            or not is_json_request(scope)
        ):
            await self.app(scope, receive, send)
            return
        state = getattr(scope.get("app"), "state", None)
        max_bytes, max_depth = getattr(state, "json_limits", None) or (self.max_bytes, self.max_depth)
        too_large = f"the JSON body is larger than {max_bytes} bytes"
        for name, value in scope.get("headers") or ():
            if name == b"content-length" and value.isdigit() and int(value) > max_bytes:
                if int(value) <= DRAIN_LIMIT_BYTES:
                    await _drain(receive)
                await _send_error(send, 413, "Payload too large", too_large, close=True)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # client gone
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > max_bytes:
                chunks.clear()
                if message.get("more_body", False):
                    await _drain(receive)
                await _send_error(send, 413, "Payload too large", too_large, close=True)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        raw = b"".join(chunks)
        if raw and json_depth(raw) > max_depth:
            await _send_error(
                send, 400, "Malformed request", f"the JSON body is nested deeper than {max_depth} levels"
            )
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": raw, "more_body": False}
            return dict(await receive())

        await self.app(scope, replay, send)
