"""Slow clients on raw loopback sockets: dribbled headers get 408 and a closed connection,
a body slower than the minimum rate a closed connection; normal requests are untouched.
Every socket operation is bounded by a timeout (no test can hang)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import uvicorn

from services.common.http_server import guarded_protocol
from tests.conftest import free_port

HEADER_TIMEOUT_S = 0.6
MIN_RATE = 1000.0
GRACE_S = 0.3


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = json.dumps({"received": size}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _QuietServer(uvicorn.Server):
    """No signal handling: pytest keeps its own."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def _server() -> AsyncIterator[int]:
    port = free_port()
    config = uvicorn.Config(
        _app,
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_config=None,
        access_log=False,
        http=guarded_protocol(HEADER_TIMEOUT_S, MIN_RATE, GRACE_S),
    )
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def _read_until_closed(reader: asyncio.StreamReader, limit_s: float) -> bytes:
    """Everything the server sends until it closes; fails the test after ``limit_s``."""
    return await asyncio.wait_for(reader.read(), limit_s)


@pytest.fixture
async def port() -> AsyncIterator[int]:
    async with _server() as p:
        yield p


async def test_dribbled_headers_get_408_and_the_connection_closes(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    closed = asyncio.ensure_future(_read_until_closed(reader, 10))
    for byte in b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ":
        if closed.done():
            break
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(0.1)
    answer = await closed
    writer.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert b"Request timeout" in answer


async def test_a_silent_connection_is_closed(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answer = await _read_until_closed(reader, 10)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer


async def test_a_body_slower_than_the_minimum_rate_closes_the_connection(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
    closed = asyncio.ensure_future(_read_until_closed(reader, 10))
    sent = 0
    with contextlib.suppress(ConnectionError):
        while not closed.done() and sent < 100000:
            writer.write(b"x" * 10)  # 100 B/s, a tenth of the minimum
            await writer.drain()
            sent += 10
            await asyncio.sleep(0.1)
    answer = await closed
    writer.close()
    assert sent < 100000
    assert b"HTTP/1.1 200" not in answer


async def test_normal_requests_and_keep_alive_are_untouched(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for _ in range(2):  # the second request comes after the header timeout would have passed
        await asyncio.sleep(HEADER_TIMEOUT_S / 2)
        writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + b"y" * 5000)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 200"), head
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        body = await asyncio.wait_for(reader.readexactly(length), 10)
        assert json.loads(body) == {"received": 5000}
    writer.close()
