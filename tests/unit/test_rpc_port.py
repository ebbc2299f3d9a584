"""A gRPC server never shares a port: a second instance fails to start, naming the port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.common.rpc import PortInUse, start_server

ROOT = Path(__file__).resolve().parents[2]


async def test_second_server_on_a_taken_port_fails_with_the_port_named() -> None:
    first = await start_server("127.0.0.1", 0, [], ["earshot.test.v1.First"])
    try:
        with pytest.raises(PortInUse) as info:
            await start_server("127.0.0.1", first.port, [], ["earshot.test.v1.Second"])
        assert f"127.0.0.1:{first.port}" in str(info.value) and "in use" in str(info.value)
        # the first server still answers alone
        async with grpc.aio.insecure_channel(f"127.0.0.1:{first.port}") as channel:
            reply = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="earshot.test.v1.First"), timeout=5
            )
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        await first.stop(0)


async def test_a_port_held_by_another_socket_is_refused() -> None:
    with socket.socket() as held:
        held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        with pytest.raises(PortInUse) as info:
            await start_server("127.0.0.1", port, [], [])
        assert str(port) in str(info.value)


def test_earshot_serve_stops_with_one_message_when_its_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp_path),
            "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
            "EARSHOT_DATA_DIR": str(tmp_path),
            "EARSHOT_ANALYSIS_GRPC_PORT": str(port),
            "EARSHOT_LOG_LEVEL": "error",
        }
        out = subprocess.run(
            [sys.executable, "-m", "services.cli", "serve", "analysis"],
            capture_output=True,
            text=True,
            timeout=180,
            cwd=ROOT,
            env=env,
        )
    assert out.returncode == 1, out.stderr[-2000:]
    assert f"earshot: cannot start the gRPC server on 127.0.0.1:{port}: the port is in use" in out.stderr
    assert "Traceback" not in out.stderr


async def test_a_platform_that_fails_to_start_stops_what_it_started(tmp_path: Path) -> None:
    from services.common.settings import load_settings
    from services.platform import Platform

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        settings = load_settings(
            data_dir=tmp_path,
            bus_url="memory://",
            database_url=None,
            storage_url=None,
            analysis_grpc_port=0,
            log_level="warning",
        )

        class Blocked:
            """A second service whose gRPC port another socket holds."""

            name = "blocked"

            async def start(self, runtime: object) -> None:
                await start_server("127.0.0.1", port, [], [])

            async def stop(self) -> None:
                raise AssertionError("a service that did not start is not stopped")

        platform = Platform(settings, ("analysis",), run_migrations=False)
        platform.services["blocked"] = Blocked()  # type: ignore[assignment]
        analysis = platform.services["analysis"]
        with pytest.raises(PortInUse, match=str(port)):
            await platform.start()
    assert platform.runtime is None and list(platform.services) == ["analysis"]
    bound = analysis._grpc.port  # type: ignore[attr-defined]
    with pytest.raises(grpc.aio.AioRpcError):  # the analysis server that did start is gone
        async with grpc.aio.insecure_channel(f"127.0.0.1:{bound}") as channel:
            await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
