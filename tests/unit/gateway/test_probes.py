"""The gateway's probes (issue 18): /livez touches nothing, /ready checks with deadlines and is
reused for a second, /health computes the products' details at most once per second."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from services.gateway import deps
from services.gateway.app import create_app
from services.gateway.products.platform import router as platform


class Probe:
    """A dependency check that counts its calls and can be made to fail or hang."""

    def __init__(self) -> None:
        self.calls = 0
        self.mode = "ok"

    async def check(self) -> None:
        self.calls += 1
        if self.mode == "fail":
            raise ConnectionError("refused")
        if self.mode == "hang":
            await asyncio.sleep(3600)


@pytest.fixture
async def gateway(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SimpleNamespace]:
    bus, storage, database = Probe(), Probe(), Probe()
    monkeypatch.setattr(platform, "CHECK_DEADLINE_S", 0.05)

    async def db_check(engine: Any) -> None:
        await database.check()

    monkeypatch.setattr(platform.db, "check", db_check)
    app = create_app()
    grpc_auth = Probe()
    ctx = SimpleNamespace(
        runtime=SimpleNamespace(bus=bus, storage=storage),
        engine=object(),
        clients=SimpleNamespace(readiness_checks=lambda deadline_s: {"grpc.auth": grpc_auth.check}),
    )
    app.dependency_overrides[deps.context] = lambda: ctx
    contributions = 0

    async def photos() -> dict[str, Any]:
        nonlocal contributions
        contributions += 1
        await asyncio.sleep(0.01)  # a database query
        return {"photos": {"queue_depth": 2, "running_tasks": 1}, "status": "ignored"}

    async def broken() -> dict[str, Any]:
        raise RuntimeError("engine away")

    app.state.health_contributors.extend([photos, broken])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield SimpleNamespace(
            app=app,
            client=client,
            bus=bus,
            storage=storage,
            database=database,
            contributions=lambda: contributions,
        )


async def test_livez_touches_nothing(gateway: SimpleNamespace) -> None:
    for probe in (gateway.bus, gateway.storage, gateway.database):
        probe.mode = "fail"
    reply = await gateway.client.get("/livez")
    assert reply.status_code == 200 and reply.json() == {"status": "alive"}
    assert gateway.bus.calls == gateway.storage.calls == gateway.database.calls == 0
    assert gateway.contributions() == 0


async def test_health_details_are_computed_once_for_many_concurrent_callers(gateway: SimpleNamespace) -> None:
    replies = await asyncio.gather(*(gateway.client.get("/health") for _ in range(16)))
    assert gateway.contributions() == 1
    for reply in replies:
        body = reply.json()
        assert body["status"] == "healthy" and body["timestamp"].endswith("Z")
        assert body["photos"] == {"queue_depth": 2, "running_tasks": 1}  # the broken product is left out
    gateway.app.state.probes["health"].clear()  # what a second later looks like
    await gateway.client.get("/health")
    assert gateway.contributions() == 2


async def test_ready_reports_each_dependency_with_a_deadline_and_is_reused(gateway: SimpleNamespace) -> None:
    gateway.database.mode = "fail"
    gateway.storage.mode = "hang"
    replies = await asyncio.gather(*(gateway.client.get("/ready") for _ in range(8)))
    assert {r.status_code for r in replies} == {503}
    body = replies[0].json()
    assert body["status"] == "unavailable"
    assert body["checks"]["bus"] == "ok"
    assert body["checks"]["database"] == "error: ConnectionError: refused"
    assert body["checks"]["storage"].startswith("error: TimeoutError")
    assert gateway.bus.calls == gateway.database.calls == gateway.storage.calls == 1
    gateway.database.mode = gateway.storage.mode = "ok"
    assert (await gateway.client.get("/ready")).status_code == 503  # still the cached answer
    gateway.app.state.probes["ready"].clear()
    reply = await gateway.client.get("/ready")
    assert reply.status_code == 200
    assert reply.json()["checks"] == {"bus": "ok", "database": "ok", "storage": "ok", "grpc.auth": "ok"}
