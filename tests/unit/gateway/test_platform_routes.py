"""Platform routes through the ASGI app: liveness with the products' sections, readiness,
the service description."""

from __future__ import annotations

from tests.unit.gateway.conftest import UnitGateway


async def test_health_merges_every_product_section(gw: UnitGateway) -> None:
    body = (await gw.client.get("/health")).json()
    assert body["status"] == "healthy" and body["timestamp"].endswith("Z")
    assert body["photos"]["queue_depth"] >= 0  # the photo product's health section


async def test_ready_checks_bus_database_and_storage(gw: UnitGateway) -> None:
    reply = await gw.client.get("/ready")
    assert reply.status_code == 200, reply.text
    assert reply.json()["checks"] == {"bus": "ok", "database": "ok", "storage": "ok"}


async def test_root_describes_the_service(gw: UnitGateway) -> None:
    body = (await gw.client.get("/")).json()
    assert body["service"] == "Earshot" and body["docs"] == "/docs" and body["version"]


async def test_unknown_route_answers_the_error_shape(gw: UnitGateway) -> None:
    reply = await gw.client.get("/no/such/route")
    assert reply.status_code == 404
    assert set(reply.json()) == {"error", "details", "timestamp"}
