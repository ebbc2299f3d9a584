"""MinIO stopped, PostgreSQL read-only and stopped, under a running platform (issue 15 part 3).

The servers are PRIVATE: a PostgreSQL and a MinIO started for this module on free ports in a
folder of their own (``deploy/local/*.sh`` with ``EARSHOT_INFRA_DIR`` and the port variables
overridden), never the shared servers on the fixed ports, which other tests are using. The
platform (``earshot up`` with ``EARSHOT_DATABASE_URL`` / ``EARSHOT_STORAGE_URL`` pointing at them)
must answer 503 naming the dependency on one keep-alive connection, report it in ``/ready``,
store nothing half way, and work again when the server is back, without a restart.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from services.common import db
from services.common.storage import create_storage
from tests import fault_requests as fr
from tests.conftest import ANY_FREE_GRPC_PORT, free_port

ROOT = Path(__file__).resolve().parents[2]
LOCAL = ROOT / "deploy" / "local"
EARSHOT = str(Path(sys.executable).parent / "earshot")
SHARED_PORTS = {"15432", "19000", "19001", "19092"}
PROBE_WAIT_S = 10.0


def _missing() -> str | None:
    if shutil.which("runuser") is None or os.geteuid() != 0:
        return "needs root (PostgreSQL runs as the postgres user, started with runuser)"
    if not list(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")):
        return "PostgreSQL is not installed (deploy/local/postgres.sh installs it)"
    cache = Path(os.environ.get("EARSHOT_CACHE", Path.home() / ".cache" / "earshot")) / "bin"
    if not list(cache.glob("minio-*")):
        return "MinIO is not built (deploy/local/minio.sh build)"
    return None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=_missing() or "")


@dataclass
class Private:
    """Private servers and the platform using them."""

    folder: Path
    env: dict[str, str]
    database_url: str
    storage_url: str
    url: str = ""
    proc: subprocess.Popen[str] | None = None

    # --- PostgreSQL ---------------------------------------------------------------------
    @property
    def pg_data(self) -> Path:
        return self.folder / "postgres" / "data"

    def pg(self, *args: str) -> None:
        pg_ctl = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))[-1]
        done = subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(pg_ctl),
                "-D",
                str(self.pg_data),
                "-w",
                "-t",
                "60",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr

    def sql(self, statement: str) -> None:
        psql = sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"))[-1]
        done = subprocess.run(
            ["runuser", "-u", "postgres", "--", str(psql), "-q", "-h", str(self.folder / "postgres"),
             "-p", self.env["EARSHOT_PG_PORT"], "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1",
             "-c", statement],
            capture_output=True,
            text=True,
            timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr

    # --- MinIO --------------------------------------------------------------------------
    def minio_up(self) -> None:
        _script("minio.sh", "up", env=self.env)

    def minio_down(self) -> None:
        pid = int((self.folder / "minio" / "minio.pid").read_text())
        os.kill(pid, 15)
        deadline = time.monotonic() + 30
        while _alive(pid):
            assert time.monotonic() < deadline, "MinIO did not stop"
            time.sleep(0.1)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def _pg_ctl() -> str:
    return str(sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))[-1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


def _script(name: str, *args: str, env: dict[str, str]) -> str:
    done = subprocess.run([str(LOCAL / name), *args], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


@pytest.fixture(scope="module")
def private() -> Iterator[Private]:
    folder = Path(tempfile.mkdtemp(prefix="earshot-faults-"))
    folder.chmod(0o755)  # the postgres user reaches its data folder through it
    ports = {
        "EARSHOT_PG_PORT": str(free_port()),
        "EARSHOT_MINIO_PORT": str(free_port()),
        "EARSHOT_MINIO_CONSOLE_PORT": str(free_port()),
    }
    assert not SHARED_PORTS & set(ports.values())
    env = {**os.environ, "EARSHOT_INFRA_DIR": str(folder), **ports}
    servers: Private | None = None
    try:
        _script("postgres.sh", "up", env=env)
        _script("minio.sh", "up", env=env)
        password = (folder / "postgres" / "earshot.password").read_text().strip()
        database_url = f"postgresql+asyncpg://earshot:{password}@127.0.0.1:{ports['EARSHOT_PG_PORT']}/earshot"
        storage_url = _script("minio.sh", "url", env=env)
        assert f":{ports['EARSHOT_MINIO_PORT']}/" in storage_url, storage_url  # ours, not the shared one
        servers = Private(folder, env, database_url, storage_url)
        yield servers
    finally:
        if servers is not None and (servers.folder / "minio" / "minio.pid").exists():
            try:
                servers.minio_down()
            except (AssertionError, ProcessLookupError, ValueError):
                pass
        if (folder / "postgres" / "data" / "postmaster.pid").exists():
            subprocess.run(
                ["runuser", "-u", "postgres", "--", _pg_ctl(), "-D", str(folder / "postgres" / "data"),
                 "-m", "fast", "-w", "stop"],
                capture_output=True,
                timeout=120,
            )  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def up(private: Private) -> Iterator[Private]:
    port = free_port()
    data_dir = private.folder / "earshot"
    env = {
        **os.environ,
        "EARSHOT_DATA_DIR": str(data_dir),
        "EARSHOT_DATABASE_URL": private.database_url,
        "EARSHOT_STORAGE_URL": private.storage_url,
        "EARSHOT_BUS_URL": "memory://",
        "EARSHOT_LOG_LEVEL": "warning",
        "EARSHOT_AUTH_ADDRESS_MAX_SIGNUPS": "0",
        **{f"EARSHOT_{name.upper()}": "0" for name in ANY_FREE_GRPC_PORT},
    }
    log = (private.folder / "earshot-up.log").open("w")
    private.proc = subprocess.Popen(
        [EARSHOT, "up", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT, text=True
    )
    private.url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert private.alive(), (private.folder / "earshot-up.log").read_text()[-3000:]
            try:
                if httpx.get(f"{private.url}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "earshot up did not become ready"
            time.sleep(0.3)
        yield private
    finally:
        private.proc.terminate()
        try:
            private.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            private.proc.kill()
            private.proc.wait()
        log.close()


# --- requests -----------------------------------------------------------------------------


def _anc_objects(storage_url: str) -> list[str]:
    async def listing() -> list[str]:
        storage = create_storage(storage_url, public_base_url="http://127.0.0.1", signing_key=b"k")
        try:
            return [info.key for info in await storage.list("anc/")]
        finally:
            await storage.close()

    return asyncio.run(listing())


# --- tests --------------------------------------------------------------------------------


def test_minio_stopped_is_503_then_recovers(up: Private) -> None:
    with httpx.Client(base_url=up.url, timeout=60) as client:
        signed = fr.sign_up(client)
        assert signed.status_code == 201, signed.text
        token = signed.json()["access_token"]
        assert fr.process(client, token).status_code == 200
        sessions = client.get("/api/audio/sessions", headers={"Authorization": f"Bearer {token}"}).json()
        up.minio_down()
        try:
            for _ in range(2):
                fr.assert_503(fr.process(client, token), "storage")
            assert fr.template(client, token).status_code == 201  # PostgreSQL still takes writes
            ready = fr.ready(client, ok=False, dependency="storage", wait_s=PROBE_WAIT_S)
            assert ready["checks"]["database"] == "ok", ready
            assert client.get("/health").status_code == 200
            after = client.get("/api/audio/sessions", headers={"Authorization": f"Bearer {token}"}).json()
            assert after == sessions  # no session row without its output
            assert up.alive()
        finally:
            up.minio_up()
        fr.ready(client, ok=True, dependency="storage", wait_s=PROBE_WAIT_S)
        assert fr.process(client, token).status_code == 200
        assert fr.connections(client) == 1
    assert up.alive()


def test_postgres_read_only_then_stopped_is_503_then_recovers(up: Private) -> None:
    with httpx.Client(base_url=up.url, timeout=60) as client:
        signed = fr.sign_up(client)
        assert signed.status_code == 201, signed.text
        token = signed.json()["access_token"]
        objects = _anc_objects(up.storage_url)

        # read-only: every session, pooled ones included, after a configuration reload
        up.sql("ALTER SYSTEM SET default_transaction_read_only = on")
        up.sql("SELECT pg_reload_conf()")
        try:
            for _ in range(2):
                fr.assert_503(fr.sign_up(client), "database")  # the auth service
                fr.assert_503(fr.template(client, token), "database")  # the gateway
                fr.assert_503(fr.process(client, token), "database")  # object stored, then removed
            fr.ready(client, ok=False, dependency="database", wait_s=PROBE_WAIT_S)
            assert _anc_objects(up.storage_url) == objects  # nothing stored half way
            assert up.alive()
        finally:
            up.sql("ALTER SYSTEM RESET default_transaction_read_only")
            up.sql("SELECT pg_reload_conf()")
        time.sleep(db.READ_ONLY_CONNECTION_TTL_S * 1.5)  # sessions started read-only are replaced
        assert fr.sign_up(client).status_code == 201
        assert fr.template(client, token).status_code == 201
        fr.ready(client, ok=True, dependency="database", wait_s=PROBE_WAIT_S)

        # stopped: connections refused, pooled ones broken
        up.pg("-m", "fast", "stop")
        try:
            for _ in range(2):
                fr.assert_503(fr.sign_up(client), "database")
                fr.assert_503(fr.template(client, token), "database")
            fr.ready(client, ok=False, dependency="database", wait_s=PROBE_WAIT_S)
            assert client.get("/health").status_code == 200
            assert up.alive()
        finally:
            up.pg("-l", str(up.folder / "postgres" / "postgres.log"), "start")
        fr.ready(client, ok=True, dependency="database", wait_s=PROBE_WAIT_S)
        assert fr.sign_up(client).status_code == 201
        assert fr.template(client, token).status_code == 201
        assert fr.process(client, token).status_code == 200
        assert fr.connections(client) == 1
    assert up.alive()
