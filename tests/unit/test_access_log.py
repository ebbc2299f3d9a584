"""One access-log line per request: method, route template, status, duration, request id
(from the log context), user id when a route authenticated the caller."""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi import FastAPI, Request

from services.common.access_log import AccessLogMiddleware
from services.common.logging import bind, configure_logging, unbind


def _app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(AccessLogMiddleware)

    @app.middleware("http")
    async def request_id(request: Request, call_next):  # type: ignore[no-untyped-def]
        bind(request_id=request.headers.get("x-request-id", "req_test"))
        try:
            return await call_next(request)
        finally:
            unbind("request_id")

    @app.get("/photos/{task_id}")
    async def photo(task_id: str, request: Request) -> dict[str, str]:
        request.state.user_id = "user_42"
        return {"id": task_id}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    return app


def _lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if '"http.access"' in line]


async def test_one_line_per_request_with_route_template_and_user(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", "json")
    try:
        transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await client.get("/photos/p1", headers={"x-request-id": "req_abc"})).status_code == 200
            assert (await client.get("/nowhere")).status_code == 404
            assert (await client.get("/boom")).status_code == 500
            assert (await client.get("/metrics")).status_code == 404  # probes: debug level
    finally:
        configure_logging("warning")
    lines = _lines(capsys.readouterr().out)
    assert [(x["method"], x["route"], x["status"]) for x in lines] == [
        ("GET", "/photos/{task_id}", 200),
        ("GET", "<unmatched>", 404),
        ("GET", "/boom", 500),
    ]
    first = lines[0]
    assert (
        first["path"] == "/photos/p1" and first["user_id"] == "user_42" and first["request_id"] == "req_abc"
    )
    assert first["level"] == "info" and isinstance(first["duration_ms"], float)
    assert "user_id" not in lines[1]


def test_the_gateway_logs_access() -> None:
    from services.gateway.app import create_app

    assert AccessLogMiddleware in [m.cls for m in create_app().user_middleware]
