"""Meeting processing runs on the generic job lease (issue 15), on a migrated SQLite file with
an in-memory bus, a local object store and a fake clock; no worker answers:

- a meeting whose transcription never answers is requested again by the sweeper (attempt + 1,
  the meeting restarted at that attempt) up to ``EARSHOT_MEETINGS_MAX_ATTEMPTS``, then its job
  and the meeting fail (``lease_expired`` with a reason, ``MeetingFailed``), the run's
  transcript is removed and the recording kept;
- a user's retry of the FAILED meeting starts a new run: a new ``meeting`` job;
- a transcription progress extends the run's lease; a completed meeting ends its run.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.common import db
from services.common.bus import MemoryBus
from services.common.db import utcnow
from services.common.events import (
    ANALYSIS_REQUESTS,
    MEETING_EVENTS,
    MEETING_REQUESTS,
    TRANSCRIPTION_REQUESTS,
    Envelope,
    MeetingFailed,
    MeetingProcessingRequested,
    TranscriptionProgress,
)
from services.common.leases import LEASE_EXPIRED
from services.common.runtime import Runtime
from services.common.settings import load_settings
from services.common.storage import LocalObjectStorage
from services.gateway.products.meetings.consumers import JOB_KIND, MeetingPipeline, run_job_id, transcript_key
from services.gateway.products.meetings.models import MeetingRecord
from services.gateway.products.meetings.repository import MeetingRepository, TemplateRepository
from services.gateway.products.meetings.settings import load_meeting_settings
from services.gateway.shared.durable import DurableJobs
from services.gateway.shared.jobs import JobRepository

MIGRATIONS = Path(db.__file__).resolve().parents[1] / "gateway" / "migrations"
LEASE_S = 60.0
MAX_ATTEMPTS = 3


class Clock:
    """A settable clock, starting now."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'g.db'}"
    await asyncio.to_thread(db.run_migrations, url, MIGRATIONS, "alembic_version_gateway")
    engine = db.create_engine(url)
    sessions = db.session_factory(engine)
    bus = MemoryBus(partitions=1)
    await bus.start()
    await bus.ensure_topics([MEETING_REQUESTS, MEETING_EVENTS, TRANSCRIPTION_REQUESTS, ANALYSIS_REQUESTS])
    storage = LocalObjectStorage(tmp_path / "objects", "http://127.0.0.1:1", b"k" * 32)
    runtime = Runtime(settings=load_settings(), bus=bus, storage=storage, instance_id="unit")
    durable = DurableJobs(runtime, sessions)
    clock = Clock()
    durable.sweeper.clock = clock
    durable.outbox.clock = clock
    jobs = JobRepository(sessions, durable)
    settings = load_meeting_settings(stale_after_s=LEASE_S, max_attempts=MAX_ATTEMPTS, retry_max_s=5)
    meetings = MeetingRepository(sessions)
    pipeline = MeetingPipeline(
        runtime, meetings, TemplateRepository(sessions), settings, None, durable.outbox, jobs
    )
    durable.register(JOB_KIND, pipeline.runs.lease_policy(), on_fail=pipeline.runs.on_lease_expired)
    try:
        yield {
            "bus": bus,
            "storage": storage,
            "durable": durable,
            "clock": clock,
            "jobs": jobs,
            "meetings": meetings,
            "pipeline": pipeline,
        }
    finally:
        await bus.stop()
        await engine.dispose()


def _sent(bus: MemoryBus, topic: str, event_type: str) -> list[Envelope]:
    return [e for e in (Envelope.from_message(m) for m in bus.messages(topic)) if e.type == event_type]


async def _new_meeting(env: dict[str, Any]) -> MeetingRecord:
    meeting_id = str(uuid.uuid4())
    recording = f"meetings/u/{meeting_id}/audio.wav"
    await env["storage"].put(recording, b"RIFF....", "audio/wav")
    record = MeetingRecord(
        id=meeting_id,
        user_id="user-1",
        title="Stalled",
        participants=[],
        transcription=[],
        action_items=[],
        speakers=[],
        speaker_labels=[],
        audio_filename="a.wav",
        s3_audio_path=recording,
        master_audio_key=recording,
        status="PENDING",
        analytics_status="PENDING",
        attempt=1,
    )
    await env["pipeline"].submit(record)
    return record


