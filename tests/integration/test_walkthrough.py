"""The distributed walkthrough of docs/operations.md works as written.

The commands are read from the page (the bash blocks between ``<!-- walkthrough:start -->``
/ ``<!-- walkthrough-try:start -->`` markers), not copied here, and run by bash in a
folder laid out like a fresh clone after ``make install``: ``.venv`` (this interpreter's
environment), ``tests/fixtures``, and ``.earshot/infra/env`` as ``make infra-up`` writes
it, for this test's own database and bucket. Only the ports are changed (free ones instead
of 8000, 5005x, 946x, so that concurrent runs do not collide); the topics get a private
namespace through the environment. The try block answers 2xx for each product's main route.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.common.storage import S3ObjectStorage, create_storage
from tests.integration import infra
from tests.integration.cluster import Cluster, free_port

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "operations.md"

pytestmark = pytest.mark.timeout(900)


def doc_block(marker: str) -> str:
    """The bash block between ``<!-- marker:start -->`` and ``<!-- marker:end -->``."""
    text = DOC.read_text()
    match = re.search(rf"<!-- {marker}:start -->\s*```bash\n(.*?)```\s*<!-- {marker}:end -->", text, re.S)
    assert match, f"docs/operations.md has no {marker} block"
    return match.group(1)


def test_the_walkthrough_sets_every_grpc_target_and_uses_the_venv() -> None:
    block = doc_block("walkthrough")
    for service in ("AUTH", "TRANSCRIPTION", "ANALYSIS", "ANC"):
        assert f"EARSHOT_{service}_GRPC_TARGET=" in block
    commands = [line.split("#")[0] for line in block.splitlines()]
    assert not [c for c in commands if re.search(r"(^|[\s;&|])earshot\s", c)], "bare earshot is not on PATH"
    assert all(
        f"serve {s}" in block for s in ("gateway", "auth", "transcription", "analysis", "anc", "media")
    )
    readme = (ROOT / "README.md").read_text()
    assert ".venv/bin/earshot serve gateway" in readme and "EARSHOT_ANC_GRPC_TARGET" in readme


@pytest.fixture(scope="module")
async def clone(servers: infra.Endpoints, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    """A folder like a fresh clone after ``make install`` and ``make infra-up``; its own
    database and bucket (removed after)."""
    root = tmp_path_factory.mktemp("walkthrough")
    c = Cluster(servers, root)
    await c.create_database()
    (root / ".venv").symlink_to(Path(sys.executable).parent.parent)
    (root / "tests").mkdir()
    (root / "tests" / "fixtures").symlink_to(ROOT / "tests" / "fixtures")
    (root / ".earshot" / "infra").mkdir(parents=True)
    (root / ".earshot" / "infra" / "env").write_text(
        f"export EARSHOT_TEST_KAFKA={shlex.quote(servers.kafka)}\n"
        f"export EARSHOT_TEST_DATABASE_URL={shlex.quote(c.database_url)}\n"
        f"export EARSHOT_TEST_S3={shlex.quote(c.storage_url)}\n"
    )
    try:
        yield c
    finally:
        await c.drop_database()
        store = create_storage(c.storage_url, public_base_url="http://unused", signing_key=b"")
        assert isinstance(store, S3ObjectStorage)
        for obj in await store.list():
            await store.delete(obj.key)
        await asyncio.to_thread(store._client.remove_bucket, c.bucket)
        await store.close()


async def test_the_documented_commands_start_the_platform_and_the_routes_answer(clone: Cluster) -> None:
    ports = {"8000": free_port(), **{str(p): free_port() for p in (50051, 50052, 50053, 50055)}}
    ports.update({str(p): free_port() for p in range(9465, 9470)})
    script = "set -euo pipefail\n" + doc_block("walkthrough") + "\n" + doc_block("walkthrough-try")
    script = re.sub(
        r"\b(8000|5005[1-5]|946[5-9])\b", lambda m: str(ports.get(m.group(1), m.group(1))), script
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("EARSHOT_") and k not in ("PORT", "HOST")}
    env.update(
        PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'proto'}",
        EARSHOT_BUS_NAMESPACE=clone.namespace,  # private topics and groups for this run
        EARSHOT_BUS_PARTITIONS="2",
        EARSHOT_STARTUP_TIMEOUT_S="240",
        EARSHOT_LOG_LEVEL="warning",
        EARSHOT_WHISPER_THREADS="2",
        EARSHOT_PORT=str(ports["8000"]),  # the page relies on the defaults for these
        **{
            f"EARSHOT_{s.upper()}_GRPC_PORT": str(ports[p])
            for s, p in (
                ("auth", "50051"),
                ("transcription", "50052"),
                ("analysis", "50053"),
                ("anc", "50055"),
            )
        },
    )
    out_path, err_path = clone.root / "walkthrough.out", clone.root / "walkthrough.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = await asyncio.create_subprocess_exec(
            "bash",
            "-c",
            script,
            cwd=clone.root,
            env=env,
            stdout=out,
            stderr=err,
            start_new_session=True,  # the services it starts in the background share its group
        )
        try:
            await asyncio.wait_for(proc.wait(), 600)
        except TimeoutError:
            pass
        finally:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    break
                await asyncio.sleep(3)
    stdout = out_path.read_text(errors="replace")
    stderr = err_path.read_text(errors="replace")
    assert proc.returncode == 0, f"stdout:\n{stdout[-3000:]}\nstderr:\n{stderr[-6000:]}"
    assert '"status":"ready"' in stdout
    for check in ("grpc.auth", "grpc.transcription", "grpc.analysis", "grpc.anc"):
        assert f'"{check}":"ok"' in stdout, stdout[:2000]
    assert "ops@example.com" in stdout  # POST /api/users
    assert '"temperature"' in stdout  # POST /analyze-audio
    assert "ask not what your country can do for you" in stdout.lower()  # /v1/audio/transcriptions
    assert "earshot_consumer_lag" in stdout  # the transcription worker's metrics
