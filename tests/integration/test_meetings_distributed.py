"""Meeting memos across processes on real Kafka, PostgreSQL and MinIO: auth, anc, transcription,
analysis and the gateway each in its own OS process. weekly_sync.wav is uploaded with its
participants; the transcription worker is SIGKILLed while it transcribes the meeting and
restarted: the meeting still reaches COMPLETED once (no duplicated segments or items), with
its three speakers named; search runs on PostgreSQL's full-text index; deleting the meeting
leaves nothing in MinIO.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from services.common.bus import KafkaBus
from services.common.events import TRANSCRIPTION_EVENTS, Envelope, TranscriptionProgress
from services.common.storage import create_storage
from tests.conftest import FIXTURES
from tests.integration import infra
from tests.integration.cluster import WORKERS, Cluster, free_port, running

pytestmark = pytest.mark.timeout(600)

SERVICES = ("auth", "anc", *WORKERS)  # /ready checks every gRPC service the gateway calls


@pytest.fixture(scope="module")
async def cluster(
    servers: infra.Endpoints, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cluster]:
    c = Cluster(
        servers,
        tmp_path_factory.mktemp("meetings-cluster"),
        metrics_ports={s: free_port() for s in SERVICES},
        grpc_ports={s: free_port() for s in SERVICES},
    )
    async with running(c, SERVICES, empty_bucket=False) as up:
        yield up


async def meeting_objects(c: Cluster, meeting_id: str) -> list[str]:
    store = create_storage(c.storage_url, public_base_url="http://unused", signing_key=b"")
    try:
        return [o.key for o in await store.list("meetings/") if meeting_id in o.key]
    finally:
        await store.close()


async def test_meeting_completes_once_when_the_transcription_worker_is_killed(cluster: Cluster) -> None:
    watcher = KafkaBus(cluster.servers.kafka, namespace=cluster.namespace, client_id="e2e-meetings")
    await watcher.start()
    mid_job = asyncio.Event()

    async def seen(envelope: Envelope) -> None:
        if (
            envelope.type == TranscriptionProgress.event_type
            and envelope.payload(TranscriptionProgress).percent < 60
        ):
            mid_job.set()

    sub = await watcher.subscribe([TRANSCRIPTION_EVENTS], "e2e-meetings", seen, from_latest=True)
    async with httpx.AsyncClient(base_url=cluster.url, timeout=120) as client:
        reply = await client.post(
            "/api/users", json={"email": "dist@example.com", "password": "sturdy-password-42", "name": "D"}
        )
        assert reply.status_code == 201, reply.text
        h = {"Authorization": f"Bearer {reply.json()['access_token']}"}
        try:
            reply = await client.post(
                "/api/v1/mobile/meetings/",
                headers=h,
                data={"title": "Weekly sync", "participants": json.dumps(["Alice", "Bob", "Carol"])},
                files={
                    "audio_file": (
                        "weekly_sync.wav",
                        (FIXTURES / "weekly_sync.wav").read_bytes(),
                        "audio/wav",
                    )
                },
            )
            assert reply.status_code == 201, reply.text
            mid = reply.json()["id"]
            await asyncio.wait_for(mid_job.wait(), 180)
            cluster.kill("transcription")  # SIGKILL mid-job: no commit, no goodbye to the group
            await asyncio.sleep(1.0)
            assert (await client.get(f"/api/v1/mobile/meetings/{mid}", headers=h)).json()[
                "status"
            ] == "PROCESSING"
            cluster.start("transcription")
            await cluster.wait_ready("transcription")
        finally:
            await sub.close()
            await watcher.stop()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 400
        while (m := (await client.get(f"/api/v1/mobile/meetings/{mid}", headers=h)).json())["status"] not in (
            "COMPLETED",
            "FAILED",
        ):
            assert loop.time() < deadline, m["status"]
            await asyncio.sleep(0.5)
        assert m["status"] == "COMPLETED", m["error"]
        assert set(m["speakers"]) == {"Alice", "Bob", "Carol"}
        texts = [(s["start"], s["text"]) for s in m["transcription"]]
        assert len(texts) == len(set(texts))  # no duplicated segments
        tasks = [i["task"] for i in m["action_items"]]
        assert len(tasks) == len(set(tasks)) and any(i["assigned_to"] == "Carol" for i in m["action_items"])
        found = (await client.get("/api/v1/mobile/meetings/?search=candidate", headers=h)).json()
        assert [x["id"] for x in found["data"]] == [mid]  # stemmed full-text search on PostgreSQL
        url = (await client.get(f"/api/v1/mobile/meetings/{mid}/audio/url", headers=h)).json()["url"]
        async with httpx.AsyncClient() as raw:
            assert (await raw.get(url, headers={"Range": "bytes=0-3"})).content == b"RIFF"
        assert await meeting_objects(cluster, mid)
        assert (await client.delete(f"/api/v1/mobile/meetings/{mid}", headers=h)).status_code == 204
        assert await meeting_objects(cluster, mid) == []
