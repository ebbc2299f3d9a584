"""Meeting memos (seed 003) through the embedded platform's HTTP and WebSocket API.

One real upload (weekly_sync.wav, participants Alice, Bob, Carol, on the mobile surface,
watched on the WebSocket, synced to a local fake dashboard) is shared by the module; every
route is then exercised on both surfaces, with a second user for isolation, the issue's bad
input list, 250 meetings for filters and pagination, search, renames and the CRM.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import uuid
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jiwer
import numpy as np
import pytest
import websockets
from aiohttp import web

from services.common import audio
from services.gateway.products.meetings.models import MeetingRecord
from tests.conftest import FIXTURES, JFK
from tests.embedded.test_auth_api import bearer, register
from tests.embedded.test_meetings_pipeline import STEREO, STEREO_REFERENCES

pytestmark = pytest.mark.embedded

WEEKLY = FIXTURES / "weekly_sync.wav"
SURFACES = ("/api/v1/mobile", "/api/v1/web")
SECRET = "dashboard-secret"


def product(embedded: Any) -> Any:
    return embedded.gateway.app.state.products["meetings"]


def wav_bytes(seconds: float, rate: int = 16000, freq: float = 220.0) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    pcm = (0.2 * np.sin(2 * np.pi * freq * t) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def write_wav_to(buf: io.BytesIO, samples: np.ndarray, rate: int) -> None:
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


def aiff_bytes() -> bytes:
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="aiff") as out:
        stream = out.add_stream("pcm_s16be", rate=16000, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 16000), dtype="<i2"), format="s16", layout="mono")
        frame.sample_rate = 16000
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


@dataclass
class Dashboard:
    url: str
    received: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)


@dataclass
class World:
    alice: dict[str, str]
    mallory: dict[str, str]
    weekly: dict[str, Any]
    progress: list[dict[str, Any]]
    dashboard: Dashboard


@pytest.fixture(scope="module")
async def dashboard() -> AsyncIterator[Dashboard]:
    app = web.Application()
    board = Dashboard(url="")

    async def receive(request: web.Request) -> web.Response:
        board.received.append((await request.read(), dict(request.headers)))
        return web.json_response({"ok": True})

    app.router.add_post("/api/meetings", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    board.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    yield board
    await runner.cleanup()


async def wait_status(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], timeout_s: float = 600
) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        body = (await client.get(path, headers=headers)).json()
        if body["status"] in ("COMPLETED", "FAILED"):
            return body
        assert loop.time() < deadline, body["status"]
        await asyncio.sleep(0.3)


async def watch(url: str, meeting_id: str, token: str, into: list[dict[str, Any]]) -> None:
    ws_url = url.replace("http://", "ws://") + f"/api/v1/mobile/meetings/{meeting_id}/ws?token={token}"
    async with websockets.connect(ws_url) as ws:
        async for raw in ws:
            into.append(json.loads(raw))


@pytest.fixture(scope="module")
async def world(embedded: Any, dashboard: Dashboard) -> AsyncIterator[World]:
    settings = product(embedded).settings
    settings.dashboard_base_url, settings.dashboard_secret = dashboard.url, SECRET
    async with httpx.AsyncClient(base_url=embedded.url, timeout=120) as client:
        alice = bearer((await register(client, name="Alice"))["access_token"])
        mallory = bearer((await register(client, name="Mallory"))["access_token"])
        reply = await client.post(
            "/api/v1/mobile/meetings/",
            headers=alice,
            data={"title": "Weekly sync", "participants": json.dumps(["Alice", "Bob", "Carol"])},
            files={"audio_file": ("weekly_sync.wav", WEEKLY.read_bytes(), "audio/wav")},
        )
        assert reply.status_code == 201, reply.text
        created = reply.json()
        progress: list[dict[str, Any]] = []
        token = alice["Authorization"].split()[1]
        watcher = asyncio.create_task(watch(embedded.url, created["id"], token, progress))
        weekly = await wait_status(client, f"/api/v1/mobile/meetings/{created['id']}", alice)
        await asyncio.wait_for(watcher, 30)
        for _ in range(100):
            if dashboard.received:
                break
            await asyncio.sleep(0.1)
        yield World(alice, mallory, {**weekly, "created": created}, progress, dashboard)
    settings.dashboard_base_url = None


# --- the real upload ----------------------------------------------------------------------------
async def test_create_answers_pending_in_the_seed_shape(world: World) -> None:
    created = world.weekly["created"]
    assert created["status"] == "PENDING" and created["analytics_status"] == "PENDING"
    for key in ("id", "title", "description", "participants", "transcription", "summary", "key_points"):
        assert key in created
    for key in ("action_items", "audio_filename", "s3_audio_path", "templateid", "user_id", "created_at"):
        assert key in created
    assert created["transcription"] == [] and created["participants"] == ["Alice", "Bob", "Carol"]
    assert uuid.UUID(created["id"]) and created["created_at"].endswith("Z")


async def test_weekly_sync_completes_with_names_and_owned_action_items(world: World) -> None:
    m = world.weekly
    assert m["status"] == "COMPLETED" and m["analytics_status"] == "COMPLETED", m["error"]
    assert {s["speaker"] for s in m["transcription"]} == {"Alice", "Bob", "Carol"}
    owners = {(i["assigned_to"], i["task"].lower()) for i in m["action_items"]}

    def owner(*words: str) -> str | None:
        return next((o for o, t in owners if all(w in t for w in words)), None)

    assert owner("draft", "proposal") == "Carol"
    assert owner("release notes") == "Bob"
    assert owner("book", "room") == "Carol"
    assert owner("schedule", "interview") == "Alice"
    assert m["summary"] and m["key_points"].startswith("1. ")
    assert {s["speaker"] for s in m["analytics_data"]["speakers"]} == {"Alice", "Bob", "Carol"}


async def test_progress_websocket_ends_with_completed(world: World) -> None:
    types = [m["type"] for m in world.progress]
    assert types[0] == "snapshot" and types[-1] == "completed"
    stages = [m["stage"] for m in world.progress if m["type"] == "progress"]
    assert "transcribing" in stages and "analyzing" in stages


async def test_dashboard_received_the_completed_meeting_signed(world: World) -> None:
    assert world.dashboard.received, "no POST reached the fake dashboard"
    body, headers = world.dashboard.received[0]
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Earshot-Signature"] == expected
    assert json.loads(body)["id"] == world.weekly["id"] and json.loads(body)["status"] == "COMPLETED"


async def test_websocket_refuses_a_missing_token_and_another_users_meeting(
    embedded: Any, world: World
) -> None:
    base = embedded.url.replace("http://", "ws://") + f"/api/v1/web/meetings/{world.weekly['id']}/ws"
    for url in (base, base + "?token=garbage", base + "?token=" + world.mallory["Authorization"].split()[1]):
        with pytest.raises(websockets.exceptions.InvalidStatus):
            async with websockets.connect(url):
                pass


# --- every route on both surfaces ---------------------------------------------------------------
@pytest.mark.parametrize("prefix", SURFACES)
async def test_read_update_audio_export_routes(client: httpx.AsyncClient, world: World, prefix: str) -> None:
    mid, h = world.weekly["id"], world.alice
    assert (await client.get(f"{prefix}/meetings/{mid}", headers=h)).json()["id"] == mid
    url = (await client.get(f"{prefix}/meetings/{mid}/audio/url?expiration=120", headers=h)).json()
    assert url["expires_in"] == 120 and (await client.get(url["url"])).content[:4] == b"RIFF"
    part = await client.get(f"{prefix}/meetings/{mid}/audio", headers={**h, "Range": "bytes=0-99"})
    assert part.status_code == 206 and len(part.content) == 100
    for fmt in ("md", "json", "srt", "vtt", "txt", "docx"):
        reply = await client.get(f"{prefix}/meetings/{mid}/export?format={fmt}", headers=h)
        assert reply.status_code == 200 and reply.content, fmt
    assert "Carol" in (await client.get(f"{prefix}/meetings/{mid}/export?format=txt", headers=h)).text
    reply = await client.put(f"{prefix}/meetings/{mid}", headers=h, json={"description": f"via {prefix}"})
    assert reply.json()["description"] == f"via {prefix}"
    assert (await client.post(f"{prefix}/meetings/{mid}/retry", headers=h)).status_code == 409
    for bad in (60 - 1, 7 * 86400 + 1):
        assert (
            await client.get(f"{prefix}/meetings/{mid}/audio/url?expiration={bad}", headers=h)
        ).status_code == 422


@pytest.mark.parametrize("prefix", SURFACES)
async def test_background_and_templates_routes(client: httpx.AsyncClient, world: World, prefix: str) -> None:
    h = world.alice
    status = (await client.get(f"{prefix}/meetings/transcription/status", headers=h)).json()
    assert status["running"] is True and status["scope"] == "user" and status["completed"] >= 1
    for action in ("start-background", "process-all", "restart-background"):
        assert (await client.post(f"{prefix}/meetings/transcription/{action}", headers=h)).status_code == 200
    defaults = (await client.get(f"{prefix}/templates/defaults", headers=h)).json()
    names = {t["title"] for t in defaults}
    assert {
        "General",
        "Team Meeting",
        "Sales Call",
        "Customer Support",
        "Job Interview",
        "One-on-One",
        "Lecture",
    } <= names
    body = {
        "title": "Board",
        "summary_prompt": "Decisions",
        "key_points_prompt": ["Votes"],
        "speaker_diarization": "Chair",
    }
    mine = (await client.post(f"{prefix}/templates", headers=h, json=body)).json()
    assert (await client.get(f"{prefix}/templates/user", headers=h)).json()[0]["id"] == mine["id"]
    page = (await client.get(f"{prefix}/templates?search=board", headers=h)).json()
    assert page["total"] == 1 and page["data"][0]["id"] == mine["id"]
    changed = await client.put(
        f"{prefix}/templates/{mine['id']}", headers=h, json={**body, "title": "Board 2"}
    )
    assert changed.json()["title"] == "Board 2"
    assert (await client.get(f"{prefix}/templates/{mine['id']}", headers=world.mallory)).status_code == 404
    assert (
        await client.put(f"{prefix}/templates/{defaults[0]['id']}", headers=h, json=body)
    ).status_code == 403
    assert (await client.delete(f"{prefix}/templates/{mine['id']}", headers=h)).status_code == 204
    assert (await client.get(f"{prefix}/templates/{mine['id']}", headers=h)).status_code == 404


@pytest.mark.parametrize("prefix", SURFACES)
async def test_suggestions(client: httpx.AsyncClient, world: World, prefix: str) -> None:
    files = {"audio_file": ("weekly_sync.wav", WEEKLY.read_bytes(), "audio/wav")}
    tpl = (await client.post(f"{prefix}/meetings/suggest-template", headers=world.alice, files=files)).json()
    assert tpl["suggested_template_name"] == "Team Meeting" and 0 < tpl["confidence"] <= 1 and tpl["reason"]
    title = (await client.post(f"{prefix}/meetings/suggest-title", headers=world.alice, files=files)).json()
    assert title["suggested_title"]
    desc = (
        await client.post(f"{prefix}/meetings/suggest-description", headers=world.alice, files=files)
    ).json()
    assert desc["suggested_description"]


@pytest.mark.parametrize("prefix", SURFACES)
async def test_upload_delete_and_dual_audio_on_each_surface(
    embedded: Any, client: httpx.AsyncClient, world: World, prefix: str
) -> None:
    h = world.alice
    channels = audio.decode(STEREO, 16000, mono=False)
    phone, system = io.BytesIO(), io.BytesIO()
    write_wav_to(phone, channels[0], 16000)
    write_wav_to(system, audio.decode(STEREO, 8000, mono=False)[1], 8000)  # another sample rate
    files = {
        "audio_file": ("phone.wav", phone.getvalue(), "audio/wav"),
        "second_audio_file": ("system.wav", system.getvalue(), "audio/wav"),
    }
    reply = await client.post(f"{prefix}/meetings/", headers=h, data={"title": "Call"}, files=files)
    assert reply.status_code == 201, reply.text
    mid = reply.json()["id"]
    done = await wait_status(client, f"{prefix}/meetings/{mid}", h)
    assert done["status"] == "COMPLETED", done["error"]
    assert len(done["speakers"]) == 2
    by_speaker: dict[str, str] = {}
    for seg in done["transcription"]:
        by_speaker[seg["speaker"]] = by_speaker.get(seg["speaker"], "") + " " + seg["text"]
    norm = jiwer.Compose(
        [jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.Strip(), jiwer.ReduceToListOfListOfWords()]
    )
    for ref in STEREO_REFERENCES:  # each channel's text is one speaker's
        best = min(
            jiwer.wer(ref, t, reference_transform=norm, hypothesis_transform=norm)
            for t in by_speaker.values()
        )
        assert best < 0.35, (ref, by_speaker)
    keys = [i.key for i in await embedded.runtime.storage.list("meetings/") if mid in i.key]
    assert len(keys) == 2  # stereo master and playback mix
    assert (await client.delete(f"{prefix}/meetings/{mid}", headers=h)).status_code == 204
    assert (await client.get(f"{prefix}/meetings/{mid}", headers=h)).status_code == 404
    assert not [i for i in await embedded.runtime.storage.list("meetings/") if mid in i.key]


# --- isolation and bad input -------------------------------------------------------------------
async def test_another_users_records_answer_404(client: httpx.AsyncClient, world: World) -> None:
    mid, m = world.weekly["id"], world.mallory
    for method, path in (
        ("GET", f"/api/v1/mobile/meetings/{mid}"),
        ("PUT", f"/api/v1/web/meetings/{mid}"),
        ("GET", f"/api/v1/web/meetings/{mid}/audio"),
        ("GET", f"/api/v1/mobile/meetings/{mid}/audio/url"),
        ("GET", f"/api/v1/mobile/meetings/{mid}/export"),
        ("PUT", f"/api/v1/mobile/meetings/{mid}/speaker-names"),
        ("DELETE", f"/api/v1/web/meetings/{mid}"),
    ):
        body = {"old_speaker_name": "Bob", "new_speaker_name": "X"} if "speaker" in path else {"title": "x"}
        reply = await client.request(method, path, headers=m, json=body if method == "PUT" else None)
        assert reply.status_code == 404, (method, path, reply.text)
        assert reply.json()["detail"] and reply.json()["error"] and reply.json()["timestamp"]
    assert (await client.get("/api/v1/mobile/meetings/", headers=m)).json()["total"] == 0
    assert (await client.get(f"/api/v1/mobile/meetings/{mid}")).status_code == 401


BAD_UPLOADS: dict[str, tuple[dict[str, Any], dict[str, Any], int]] = {
    "no audio": ({"title": "x"}, {}, 422),
    "empty m4a": ({"title": "x"}, {"audio_file": ("a.m4a", b"", "audio/mp4")}, 400),
    "text named m4a": ({"title": "x"}, {"audio_file": ("a.m4a", b"just some text\n" * 50, "audio/mp4")}, 400),
    "truncated flac": (
        {"title": "x"},
        {"audio_file": ("a.flac", JFK.read_bytes()[:40000], "audio/flac")},
        400,
    ),
    "unsupported codec (aiff)": ({"title": "x"}, {"audio_file": ("a.wav", aiff_bytes(), "audio/wav")}, 400),
    "unsupported extension": ({"title": "x"}, {"audio_file": ("a.txt", wav_bytes(1), "text/plain")}, 400),
    "participants not a JSON array": ({"title": "x", "participants": "Ann, Ben"}, {}, 400),
    "participants not strings": ({"title": "x", "participants": "[1, 2]"}, {}, 400),
    "unknown template": ({"title": "x", "templateid": str(uuid.uuid4())}, {}, 404),
    "unreadable second file": (
        {"title": "x"},
        {"second_audio_file": ("b.wav", b"RIFF....WAVEjunk" * 10, "audio/wav")},
        400,
    ),
}


@pytest.mark.parametrize("case", list(BAD_UPLOADS))
async def test_bad_uploads_store_nothing(
    embedded: Any, client: httpx.AsyncClient, world: World, case: str
) -> None:
    data, files, status = BAD_UPLOADS[case]
    if case not in ("no audio",) and "audio_file" not in files:
        files = {"audio_file": ("ok.wav", wav_bytes(1.0), "audio/wav"), **files}
    before = await embedded.runtime.storage.list("meetings/")
    total = (await client.get("/api/v1/mobile/meetings/", headers=world.mallory)).json()["total"]
    reply = await client.post(
        "/api/v1/mobile/meetings/", headers=world.mallory, data=data, files=files or None
    )
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert {"error", "details", "timestamp", "detail"} <= set(body)
    if status == 422:
        assert isinstance(body["detail"], list) and {"loc", "msg", "type"} <= set(body["detail"][0])
    assert await embedded.runtime.storage.list("meetings/") == before
    assert (await client.get("/api/v1/mobile/meetings/", headers=world.mallory)).json()["total"] == total
    assert embedded.temp_leftovers() == []


async def test_foreign_template_and_size_limit(
    embedded: Any, client: httpx.AsyncClient, world: World
) -> None:
    body = {"title": "Alice's", "summary_prompt": "x"}
    tpl = (await client.post("/api/v1/mobile/templates", headers=world.alice, json=body)).json()
    files = {"audio_file": ("ok.wav", wav_bytes(1.0), "audio/wav")}
    reply = await client.post(
        "/api/v1/mobile/meetings/",
        headers=world.mallory,
        data={"title": "x", "templateid": tpl["id"]},
        files=files,
    )
    assert reply.status_code == 404
    settings = product(embedded).settings
    saved, settings.max_audio_file_size = settings.max_audio_file_size, 20_000
    try:
        big = {"audio_file": ("big.wav", wav_bytes(2.0), "audio/wav")}  # 64 kB
        reply = await client.post(
            "/api/v1/mobile/meetings/", headers=world.mallory, data={"title": "x"}, files=big
        )
        assert reply.status_code == 413 and reply.json()["detail"]
    finally:
        settings.max_audio_file_size = saved


async def test_bad_queries_answer_422(client: httpx.AsyncClient, world: World) -> None:
    h = world.alice
    for query in ("limit=0", "limit=5000", "date_from=2026-12-02&date_to=2026-12-01", "status=sleeping"):
        reply = await client.get(f"/api/v1/mobile/meetings/?{query}", headers=h)
        assert reply.status_code == 422, query
    for path in ("/api/v1/mobile/meetings/not-a-uuid", "/api/v1/web/meetings/123/audio"):
        reply = await client.get(path, headers=h)
        assert reply.status_code == 422 and isinstance(reply.json()["detail"], list)
    reply = await client.put(
        f"/api/v1/mobile/meetings/{world.weekly['id']}/speaker-names",
        headers=h,
        json={"old_speaker_name": "Nobody", "new_speaker_name": "X"},
    )
    assert reply.status_code == 404


# --- lists, search, renames, CRM, action items -------------------------------------------------
async def test_filters_and_pagination_over_250_meetings(embedded: Any, client: httpx.AsyncClient) -> None:
    session = await register(client, name="Lister")
    h = bearer(session["access_token"])
    user_id = (await client.get("/api/v1/mobile/auth/me", headers=h)).json()["id"]
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        MeetingRecord(
            id=str(uuid.uuid4()),
            user_id=str(user_id),
            title=f"Bulk {i}",
            participants=[],
            transcription=[],
            action_items=[],
            speakers=[],
            speaker_labels=[],
            status=("PENDING", "COMPLETED")[i % 2],
            analytics_status="PENDING",
            attempt=1,
            created_at=t0 + timedelta(hours=i),
            updated_at=t0 + timedelta(hours=i),
        )
        for i in range(250)
    ]
    await product(embedded).meetings.add_many(rows)
    page = (await client.get("/api/v1/web/meetings/?page=3&limit=100", headers=h)).json()
    assert (page["total"], page["page"], page["limit"], page["total_pages"]) == (250, 3, 100, 3)
    assert len(page["data"]) == 50 and page["data"][-1]["title"] == "Bulk 0"
    default = (await client.get("/api/v1/mobile/meetings/", headers=h)).json()
    assert default["limit"] == 100 and len(default["data"]) == 100
    done = (await client.get("/api/v1/mobile/meetings/?status=completed&limit=1000", headers=h)).json()
    assert done["total"] == 125 and {m["status"] for m in done["data"]} == {"COMPLETED"}
    assert (await client.get("/api/v1/mobile/meetings/?status=COMPLETED", headers=h)).json()["total"] == 125
    ranged = (
        await client.get(
            "/api/v1/mobile/meetings/?date_from=2026-01-01T10:00:00Z&date_to=2026-01-01T19:00:00Z", headers=h
        )
    ).json()
    assert ranged["total"] == 10


async def test_search_finds_a_word_only_in_the_transcript(client: httpx.AsyncClient, world: World) -> None:
    found = (await client.get("/api/v1/mobile/meetings/?search=candidates", headers=world.alice)).json()
    assert [m["id"] for m in found["data"]] == [world.weekly["id"]]
    assert "candidates" not in (world.weekly["title"] + (world.weekly["description"] or "")).lower()
    none = (await client.get("/api/v1/mobile/meetings/?search=candidates", headers=world.mallory)).json()
    assert none["total"] == 0


async def test_renames_crm_mapping_and_action_items(client: httpx.AsyncClient, world: World) -> None:
    mid, h = world.weekly["id"], world.alice
    one = await client.put(
        f"/api/v1/mobile/meetings/{mid}/speaker-names",
        headers=h,
        json={"old_speaker_name": "Bob", "new_speaker_name": "Robert"},
    )
    assert one.status_code == 200
    m = one.json()
    assert "Bob" not in {s["speaker"] for s in m["transcription"]} and "Robert" in m["participants"]
    assert any(i["assigned_to"] == "Robert" for i in m["action_items"])
    assert "Robert" in {s["speaker"] for s in m["analytics_data"]["speakers"]}
    bulk = await client.put(
        f"/api/v1/web/meetings/{mid}/speaker-names/bulk",
        headers=h,
        json={"speaker_updates": {"Robert": "Bob", "Alice": "Alice"}},
    )
    assert bulk.status_code == 200 and "Bob" in bulk.json()["participants"]

    speakers = (await client.get("/api/v1/crm/speakers", headers=h)).json()
    carol = next(s for s in speakers["speakers"] if s["speaker_name"] == "Carol")
    assert carol["meeting_count"] == 1 and carol["profile"] is None
    profile = (
        await client.post(
            "/api/v1/crm/speaker-profiles",
            headers=h,
            json={
                "first_name": "Carol",
                "last_name": "Jones",
                "email": "carol@example.com",
                "company": "Acme",
            },
        )
    ).json()
    assert (
        await client.get(f"/api/v1/crm/speaker-profiles/{profile['id']}", headers=world.mallory)
    ).status_code == 404
    mapped = await client.post(
        f"/api/v1/crm/speaker-profiles/{profile['id']}/map", headers=h, json={"speaker_name": "Carol"}
    )
    assert mapped.status_code == 200 and mapped.json()["meetings_updated"] == 1
    meeting = (await client.get(f"/api/v1/mobile/meetings/{mid}", headers=h)).json()
    assert "Carol Jones" in {s["speaker"] for s in meeting["transcription"]}
    assert any(i["assigned_to"] == "Carol Jones" for i in meeting["action_items"])
    speakers = (await client.get("/api/v1/crm/speakers", headers=h)).json()
    entry = next(s for s in speakers["speakers"] if s["speaker_name"] == "Carol Jones")
    assert entry["profile"]["id"] == profile["id"]
    listed = (await client.get("/api/v1/crm/speakers/Carol Jones/meetings", headers=h)).json()
    assert [x["id"] for x in listed["data"]] == [mid]
    page = (await client.get("/api/v1/crm/speaker-profiles?search=jon", headers=h)).json()
    assert page["total"] == 1
    changed = await client.put(
        f"/api/v1/crm/speaker-profiles/{profile['id']}",
        headers=h,
        json={"first_name": "Carol", "last_name": "Jones", "phone": "+1"},
    )
    assert changed.json()["phone"] == "+1"

    items = (
        await client.get("/api/v1/mobile/action-items?status=open&assigned_to=Carol Jones", headers=h)
    ).json()
    assert items["total"] == 2
    done = await client.patch(
        f"/api/v1/web/action-items/{items['data'][0]['id']}", headers=h, json={"status": "done"}
    )
    assert done.status_code == 200 and done.json()["status"] == "done"
    left = (
        await client.get("/api/v1/mobile/action-items?status=open&assigned_to=Carol Jones", headers=h)
    ).json()
    assert left["total"] == 1
    assert (
        await client.patch(
            f"/api/v1/web/action-items/{items['data'][1]['id']}",
            headers=world.mallory,
            json={"status": "done"},
        )
    ).status_code == 404
    assert (
        await client.delete(f"/api/v1/crm/speaker-profiles/{profile['id']}", headers=h)
    ).status_code == 204


async def test_debug_routes_and_health_version(
    embedded: Any, client: httpx.AsyncClient, world: World
) -> None:
    assert (await client.get("/api/v1/mobile/debug/routes", headers=world.alice)).status_code == 404
    settings = product(embedded).settings
    settings.debug_routes = True
    try:
        table = (await client.get("/api/v1/mobile/debug/routes", headers=world.alice)).json()
        paths = {r["path"] for r in table["routes"]}
        assert "/api/v1/web/meetings/{meeting_id}" in paths and "/api/v1/crm/speakers" in paths
    finally:
        settings.debug_routes = False
    health = (await client.get("/health")).json()
    assert health["status"] == "healthy" and health["version"] and "meetings" in health


async def test_openapi_operation_ids_are_unique_per_surface(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    ids = [
        op["operationId"] for item in spec["paths"].values() for op in item.values() if "operationId" in op
    ]
    assert len(ids) == len(set(ids))
    assert "multipart/form-data" in json.dumps(spec["paths"]["/api/v1/web/meetings/"]["post"]["requestBody"])
