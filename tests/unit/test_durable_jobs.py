"""Unit tests of the transactional outbox and the job lease sweeper (SQLite, fake clock,
in-memory bus, a local object store)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from services.common import db
from services.common.bus import MemoryBus
from services.common.events import (
    ANC_EVENTS,
    ANC_REQUESTS,
    AncProcessFailed,
    AncProcessRequested,
    Envelope,
    TranscriptionFailed,
)
from services.common.leases import LEASE_EXPIRED, LeasePolicy, Sweeper, extend, request_of
from services.common.outbox import Outbox, OutboxSettings
from services.common.storage import LocalObjectStorage
from services.gateway.models import ACTIVE_STATUSES, Job, outbox
from services.gateway.tables import Base


class Clock:
    """A settable clock."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class FlakyBus(MemoryBus):
    """A memory bus whose publish fails while ``down`` is set."""

    down = False

    async def publish(self, topic: str, envelope: Envelope) -> None:
        if self.down:
            raise ConnectionError("broker unreachable")
        await super().publish(topic, envelope)


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'jobs.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    sessions = db.session_factory(engine)
    bus = FlakyBus(partitions=1)
    await bus.start()
    await bus.ensure_topics([ANC_REQUESTS, ANC_EVENTS])
    clock = Clock()
    box = Outbox(
        outbox, sessions, bus, source="/earshot/test", clock=clock, settings=OutboxSettings(backoff_s=1)
    )
    storage = LocalObjectStorage(tmp_path / "objects", "http://127.0.0.1:1", b"k" * 32)
    try:
        yield {"sessions": sessions, "bus": bus, "clock": clock, "outbox": box, "storage": storage}
    finally:
        await bus.stop()
        await engine.dispose()


def _request(job_id: str, n: int = 0) -> AncProcessRequested:
    return AncProcessRequested(
        job_id=job_id,
        primary_key=f"anc/inputs/{job_id}/audio.wav",
        output_key=f"anc/outputs/{job_id}.wav",
        sample_rate=16000,
        params={"algorithm": "nlms", "taps": 64 + n},
    )


def _published(bus: MemoryBus, topic: str) -> list[Envelope]:
    return [Envelope.from_message(m) for m in bus.messages(topic)]


# --- outbox ------------------------------------------------------------------------------------
async def test_rolled_back_transaction_publishes_nothing(env: dict[str, Any]) -> None:
    box: Outbox = env["outbox"]
    with pytest.raises(RuntimeError):
        async with box.transaction() as session:
            await box.add(session, _request("job-1"))
            raise RuntimeError("the state change failed")
    assert await box.relay_once() == 0
    assert await box.pending() == 0
    assert _published(env["bus"], ANC_REQUESTS) == []


async def test_committed_events_are_published_once_in_order(env: dict[str, Any]) -> None:
    box: Outbox = env["outbox"]
    async with box.transaction() as session:
        for n in range(3):
            await box.add(session, _request("job-1", n))
    assert await box.pending() == 3
    assert await box.relay_once() == 3
    assert await box.relay_once() == 0  # marked sent: never twice
    sent = _published(env["bus"], ANC_REQUESTS)
    assert [e.data["params"]["taps"] for e in sent] == [64, 65, 66]
    assert {e.key for e in sent} == {"job-1"}
    assert sent[0].type == AncProcessRequested.event_type and sent[0].source == "/earshot/test"
    assert await box.pending() == 0


async def test_failed_publish_is_retried_after_backoff_and_never_lost(env: dict[str, Any]) -> None:
    box: Outbox = env["outbox"]
    bus: FlakyBus = env["bus"]
    clock: Clock = env["clock"]
    async with box.transaction() as session:
        await box.add(session, _request("a", 0))
        await box.add(session, _request("a", 1))
        await box.add(session, _request("b"))
    bus.down = True
    assert await box.relay_once() == 0
    async with env["sessions"]() as s:
        rows = (await s.execute(select(outbox).order_by(outbox.c.id))).all()
    assert [r.attempts for r in rows] == [1, 0, 1]  # the 2nd "a" waits behind the 1st
    assert rows[0].last_error.startswith("ConnectionError")
    assert rows[0].available_at == clock.now + timedelta(seconds=1)
    bus.down = False
    assert await box.relay_once() == 0  # the 1st "a" is not due, so the 2nd must not overtake it
    clock.advance(1)
    assert await box.relay_once() == 3
    sent = _published(bus, ANC_REQUESTS)
    assert [(e.key, e.data["params"]["taps"]) for e in sent] == [("a", 64), ("a", 65), ("b", 64)]
    bus.down = True
    async with box.transaction() as session:
        await box.add(session, _request("c"))
    for attempt in range(1, 5):  # backoff doubles: 1, 2, 4, 8 s
        assert await box.relay_once() == 0
        clock.advance(box.settings.backoff(attempt))
    bus.down = False
    assert await box.relay_once() == 1
    assert await box.pending() == 0


