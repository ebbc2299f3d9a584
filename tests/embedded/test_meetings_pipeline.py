"""The meeting processing pipeline on the embedded platform (real Whisper, diarization and
analysis services over the in-memory bus), driven through :class:`MeetingService`:

- weekly_sync.wav with participants Alice, Bob, Carol -> COMPLETED, three speakers named,
  the four action items with their owners;
- stereo_diarization.wav split into two mono files (dual audio) -> two speakers, each
  channel's text matching its reference;
- a redelivered request and a redelivered completion change nothing; a failure is retried
  then FAILED (and its run's job with it); a stalled run (lease expired) is requested again by
  the gateway's sweeper and completes, or fails (``lease_expired``) at the attempt limit.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jiwer
import pytest

from services.common import audio, db
from services.common.events import AnalysisCompleted, Envelope, TranscriptionFailed
from services.gateway.products.meetings.consumers import MeetingPipeline
from services.gateway.products.meetings.media import write_wav
from services.gateway.products.meetings.repository import (
    MeetingRepository,
    ProfileRepository,
    TemplateRepository,
)
from services.gateway.products.meetings.service import AudioFile, MeetingService, NewMeeting
from services.gateway.products.meetings.settings import load_meeting_settings
from services.gateway.shared.consumers import ConsumerTable, On
from tests.conftest import FIXTURES

pytestmark = pytest.mark.embedded

WEEKLY = FIXTURES / "weekly_sync.wav"
STEREO = FIXTURES / "stereo_diarization.wav"


@pytest.fixture(scope="module")
async def service(embedded: Any) -> AsyncIterator[MeetingService]:
    """A meeting pipeline and service on the embedded platform's bus, storage and database."""
    engine = db.create_engine(embedded.settings.effective_database_url)
    sessions = db.session_factory(engine)
    settings = load_meeting_settings(retry_base_s=0.05, retry_max_s=0.2)
    meetings, templates = MeetingRepository(sessions), TemplateRepository(sessions)
    profiles = ProfileRepository(sessions)
    # the platform's outbox: each step's change and next request commit together (issue 15)
    # and its jobs: each processing run is a leased ``meeting`` job (the platform's meetings
    # product registered the kind's policy and failure hook with the sweeper)
    ctx = embedded.platform.gateway.ctx
    pipeline = MeetingPipeline(
        embedded.runtime, meetings, templates, settings, profiles, ctx.durable.outbox, ctx.jobs
    )
    subs = [
        await ConsumerTable(group, [On(*row) for row in rows], from_latest=latest).subscribe(
            embedded.runtime.bus, embedded.runtime.instance_id
        )
        for group, rows, latest in (
            ("gateway.meetings", pipeline.handlers, False),
            ("gateway.meetings.test-{instance}", pipeline.push_handlers, True),
        )
    ]
    await pipeline.start()
    yield MeetingService(embedded.runtime, meetings, templates, profiles, pipeline, settings)
    await pipeline.stop()
    for sub in subs:
        await sub.close()
    await engine.dispose()


async def wait_done(svc: MeetingService, meeting_id: str, timeout_s: float = 600) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        record = await svc.meetings.get(meeting_id)
        assert record is not None
        if record.status in ("COMPLETED", "FAILED"):
            return record
        assert loop.time() < deadline, f"meeting stuck at {record.status}"
        await asyncio.sleep(0.2)


def upload(path: Path) -> AudioFile:
    return AudioFile(path=path, filename=path.name, size=path.stat().st_size)


def form(title: str, participants: list[str] | None = None) -> NewMeeting:
    return NewMeeting(
        title=title,
        description=None,
        participants=participants or [],
        templateid=None,
        custom_template_points=None,
    )


@pytest.fixture(scope="module")
async def weekly(service: MeetingService, tmp_path_factory: pytest.TempPathFactory) -> Any:
    user = f"user-{uuid.uuid4()}"
    record = await service.create(
        user,
        form("Weekly sync", ["Alice", "Bob", "Carol"]),
        upload(WEEKLY),
        None,
        tmp_path_factory.mktemp("w"),
    )
    assert record.status == "PENDING"
    return await wait_done(service, record.id)


def owner_of(items: list[dict[str, Any]], *keywords: str) -> str | None:
    for item in items:
        if all(k in item["task"].lower() for k in keywords):
            return item["assigned_to"]
    raise AssertionError(f"no item with {keywords}: {items}")


