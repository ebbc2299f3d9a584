"""The pure ASGI middleware of every HTTP request: request id, log context, span, metrics."""

from __future__ import annotations

import httpx
import structlog
from opentelemetry import trace
from prometheus_client import REGISTRY
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.common.asgi import RequestContextMiddleware
from services.common.metrics import MetricsMiddleware

SERVICE = "asgi-test"


async def echo(request: Request) -> JSONResponse:
    span = trace.get_current_span().get_span_context()
    return JSONResponse(
        {
            "request_id": structlog.contextvars.get_contextvars().get("request_id"),
            "trace_id": f"{span.trace_id:032x}",
        }
    )


async def boom(request: Request) -> JSONResponse:
    return JSONResponse({"error": "teapot"}, status_code=418)


def make_app() -> Starlette:
    app = Starlette(routes=[Route("/echo/{name}", echo), Route("/boom", boom)])
    app.add_middleware(MetricsMiddleware, service=SERVICE)
    app.add_middleware(RequestContextMiddleware, scope_name="tests")
    return app


def count(route: str, status: str) -> float:
    labels = {"service": SERVICE, "method": "GET", "route": route, "status": status}
    return REGISTRY.get_sample_value("earshot_http_requests_total", labels) or 0.0


async def test_request_id_is_echoed_bound_for_logs_and_generated_when_absent() -> None:
    transport = httpx.ASGITransport(app=make_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        given = await client.get("/echo/a", headers={"X-Request-ID": "req-given"})
        made = await client.get("/echo/b")
    assert given.headers["x-request-id"] == "req-given" == given.json()["request_id"]
    assert made.headers["x-request-id"].startswith("req_")
    assert made.json()["request_id"] == made.headers["x-request-id"]
    assert structlog.contextvars.get_contextvars().get("request_id") is None  # unbound after


async def test_the_span_continues_the_callers_traceparent() -> None:
    from services.common.telemetry import configure_tracing

    configure_tracing("tests")
    parent = "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"
    transport = httpx.ASGITransport(app=make_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        reply = await client.get("/echo/a", headers={"traceparent": parent})
    assert reply.json()["trace_id"] == "ab" * 16


async def test_metrics_count_per_route_template_and_status() -> None:
    before_ok, before_teapot = count("/echo/{name}", "200"), count("/boom", "418")
    transport = httpx.ASGITransport(app=make_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for name in ("a", "b", "c"):
            await client.get(f"/echo/{name}")
        await client.get("/boom")
    assert count("/echo/{name}", "200") - before_ok == 3
    assert count("/boom", "418") - before_teapot == 1
