"""The platform as a user starts it (`earshot up`), its presigned object URLs, trace
propagation from HTTP into events and gRPC, and its JSON logs.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import grpc
import httpx
import pytest
from earshot.transcription.v1 import transcription_pb2, transcription_pb2_grpc

from services.common import telemetry
from services.common.events import TRANSCRIPTION_REQUESTS, Envelope
from services.common.logging import bind, configure_logging, get_logger, unbind
from tests.conftest import ANY_FREE_GRPC_PORT, JFK, Embedded, free_port

EARSHOT = str(Path(sys.executable).parent / "earshot")


def test_earshot_version() -> None:
    out = subprocess.run([EARSHOT, "version"], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.startswith("earshot 0.1.0")


def test_invalid_configuration_stops_start_up_with_one_message(tmp_path: Path) -> None:
    env = {**os.environ, "EARSHOT_DATA_DIR": str(tmp_path), "MAX_FILE_SIZE": "huge"}
    out = subprocess.run([EARSHOT, "up"], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 2
    assert out.stderr.strip().startswith("earshot: invalid configuration:")
    assert "MAX_FILE_SIZE" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_earshot_up_serves_health_ready_and_docs(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "EARSHOT_DATA_DIR": str(tmp_path),
        **{f"EARSHOT_{name.upper()}": "0" for name in ANY_FREE_GRPC_PORT},
    }
    proc = subprocess.Popen(
        [EARSHOT, "up", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "earshot up did not become ready"
            time.sleep(0.2)
        assert httpx.get(f"{url}/health").json()["status"] == "healthy"
        assert httpx.get(f"{url}/docs").status_code == 200
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert any(line.get("event") == "gateway.listening" for line in lines), output


async def test_presigned_local_url_is_fetched_with_plain_http(embedded: Embedded) -> None:
    storage = embedded.runtime.storage
    await storage.put("share/hello.txt", b"hello earshot", "text/plain")
    try:
        url = await storage.presigned_get_url("share/hello.txt", timedelta(minutes=5))
        assert url.startswith(embedded.url + "/objects/")
        async with httpx.AsyncClient() as client:
            ok = await client.get(url)
            assert ok.status_code == 200 and ok.content == b"hello earshot"
            tampered = await client.get(url.replace("signature=", "signature=0"))
            assert tampered.status_code == 403
            assert set(tampered.json()) == {"error", "details", "timestamp"}
        expired = await storage.presigned_get_url("share/hello.txt", timedelta(seconds=1))
        await asyncio.sleep(2.1)
        async with httpx.AsyncClient() as client:
            assert (await client.get(expired)).status_code == 403
    finally:
        await storage.delete("share/hello.txt")


async def test_traceparent_travels_from_http_into_event_headers(
    embedded: Embedded, client: httpx.AsyncClient
) -> None:
    telemetry.configure_tracing("earshot-tests")
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    seen: asyncio.Future[Envelope] = asyncio.get_running_loop().create_future()

    async def observe(envelope: Envelope) -> None:
        if not seen.done():
            seen.set_result(envelope)

    sub = await embedded.runtime.bus.subscribe(
        [TRANSCRIPTION_REQUESTS], "test-trace", observe, from_latest=True
    )
    try:
        with JFK.open("rb") as fh:
            response = await client.post(
                "/analyze-audio",
                files={"audio": ("jfk.flac", fh)},
                headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"},
            )
        assert response.status_code == 200
        envelope = await asyncio.wait_for(seen, 10)
    finally:
        await sub.close()
    assert envelope.extensions["traceparent"].split("-")[1] == trace_id


async def test_traceparent_travels_in_grpc_metadata(embedded: Embedded) -> None:
    telemetry.configure_tracing("earshot-tests")
    target = embedded.runtime.grpc_targets["transcription"]
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    async with grpc.aio.insecure_channel(target) as channel:
        stub = transcription_pb2_grpc.TranscriptionServiceStub(channel)
        call = stub.Transcribe(
            transcription_pb2.TranscribeRequest(audio=JFK.read_bytes()),
            metadata=(("traceparent", f"00-{trace_id}-b7ad6b7169203331-01"),),
            timeout=60,
        )
        reply = await call
    assert reply.text


def test_logs_are_json_lines_with_bound_ids(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", "json")
    try:
        bind(request_id="req_1", job_id="job_1")
        get_logger("test").info("hello", answer=42)
    finally:
        unbind("request_id", "job_id")
        configure_logging("warning")
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["event"] == "hello"
    assert line["request_id"] == "req_1" and line["job_id"] == "job_1" and line["answer"] == 42
    assert line["level"] == "info" and line["timestamp"].endswith("Z")
