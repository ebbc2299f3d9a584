"""End to end across processes: gateway, transcription and analysis each in its own OS
process (``earshot serve``), migrations by a separate ``earshot migrate``, on real Kafka,
PostgreSQL and MinIO, fed ``jfk.flac``. Then the transcription process is killed in the
middle of a job and restarted: the request still completes, and nothing is left stored.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import inspect, text

from services.common import db
from services.common.bus import KafkaBus
from services.common.events import (
    TRANSCRIPTION_EVENTS,
    TRANSCRIPTION_REQUESTS,
    Envelope,
    TranscriptionProgress,
)
from services.common.storage import S3ObjectStorage, create_storage
from tests.conftest import FIXTURES, JFK, Embedded
from tests.integration import infra
from tests.integration.cluster import Cluster
from tests.integration.otlp import OtlpReceiver, ReceivedSpan

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
async def otlp() -> AsyncIterator[OtlpReceiver]:
    """The collector every process of the cluster exports its spans to (OTLP/HTTP)."""
    receiver = OtlpReceiver()
    await receiver.start()
    try:
        yield receiver
    finally:
        await receiver.stop()


@pytest.fixture(scope="module")
async def cluster(
    servers: infra.Endpoints, tmp_path_factory: pytest.TempPathFactory, otlp: OtlpReceiver
) -> AsyncIterator[Cluster]:
    c = Cluster(servers, tmp_path_factory.mktemp("cluster"))
    c.extra_env = {
        "EARSHOT_OTLP_ENDPOINT": otlp.url,
        "EARSHOT_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # ms between exports (default 5 s)
    }
    try:
        await c.up()
        yield c
    finally:
        await c.down()
        store = create_storage(c.storage_url, public_base_url="http://unused", signing_key=b"")
        assert isinstance(store, S3ObjectStorage)
        if not await store.list():
            await asyncio.to_thread(store._client.remove_bucket, c.bucket)
        await store.close()


async def stored(c: Cluster) -> list[str]:
    store = create_storage(c.storage_url, public_base_url="http://unused", signing_key=b"")
    try:
        return [o.key for o in await store.list()]
    finally:
        await store.close()


async def job_statuses(c: Cluster) -> dict[str, str]:
    engine = db.create_engine(c.database_url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT id, status FROM jobs"))).all()
        return {r[0]: r[1] for r in rows}
    finally:
        await engine.dispose()


async def post_jfk(url: str, recording: Path = JFK) -> tuple[httpx.Response, float]:
    async with httpx.AsyncClient(timeout=300) as client:
        start = time.perf_counter()
        with recording.open("rb") as f:
            answer = await client.post(f"{url}/analyze-audio", files={"audio": (recording.name, f)})
        return answer, time.perf_counter() - start


def sample(text_: str, name: str, **labels: str) -> float | None:
    """Value of one Prometheus sample in exposition text (labels matched as given)."""
    for line in text_.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


async def test_temperature_flow_across_processes_matches_embedded(
    cluster: Cluster, embedded: Embedded
) -> None:
    before = await job_statuses(cluster)
    answer, _ = await post_jfk(cluster.url)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"temperature", "confidence", "timestamp", "analysis_summary"}
    assert 1 <= body["temperature"] <= 100 and 0 <= body["confidence"] <= 1
    # One code path: the same model and analyzer give the same score in one process.
    local, _ = await post_jfk(embedded.url)
    assert local.status_code == 200
    assert (local.json()["temperature"], local.json()["confidence"]) == (
        body["temperature"],
        body["confidence"],
    )
    # Stateless: nothing stored; a content-free job record in PostgreSQL.
    assert await stored(cluster) == []
    new = {k: v for k, v in (await job_statuses(cluster)).items() if k not in before}
    assert list(new.values()) == ["succeeded"]


async def access_log_trace_id(c: Cluster, request_id: str, timeout_s: float = 30.0) -> int:
    """The trace id the gateway's access log line (``http.access``) gives for ``request_id``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    proc = c.processes["gateway"]
    while True:
        proc.log_file.flush()
        for line in proc.log_path.read_text(errors="replace").splitlines():
            if '"http.access"' in line and request_id in line:
                entry = json.loads(line)
                if entry.get("request_id") == request_id:
                    return int(entry["trace_id"], 16)
        assert loop.time() < deadline, f"no access log line for {request_id}:\n{proc.log_tail()}"
        await asyncio.sleep(0.1)


def orphans(spans: list[ReceivedSpan]) -> list[str]:
    """Spans whose parent is not among ``spans`` (roots excluded)."""
    ids = {s.span_id for s in spans}
    return [f"{s.service}: {s.name}" for s in spans if s.parent_span_id and s.parent_span_id not in ids]


