"""Benchmark: time for the slow-client guards to disconnect, with the platform's defaults.

Starts uvicorn on a loopback port with :func:`services.common.http_server.guarded_protocol`
built from the default settings (``EARSHOT_HTTP_HEADER_TIMEOUT_S`` 10 s,
``EARSHOT_HTTP_MIN_BODY_RATE`` 1024 B/s after ``EARSHOT_HTTP_BODY_GRACE_S`` 10 s) and
measures, for two clients dribbling headers (one byte every 0.5 s) and two dribbling a
body (10 bytes every 0.1 s), the seconds from connecting to the server closing the
connection. Prints JSON: ``headers_s`` and ``body_s`` (each client), ``settings``.

Usage: python benchmarks/slow_clients.py
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import uvicorn  # noqa: E402

from services.common.http_server import guarded_protocol  # noqa: E402
from services.common.settings import load_settings  # noqa: E402


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _dribble(port: int, head: bytes, piece: bytes, every_s: float) -> float:
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head)
    closed = asyncio.ensure_future(reader.read())
    with contextlib.suppress(ConnectionError):
        while not closed.done() and time.perf_counter() - started < 120:
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(every_s)
    await asyncio.wait_for(closed, 120)
    writer.close()
    return round(time.perf_counter() - started, 2)


async def main() -> dict[str, Any]:
    settings = load_settings()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    protocol = guarded_protocol(
        settings.http_header_timeout_s, settings.http_min_body_rate, settings.http_body_grace_s
    )
    config = uvicorn.Config(_app, host="127.0.0.1", port=port, lifespan="off", log_config=None, http=protocol)
    server = _Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    body_head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n"
    results = await asyncio.gather(
        _dribble(port, b"GET / HTTP/1.1\r\n", b"X", 0.5),
        _dribble(port, b"GET / HTTP/1.1\r\n", b"X", 0.5),
        _dribble(port, body_head, b"x" * 10, 0.1),
        _dribble(port, body_head, b"x" * 10, 0.1),
    )
    server.should_exit = True
    await task
    return {
        "headers_s": results[:2],
        "body_s": results[2:],
        "settings": {
            "http_header_timeout_s": settings.http_header_timeout_s,
            "http_min_body_rate": settings.http_min_body_rate,
            "http_body_grace_s": settings.http_body_grace_s,
        },
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main()), indent=2))