async def test_delayed_events_wait_until_due_and_sent_rows_are_purged(env: dict[str, Any]) -> None:
    box: Outbox = env["outbox"]
    clock: Clock = env["clock"]
    async with box.transaction() as session:
        await box.add(session, _request("late"), delay_s=10)
    assert await box.relay_once() == 0
    clock.advance(10)
    assert await box.relay_once() == 1
    assert await box.purge() == 0  # kept for the retention
    clock.advance(box.settings.retention_s + 1)
    assert await box.purge() == 1
    with pytest.raises(ValueError):
        async with box.transaction() as session:
            await box.add(session, _request("x"), delay_s=-1)


# --- leases and the sweeper ----------------------------------------------------------------------
POLICY = LeasePolicy(lease_s=30, max_attempts=2, backoff_s=4)


def _sweeper(env: dict[str, Any], **kwargs: Any) -> Sweeper:
    return Sweeper(
        Job,
        env["sessions"],
        env["outbox"],
        env["storage"],
        policies={"anc_batch": POLICY, "transcription": LeasePolicy(lease_s=60, max_attempts=1)},
        default=POLICY,
        failure_events={
            "anc_batch": lambda job: [
                AncProcessFailed(job_id=job.id, error=LEASE_EXPIRED, details="the job stopped")
            ],
            "transcription": lambda job: [
                TranscriptionFailed(job_id=job.id, error=LEASE_EXPIRED, details="the job stopped")
            ],
        },
        clock=env["clock"],
        **kwargs,
    )


async def _add_job(env: dict[str, Any], job_id: str, kind: str, request: Any, objects: list[str]) -> None:
    clock: Clock = env["clock"]
    policy = POLICY if kind == "anc_batch" else LeasePolicy(lease_s=60, max_attempts=1)
    async with env["outbox"].transaction() as session:
        session.add(
            Job(
                id=job_id,
                kind=kind,
                status="queued",
                created_at=clock.now,
                updated_at=clock.now,
                attempts=1,
                lease_expires_at=policy.expiry(clock.now),
                request=request_of(request) if request is not None else None,
                objects=objects,
            )
        )
        if request is not None:
            await env["outbox"].add(session, request)


async def _job(env: dict[str, Any], job_id: str) -> Job:
    async with env["sessions"]() as s:
        job = await s.get(Job, job_id)
    assert job is not None
    return job