async def test_one_trace_across_processes(cluster: Cluster, otlp: OtlpReceiver) -> None:
    """The temperature flow over Kafka: the gateway, transcription and analysis processes
    export spans that share the request's trace id and form one tree below its one root."""
    request_id = f"trace-{uuid.uuid4().hex}"
    async with httpx.AsyncClient(timeout=300) as client:
        with JFK.open("rb") as f:
            answer = await client.post(
                f"{cluster.url}/analyze-audio",
                files={"audio": (JFK.name, f)},
                headers={"X-Request-ID": request_id},
            )
    assert answer.status_code == 200, answer.text
    trace_id = await access_log_trace_id(cluster, request_id)
    handled_by = {  # each event hop and the process whose consumer handles it
        "earshot.transcription.requested.v1 process": "earshot-transcription",
        "earshot.transcription.completed.v1 process": "earshot-gateway",
        "earshot.analysis.requested.v2 process": "earshot-analysis",
        "earshot.analysis.completed.v2 process": "earshot-gateway",
    }
    spans = await otlp.wait_for(trace_id, {"POST /analyze-audio", *handled_by})
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while orphans(spans) and loop.time() < deadline:  # a parent may be exported after its child
        await asyncio.sleep(0.2)
        spans = otlp.trace(trace_id)
    roots = [(s.service, s.name) for s in spans if s.parent_span_id == 0]
    assert roots == [("earshot-gateway", "POST /analyze-audio")]  # one root: the request
    assert orphans(spans) == []  # one tree
    names = {s.span_id: s.name for s in spans}
    for job, event in (
        ("transcription.job", "earshot.transcription.requested.v1 process"),
        ("analysis.job", "earshot.analysis.requested.v2 process"),
    ):  # a worker's job hangs below the event that asked for it
        assert [names[s.parent_span_id] for s in spans if s.name == job] == [event], job
    for name, service in handled_by.items():
        assert {s.service for s in spans if s.name == name} == {service}, name
    assert {"earshot-gateway", "earshot-transcription", "earshot-analysis"} <= {s.service for s in spans}


async def test_a_grpc_call_joins_the_request_trace_across_processes(
    cluster: Cluster, otlp: OtlpReceiver
) -> None:
    """A clip on ``/v1/audio/transcriptions`` goes over gRPC ``Transcribe``: the transcription
    process's server span hangs below the gateway's request span, in the request's trace."""
    request_id = f"trace-{uuid.uuid4().hex}"
    async with httpx.AsyncClient(timeout=300) as client:
        answer = await client.post(
            f"{cluster.url}/v1/audio/transcriptions",
            files={"file": (JFK.name, JFK.read_bytes(), "audio/flac")},
            data={"model": "whisper-1"},
            headers={"X-Request-ID": request_id},
        )
    assert answer.status_code == 200, answer.text
    trace_id = await access_log_trace_id(cluster, request_id)
    call = "/earshot.transcription.v1.TranscriptionService/Transcribe"
    spans = await otlp.wait_for(trace_id, {"POST /v1/audio/transcriptions", call})
    [root] = [s for s in spans if s.parent_span_id == 0]
    assert (root.service, root.name) == ("earshot-gateway", "POST /v1/audio/transcriptions")
    [server] = [s for s in spans if s.name == call]
    assert server.service == "earshot-transcription" and server.parent_span_id == root.span_id


async def test_bad_input_is_refused_without_storing_anything(cluster: Cluster) -> None:
    async with httpx.AsyncClient(timeout=60) as client:
        answer = await client.post(
            f"{cluster.url}/analyze-audio", files={"audio": ("notes.wav", b"just some text", "audio/wav")}
        )
    assert answer.status_code == 400
    assert set(answer.json()) == {"error", "details", "timestamp"}
    assert await stored(cluster) == []


async def test_topics_and_one_consumer_group_per_service(cluster: Cluster) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=cluster.servers.kafka)
    await admin.start()
    try:
        topics = {t for t in await admin.list_topics() if t.startswith(cluster.namespace + ".")}
        described = await admin.describe_topics([f"{cluster.namespace}.{TRANSCRIPTION_REQUESTS}"])
        groups = {g[0] for g in await admin.list_consumer_groups()}
    finally:
        await admin.close()
    ns = cluster.namespace
    assert {f"{ns}.{TRANSCRIPTION_REQUESTS}", f"{ns}.{TRANSCRIPTION_REQUESTS}.dlq"} <= topics
    assert len(described[0]["partitions"]) == 3  # EARSHOT_BUS_PARTITIONS
    assert {f"{ns}.transcription", f"{ns}.analysis", f"{ns}.gateway"} <= groups


