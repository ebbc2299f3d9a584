"""A run of 20 jobs (16 ANC batch jobs, 4 photo renders) during one Kafka broker restart and one
PostgreSQL restart (issue 15), on a PRIVATE broker and database server started for this test
with ``deploy/local`` (the shared servers are never restarted; MinIO is the shared one).

Jobs are submitted while the broker is down (the gateway records them with their request in
its outbox; the relay publishes once the broker is back) and around the database outage
(submissions refused while it is down are retried by the client, as a client would). Then
every accepted job must end ``succeeded`` or ``failed`` with a reason: none lost, none stuck,
one final metrics row per ANC session, no inputs left, the outbox drained. The figures are
printed as JSON (``pytest -s``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from services.common import db
from services.common.storage import create_storage
from tests.conftest import FIXTURES
from tests.embedded.kill_harness import long_noise_wav
from tests.integration import infra
from tests.integration.cluster import Cluster, free_port, running
from tests.integration.private_infra import PrivateServers

pytestmark = pytest.mark.timeout(1200)

SERVICES = ("auth", "anc", "media")
GRPC = ("auth", "anc")


@pytest.fixture(scope="module")
async def private(servers: infra.Endpoints) -> AsyncIterator[tuple[PrivateServers, infra.Endpoints]]:
    own = PrivateServers()
    try:
        await asyncio.to_thread(own.up)
        yield own, infra.Endpoints(own.kafka, own.database_url, servers.s3_url, "private")
    finally:
        await asyncio.to_thread(own.down)


@pytest.fixture(scope="module")
async def cluster(
    private: tuple[PrivateServers, infra.Endpoints], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cluster]:
    c = Cluster(
        private[1],
        tmp_path_factory.mktemp("restart-cluster"),
        metrics_ports={s: free_port() for s in SERVICES},
        grpc_ports={s: free_port() for s in GRPC},
        # 60 s leases: longer than any job waits in a worker's queue here (a queued job sends no
        # progress, so a 20 s lease would expire while it waits; docs/jobs.md), shorter than the
        # defaults (ANC 120 s) so completions dead-lettered during the database outage are
        # requested again sooner
        extra_env={
            "EARSHOT_JOB_LEASE_S": "60",
            "EARSHOT_JOB_SWEEP_INTERVAL_S": "1",
            "EARSHOT_JOB_BACKOFF_S": "0.5",
        },
    )
    async with running(c, SERVICES) as up:
        yield up


async def query(c: Cluster, sql: str) -> list[Any]:
    engine = db.create_engine(c.database_url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(text(sql))).all())
    finally:
        await engine.dispose()


async def test_twenty_jobs_through_a_broker_and_a_database_restart(
    cluster: Cluster, private: tuple[PrivateServers, infra.Endpoints]
) -> None:
    own = private[0]
    noise = long_noise_wav(70.0)
    photo = base64.b64encode((FIXTURES / "coffee.png").read_bytes()).decode()
    accepted: dict[str, str] = {}  # job id -> kind
    refused = 0
    async with httpx.AsyncClient(base_url=cluster.url, timeout=120) as client:
        body = {"email": "restarts@example.com", "password": "sturdy-password-42", "name": "R"}
        reply = await client.post("/api/auth/register", json=body)
        assert reply.status_code == 201, reply.text
        token = reply.json()["access_token"]

        async def submit(index: int) -> None:
            """Submit job ``index`` (every 5th a photo), retrying while the platform refuses it."""
            nonlocal refused
            deadline = time.monotonic() + 180
            while True:
                try:
                    if index % 5 == 4:
                        reply = await client.post("/upload-photo", json={"photo": photo})
                        key, kind = "task_id", "media"
                    else:
                        reply = await client.post(
                            "/api/audio/process",
                            files={"audio": ("long.wav", noise, "audio/wav")},
                            data={"algorithm": "nlms", "taps": "32"},
                            headers={"Authorization": f"Bearer {token}"},
                        )
                        key, kind = "session_id", "anc_batch"
                except httpx.TransportError:
                    reply = None
                if reply is not None and reply.status_code in (200, 202):
                    accepted[reply.json()[key]] = kind
                    return
                assert reply is None or reply.status_code >= 500, reply.text  # only outages refuse
                refused += 1
                assert time.monotonic() < deadline, "the platform did not recover"
                await asyncio.sleep(1)

        for i in range(6):
            await submit(i)
        await asyncio.to_thread(own.stop_kafka)
        for i in range(6, 10):  # accepted while the broker is down: they wait in the outbox
            await submit(i)
        pending = await query(cluster, "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL")
        await asyncio.to_thread(own.start_kafka)
        for i in range(10, 14):
            await submit(i)
        await asyncio.to_thread(own.stop_postgres)
        await asyncio.sleep(2)
        outage = asyncio.create_task(submit(14))  # refused until the database is back
        await asyncio.sleep(3)
        await asyncio.to_thread(own.start_postgres)
        await outage
        for i in range(15, 20):
            await submit(i)

    deadline = time.monotonic() + 420
    while True:
        rows = await query(cluster, "SELECT id, kind, status, error FROM jobs")
        active = [r for r in rows if r[2] in ("queued", "running")]
        if not active or time.monotonic() > deadline:
            break
        await asyncio.sleep(1)
    jobs = {r[0]: (r[1], r[2], r[3]) for r in rows}
    finals = await query(
        cluster, "SELECT session_id, COUNT(*) FROM anc_metrics WHERE kind = 'final' GROUP BY session_id"
    )
    store = create_storage(cluster.storage_url, public_base_url="http://unused", signing_key=b"")
    try:
        inputs_left = [o.key for o in await store.list("anc/inputs/")]
    finally:
        await store.close()
    outbox_left = await query(cluster, "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL")
    figures = {
        "submitted": len(accepted),
        "refused_during_outages": refused,
        "outbox_pending_while_broker_down": pending[0][0],
        "succeeded": sum(1 for j in accepted if jobs.get(j, ("", ""))[1] == "succeeded"),
        "failed": sum(1 for j in accepted if jobs.get(j, ("", ""))[1] in ("failed", "timed_out")),
        "failed_reasons": sorted({str(jobs[j][2]) for j in accepted if j in jobs and jobs[j][1] == "failed"}),
        "lost": sum(1 for j in accepted if j not in jobs),
        "stuck": len(active),
        "duplicated_results": sum(n - 1 for _, n in finals if n > 1),
        "inputs_left": len(inputs_left),
        "outbox_left": outbox_left[0][0],
    }
    print(json.dumps({"benchmark": "kill", "mode": "distributed-restarts", **figures}))
    assert figures["submitted"] == 20
    assert figures["outbox_pending_while_broker_down"] >= 1  # the outbox held them
    assert figures["lost"] == 0 and figures["stuck"] == 0, figures
    assert figures["succeeded"] + figures["failed"] == 20, figures
    assert all(jobs[j][2] for j in accepted if jobs[j][1] == "failed"), figures  # failed with a reason
    assert figures["duplicated_results"] == 0 and figures["inputs_left"] == 0, figures
    assert figures["outbox_left"] == 0, figures
