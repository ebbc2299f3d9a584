"""Storage and database made read-only for real under a running `earshot up` (issue 15 part 3).

As root, ``chmod`` stops nobody, so the faults are the ones an operator or a failing disk
produces: ``chattr +i`` on the SQLite file and its folder (SQLite can neither write the file
nor create its journal), and a read-only bind mount over the objects folder. The platform runs
in its own process (the reported crash killed it with ``SIGBUS``): it must stay alive, answer
503 naming the dependency on one keep-alive connection (never a reset), report it in
``/ready``, store nothing half way, and work again once the fault is gone, without a restart.

Skipped, with the reason, when not root or when the file system refuses ``chattr`` / bind
mounts; the unit tier (tests/unit/test_faults.py, tests/unit/gateway/test_fault_routes.py)
covers the same behaviour with failing fakes everywhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from services.common import db
from tests import fault_requests as fr
from tests.conftest import ANY_FREE_GRPC_PORT, FIXTURES, free_port

EARSHOT = str(Path(sys.executable).parent / "earshot")
READY_WAIT_S = 120.0
PROBE_WAIT_S = 5.0  # /ready's answer is reused for a second: wait a few for the new one


def _root_only() -> str | None:
    if os.geteuid() != 0:
        return (
            "needs root: chattr +i and read-only bind mounts (chmod does not stop root, "
            "and a non-root user cannot make these faults)"
        )
    if shutil.which("chattr") is None or shutil.which("mount") is None:
        return "needs chattr and mount (e2fsprogs, util-linux)"
    return None


pytestmark = pytest.mark.skipif(_root_only() is not None, reason=_root_only() or "")


def _chattr(flag: str, *paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["chattr", flag, *map(str, paths)], capture_output=True, text=True)


def _immutable_supported(folder: Path) -> str | None:
    probe = folder / "chattr-probe"
    probe.write_text("x")
    try:
        done = _chattr("+i", probe)
        if done.returncode != 0:
            return f"chattr +i is not supported here: {done.stderr.strip()}"
        return None
    finally:
        _chattr("-i", probe)
        probe.unlink(missing_ok=True)


@dataclass
class Up:
    """A running ``earshot up`` and its data folder."""

    proc: subprocess.Popen[str]
    url: str
    data_dir: Path

    def alive(self) -> bool:
        return self.proc.poll() is None


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    data_dir = tmp_path_factory.mktemp("faults-data")
    reason = _immutable_supported(data_dir)
    if reason:
        pytest.skip(reason)
    port = free_port()
    env = {
        **os.environ,
        "EARSHOT_DATA_DIR": str(data_dir),
        "EARSHOT_LOG_LEVEL": "warning",
        "EARSHOT_AUTH_ADDRESS_MAX_SIGNUPS": "0",
        **{f"EARSHOT_{name.upper()}": "0" for name in ANY_FREE_GRPC_PORT},
    }
    log = (data_dir.parent / "earshot-up.log").open("w")
    proc = subprocess.Popen(
        [EARSHOT, "up", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT, text=True
    )
    running = Up(proc, f"http://127.0.0.1:{port}", data_dir)
    try:
        deadline = time.monotonic() + READY_WAIT_S
        while True:
            assert running.alive(), f"earshot up exited with {proc.returncode}"
            try:
                if httpx.get(f"{running.url}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "earshot up did not become ready"
            time.sleep(0.3)
        yield running
    finally:
        _chattr("-i", *data_dir.glob("earshot.db*"), data_dir)
        subprocess.run(["umount", str(data_dir / "objects")], capture_output=True)
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    assert proc.returncode == 0, (data_dir.parent / "earshot-up.log").read_text()[-3000:]


def _photo(client: httpx.Client, token: str) -> httpx.Response:
    return client.post(
        "/upload-photo",
        files={"photo": ("coffee.png", (FIXTURES / "coffee.png").read_bytes(), "image/png")},
        headers={"Authorization": f"Bearer {token}"},
    )


def _objects(data_dir: Path, prefix: str) -> list[Path]:
    folder = data_dir / "objects" / prefix
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_database_made_read_only_is_503_then_recovers(up: Up) -> None:
    with httpx.Client(base_url=up.url, timeout=60) as client:
        first = fr.sign_up(client)
        assert first.status_code == 201, first.text
        token = first.json()["access_token"]
        assert fr.process(client, token).status_code == 200
        anc_objects = _objects(up.data_dir, "anc")
        photo_objects = _objects(up.data_dir, "photos")

        # the reported crash: the SQLite file made read-only, then the next requests
        frozen = [*sorted(up.data_dir.glob("earshot.db*")), up.data_dir]
        done = _chattr("+i", *frozen)
        assert done.returncode == 0, done.stderr
        try:
            for _ in range(2):
                fr.assert_503(fr.sign_up(client), "database")  # the auth service's write
                fr.assert_503(fr.template(client, token), "database")  # the gateway's own write
                fr.assert_503(fr.process(client, token), "database")  # object stored, then removed
                fr.assert_503(_photo(client, token), "database")
            assert client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
            assert client.get("/health").status_code == 200
            ready = fr.ready(client, ok=False, dependency="database", wait_s=PROBE_WAIT_S)
            assert ready["checks"]["storage"] == "ok", ready
            assert up.alive(), "the platform died on a read-only database"
            assert _objects(up.data_dir, "anc") == anc_objects  # nothing stored half way
            assert _objects(up.data_dir, "photos") == photo_objects
        finally:
            _chattr("-i", *frozen)

        # no restart: connections opened meanwhile are replaced within their TTL
        time.sleep(getattr(db, "READ_ONLY_CONNECTION_TTL_S", 1.0) * 1.5)
        assert fr.sign_up(client).status_code == 201
        assert fr.template(client, token).status_code == 201
        assert fr.process(client, token).status_code == 200
        fr.ready(client, ok=True, dependency="database", wait_s=PROBE_WAIT_S)
        assert fr.connections(client) == 1  # every answer kept the keep-alive connection
    assert up.alive()


def test_storage_made_read_only_is_503_then_recovers(up: Up) -> None:
    objects = up.data_dir / "objects"
    objects.mkdir(exist_ok=True)
    bound = subprocess.run(["mount", "--bind", str(objects), str(objects)], capture_output=True, text=True)
    if bound.returncode != 0:
        pytest.skip(f"bind mounts are not permitted here: {bound.stderr.strip()}")
    with httpx.Client(base_url=up.url, timeout=60) as client:
        first = fr.sign_up(client)
        assert first.status_code == 201, first.text
        token = first.json()["access_token"]
        try:
            remount = subprocess.run(
                ["mount", "-o", "remount,bind,ro", str(objects)], capture_output=True, text=True
            )
            assert remount.returncode == 0, remount.stderr
            sessions = client.get("/api/audio/sessions", headers={"Authorization": f"Bearer {token}"})
            for _ in range(2):
                fr.assert_503(fr.process(client, token), "storage")
                fr.assert_503(_photo(client, token), "storage")
            assert fr.template(client, token).status_code == 201  # the database still works
            assert client.get("/health").status_code == 200
            ready = fr.ready(client, ok=False, dependency="storage", wait_s=PROBE_WAIT_S)
            assert ready["checks"]["database"] == "ok", ready
            assert up.alive()
            after = client.get("/api/audio/sessions", headers={"Authorization": f"Bearer {token}"})
            assert after.json() == sessions.json()  # no session row without its output
            photos = client.get("/photos", headers={"Authorization": f"Bearer {token}"}).json()
            assert photos["total"] == 0
        finally:
            subprocess.run(["umount", str(objects)], capture_output=True)
        fr.ready(client, ok=True, dependency="storage", wait_s=PROBE_WAIT_S)
        assert fr.process(client, token).status_code == 200
        assert fr.connections(client) == 1
    assert up.alive()