async def _deliver_requests(env: dict[str, Any], seen: int) -> int:
    """Relay the outbox and hand every new ``MeetingProcessingRequested`` to the pipeline (as
    group ``gateway.meetings`` would); returns how many there are now."""
    await env["durable"].outbox.relay_once()
    requests = _sent(env["bus"], MEETING_REQUESTS, MeetingProcessingRequested.event_type)
    for envelope in requests[seen:]:
        await env["pipeline"].on_requested(MeetingProcessingRequested.model_validate(envelope.data))
    return len(requests)


async def test_a_meeting_nobody_answers_is_requested_again_then_failed_with_its_job(
    env: dict[str, Any],
) -> None:
    clock: Clock = env["clock"]
    jobs: JobRepository = env["jobs"]
    record = await _new_meeting(env)
    job_id = run_job_id(record.id, 1)
    job = await jobs.get(job_id)
    assert job is not None and job.kind == JOB_KIND and job.status == "queued" and job.attempts == 1
    assert job.request is not None and job.request["type"] == MeetingProcessingRequested.event_type
    assert job.objects == [transcript_key(record.id)]

    seen = await _deliver_requests(env, 0)
    assert seen == 1
    meeting = await env["meetings"].get(record.id)
    assert meeting.status == "PROCESSING" and meeting.attempt == 1
    assert (await jobs.get(job_id)).status == "running"
    # the transcription worker never answers; a partial transcript of the run is stored
    await env["storage"].put(transcript_key(record.id), b"{}", "application/json")

    for attempt in range(2, MAX_ATTEMPTS + 1):
        clock.advance(LEASE_S + 1)
        swept = await env["durable"].sweeper.sweep_once()
        assert swept.retried == [job_id] and swept.failed == []
        clock.advance(60)  # past the re-request's backoff
        seen = await _deliver_requests(env, seen)
        assert seen == attempt
        meeting = await env["meetings"].get(record.id)
        assert meeting.status == "PROCESSING" and meeting.attempt == attempt
        assert (await jobs.get(job_id)).attempts == attempt

    clock.advance(LEASE_S + 1)
    swept = await env["durable"].sweeper.sweep_once()
    assert swept.failed == [job_id] and swept.retried == []
    job = await jobs.get(job_id)
    assert job.status == "failed" and job.error == LEASE_EXPIRED and job.lease_expires_at is None
    meeting = await env["meetings"].get(record.id)
    assert meeting.status == "FAILED" and meeting.analytics_status == "FAILED"
    assert meeting.error.startswith(f"{LEASE_EXPIRED}: processing stopped making progress {MAX_ATTEMPTS}")
    await env["durable"].outbox.relay_once()
    failed = _sent(env["bus"], MEETING_EVENTS, MeetingFailed.event_type)
    assert [(e.data["job_id"], e.data["error"]) for e in failed] == [(record.id, LEASE_EXPIRED)]
    assert not await env["storage"].exists(transcript_key(record.id))  # the run's intermediate
    assert await env["storage"].exists(record.s3_audio_path)  # the user's recording stays
    # nothing more happens to it
    clock.advance(10 * LEASE_S)
    assert (await env["durable"].sweeper.sweep_once()).failed == []


