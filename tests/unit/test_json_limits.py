"""JsonLimitsMiddleware and json_depth: size (413) and nesting (400) before any parsing."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.common.asgi import JsonLimitsMiddleware, json_depth


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("1", 0),
        ("[]", 1),
        ('{"a": [1, {"b": []}]}', 4),
        ('{"a": "[[[[[[[[{{{{"}', 1),  # brackets inside strings do not count
        ('{"a": "\\"[[[[\\\\"}', 1),  # escaped quotes and backslashes
        ("[" * 1000 + "]" * 1000, 1000),
    ],
)
def test_json_depth(text: str, depth: int) -> None:
    assert json_depth(text.encode()) == depth


JSON_CT = {"content-type": "application/json"}


async def _echo(request: Request) -> JSONResponse:
    return JSONResponse({"got": json.loads(await request.body())})


def _client(max_bytes: int = 1000, max_depth: int = 8) -> httpx.AsyncClient:
    app = Starlette(routes=[Route("/echo", _echo, methods=["POST"])])
    wrapped: Any = JsonLimitsMiddleware(app, max_bytes=max_bytes, max_depth=max_depth)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=wrapped), base_url="http://t")


async def test_bodies_within_limits_are_replayed_unchanged() -> None:
    async with _client() as c:
        r = await c.post("/echo", json={"a": [1, [2, [3]]]})
    assert r.status_code == 200 and r.json() == {"got": {"a": [1, [2, [3]]]}}


async def test_too_deep_is_400_and_too_large_is_413() -> None:
    async with _client() as c:
        deep = await c.post(
            "/echo", content=b"[" * 9 + b"]" * 9, headers={"content-type": "application/json"}
        )
        large = await c.post("/echo", json={"a": "x" * 2000})

        async def chunks():  # type: ignore[no-untyped-def]
            for _ in range(5):
                yield b" " * 400

        streamed = await c.post("/echo", content=chunks(), headers=JSON_CT)
    assert deep.status_code == 400 and "deeper than 8" in deep.json()["details"]
    assert large.status_code == 413 and set(large.json()) == {"error", "details", "timestamp"}
    assert streamed.status_code == 413


async def test_other_content_types_pass_through() -> None:
    async with _client(max_depth=2) as c:
        r = await c.post("/echo", content=b"[[[[1]]]]", headers={"content-type": "text/plain"})
    assert r.status_code == 200
