"""Platform routes through the ASGI app: liveness with the products' sections, readiness,
the service description."""

from __future__ import annotations

from tests.unit.gateway.conftest import UnitGateway


async def test_health_merges_every_product_section(gw: UnitGateway) -> None:
    body = (await gw.client.get("/health")).json()
    assert body["status"] == "healthy" and body["timestamp"].endswith("Z")
    assert body["photos"]["queue_depth"] >= 0  # the photo product's health section


async def test_ready_checks_bus_database_storage_and_each_grpc_service(gw: UnitGateway) -> None:
    reply = await gw.client.get("/ready")
    checks = reply.json()["checks"]
    assert {k: checks[k] for k in ("bus", "database", "storage")} == {
        "bus": "ok",
        "database": "ok",
        "storage": "ok",
    }
    assert (
        checks["grpc.auth"] == checks["grpc.transcription"] == checks["grpc.anc"] == "ok"
    )  # the fakes serve
    # nothing serves analysis in the unit tier: not ready, and the answer says which and why
    assert reply.status_code == 503
    assert (
        checks["grpc.analysis"].startswith("error: LookupError")
        and "EARSHOT_ANALYSIS_GRPC_TARGET" in checks["grpc.analysis"]
    )


async def test_root_describes_the_service(gw: UnitGateway) -> None:
    body = (await gw.client.get("/")).json()
    assert body["service"] == "Earshot" and body["docs"] == "/docs" and body["version"]


async def test_unknown_route_answers_the_error_shape(gw: UnitGateway) -> None:
    reply = await gw.client.get("/no/such/route")
    assert reply.status_code == 404
    assert set(reply.json()) == {"error", "details", "timestamp"}
