"""Kill tests of the distributed mode (issue 15): each process doing the work of a job kind is
SIGKILLed mid-job and restarted, on real Kafka, PostgreSQL and MinIO; every job must end
``succeeded`` with nothing left in storage and no process of the killed one left alive.

* transcription (``POST /v1/audio/transcriptions``, 70 s: a job): the worker is killed while it
  decodes; Kafka redelivers the uncommitted request to the restarted worker; the waiting
  request is answered.
* ANC batch: the anc worker is killed mid-file; redelivery (or the lease sweeper) finishes it.
* media: the media worker accepted the render (its offset is committed) and is killed while it
  renders: only the lease can save it, so the sweeper re-requests it (attempt 2).
* the gateway itself: killed right after answering 202 for an ANC batch job; its outbox and
  sweeper resume from the database on restart.

Leases are short here (``EARSHOT_JOB_LEASE_S=20``) so a lost render is re-requested quickly.
``EARSHOT_KILL_ROUNDS`` (default 1) repeats the transcription and media kills in a row.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from services.common import db
from services.common.bus import KafkaBus
from services.common.events import (
    ANC_EVENTS,
    MEDIA_EVENTS,
    TRANSCRIPTION_EVENTS,
    AncProgress,
    Envelope,
    MediaProgress,
    TranscriptionProgress,
)
from services.common.storage import create_storage
from tests.conftest import FIXTURES
from tests.embedded.kill_harness import long_noise_wav, long_speech_wav
from tests.integration import infra
from tests.integration.cluster import WORKERS, Cluster, free_port, running

SERVICES = ("auth", "anc", "media", *WORKERS)
ROUNDS = int(os.environ.get("EARSHOT_KILL_ROUNDS", "1"))
"""Kills in a row of the transcription and the media worker (the issue asks for 10; CI runs 1
to keep the tier short: ``EARSHOT_KILL_ROUNDS=10 pytest tests/integration/test_kill_distributed.py``)."""

pytestmark = pytest.mark.timeout(600 + 300 * ROUNDS)
GRPC = ("auth", "anc", *WORKERS)


@pytest.fixture(scope="module")
async def cluster(
    servers: infra.Endpoints, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cluster]:
    c = Cluster(
        servers,
        tmp_path_factory.mktemp("kill-cluster"),
        metrics_ports={s: free_port() for s in SERVICES},
        grpc_ports={s: free_port() for s in GRPC},
        extra_env={
            "EARSHOT_JOB_LEASE_S": "20",
            "EARSHOT_JOB_SWEEP_INTERVAL_S": "1",
            "EARSHOT_JOB_BACKOFF_S": "0.5",
        },
    )
    async with running(c, SERVICES) as up:
        yield up


async def query(c: Cluster, sql: str, **params: Any) -> list[Any]:
    engine = db.create_engine(c.database_url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(text(sql), params)).all())
    finally:
        await engine.dispose()


async def stored(c: Cluster, prefix: str = "") -> list[str]:
    store = create_storage(c.storage_url, public_base_url="http://unused", signing_key=b"")
    try:
        return [o.key for o in await store.list(prefix)]
    finally:
        await store.close()


async def job_end(c: Cluster, job_id: str, timeout_s: float = 300) -> tuple[str, str | None, int]:
    """Wait until the job is no longer queued/running; returns (status, error, attempts)."""
    deadline = time.monotonic() + timeout_s
    while True:
        rows = await query(c, "SELECT status, error, attempts FROM jobs WHERE id = :id", id=job_id)
        if rows and rows[0][0] not in ("queued", "running"):
            return rows[0][0], rows[0][1], rows[0][2]
        assert time.monotonic() < deadline, f"job {job_id} still {rows}"
        await asyncio.sleep(0.5)


def children(pid: int) -> list[int]:
    """PIDs whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pids: list[int]) -> list[int]:
    out = []
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if stat[stat.rindex(")") + 2 :].split()[0] != "Z":
            out.append(pid)
    return out


async def kill_mid_job(
    c: Cluster,
    worker: str,
    topic: str,
    progress: type[Any],
    submit: Callable[[], Awaitable[str]],
) -> tuple[str, list[int]]:
    """Submit a job, wait for its first progress event, SIGKILL ``worker``, restart it.

    Returns:
        The job id and the worker's child processes still alive 5 s after the kill.
    Raises:
        AssertionError: the killed process's temp folder survived the restart.
    """
    watcher = KafkaBus(c.servers.kafka, namespace=c.namespace, client_id=f"kill-{worker}")
    await watcher.start()
    progressed: dict[str, asyncio.Event] = {}

    async def seen(envelope: Envelope) -> None:
        if envelope.type == progress.event_type:
            progressed.setdefault(envelope.key, asyncio.Event()).set()

    sub = await watcher.subscribe([topic], f"kill-watch-{worker}", seen, from_latest=True)
    try:
        job_id = await submit()
        await asyncio.wait_for(progressed.setdefault(job_id, asyncio.Event()).wait(), 180)
        pid = c.processes[worker].popen.pid
        kids = children(pid)
        c.kill(worker)
        deadline = time.monotonic() + 5
        while alive(kids) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        left = alive(kids)
        c.start(worker)
        await c.wait_ready(worker, timeout_s=180)
        temp = c.root / worker / "tmp"
        stale = [p.name for p in temp.iterdir() if f"~{pid}~" in p.name] if temp.exists() else []
        assert stale == [], f"the killed {worker}'s temp folder was not swept at restart: {stale}"
    finally:
        await sub.close()
        await watcher.stop()
    return job_id, left


