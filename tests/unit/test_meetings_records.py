"""Meeting records on a migrated SQLite file: seeded templates, filters and pagination over
250 meetings, search by a transcript-only word, speaker renames in one transaction, CRM
profiles; exports in every format; dashboard sync with its HMAC signature and retries;
settings parsing."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from services.common import db
from services.common.settings import ConfigurationError
from services.gateway.products.meetings import dashboard
from services.gateway.products.meetings.exports import render
from services.gateway.products.meetings.models import MeetingRecord, SpeakerProfile
from services.gateway.products.meetings.repository import (
    MeetingRepository,
    ProfileRepository,
    TemplateRepository,
)
from services.gateway.products.meetings.schemas import MeetingOut
from services.gateway.products.meetings.settings import load_meeting_settings

MIGRATIONS = Path(db.__file__).resolve().parents[1] / "gateway" / "migrations"
DEFAULT_TITLES = {
    "General",
    "Team Meeting",
    "Sales Call",
    "Customer Support",
    "Job Interview",
    "One-on-One",
    "Lecture",
}
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[Any]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'g.db'}"
    await asyncio.to_thread(db.run_migrations, url, MIGRATIONS, "alembic_version_gateway")
    engine = db.create_engine(url)
    yield db.session_factory(engine)
    await engine.dispose()


def meeting(user: str, i: int, **extra: Any) -> MeetingRecord:
    values: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "user_id": user,
        "title": f"Meeting {i}",
        "participants": ["Ann", "Ben"],
        "transcription": [],
        "action_items": [],
        "speakers": [],
        "speaker_labels": [],
        "status": ("PENDING", "PROCESSING", "COMPLETED", "FAILED")[i % 4],
        "analytics_status": "PENDING",
        "attempt": 1,
        "created_at": T0 + timedelta(hours=i),
        "updated_at": T0 + timedelta(hours=i),
    }
    values.update(extra)
    return MeetingRecord(**values)


async def test_default_templates_are_seeded_shared_and_read_only(sessions: Any) -> None:
    repo = TemplateRepository(sessions)
    rows, total = await repo.listing("anyone", "defaults")
    assert DEFAULT_TITLES <= {r.title for r in rows} and total == len(rows)
    assert all(r.is_default and r.created_by is None for r in rows)
    assert await repo.visible(rows[0].id, "someone-else") is not None


async def test_filters_and_pagination_over_250_meetings(sessions: Any) -> None:
    repo = MeetingRepository(sessions)
    await repo.add_many([meeting("u1", i) for i in range(250)] + [meeting("u2", i) for i in range(5)])
    rows, total = await repo.page("u1", 1, 100)
    assert total == 250 and len(rows) == 100 and rows[0].title == "Meeting 249"
    rows, total = await repo.page("u1", 3, 100)
    assert len(rows) == 50 and rows[-1].title == "Meeting 0"
    _, completed = await repo.page("u1", 1, 100, status="completed")
    assert completed == 62  # i % 4 == 2 for i < 250
    _, same = await repo.page("u1", 1, 100, status="COMPLETED")
    assert same == completed
    rows, total = await repo.page(
        "u1", 1, 1000, date_from=T0 + timedelta(hours=10), date_to=T0 + timedelta(hours=19)
    )
    assert total == 10 and {r.title for r in rows} == {f"Meeting {i}" for i in range(10, 20)}
    _, analytics = await repo.page("u1", 1, 10, analytics_status="pending")
    assert analytics == 250
    _, other = await repo.page("u2", 1, 100)
    assert other == 5


async def test_search_finds_a_word_only_in_the_transcript(sessions: Any) -> None:
    repo = MeetingRepository(sessions)
    segs = [
        {
            "speaker": "Ann",
            "text": "The flamingo budget is approved.",
            "start_time": "0:00",
            "end_time": "0:03",
        }
    ]
    target = meeting("u1", 1, transcription=segs, speakers=["Ann"])
    await repo.add_many([target, meeting("u1", 2), meeting("u1", 3, title="Flamingo-free title")])
    rows, total = await repo.page("u1", 1, 10, search="flamingo budget")
    assert total == 1 and rows[0].id == target.id
    _, none = await repo.page("u2", 1, 10, search="flamingo")
    assert none == 0
    rows, _ = await repo.page("u1", 1, 10, search="Ben")  # a participant
    assert len(rows) == 3


async def test_renames_apply_everywhere_in_one_transaction(sessions: Any) -> None:
    repo = MeetingRepository(sessions)
    record = meeting(
        "u1",
        1,
        participants=["Speaker 1", "Ben"],
        transcription=[
            {"speaker": "Speaker 1", "text": "I will call them.", "start_time": "0:00", "end_time": "0:02"}
        ],
        action_items=[
            {"id": "a", "task": "Call them", "assigned_to": "Speaker 1", "due_date": None, "status": "open"}
        ],
        speakers=["Speaker 1", "Ben"],
        speaker_labels=[{"label": "SPEAKER_00", "name": "Speaker 1", "confidence": 0.0}],
        analytics_data={
            "speakers": [{"speaker": "Speaker 1"}],
            "longest_monologue": {"speaker": "Speaker 1"},
        },
    )
    await repo.add(record)
    assert await repo.rename_speakers("u2", {"Speaker 1": "Zed"}, record.id) == 0  # not theirs
    assert await repo.rename_speakers("u1", {"Speaker 1": "Dana"}, record.id) == 1
    got = await repo.get(record.id, "u1")
    assert got is not None
    assert got.transcription[0]["speaker"] == "Dana" and got.action_items[0]["assigned_to"] == "Dana"
    assert got.participants == ["Dana", "Ben"] and got.speakers == ["Dana", "Ben"]
    assert got.speaker_labels[0]["name"] == "Dana"
    assert got.analytics_data == {"speakers": [{"speaker": "Dana"}], "longest_monologue": {"speaker": "Dana"}}
    assert "Dana" in got.search_text
    assert await repo.get(record.id, "u2") is None


async def test_profiles_are_per_user(sessions: Any) -> None:
    repo = ProfileRepository(sessions)
    p = await repo.add(
        SpeakerProfile(id="", user_id="u1", first_name="Dana", last_name="Scully", speaker_names=[])
    )
    assert p.full_name == "Dana Scully"
    assert await repo.get(p.id, "u2") is None and (await repo.get(p.id, "u1")) is not None
    rows, total = await repo.page("u1", 1, 10, search="scul")
    assert total == 1 and rows[0].id == p.id


def record_json() -> dict[str, Any]:
    r = meeting(
        "u1",
        1,
        title="Weekly sync",
        summary="We agreed on the plan.",
        key_points="1. Pricing\n2. Hiring",
        transcription=[
            {
                "speaker": "Ann",
                "text": "Hello all.",
                "start_time": "0:00",
                "end_time": "0:02",
                "start": 0,
                "end": 2,
            },
            {
                "speaker": "Ben",
                "text": "I will send it.",
                "start_time": "0:02",
                "end_time": "0:05",
                "start": 2,
                "end": 5,
            },
        ],
        action_items=[
            {"id": "a", "task": "Send it", "assigned_to": "Ben", "due_date": "2026-11-20", "status": "open"}
        ],
    )
    return MeetingOut.of(r).model_dump(mode="json")


@pytest.mark.parametrize("fmt", ["md", "json", "srt", "vtt", "txt", "docx"])
def test_exports(fmt: str) -> None:
    data = render(record_json(), fmt)  # type: ignore[arg-type]
    if fmt == "docx":
        from docx import Document

        text = "\n".join(p.text for p in Document(io.BytesIO(data)).paragraphs)
    else:
        text = data.decode()
    assert "I will send it." in text
    if fmt in ("md", "txt", "docx"):
        assert "Send it (Ben), due 2026-11-20" in text and "Pricing" in text and "We agreed" in text
    if fmt == "srt":
        assert "00:00:02,000 --> 00:00:05,000\n[Ben] I will send it." in text
    if fmt == "vtt":
        assert text.startswith("WEBVTT") and "<v Ben>I will send it." in text
    if fmt == "json":
        assert json.loads(text)["action_items"][0]["assigned_to"] == "Ben"


async def test_dashboard_sync_signs_and_retries() -> None:
    received: list[tuple[bytes, str]] = []
    calls = {"n": 0}

    async def handler(request: web.Request) -> web.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return web.Response(status=503)
        received.append((await request.read(), request.headers["X-Earshot-Signature"]))
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/api/meetings", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        ok = await dashboard.push(f"http://127.0.0.1:{port}", "s3cret", {"id": "m1"}, base_s=0.01, cap_s=0.05)
        assert ok and calls["n"] == 2
        body, sig = received[0]
        assert sig == "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
        assert json.loads(body) == {"id": "m1"}
        down = await dashboard.push("http://127.0.0.1:1", "k", {"id": "m"}, attempts=2, base_s=0.01)
        assert down is False
    finally:
        await runner.cleanup()


def test_backoff_follows_the_seed_formula() -> None:
    for attempt in range(6):
        delay = dashboard.backoff_s(attempt)
        assert min(2 * 2**attempt, 60) <= delay <= min(2 * 2**attempt + 1, 60)


def test_settings_parse_sizes_and_name_bad_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_AUDIO_FILE_SIZE", "50MB")
    assert load_meeting_settings().max_audio_file_size == 50 * 1024 * 1024
    monkeypatch.setenv("MAX_AUDIO_FILE_SIZE", "lots")
    with pytest.raises(ConfigurationError, match="MAX_AUDIO_FILE_SIZE"):
        load_meeting_settings()
