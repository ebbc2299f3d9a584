"""Start-up against unreachable dependencies: retried with backoff for
EARSHOT_STARTUP_TIMEOUT_S, then one line naming the dependency, the address and the setting
(exit 1; a traceback only at debug level). The CLI runs as a subprocess against loopback
ports nothing listens on."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from services.common.startup import Dependency, DependencyUnavailable, address_of, wait_for

ROOT = Path(__file__).resolve().parents[2]


def _closed_port() -> int:
    """A loopback port that was free a moment ago (nothing listens on it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _earshot(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith("EARSHOT_") and k not in ("HOSTNAME", "PORT")
    }
    environ.update(
        PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'proto'}",
        EARSHOT_DATA_DIR=str(tmp_path / "data"),
        EARSHOT_STARTUP_TIMEOUT_S="1",
        EARSHOT_METRICS_PORT="0",
        EARSHOT_PORT=str(_closed_port()),
        **env,
    )
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _last_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("earshot: ")]
    assert len(lines) == 1, result.stderr[-3000:]
    return lines[0]


def test_kafka_unreachable_is_one_line(tmp_path: Path) -> None:
    port = _closed_port()
    result = _earshot(tmp_path, "serve", "transcription", EARSHOT_BUS_URL=f"kafka://127.0.0.1:{port}")
    assert result.returncode == 1
    line = _last_line(result)
    assert f"cannot reach Kafka at 127.0.0.1:{port}" in line and "EARSHOT_BUS_URL" in line
    assert "Traceback" not in result.stderr
    # only our retry lines and the last one: no aiokafka error per refused connection, no
    # producer left unclosed by a failed start
    output = (result.stdout + result.stderr).splitlines()
    assert all('"startup.waiting"' in ln or ln == line for ln in output), output


def test_database_unreachable_at_migrate_is_one_line(tmp_path: Path) -> None:
    port = _closed_port()
    url = f"postgresql+asyncpg://earshot:hunter2@127.0.0.1:{port}/earshot"
    result = _earshot(tmp_path, "migrate", EARSHOT_DATABASE_URL=url)
    assert result.returncode == 1
    line = _last_line(result)
    assert f"cannot reach PostgreSQL at 127.0.0.1:{port}/earshot" in line and "EARSHOT_DATABASE_URL" in line
    assert "hunter2" not in result.stderr
    assert "Traceback" not in result.stderr
    assert "migrations applied" not in result.stdout


def test_database_unreachable_at_gateway_start(tmp_path: Path) -> None:
    port = _closed_port()
    url = f"postgresql+asyncpg://earshot:hunter2@127.0.0.1:{port}/earshot"
    result = _earshot(tmp_path, "serve", "auth", EARSHOT_DATABASE_URL=url)
    assert result.returncode == 1
    assert "EARSHOT_DATABASE_URL" in _last_line(result)


def test_object_storage_unreachable_is_one_line(tmp_path: Path) -> None:
    port = _closed_port()
    url = f"s3+http://earshot:hunter2hunter2@127.0.0.1:{port}/earshot"
    result = _earshot(tmp_path, "serve", "transcription", EARSHOT_STORAGE_URL=url)
    assert result.returncode == 1
    line = _last_line(result)
    assert (
        f"cannot reach object storage at 127.0.0.1:{port}/earshot" in line and "EARSHOT_STORAGE_URL" in line
    )
    assert "hunter2" not in line


def test_grpc_target_unreachable_is_one_line(tmp_path: Path) -> None:
    port = _closed_port()
    result = _earshot(tmp_path, "serve", "gateway", EARSHOT_AUTH_GRPC_TARGET=f"127.0.0.1:{port}")
    assert result.returncode == 1
    line = _last_line(result)
    assert f"cannot reach gRPC auth at 127.0.0.1:{port}" in line and "EARSHOT_AUTH_GRPC_TARGET" in line


def test_debug_level_adds_the_traceback(tmp_path: Path) -> None:
    port = _closed_port()
    url = f"postgresql+asyncpg://earshot:pw@127.0.0.1:{port}/earshot"
    result = _earshot(tmp_path, "migrate", EARSHOT_DATABASE_URL=url, EARSHOT_LOG_LEVEL="debug")
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert "EARSHOT_DATABASE_URL" in _last_line(result)


async def test_wait_for_retries_until_success() -> None:
    calls: list[int] = []

    async def attempt() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionRefusedError("not yet")
        return "up"

    dep = Dependency("Kafka", "127.0.0.1:9092", "EARSHOT_BUS_URL")
    assert await wait_for(dep, attempt, timeout_s=10, base_s=0.01, max_s=0.02) == "up"
    assert len(calls) == 3


async def test_wait_for_gives_up_with_one_line() -> None:
    async def attempt() -> None:
        raise ConnectionRefusedError("refused\nsecond line")

    dep = Dependency("PostgreSQL", "db:5432/earshot", "EARSHOT_DATABASE_URL")
    with pytest.raises(DependencyUnavailable) as info:
        await wait_for(dep, attempt, timeout_s=0.05, base_s=0.01, max_s=0.02)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("cannot reach PostgreSQL at db:5432/earshot after")
    assert "ConnectionRefusedError: refused second line" in message
    assert "check EARSHOT_DATABASE_URL" in message
    assert info.value.attempts >= 2


def test_address_of_drops_credentials() -> None:
    assert address_of("postgresql+asyncpg://u:pw@db:5432/earshot") == "db:5432/earshot"
    assert address_of("s3+http://KEY:SECRET@minio:9000/bucket") == "minio:9000/bucket"
    assert address_of("kafka://k1:9092,k2:9092") == "k1:9092,k2:9092"
    assert address_of("sqlite+aiosqlite:////tmp/e.db") == "/tmp/e.db"