async def test_a_retry_of_a_failed_meeting_is_a_new_job(env: dict[str, Any]) -> None:
    jobs: JobRepository = env["jobs"]
    pipeline: MeetingPipeline = env["pipeline"]
    record = await _new_meeting(env)
    await _deliver_requests(env, 0)
    meeting = await env["meetings"].get(record.id)
    assert await pipeline.fail(meeting, "engine_crashed", "boom", ("PROCESSING",))
    first = await jobs.get(run_job_id(record.id, 1))
    assert first.status == "failed" and first.error == "engine_crashed"

    assert await pipeline.retry(await env["meetings"].get(record.id))
    second = await jobs.get(run_job_id(record.id, 2))
    assert second is not None and second.kind == JOB_KIND and second.status == "queued"
    assert second.attempts == 1 and second.request["data"]["attempt"] == 1
    assert (await jobs.get(run_job_id(record.id, 1))).status == "failed"  # forward only
    meeting = await env["meetings"].get(record.id)
    assert meeting.status == "PENDING" and meeting.attempt == 1
    assert not await pipeline.retry(meeting)  # only a FAILED meeting is retried
    assert await jobs.get(run_job_id(record.id, 3)) is None


async def test_progress_extends_the_run_and_a_worker_failure_retry_moves_its_attempt(
    env: dict[str, Any],
) -> None:
    jobs: JobRepository = env["jobs"]
    pipeline: MeetingPipeline = env["pipeline"]
    record = await _new_meeting(env)
    await _deliver_requests(env, 0)
    job_id = run_job_id(record.id, 1)
    before = (await jobs.get(job_id)).lease_expires_at
    await asyncio.sleep(0.01)
    await pipeline.on_transcription_progress(
        TranscriptionProgress(job_id=record.id, percent=40.0, processed_s=4, duration_s=10)
    )
    assert (await jobs.get(job_id)).lease_expires_at > before

    meeting = await env["meetings"].get(record.id)
    await pipeline._failure(meeting, "engine_crashed", "boom")  # a worker's failure: retried
    job = await jobs.get(job_id)
    meeting = await env["meetings"].get(record.id)
    assert meeting.status == "PENDING" and meeting.attempt == 2
    assert job.status == "running" and job.attempts == 2 and job.request["data"]["attempt"] == 2


async def test_unfinished_meetings_without_a_run_are_adopted_at_start(env: dict[str, Any]) -> None:
    jobs: JobRepository = env["jobs"]
    pipeline: MeetingPipeline = env["pipeline"]
    meeting_id = str(uuid.uuid4())
    # a PROCESSING meeting written by a version whose runs were not jobs
    await env["meetings"].add(
        MeetingRecord(
            id=meeting_id,
            user_id="user-1",
            title="Legacy",
            participants=[],
            transcription=[],
            action_items=[],
            speakers=[],
            speaker_labels=[],
            audio_filename="a.wav",
            s3_audio_path="meetings/u/a.wav",
            status="PROCESSING",
            analytics_status="PROCESSING",
            attempt=2,
        )
    )
    await asyncio.sleep(0.01)
    assert await pipeline.runs.adopt() == [meeting_id]
    job = await jobs.get(run_job_id(meeting_id, 1))
    assert job is not None and job.status == "queued" and job.attempts == 2  # the meeting's
    assert job.request["data"]["attempt"] == 2
    assert await pipeline.runs.adopt() == []  # once
    # its lease runs out: requested again at attempt 3, the meeting restarts at it
    env["clock"].advance(LEASE_S + 1)
    assert (await env["durable"].sweeper.sweep_once()).retried == [job.id]
    env["clock"].advance(60)
    await _deliver_requests(env, 0)
    meeting = await env["meetings"].get(meeting_id)
    assert meeting.status == "PROCESSING" and meeting.attempt == 3


async def test_deleting_a_meeting_ends_its_run(env: dict[str, Any]) -> None:
    jobs: JobRepository = env["jobs"]
    pipeline: MeetingPipeline = env["pipeline"]
    record = await _new_meeting(env)
    await _deliver_requests(env, 0)
    await env["storage"].put(transcript_key(record.id), b"{}", "application/json")
    assert await pipeline.runs.cancel(record.id)
    job = await jobs.get(run_job_id(record.id, 1))
    assert (job.status, job.error) == ("failed", "meeting_deleted")
    assert not await env["storage"].exists(transcript_key(record.id))
    assert not await pipeline.runs.cancel(record.id)  # nothing active any more