async def test_every_process_serves_prometheus_metrics(cluster: Cluster) -> None:
    await post_jfk(cluster.url)  # at least one job through every service
    port = cluster.grpc_ports["transcription"]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    async with httpx.AsyncClient(timeout=10) as client:
        gateway = (await client.get(f"{cluster.url}/metrics")).text
        workers = {
            w: (await client.get(f"http://127.0.0.1:{p}/metrics")).text
            for w, p in cluster.metrics_ports.items()
        }
    assert (sample(gateway, "earshot_http_requests_total", route="/analyze-audio", status="200") or 0) >= 1
    assert (sample(gateway, "earshot_http_request_duration_seconds_count", route="/analyze-audio") or 0) >= 1
    assert (
        sample(gateway, "earshot_job_duration_seconds_count", kind="temperature", outcome="succeeded") or 0
    ) >= 1
    assert (sample(gateway, "earshot_events_produced_total", topic=TRANSCRIPTION_REQUESTS) or 0) >= 1
    tr = workers["transcription"]
    assert (
        sample(tr, "earshot_events_consumed_total", topic=TRANSCRIPTION_REQUESTS, group="transcription") or 0
    ) >= 1
    assert sample(tr, "earshot_events_produced_total", topic="earshot.transcription.events") is not None
    assert sample(tr, "earshot_consumer_lag", topic=TRANSCRIPTION_REQUESTS, group="transcription") == 0
    assert sample(tr, "earshot_event_handle_duration_seconds_count", topic=TRANSCRIPTION_REQUESTS) is not None
    assert (
        sample(tr, "earshot_grpc_requests_total", method="/grpc.health.v1.Health/Check", code="OK") or 0
    ) >= 1
    an = workers["analysis"]
    assert (
        sample(an, "earshot_events_consumed_total", topic="earshot.analysis.requests", group="analysis") or 0
    ) >= 1


async def test_transcription_killed_mid_job_and_restarted(cluster: Cluster) -> None:
    """The worker is killed while it transcribes: it has published progress (segments
    decoded) but not finished. The 51 s meeting recording gives many progress events; the
    11 s jfk.flac is decoded in well under a second on a warm machine, too fast to hit
    mid-job reliably."""
    watcher = KafkaBus(cluster.servers.kafka, namespace=cluster.namespace, client_id="e2e-watcher")
    await watcher.start()
    mid_job = asyncio.Event()

    async def seen(envelope: Envelope) -> None:
        if envelope.type == TranscriptionProgress.event_type:
            if envelope.payload(TranscriptionProgress).percent < 60:
                mid_job.set()

    sub = await watcher.subscribe([TRANSCRIPTION_EVENTS], "e2e-watcher", seen, from_latest=True)
    try:
        before = await job_statuses(cluster)
        request = asyncio.create_task(post_jfk(cluster.url, FIXTURES / "weekly_sync.wav"))
        await asyncio.wait_for(mid_job.wait(), 120)  # the worker is decoding this job now
        cluster.kill("transcription")  # SIGKILL: no commit, no goodbye to the group
        assert not request.done()
        await asyncio.sleep(1.0)
        assert not request.done()  # nobody else can finish the job
        restarted = cluster.start("transcription")
        await cluster.wait_ready("transcription")
        answer, _ = await asyncio.wait_for(request, cluster.request_timeout_s + 30)
    finally:
        await sub.close()
        await watcher.stop()
    assert answer.status_code in (200, 504), answer.text
    if answer.status_code == 200:
        assert 1 <= answer.json()["temperature"] <= 100
    new = {k: v for k, v in (await job_statuses(cluster)).items() if k not in before}
    assert list(new.values()) == ["succeeded" if answer.status_code == 200 else "timed_out"]
    # The restarted worker did the job again (at-least-once), and nothing was left behind.
    [job_id] = new
    for _ in range(50):
        if re.search(
            rf'"transcription.done".*{job_id}|{job_id}.*"transcription.done"', restarted.log_tail(400)
        ):
            break
        await asyncio.sleep(0.1)
    assert job_id in restarted.log_tail(400)
    for _ in range(50):  # a late completion after a 504 is cleaned up by the orchestrator
        if await stored(cluster) == []:
            break
        await asyncio.sleep(0.2)
    assert await stored(cluster) == []


def test_serve_refuses_an_unknown_service() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "serve", "nope"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert "unknown service" in result.stderr


async def test_migrate_is_a_separate_idempotent_step(cluster: Cluster) -> None:
    assert (await cluster.migrate()) > 0  # already at head: runs again cleanly
    engine = db.create_engine(cluster.database_url)
    try:
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()
    assert {"jobs", "alembic_version_gateway"} <= tables