async def test_expired_job_is_requested_again_then_failed_at_the_limit(env: dict[str, Any]) -> None:
    clock: Clock = env["clock"]
    box: Outbox = env["outbox"]
    storage: LocalObjectStorage = env["storage"]
    await storage.put("anc/inputs/j1/audio.wav", b"RIFF")
    await _add_job(env, "j1", "anc_batch", _request("j1"), ["anc/inputs/j1/"])
    await _add_job(env, "fresh", "anc_batch", _request("fresh"), [])
    await box.relay_once()
    sweeper = _sweeper(env)

    clock.advance(29)
    assert (await sweeper.sweep_once()).retried == []  # lease still held
    clock.advance(1)
    # "fresh" was created at the same time, so give it progress first: its lease is extended
    async with env["sessions"]() as s, s.begin():
        assert await extend(s, Job, "fresh", POLICY, active=ACTIVE_STATUSES, now=clock.now)
    result = await sweeper.sweep_once()
    assert result.retried == ["j1"] and result.failed == []
    job = await _job(env, "j1")
    assert job.attempts == 2 and job.status == "queued"
    assert job.lease_expires_at == clock.now + timedelta(seconds=4 + 30)  # backoff + lease
    assert await box.relay_once() == 0  # the request waits for its backoff
    clock.advance(4)
    assert await box.relay_once() == 1
    again = _published(env["bus"], ANC_REQUESTS)
    assert [e.key for e in again] == ["j1", "fresh", "j1"]
    assert again[2].data == again[0].data and again[2].id != again[0].id  # same request, new event

    clock.advance(30)
    result = await sweeper.sweep_once()
    assert result.failed == ["j1"] and result.retried == ["fresh"]  # extended once, then silent
    job = await _job(env, "j1")
    assert (job.status, job.error, job.lease_expires_at) == ("failed", LEASE_EXPIRED, None)
    assert await storage.list("anc/inputs/j1/") == []  # its objects went with it
    await box.relay_once()
    failed = [e for e in _published(env["bus"], ANC_EVENTS) if e.type == AncProcessFailed.event_type]
    assert [(e.key, e.data["error"]) for e in failed] == [("j1", LEASE_EXPIRED)]
    assert (await sweeper.sweep_once()).failed == []  # terminal: never swept again
    assert (await _job(env, "fresh")).attempts == 2  # requested again, still below its limit


async def test_a_step_that_cannot_be_requested_again_fails_at_once(env: dict[str, Any]) -> None:
    clock: Clock = env["clock"]
    await env["storage"].put("uploads/t1.flac", b"fLaC")
    await _add_job(env, "t1", "transcription", None, ["uploads/t1.flac", "transcripts/t1.json"])
    sweeper = _sweeper(env)
    assert await sweeper.expire_all() == 1  # start-up on the in-memory bus
    result = await sweeper.sweep_once()
    assert result.failed == ["t1"]
    assert not await env["storage"].exists("uploads/t1.flac")
    job = await _job(env, "t1")
    assert (job.status, job.error) == ("failed", LEASE_EXPIRED)
    clock.advance(3600)
    assert await sweeper.expire_all() == 0


async def test_extend_never_shortens_nor_touches_ended_jobs(env: dict[str, Any]) -> None:
    clock: Clock = env["clock"]
    await _add_job(env, "j", "anc_batch", _request("j"), [])
    long = LeasePolicy(lease_s=600)
    async with env["sessions"]() as s, s.begin():
        assert await extend(s, Job, "j", long, active=ACTIVE_STATUSES, now=clock.now)
        assert not await extend(s, Job, "j", POLICY, active=ACTIVE_STATUSES, now=clock.now)
    assert (await _job(env, "j")).lease_expires_at == clock.now + timedelta(seconds=600)
    async with env["sessions"]() as s, s.begin():
        (await s.get(Job, "j")).status = "succeeded"  # type: ignore[union-attr]
    async with env["sessions"]() as s, s.begin():
        assert not await extend(s, Job, "j", long, active=ACTIVE_STATUSES, now=clock.now + timedelta(hours=1))


def test_policy_backoff_doubles_and_is_capped() -> None:
    policy = LeasePolicy(lease_s=10, backoff_s=2, backoff_max_s=10)
    assert [policy.backoff(n) for n in (1, 2, 3, 4)] == [2, 4, 8, 10]
    with pytest.raises(ValueError):
        LeasePolicy(lease_s=0)
    with pytest.raises(ValueError):
        LeasePolicy(lease_s=1, max_attempts=0)


