"""Slow-client guards for uvicorn: headers that do not complete in time and bodies that arrive
slower than a minimum rate close the connection (the "slowloris" and "slow POST" attacks).

uvicorn's ``timeout_keep_alive`` only covers the idle gap *between* requests: a client that
sends one header byte every few seconds, or a body at a few bytes a second, holds a
connection (and, for the body, a request task) forever. :func:`guarded_protocol` returns a
subclass of uvicorn's httptools protocol (the one uvicorn picks with ``uvicorn[standard]``)
that adds two timers per connection:

* **header timeout**: from the connection's start (and from the first byte of each further
  keep-alive request) the request line and headers must complete within
  ``header_timeout_s``; otherwise ``408 Request Timeout`` is written and the connection closed.
* **body rate**: once the headers are in, after ``body_grace_s`` the body received so far must
  keep up with ``min_body_rate`` bytes/s (checked twice a second) until the message is
  complete; otherwise the connection is closed and the application's ``receive()`` answers
  ``http.disconnect``. While uvicorn itself pauses reading (the application is not consuming
  the body yet), the clock restarts: only the client's slowness counts.

Pass the class as ``uvicorn.Config(http=...)``. Same idea as Apache's ``mod_reqtimeout``
(``RequestReadTimeout header=... body=...,MinRate=...``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from services.common.logging import get_logger

__all__ = ["guarded_protocol"]

log = get_logger("earshot.http")

_CHECK_EVERY_S = 0.5
_TIMEOUT_BODY = b'{"error":"Request timeout","details":"the request headers came too slowly"}'
_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: application/json\r\n"
    b"connection: close\r\n"
    b"content-length: " + str(len(_TIMEOUT_BODY)).encode() + b"\r\n\r\n" + _TIMEOUT_BODY
)


class _GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the header timeout and the minimum body rate."""

    header_timeout_s: float = 10.0
    min_body_rate: float = 1024.0
    body_grace_s: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._body_since = 0.0
        self._body_bytes = 0

    # --- headers ------------------------------------------------------------------------
    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        log.warning("http.slow_headers", client=_peer(self.client), timeout_s=self.header_timeout_s)
        self.transport.write(_TIMEOUT_RESPONSE)
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._cancel_header_timer()
        super().on_headers_complete()
        self._body_since = self.loop.time()
        self._body_bytes = 0
        self._body_timer = self.loop.call_later(_CHECK_EVERY_S, self._check_body_rate)

    # --- body ---------------------------------------------------------------------------
    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._cancel_body_timer()
        super().on_message_complete()

    def _cancel_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _check_body_rate(self) -> None:
        self._body_timer = None
        if self.transport.is_closing() or self.cycle is None or not self.cycle.more_body:
            return
        now = self.loop.time()
        if self.flow.read_paused:  # our back-pressure, not the client's slowness
            self._body_since, self._body_bytes = now, 0
        else:
            elapsed = now - self._body_since
            if elapsed > self.body_grace_s and self._body_bytes < self.min_body_rate * (
                elapsed - self.body_grace_s
            ):
                log.warning(
                    "http.slow_body",
                    client=_peer(self.client),
                    received=self._body_bytes,
                    seconds=round(elapsed, 1),
                    min_rate=self.min_body_rate,
                )
                self.transport.close()
                return
        self._body_timer = self.loop.call_later(_CHECK_EVERY_S, self._check_body_rate)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        self._cancel_body_timer()
        super().connection_lost(exc)


def _peer(client: Any) -> str:
    return f"{client[0]}:{client[1]}" if client else "?"


def guarded_protocol(
    header_timeout_s: float, min_body_rate: float, body_grace_s: float
) -> type[asyncio.Protocol]:
    """An uvicorn HTTP protocol class with the slow-client guards (module docstring).

    Args:
        header_timeout_s: seconds a request's line and headers may take (> 0).
        min_body_rate: bytes/s the body must keep up with after the grace (>= 0; 0 disables).
        body_grace_s: seconds at the start of a body before the rate applies.

    Returns:
        A subclass of uvicorn's ``HttpToolsProtocol`` for ``uvicorn.Config(http=...)``.
    """
    return type(
        "GuardedHttpToolsProtocol",
        (_GuardedProtocol,),
        {
            "header_timeout_s": float(header_timeout_s),
            "min_body_rate": float(min_body_rate),
            "body_grace_s": float(body_grace_s),
        },
    )