async def test_transcription_worker_killed_mid_job(cluster: Cluster) -> None:
    speech = long_speech_wav(150.0)  # long enough that the kill lands mid-job
    for _ in range(ROUNDS):
        answer: asyncio.Future[httpx.Response] = asyncio.get_running_loop().create_future()

        async def submit(answer: asyncio.Future[httpx.Response] = answer) -> str:
            before = {r[0] for r in await query(cluster, "SELECT id FROM jobs")}

            async def post() -> None:
                async with httpx.AsyncClient(timeout=600) as client:
                    answer.set_result(
                        await client.post(
                            f"{cluster.url}/v1/audio/transcriptions",
                            files={"file": ("speech.wav", speech, "audio/wav")},
                            data={"model": "whisper-1"},
                        )
                    )

            asyncio.get_running_loop().create_task(post())
            for _ in range(600):
                new = {r[0] for r in await query(cluster, "SELECT id FROM jobs")} - before
                if new:
                    return new.pop()
                await asyncio.sleep(0.1)
            raise AssertionError("no job recorded")

        job_id, left = await kill_mid_job(
            cluster, "transcription", TRANSCRIPTION_EVENTS, TranscriptionProgress, submit
        )
        reply = await asyncio.wait_for(answer, 600)
        assert reply.status_code == 200, reply.text
        assert "fellow americans" in reply.json()["text"].lower()
        assert (await job_end(cluster, job_id))[0] == "succeeded"
        assert left == []
        assert [k for k in await stored(cluster) if job_id in k] == []


async def _token(c: Cluster) -> str:
    body = {"email": "kill-dist@example.com", "password": "sturdy-password-42", "name": "K"}
    async with httpx.AsyncClient(base_url=c.url, timeout=60) as client:
        reply = await client.post("/api/auth/register", json=body)
        if reply.status_code != 201:
            reply = await client.post("/api/auth/login", json=body)
        assert reply.status_code in (200, 201), reply.text
        return str(reply.json()["access_token"])


async def _submit_anc(c: Cluster, noise: bytes) -> str:
    token = await _token(c)
    async with httpx.AsyncClient(base_url=c.url, timeout=120) as client:
        reply = await client.post(
            "/api/audio/process",
            files={"audio": ("long.wav", noise, "audio/wav")},
            data={"algorithm": "nlms", "taps": "32"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert reply.status_code == 202, reply.text
    return str(reply.json()["session_id"])


async def _anc_done(c: Cluster, session_id: str) -> None:
    assert (await job_end(c, session_id))[0] == "succeeded"
    [(status,)] = await query(c, "SELECT status FROM anc_sessions WHERE id = :id", id=session_id)
    assert status == "completed"
    finals = await query(
        c, "SELECT COUNT(*) FROM anc_metrics WHERE session_id = :id AND kind = 'final'", id=session_id
    )
    assert finals == [(1,)]  # no duplicated result row
    assert await stored(c, f"anc/inputs/{session_id}/") == []


async def test_anc_worker_killed_mid_batch_job(cluster: Cluster) -> None:
    noise = long_noise_wav(240.0)  # long enough to be caught mid-file
    session_id, left = await kill_mid_job(
        cluster, "anc", ANC_EVENTS, AncProgress, lambda: _submit_anc(cluster, noise)
    )
    await _anc_done(cluster, session_id)
    assert left == []


async def test_media_worker_killed_mid_render_is_requested_again(cluster: Cluster) -> None:
    photo = base64.b64encode((FIXTURES / "coffee.png").read_bytes()).decode()

    async def submit() -> str:
        async with httpx.AsyncClient(base_url=cluster.url, timeout=60) as client:
            reply = await client.post("/upload-photo", json={"photo": photo})
        assert reply.status_code in (200, 201, 202), reply.text
        return str(reply.json()["task_id"])

    for _ in range(ROUNDS):
        task_id, left = await kill_mid_job(cluster, "media", MEDIA_EVENTS, MediaProgress, submit)
        status, error, attempts = await job_end(cluster, task_id, timeout_s=420)
        assert (status, error) == ("succeeded", None)
        assert attempts == 2  # the accepted render died with the worker: the sweeper asked again
        [(task_status, task_attempt)] = await query(
            cluster, "SELECT status, attempt FROM photo_tasks WHERE id = :id", id=task_id
        )
        assert (task_status, task_attempt) == ("done", 2)
        assert left == [], "the media worker's render processes outlived it"


async def test_gateway_killed_after_accepting_a_job(cluster: Cluster) -> None:
    noise = long_noise_wav(70.0)
    session_id = await _submit_anc(cluster, noise)
    cluster.kill("gateway")
    cluster.start("gateway")
    await cluster.wait_ready("gateway", timeout_s=180)
    await _anc_done(cluster, session_id)
    pending = await query(cluster, "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL")
    assert pending == [(0,)]
    stuck = await query(cluster, "SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running')")
    assert stuck == [(0,)]