# --- the gateway's job repository on top of them --------------------------------------------------
async def test_job_repository_submits_advances_extends_and_ends_jobs(
    env: dict[str, Any], tmp_path: Path
) -> None:
    from services.common.events import AnalysisRequestedV2, TranscriptionRequested
    from services.common.runtime import Runtime
    from services.common.settings import Settings
    from services.gateway.shared.durable import DurableJobs
    from services.gateway.shared.jobs import JobRepository

    runtime = Runtime(
        settings=Settings(data_dir=tmp_path), bus=env["bus"], storage=env["storage"], instance_id="t"
    )
    durable = DurableJobs(runtime, env["sessions"])
    jobs = JobRepository(env["sessions"], durable)
    storage: LocalObjectStorage = env["storage"]
    await storage.put("uploads/j.wav", b"RIFF")
    first = TranscriptionRequested(job_id="j", audio_key="uploads/j.wav", purpose="temperature")

    with pytest.raises(RuntimeError):  # the state change failed: neither row nor event
        async with durable.outbox.transaction() as session:
            await jobs.submit(session, "j", "temperature", first, replayable=False, objects=["uploads/j.wav"])
            raise RuntimeError("boom")
    assert await jobs.get("j") is None and await durable.outbox.pending() == 0

    async with durable.outbox.transaction() as session:
        await jobs.submit(
            session, "j", "temperature", first, replayable=False, objects=["uploads/j.wav"], lease_s=90
        )
    job = await jobs.get("j")
    assert job is not None and (job.status, job.attempts, job.request) == ("queued", 1, None)
    assert job.lease_expires_at is not None and await durable.outbox.pending() == 1

    assert await jobs.extend_lease("j")  # progress: running
    assert (await jobs.get("j")).status == "running"  # type: ignore[union-attr]

    second = AnalysisRequestedV2(
        job_id="j", kind="temperature", transcript_key="t", audio_key="uploads/j.wav"
    )
    async with durable.outbox.transaction() as session:
        assert await jobs.advance(session, "j", second, replayable=False)
    assert await durable.outbox.pending() == 2

    async with env["sessions"]() as session, session.begin():
        spent = await jobs.end(session, "j", "failed", "no speech!")
    assert spent == ["uploads/j.wav"]
    await jobs.delete_objects(spent)
    assert not await storage.exists("uploads/j.wav")
    job = await jobs.get("j")
    assert job is not None and (job.status, job.error, job.lease_expires_at) == ("failed", "no_speech_", None)
    async with env["sessions"]() as session, session.begin():  # ended: nothing moves, nothing written
        assert await jobs.end(session, "j", "succeeded") == []
        assert not await jobs.advance(session, "j", second)
    assert not await jobs.extend_lease("j")
    assert await durable.outbox.pending() == 2


# --- consumers stay idempotent when the sweeper ended a job first ---------------------------------
async def test_anc_results_are_idempotent_and_a_late_output_is_removed(env: dict[str, Any]) -> None:
    from services.common.events import AncProcessCompleted
    from services.gateway.products.anc.consumers import BatchResults
    from services.gateway.products.anc.models import AncMetric, AncSession
    from services.gateway.products.anc.repository import AncRepository
    from services.gateway.shared.jobs import JobRepository

    storage: LocalObjectStorage = env["storage"]
    results = BatchResults(AncRepository(env["sessions"]), storage, JobRepository(env["sessions"]))

    async def session_row(sid: str, status: str) -> None:
        async with env["sessions"]() as s, s.begin():
            s.add(
                AncSession(
                    id=sid,
                    owner="u",
                    kind="file",
                    status=status,
                    algorithm="nlms",
                    params={},
                    sample_rate=8000,
                    samples=10,
                    progress=0.0,
                )
            )

    def completed(sid: str) -> AncProcessCompleted:
        return AncProcessCompleted(
            job_id=sid,
            output_key=f"anc/outputs/{sid}.wav",
            sample_rate=8000,
            samples=10,
            algorithm="nlms",
            metrics={"attenuation_db": 20.0, "samples": 10},
        )

    # the lease ran out and failed the session; the worker's late completion must not leave its output
    await session_row("late", "failed")
    await storage.put("anc/outputs/late.wav", b"RIFF")
    await storage.put("anc/outputs/late.json", b"{}")
    await results.on_completed(completed("late"))
    assert await storage.list("anc/outputs/") == []
    # a completion delivered twice: one final metrics row, the output kept
    await session_row("twice", "processing")
    await storage.put("anc/outputs/twice.wav", b"RIFF")
    await results.on_completed(completed("twice"))
    await results.on_completed(completed("twice"))
    async with env["sessions"]() as s:
        finals = (await s.execute(select(AncMetric).where(AncMetric.session_id == "twice"))).scalars().all()
        row = await s.get(AncSession, "twice")
    assert len(finals) == 1 and row is not None and row.status == "completed"
    assert await storage.exists("anc/outputs/twice.wav")
