"""Conversation temperature end to end on the embedded platform, over real HTTP."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx

from tests.conftest import FIXTURES, JFK, Embedded

ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


async def analyze(client: httpx.AsyncClient, path: Path) -> httpx.Response:
    with path.open("rb") as fh:
        return await client.post("/analyze-audio", files={"audio": (path.name, fh, "audio/flac")})


TEMPERATURE_PREFIXES = ("uploads/", "transcripts/")
"""Where the temperature flow stores its transient objects (other products share the store)."""


async def assert_nothing_left(embedded: Embedded) -> None:
    """No upload or transcript is left in storage and the temp folder is empty (late work may
    still be cleaning up)."""
    leftovers: list[str] = []
    for _ in range(200):
        leftovers = [o.key for p in TEMPERATURE_PREFIXES for o in await embedded.runtime.storage.list(p)]
        if not leftovers and not embedded.temp_leftovers():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"left behind: {leftovers} {embedded.temp_leftovers()}")


async def test_jfk_answers_the_documented_shape(client: httpx.AsyncClient, embedded: Embedded) -> None:
    response = await analyze(client, JFK)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"temperature", "confidence", "timestamp", "analysis_summary"}
    assert isinstance(body["temperature"], int) and 1 <= body["temperature"] <= 100
    assert isinstance(body["confidence"], float) and 0 <= body["confidence"] <= 1
    assert ISO_Z.match(body["timestamp"]), body["timestamp"]
    assert isinstance(body["analysis_summary"], str) and len(body["analysis_summary"]) > 10
    assert response.headers["x-request-id"]
    await assert_nothing_left(embedded)


async def test_calm_and_heated_conversations_are_ordered(
    client: httpx.AsyncClient, embedded: Embedded
) -> None:
    calm = (await analyze(client, FIXTURES / "calm_conversation.flac")).json()
    heated = (await analyze(client, FIXTURES / "heated_conversation.flac")).json()
    assert calm["temperature"] < 30, calm
    assert heated["temperature"] > 70, heated
    assert "calm" in calm["analysis_summary"].lower()
    await assert_nothing_left(embedded)


async def test_concurrent_requests_each_get_their_own_answer(client: httpx.AsyncClient) -> None:
    calm, heated = await asyncio.gather(
        analyze(client, FIXTURES / "calm_conversation.flac"),
        analyze(client, FIXTURES / "heated_conversation.flac"),
    )
    assert calm.status_code == heated.status_code == 200
    assert calm.json()["temperature"] < heated.json()["temperature"]


async def test_timeout_answers_504_and_cleans_up(client: httpx.AsyncClient, embedded: Embedded) -> None:
    gateway = embedded.gateway
    saved = gateway.request_timeout_s
    gateway.request_timeout_s = 0.01
    try:
        response = await analyze(client, JFK)
    finally:
        gateway.request_timeout_s = saved
    assert response.status_code == 504
    body = response.json()
    assert set(body) == {"error", "details", "timestamp"}
    # The transcription still finishes in the background; what it writes is removed.
    await asyncio.sleep(0.5)
    await assert_nothing_left(embedded)
    counts = await gateway.jobs.count_by_status()
    assert counts.get("timed_out", 0) >= 1


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    health = await client.get("/health")
    assert health.status_code == 200
    assert health.json()["status"] == "healthy"
    assert ISO_Z.match(health.json()["timestamp"])
    ready = await client.get("/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {
        "bus": "ok",
        "database": "ok",
        "storage": "ok",
        "grpc.auth": "ok",
        "grpc.transcription": "ok",
        "grpc.analysis": "ok",
        "grpc.anc": "ok",
    }


async def test_openapi_docs_are_served(client: httpx.AsyncClient) -> None:
    assert (await client.get("/docs")).status_code == 200
    spec = (await client.get("/openapi.json")).json()
    assert "/analyze-audio" in spec["paths"]


async def test_unknown_route_uses_error_shape(client: httpx.AsyncClient) -> None:
    response = await client.get("/nope")
    assert response.status_code == 404
    assert set(response.json()) == {"error", "details", "timestamp"}
