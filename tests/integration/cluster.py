"""The distributed mode as separate OS processes: ``earshot migrate`` once, then
``earshot serve gateway|transcription|analysis`` each in its own process, on real Kafka,
PostgreSQL and MinIO.

Each cluster is isolated from other clusters on the same servers: its own PostgreSQL
database, MinIO bucket and Kafka namespace (``EARSHOT_BUS_NAMESPACE`` prefixes topics and
consumer groups). Used by the cross-process tests and ``benchmarks/distributed.py``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url

from services.common import db
from services.common.storage import S3ObjectStorage, create_storage
from tests.integration.infra import Endpoints

WORKERS = ("transcription", "analysis")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Process:
    """One ``earshot serve`` process and where it logs."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]

    def log_tail(self, lines: int = 40) -> str:
        self.log_file.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Cluster:
    """A running distributed Earshot: base URL of the gateway and the processes."""

    servers: Endpoints
    root: Path
    namespace: str = field(default_factory=lambda: f"e2e-{uuid.uuid4().hex[:8]}")
    database: str = field(default_factory=lambda: f"earshot_e2e_{uuid.uuid4().hex[:8]}")
    bucket: str = field(default_factory=lambda: f"e2e-{uuid.uuid4().hex[:8]}")
    request_timeout_s: float = 120.0
    gateway_port: int = field(default_factory=free_port)
    metrics_ports: dict[str, int] = field(default_factory=lambda: {w: free_port() for w in WORKERS})
    grpc_ports: dict[str, int] = field(default_factory=lambda: {w: free_port() for w in WORKERS})
    processes: dict[str, Process] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    """More variables for every process (e.g. where to export traces, short job leases)."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    @property
    def database_url(self) -> str:
        url = make_url(self.servers.database_url).set(database=self.database)
        return url.render_as_string(hide_password=False)

    @property
    def storage_url(self) -> str:
        base, _, _bucket = self.servers.s3_url.rpartition("/")
        return f"{base}/{self.bucket}"

    def env(self, service: str) -> dict[str, str]:
        """The environment of one process: every setting by variable, as an operator sets it."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("EARSHOT_")}
        env.update(
            {
                "EARSHOT_BUS_URL": f"kafka://{self.servers.kafka}",
                "EARSHOT_BUS_NAMESPACE": self.namespace,
                "EARSHOT_BUS_PARTITIONS": "3",
                "EARSHOT_BUS_MAX_ATTEMPTS": "3",
                "EARSHOT_BUS_RETRY_BACKOFF_S": "0.1",
                "EARSHOT_DATABASE_URL": self.database_url,
                "EARSHOT_STORAGE_URL": self.storage_url,
                "EARSHOT_DATA_DIR": str(self.root / service),
                "EARSHOT_INSTANCE_ID": f"{service}-{uuid.uuid4().hex[:6]}",
                "EARSHOT_HOST": "127.0.0.1",
                "EARSHOT_PORT": str(self.gateway_port),
                "EARSHOT_REQUEST_TIMEOUT_S": str(self.request_timeout_s),
                "EARSHOT_LOG_LEVEL": "info",
                "EARSHOT_METRICS_HOST": "127.0.0.1",
                "EARSHOT_METRICS_PORT": str(self.metrics_ports.get(service, 0)),
                "EARSHOT_WHISPER_THREADS": "2",
                "EARSHOT_STARTUP_TIMEOUT_S": "180",
                **{f"EARSHOT_{w.upper()}_GRPC_PORT": str(p) for w, p in self.grpc_ports.items()},
                **{f"EARSHOT_{w.upper()}_GRPC_TARGET": f"127.0.0.1:{p}" for w, p in self.grpc_ports.items()},
                **self.extra_env,
            }
        )
        return env

    async def create_database(self) -> None:
        admin = db.create_engine(self.servers.database_url, isolation_level="AUTOCOMMIT")
        try:
            async with admin.connect() as conn:
                await conn.execute(text(f'CREATE DATABASE "{self.database}"'))
        finally:
            await admin.dispose()

    async def drop_database(self) -> None:
        admin = db.create_engine(self.servers.database_url, isolation_level="AUTOCOMMIT")
        try:
            async with admin.connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'))
        finally:
            await admin.dispose()

    def _earshot(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "services.cli", *args]

    async def migrate(self) -> float:
        """``earshot migrate`` as its own process; returns its wall time, seconds."""
        start = time.perf_counter()
        result = await asyncio.to_thread(
            subprocess.run,
            self._earshot("migrate"),
            env=self.env("migrate"),
            capture_output=True,
            timeout=180,
        )
        if result.returncode != 0:
            raise RuntimeError(f"earshot migrate failed:\n{result.stderr.decode(errors='replace')[-3000:]}")
        return time.perf_counter() - start

    def start(self, service: str) -> Process:
        """Start ``earshot serve SERVICE`` (returns at once; see :meth:`wait_ready`)."""
        (self.root / service).mkdir(parents=True, exist_ok=True)
        log_path = self.root / f"{service}.log"
        log_file = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        popen = subprocess.Popen(
            self._earshot("serve", service),
            env=self.env(service),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        proc = Process(service, popen, log_path, log_file)
        self.processes[service] = proc
        return proc

    def kill(self, service: str) -> None:
        """SIGKILL a process: no clean shutdown, no commit, no leaving the group."""
        proc = self.processes.pop(service)
        proc.popen.send_signal(signal.SIGKILL)
        proc.popen.wait(timeout=30)
        proc.log_file.close()

    async def stop(self, service: str, timeout_s: float = 30.0) -> int:
        """SIGTERM (graceful), SIGKILL after ``timeout_s``; returns the exit code."""
        proc = self.processes.pop(service)
        if proc.popen.poll() is None:
            proc.popen.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(proc.popen.wait, timeout_s)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                await asyncio.to_thread(proc.popen.wait, 10)
        proc.log_file.close()
        return int(proc.popen.returncode)

    async def wait_ready(self, service: str, timeout_s: float = 120.0) -> None:
        """Poll the gateway's ``/ready`` or a worker's metrics port until it answers 200.

        Raises:
            RuntimeError: the process exited, or did not answer in ``timeout_s`` (with its log).
        """
        proc = self.processes[service]
        url = (
            f"{self.url}/ready"
            if service == "gateway"
            else f"http://127.0.0.1:{self.metrics_ports[service]}/metrics"
        )
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(timeout=5) as client:
            while time.monotonic() < deadline:
                if proc.popen.poll() is not None:
                    raise RuntimeError(f"{service} exited with {proc.popen.returncode}:\n{proc.log_tail()}")
                try:
                    answer = await client.get(url)
                    if answer.status_code == 200 or self._ready_but_partial(service, answer):
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError(f"{service} not ready after {timeout_s:g} s:\n{proc.log_tail()}")

    def _ready_but_partial(self, service: str, answer: httpx.Response) -> bool:
        """The gateway's ``/ready`` is 503 only because gRPC services this cluster does not run
        (e.g. auth, anc) have no target: everything the test deploys is ready."""
        if service != "gateway" or answer.status_code != 503:
            return False
        try:
            checks = answer.json()["checks"]
        except (ValueError, KeyError, TypeError):
            return False
        failing = [name for name, state in checks.items() if state != "ok"]
        return all(
            name.startswith("grpc.") and name.removeprefix("grpc.") not in self.processes for name in failing
        )

    async def up(self) -> None:
        """Database, migrations, then the workers and the gateway; returns when all are ready."""
        await self.create_database()
        await self.migrate()
        for service in (*WORKERS, "gateway"):
            self.start(service)
        await asyncio.gather(*(self.wait_ready(s) for s in (*WORKERS, "gateway")))

    async def down(self) -> None:
        """Stop every process gracefully, drop the database."""
        for service in list(self.processes):
            await self.stop(service)
        await self.drop_database()


@asynccontextmanager
async def running(
    c: Cluster, services: Iterable[str], *, empty_bucket: bool = True
) -> AsyncIterator[Cluster]:
    """Bring ``c`` up for a test module: its database created and migrated, ``services`` and the
    gateway started and ready; at exit every process stopped and the cluster's bucket removed
    (emptied first when ``empty_bucket``; otherwise kept when a test left objects in it, so
    what was left can be looked at)."""
    names = (*services, "gateway")
    try:
        await c.create_database()
        await c.migrate()
        for service in names:
            c.start(service)
        await asyncio.gather(*(c.wait_ready(s) for s in names))
        yield c
    finally:
        await c.down()
        store = create_storage(c.storage_url, public_base_url="http://unused", signing_key=b"")
        assert isinstance(store, S3ObjectStorage)
        objects = await store.list()
        if empty_bucket:
            for info in objects:
                await store.delete(info.key)
        if empty_bucket or not objects:
            await asyncio.to_thread(store._client.remove_bucket, c.bucket)
        await store.close()