async def test_weekly_sync_completes_with_named_speakers_and_owned_items(weekly: Any) -> None:
    assert weekly.status == "COMPLETED" and weekly.analytics_status == "COMPLETED", weekly.error
    assert set(weekly.speakers) == {"Alice", "Bob", "Carol"}
    items = weekly.action_items
    assert owner_of(items, "draft", "proposal") == "Carol"
    assert owner_of(items, "release notes") == "Bob"
    assert owner_of(items, "book", "room") == "Carol"
    assert owner_of(items, "schedule", "interview") == "Alice"
    assert "pricing" in weekly.summary.lower() and weekly.key_points.startswith("1. ")
    assert {s["speaker"] for s in weekly.analytics_data["speakers"]} == {"Alice", "Bob", "Carol"}
    assert weekly.transcription[0]["start_time"].count(":") == 1
    assert "interviewed" in weekly.search_text


async def test_redelivered_events_change_nothing(service: MeetingService, weekly: Any) -> None:
    before = await service.meetings.get(weekly.id)
    assert before is not None
    result = {"speaker_names": [], "action_items": [{"task": "x", "assigned_to": None, "due_date": None}]}
    await service.runtime.bus.publish(
        AnalysisCompleted.topic,
        Envelope.of(
            AnalysisCompleted(job_id=weekly.id, kind="meeting", analyzer="local", result=result), "/t"
        ),
    )
    await service.pipeline.request(before, before.attempt)  # a redelivered request
    await asyncio.sleep(0.5)
    after = await service.meetings.get(weekly.id)
    assert after is not None and after.status == "COMPLETED"
    assert after.action_items == before.action_items and after.transcription == before.transcription


STEREO_REFERENCES = (
    "He began a confused complaint against the wizard, who had vanished behind the curtain on the left.",
    "The horizon seems extremely distant.",
)
"""What each channel of stereo_diarization.wav says (tests/fixtures/NOTICE.md)."""


def split_channels(tmp: Path) -> tuple[Path, Path]:
    """The fixture's two channels as two mono files: the phone's 16 kHz, the system's 8 kHz."""
    write_wav(tmp / "phone.wav", audio.decode(STEREO, 16000, mono=False)[0], 16000)
    write_wav(tmp / "system.wav", audio.decode(STEREO, 8000, mono=False)[1], 8000)
    return tmp / "phone.wav", tmp / "system.wav"


async def test_dual_audio_gives_two_speakers_by_channel(service: MeetingService, tmp_path: Path) -> None:
    left, right = split_channels(tmp_path)
    record = await service.create(f"user-{uuid.uuid4()}", form("Call"), upload(left), upload(right), tmp_path)
    master = await service.runtime.storage.get(record.master_audio_key)
    assert master[:4] == b"RIFF"
    done = await wait_done(service, record.id)
    assert done.status == "COMPLETED", done.error
    assert len(done.speakers) == 2
    labels = {s["label"]: s["name"] for s in done.speaker_labels}
    by_label: dict[str, str] = {}
    for seg in done.transcription:
        label = next(k for k, v in labels.items() if v == seg["speaker"])
        by_label[label] = by_label.get(label, "") + " " + seg["text"]
    norm = jiwer.Compose(
        [jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.Strip(), jiwer.ReduceToListOfListOfWords()]
    )
    for index, ref in enumerate(STEREO_REFERENCES):
        own = by_label.get(f"SPEAKER_{index:02d}", "")
        wer = jiwer.wer(ref, own, reference_transform=norm, hypothesis_transform=norm)
        assert wer < 0.35, (index, wer, by_label)


async def test_failures_are_retried_then_failed(service: MeetingService, tmp_path: Path) -> None:
    record = await service.create(
        f"user-{uuid.uuid4()}", form("Doomed"), upload(FIXTURES / "jfk.flac"), None, tmp_path
    )
    for _ in range(service.settings.max_attempts):
        # wait until the attempt is PROCESSING, then fail its transcription
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while (r := await service.meetings.get(record.id)) is not None and r.status != "PROCESSING":
            assert loop.time() < deadline
            await asyncio.sleep(0.02)
        await service.pipeline.on_failed(
            TranscriptionFailed(job_id=record.id, error="engine_crashed", details="simulated")
        )
    done = await wait_done(service, record.id, 60)
    assert done.status == "FAILED" and done.error.startswith("engine_crashed")
    assert done.attempt == service.settings.max_attempts
    assert await service.retry(done) and (await service.meetings.get(record.id)).status in (
        "PENDING",
        "PROCESSING",
    )
    assert (await wait_done(service, record.id)).status == "COMPLETED"


