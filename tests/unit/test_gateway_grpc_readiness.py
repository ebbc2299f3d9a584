"""The gateway's /ready checks each gRPC service it calls (grpc.health.v1, short deadline)
and names the one that is down or has no target."""

from __future__ import annotations

import socket
from types import SimpleNamespace
from typing import Any

from services.common import rpc
from services.gateway.clients import Clients


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _runtime(targets: dict[str, str]) -> Any:
    def grpc_target(service: str) -> str:
        if service not in targets:
            raise LookupError(f"no gRPC target for {service}: set EARSHOT_{service.upper()}_GRPC_TARGET")
        return targets[service]

    return SimpleNamespace(grpc_target=grpc_target, settings=SimpleNamespace(grpc_deadline_s=5.0))


async def _run(clients: Clients) -> dict[str, str]:
    results: dict[str, str] = {}
    for name, check in clients.readiness_checks(0.5).items():
        try:
            await check()
            results[name] = "ok"
        except Exception as exc:
            results[name] = f"{type(exc).__name__}: {exc}"
    return results


async def test_each_grpc_service_is_checked_and_named() -> None:
    server = await rpc.start_server("127.0.0.1", 0, [], [])
    up = f"127.0.0.1:{server.port}"
    down = f"127.0.0.1:{_closed_port()}"
    clients = Clients.open(_runtime({"auth": up, "transcription": down, "anc": up}), auth_timeout_s=1)
    try:
        results = await _run(clients)
    finally:
        await clients.close()
        await server.stop()
    assert results["grpc.auth"] == "ok"
    assert results["grpc.anc"] == "ok"
    assert results["grpc.transcription"].startswith("AioRpcError")
    assert "EARSHOT_ANALYSIS_GRPC_TARGET" in results["grpc.analysis"]


async def test_not_serving_is_not_ready() -> None:
    from grpc_health.v1 import health_pb2

    server = await rpc.start_server("127.0.0.1", 0, [], [])
    await server.health.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    target = f"127.0.0.1:{server.port}"
    clients = Clients.open(
        _runtime({s: target for s in ("auth", "transcription", "analysis", "anc")}), auth_timeout_s=1
    )
    try:
        results = await _run(clients)
    finally:
        await clients.close()
        await server.stop()
    assert results["grpc.auth"] == "ConnectionError: health status NOT_SERVING"
    assert results["grpc.analysis"] == "ConnectionError: health status NOT_SERVING"