async def test_stalled_runs_are_requested_again_or_failed_by_the_sweeper(
    embedded: Any, service: MeetingService, tmp_path: Path
) -> None:
    from datetime import UTC, datetime, timedelta

    from services.common.events import MeetingProcessingRequested
    from services.common.leases import request_of
    from services.gateway.models import Job
    from services.gateway.products.meetings.consumers import JOB_KIND, run_job_id

    gateway = embedded.platform.gateway
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    limit = gateway.ctx.durable.policy(JOB_KIND).max_attempts

    async def stall(title: str, attempts: int) -> tuple[str, str]:
        """A finished meeting made PROCESSING again under a second run whose worker was lost
        (its lease ran out two hours ago)."""
        record = await service.create(
            f"user-{uuid.uuid4()}", form(title), upload(FIXTURES / "jfk.flac"), None, tmp_path
        )
        assert (await wait_done(service, record.id)).status == "COMPLETED"
        assert (await gateway.jobs.get(run_job_id(record.id, 1))).status == "succeeded"
        await service.meetings.transition(record.id, ("COMPLETED",), status="PROCESSING", attempt=attempts)
        request = MeetingProcessingRequested(job_id=record.id, user_id=record.user_id, attempt=attempts)
        job_id = run_job_id(record.id, 2)
        async with gateway.ctx.sessions() as session, session.begin():
            session.add(
                Job(
                    id=job_id,
                    kind=JOB_KIND,
                    status="running",
                    created_at=long_ago,
                    updated_at=long_ago,
                    attempts=attempts,
                    lease_expires_at=long_ago,
                    request=request_of(request),
                    objects=[],
                )
            )
        return record.id, job_id

    stuck, stuck_job = await stall("Stuck", 1)
    spent, spent_job = await stall("Spent", limit)
    await gateway.ctx.durable.sweeper.sweep_once()  # (the periodic sweep may act first: same result)
    resumed = await wait_done(service, stuck)
    assert resumed.status == "COMPLETED" and resumed.attempt == 2, resumed.error
    job = await gateway.jobs.get(stuck_job)
    assert (job.status, job.attempts) == ("succeeded", 2)
    failed = await wait_done(service, spent, 30)
    assert failed.status == "FAILED" and failed.error.startswith("lease_expired: processing stopped"), (
        failed.error
    )
    job = await gateway.jobs.get(spent_job)
    assert (job.status, job.error) == ("failed", "lease_expired")
    assert await service.runtime.storage.exists(failed.s3_audio_path)  # the recording stays
    # a user's retry is a new run (job 3), which completes
    assert await service.retry(failed)
    assert (await wait_done(service, spent)).status == "COMPLETED"
    assert (await gateway.jobs.get(run_job_id(spent, 3))).status == "succeeded"


async def test_crm_mappings_name_speakers_of_later_meetings(service: MeetingService, tmp_path: Path) -> None:
    from services.common.transcript import Segment, Transcript
    from services.gateway.products.meetings.consumers import transcript_key
    from services.gateway.products.meetings.models import SpeakerProfile

    user = f"user-{uuid.uuid4()}"
    await service.profiles.add(
        SpeakerProfile(
            id="", user_id=user, first_name="Carol", last_name="Jones", speaker_names=["Carol", "Speaker 1"]
        )
    )
    record = await service.create(
        user, form("Later", ["Carol", "Dan"]), upload(FIXTURES / "jfk.flac"), None, tmp_path
    )
    await wait_done(service, record.id)
    await service.meetings.transition(record.id, ("COMPLETED",), status="PROCESSING")
    transcript = Transcript(
        duration=4,
        text="",
        segments=[
            Segment(id=0, start=0, end=2, text="I will send it.", speaker="SPEAKER_00"),
            Segment(id=1, start=2, end=4, text="Thanks.", speaker="SPEAKER_01"),
        ],
    )
    await service.runtime.storage.put(transcript_key(record.id), transcript.model_dump_json().encode())
    names = [
        {"label": "SPEAKER_00", "name": "Carol", "confidence": 1.0},
        {"label": "SPEAKER_01", "name": "Speaker 1", "confidence": 0.0},
    ]
    items = [{"task": "Send it", "assigned_to": "Carol", "due_date": None}]
    await service.pipeline.on_analyzed(
        AnalysisCompleted(
            job_id=record.id,
            kind="meeting",
            analyzer="local",
            result={"speaker_names": names, "action_items": items},
        )
    )
    assert await service.pipeline.crm_aliases(user) == {"Carol": "Carol Jones"}
    done = await service.meetings.get(record.id)
    assert done is not None and done.status == "COMPLETED"
    assert [s["speaker"] for s in done.transcription] == [
        "Carol Jones",
        "Speaker 1",
    ]  # Speaker N never aliased
    assert done.action_items[0]["assigned_to"] == "Carol Jones" and "Carol Jones" in done.participants
