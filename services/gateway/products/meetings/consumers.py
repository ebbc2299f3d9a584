"""The meeting processing pipeline, as event handlers (never inside an HTTP request).

1. ``earshot.meeting.processing_requested.v1`` (topic ``earshot.meetings.requests``, group
   ``gateway.meetings``): PENDING -> PROCESSING (conditional, so a redelivery does nothing),
   then ``earshot.transcription.requested.v1`` with ``job_id`` = meeting id, ``purpose``
   ``meeting``, ``diarize`` (by channel for a dual-audio stereo master, by voice otherwise:
   the transcription service decides from the channels), the participants and the
   template's ``speaker_diarization`` text as the decoder prompt, and the participants in
   the event (two or more names fix the diarizer's speaker count at their number).
2. ``earshot.transcription.completed.v1`` for a meeting: ``earshot.analysis.requested.v1``
   (kind ``meeting``: meeting date, template, participants), which names the speakers
   (services.analysis.speakers), summarises, finds action items and measures analytics.
3. ``earshot.analysis.completed.v1`` (kind ``meeting``): the transcript is read from
   storage, relabelled with the names, and everything is stored in one conditional update
   PROCESSING -> COMPLETED; then ``earshot.meeting.completed.v1`` and the dashboard sync.
4. Failures (``transcription.failed`` / ``analysis.failed``): below ``max_attempts`` the
   meeting goes back to PENDING (attempt + 1) and is requested again after
   ``min(2 s * 2^attempt + jitter, 60 s)``; then FAILED with its error and
   ``earshot.meeting.failed.v1``.

Each step's state change and the event starting the next step (a delayed retry's too) are
written in ONE transaction through the gateway's outbox (:meth:`MeetingPipeline.step`). Each
step is idempotent by meeting id: the transcription service reuses a stored transcript
(``transcripts/<meeting id>.json``), and every write is conditional on the status, so a
redelivered event never duplicates segments or items.

Each processing run is a durable job (docs/jobs.md): kind ``meeting``, id
``meeting:<meeting id>:<run>`` (:func:`run_job_id`; a user's retry of a FAILED meeting starts
run + 1), recorded with the meeting and its first request in one transaction. Every step and
every transcription progress extends the run's lease; a worker failure's retry moves the run to
the meeting's next attempt. When the lease expires the gateway's sweeper requests the run
again (``MeetingProcessingRequested`` with attempt + 1, which restarts a stalled meeting from
PENDING or PROCESSING), and after ``EARSHOT_MEETINGS_MAX_ATTEMPTS`` fails the job and the
meeting (``lease_expired``) in one transaction (:meth:`.runs.MeetingRuns.on_lease_expired`) and
removes the run's transcript (never the recording).
Progress (``earshot.meeting.progress.v1``) is pushed to this replica's WebSocket listeners.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import publishing
from services.common.bus import Subscription
from services.common.events import (
    ANALYSIS_EVENTS,
    MEETING_EVENTS,
    MEETING_REQUESTS,
    TRANSCRIPTION_EVENTS,
    AnalysisCompleted,
    AnalysisCompletedV2,
    AnalysisFailed,
    AnalysisRequestedV2,
    EventPayload,
    MeetingCompleted,
    MeetingFailed,
    MeetingProcessingRequested,
    MeetingProgress,
    TranscriptionCompleted,
    TranscriptionFailed,
    TranscriptionProgress,
    TranscriptionRequested,
)
from services.common.logging import get_logger
from services.common.outbox import Outbox
from services.common.runtime import Runtime
from services.common.storage import ObjectNotFound
from services.common.transcript import Transcript
from services.gateway.products.meetings import dashboard
from services.gateway.products.meetings.models import MeetingRecord
from services.gateway.products.meetings.repository import (
    UNFINISHED,
    MeetingRepository,
    ProfileRepository,
    TemplateRepository,
    search_document,
)
from services.gateway.products.meetings.results import completed_values, template_options
from services.gateway.products.meetings.runs import JOB_KIND, MeetingRuns, StepJob, run_job_id, transcript_key
from services.gateway.products.meetings.schemas import MeetingOut
from services.gateway.products.meetings.settings import MeetingSettings
from services.gateway.shared.jobs import JobRepository

__all__ = [
    "JOB_KIND",
    "MeetingPipeline",
    "ProgressHub",
    "completed_values",
    "run_job_id",
    "template_options",
    "transcript_key",
]

log = get_logger("earshot.gateway.meetings")

GENERIC_NAME = re.compile(r"^Speaker \d+$")
PURPOSE = "meeting"


class ProgressHub:
    """Per-meeting queues of this replica's WebSocket listeners."""

    def __init__(self) -> None:
        self._listeners: dict[str, set[asyncio.Queue[dict[str, Any]]]] = {}

    def listen(self, meeting_id: str) -> asyncio.Queue[dict[str, Any]]:
        """A new queue receiving the meeting's progress messages."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=256)
        self._listeners.setdefault(meeting_id, set()).add(queue)
        return queue

    def forget(self, meeting_id: str, queue: asyncio.Queue[dict[str, Any]]) -> None:
        """Stop delivering to ``queue``."""
        queues = self._listeners.get(meeting_id)
        if queues is not None:
            queues.discard(queue)
            if not queues:
                self._listeners.pop(meeting_id, None)

    def push(self, meeting_id: str, message: dict[str, Any]) -> None:
        """Deliver ``message`` to every listener of the meeting (dropped for a full queue)."""
        for queue in self._listeners.get(meeting_id, ()):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(message)

    @property
    def connections(self) -> int:
        """Open listeners."""
        return sum(len(q) for q in self._listeners.values())


class MeetingPipeline:
    """The pipeline's handlers and consumer groups on one gateway replica.

    Args:
        runtime: the platform kernel (bus, storage, settings).
        meetings, templates: the repositories.
        settings: :class:`MeetingSettings`.
        profiles: the CRM profiles (speaker aliases); optional.
        outbox: the gateway's outbox (each step's change and next request in one transaction).
        jobs: the gateway's job repository: each run is a leased ``meeting`` job (needs
            ``outbox``). Without both (unit tests), events are published directly and
            nothing re-requests a stalled meeting.
    """

    def __init__(
        self,
        runtime: Runtime,
        meetings: MeetingRepository,
        templates: TemplateRepository,
        settings: MeetingSettings,
        profiles: ProfileRepository | None = None,
        outbox: Outbox | None = None,
        jobs: JobRepository | None = None,
    ) -> None:
        self.runtime = runtime
        self.outbox = outbox
        self.jobs = jobs if outbox is not None else None
        self.runs = MeetingRuns(meetings, settings, outbox, jobs)
        self.profiles = profiles
        self.meetings = meetings
        self.templates = templates
        self.settings = settings
        self.hub = ProgressHub()
        self.running = False
        self.started_at = datetime.now(UTC)
        self._subs: list[Subscription] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        #: The product's consumer table: (topic, payload model, typed handler).
        self.handlers: list[tuple[str, type[EventPayload], Callable[[Any], Awaitable[None]]]] = [
            (MEETING_REQUESTS, MeetingProcessingRequested, self.on_requested),
            (TRANSCRIPTION_EVENTS, TranscriptionProgress, self.on_transcription_progress),
            (TRANSCRIPTION_EVENTS, TranscriptionCompleted, self.on_transcribed),
            (TRANSCRIPTION_EVENTS, TranscriptionFailed, self.on_failed),
            (ANALYSIS_EVENTS, AnalysisCompleted, self.on_analyzed),
            (ANALYSIS_EVENTS, AnalysisCompletedV2, self.on_analyzed_v2),
            (ANALYSIS_EVENTS, AnalysisFailed, self.on_failed),
        ]
        #: This replica's push table (group ``gateway.meetings.<instance>``, from the latest event).
        self.push_handlers: list[tuple[str, type[EventPayload], Callable[[Any], Awaitable[None]]]] = [
            (MEETING_EVENTS, MeetingProgress, self.on_push),
            (MEETING_EVENTS, MeetingCompleted, self.on_push),
            (MEETING_EVENTS, MeetingFailed, self.on_push),
        ]

    # --- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        """Adopt unfinished meetings without a run (:meth:`MeetingRuns.adopt`), mark the pipeline
        running (the gateway joins the consumer groups of :attr:`handlers` and
        :attr:`push_handlers` itself, see ``MeetingsProduct``; stalled runs are the gateway
        sweeper's, including at start-up)."""
        self.started_at = datetime.now(UTC)
        await self.runs.adopt()
        self.running = True

    async def stop(self) -> None:
        """Stop the retry/sync tasks; leave the consumer groups."""
        self.running = False
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        for sub in self._subs:
            await sub.close()
        self._subs.clear()

    async def restart(self) -> None:
        """Leave and rejoin the consumer groups (``restart-background``)."""
        await self.stop()
        await self.start()

    def spawn(self, coro: Awaitable[Any], name: str) -> None:
        """Run ``coro`` in the background, kept until it ends."""
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def publish(self, payload: EventPayload) -> None:
        """Publish with the current trace context."""
        await publishing.publish(self.runtime, "gateway", payload)

    async def step(
        self,
        meeting_id: str,
        allowed: tuple[str, ...],
        values: dict[str, Any] | None,
        events: Sequence[EventPayload],
        *,
        delay_s: float = 0.0,
        at_attempt: int | None = None,
        job: StepJob | None = None,
    ) -> bool:
        """Move a meeting (only from ``allowed``, and at ``at_attempt`` when given; ``values=None``:
        no change), act on its run (``job``, e.g. extend its lease) and write the events that
        start its next step, in one transaction (outbox; ``delay_s`` delays them).

        Returns: whether the meeting changed (``values=None``: always); else nothing is written.
        """
        if self.outbox is None:
            if values is not None and not await self.meetings.transition(
                meeting_id, allowed, at_attempt=at_attempt, **values
            ):
                return False
            for event in events:
                await self.publish(event)
            return True
        async with self.outbox.transaction() as session:
            if values is not None and not await self.meetings.transition(
                meeting_id, allowed, session=session, at_attempt=at_attempt, **values
            ):
                return False
            written = job is not None and self.jobs is not None and await job(session)
            if not written:
                for event in events:
                    await self.outbox.add(session, event, delay_s=delay_s)
        return True

    # --- steps ------------------------------------------------------------------------------
    async def submit(self, record: MeetingRecord) -> None:
        """Record a new PENDING meeting and its processing request in one transaction."""
        request = MeetingProcessingRequested(job_id=record.id, user_id=record.user_id, attempt=record.attempt)
        if self.outbox is None:
            await self.meetings.add(record)
            await self.publish(request)
        else:
            record.search_text = search_document(record)
            async with self.outbox.transaction() as session:
                session.add(record)
                if self.jobs is None or not await self.runs.new(record, request)(session):
                    await self.outbox.add(session, request)
        await self.progress(record.id, "queued", 0, record.attempt)

    async def retry(self, record: MeetingRecord) -> bool:
        """A user's retry of a FAILED meeting: PENDING at attempt 1 and a new run (job), in one
        transaction; False when it is not FAILED."""
        again = MeetingProcessingRequested(job_id=record.id, user_id=record.user_id, attempt=1)
        values = {"status": "PENDING", "analytics_status": "PENDING", "attempt": 1, "error": None}
        if not await self.step(record.id, ("FAILED",), values, [again], job=self.runs.new(record, again)):
            return False
        await self.progress(record.id, "queued", 0, 1)
        return True

    async def request(self, record: MeetingRecord, attempt: int) -> None:
        """Queue a meeting for processing (``attempt`` is stored with it)."""
        await self.step(
            record.id,
            (),
            None,
            [MeetingProcessingRequested(job_id=record.id, user_id=record.user_id, attempt=attempt)],
        )
        await self.progress(record.id, "queued", 0, attempt)

    async def progress(self, meeting_id: str, stage: str, percent: float, attempt: int = 1) -> None:
        """Publish a progress event."""
        await self.publish(
            MeetingProgress(job_id=meeting_id, stage=stage, percent=min(100.0, percent), attempt=attempt)  # type: ignore[arg-type]
        )

    async def on_requested(self, req: MeetingProcessingRequested) -> None:
        """Step 1: PENDING -> PROCESSING, ask for the transcript. A request of a later attempt
        than the meeting's is the sweeper's re-request of a stalled run: it restarts the
        meeting from PENDING or PROCESSING at that attempt."""
        record = await self.meetings.get(req.job_id)
        if record is None or record.attempt > req.attempt:
            return  # deleted, or a request of an older attempt
        allowed = ("PENDING",) if record.attempt == req.attempt else UNFINISHED
        now = datetime.now(UTC)
        template = (
            await self.templates.visible(record.templateid, record.user_id) if record.templateid else None
        )
        hints = [f"Participants: {', '.join(record.participants)}." if record.participants else ""]
        if template is not None and template.speaker_diarization:
            hints.append(template.speaker_diarization)
        if template is not None and template.transcription_prompt:
            hints.append(template.transcription_prompt)
        prompt = " ".join(h for h in hints if h)[:800] or None
        transcribe = TranscriptionRequested(
            job_id=record.id,
            audio_key=record.master_audio_key or record.s3_audio_path or "",
            purpose=PURPOSE,
            diarize=True,
            prompt=prompt,
            participants=list(record.participants or [])[:32],
        )
        if not await self.step(
            record.id,
            allowed,
            {
                "status": "PROCESSING",
                "analytics_status": "PROCESSING",
                "processing_started_at": now,
                "attempt": req.attempt,
            },
            [transcribe],
            at_attempt=record.attempt,
            job=self.runs.touch(record.id),
        ):
            return  # a redelivery: already processing or finished
        if req.attempt != record.attempt:
            log.info("meetings.resumed", meeting_id=record.id, attempt=req.attempt)
        await self.progress(record.id, "transcribing", 5, req.attempt)

    async def on_transcription_progress(self, p: TranscriptionProgress) -> None:
        """Forward the transcription's progress as the meeting's (5-80 %)."""
        record = await self.meetings.get(p.job_id)
        if record is not None and record.status == "PROCESSING":
            # refreshes updated_at and extends the run's lease
            await self.step(record.id, ("PROCESSING",), {}, [], job=self.runs.touch(record.id))
            await self.progress(record.id, "transcribing", 5 + 0.75 * p.percent, record.attempt)

    async def on_transcribed(self, done: TranscriptionCompleted) -> None:
        """Step 2: the transcript is ready; ask for naming, analysis and analytics."""
        if done.purpose != PURPOSE:
            return
        record = await self.meetings.get(done.job_id)
        if record is None or record.status != "PROCESSING":
            return
        template = (
            await self.templates.visible(record.templateid, record.user_id) if record.templateid else None
        )
        options: dict[str, Any] = {
            "meeting_date": record.created_at.date().isoformat(),
            "participants": list(record.participants or []),
        }
        tpl = template_options(template, record.custom_template_points)
        if tpl is not None:
            options["template"] = tpl
        analyze = AnalysisRequestedV2.model_validate(
            {
                "job_id": record.id,
                "kind": "meeting",
                "transcript_key": done.transcript_key,
                "options": options,
            }
        )
        if not await self.step(
            record.id,
            ("PROCESSING",),
            {"duration_s": done.duration, "language": done.language},
            [analyze],
            job=self.runs.touch(record.id),
        ):
            return
        await self.progress(record.id, "naming", 82, record.attempt)
        await self.progress(record.id, "analyzing", 85, record.attempt)

    async def on_analyzed_v2(self, done: AnalysisCompletedV2) -> None:
        """Step 3 for a typed (v2) analysis result."""
        if done.kind == "meeting":
            await self.on_analyzed(
                AnalysisCompleted(
                    job_id=done.job_id,
                    kind="meeting",
                    analyzer=done.analyzer,
                    result=done.result.model_dump(mode="json"),
                )
            )

    async def on_analyzed(self, done: AnalysisCompleted) -> None:
        """Step 3: store the named transcript, summary, items and analytics; COMPLETED."""
        if done.kind != "meeting":
            return
        record = await self.meetings.get(done.job_id)
        if record is None or record.status != "PROCESSING":
            return
        try:
            raw = await self.runtime.storage.get(transcript_key(record.id))
        except ObjectNotFound:
            await self._failure(record, "transcript_missing", "the transcript is no longer in storage")
            return
        transcript = Transcript.model_validate_json(raw)
        values = completed_values(record, transcript, done.result)
        keys: list[str] = []
        ended = self.runs.end(record.id, "succeeded", None, keys)
        if not await self.step(record.id, ("PROCESSING",), values, [], job=ended):
            return
        aliases = await self.crm_aliases(record.user_id)
        if aliases:
            await self.meetings.rename_speakers(record.user_id, aliases, record.id)
        await self.runtime.storage.delete(transcript_key(record.id))
        stored = await self.meetings.get(record.id)
        assert stored is not None
        await self.publish(
            MeetingCompleted(
                job_id=record.id,
                user_id=record.user_id,
                title=stored.title,
                duration_s=stored.duration_s or 0.0,
                speakers=list(stored.speakers),
                action_items=len(stored.action_items),
                analyzer=done.analyzer,
            )
        )
        await self.progress(record.id, "completed", 100, record.attempt)
        if self.settings.dashboard_base_url:
            self.spawn(
                dashboard.push(
                    self.settings.dashboard_base_url,
                    self.settings.dashboard_secret,
                    MeetingOut.of(stored).model_dump(mode="json"),
                    attempts=self.settings.max_attempts,
                    base_s=self.settings.retry_base_s,
                    cap_s=self.settings.retry_max_s,
                ),
                f"meetings:dashboard:{record.id}",
            )

    async def crm_aliases(self, user_id: str) -> dict[str, str]:
        """``{speaker name: profile full name}`` from the user's CRM mappings, so a speaker mapped
        once is named after the profile in later meetings too (``Speaker N`` names excluded:
        they number voices within one meeting only)."""
        if self.profiles is None:
            return {}
        aliases: dict[str, str] = {}
        for profile in await self.profiles.all(user_id):
            for name in profile.speaker_names or []:
                if name != profile.full_name and not GENERIC_NAME.match(name):
                    aliases[name] = profile.full_name
        return aliases

    async def on_failed(self, failed: TranscriptionFailed | AnalysisFailed) -> None:
        """Step 4: a transcription or analysis failure of a meeting: retry or FAILED."""
        if isinstance(failed, AnalysisFailed) and failed.kind != "meeting":
            return
        record = await self.meetings.get(failed.job_id)
        if record is None or record.status != "PROCESSING":
            return
        await self._failure(record, failed.error, failed.details)

    async def _failure(self, record: MeetingRecord, error: str, details: str) -> None:
        if record.attempt < self.settings.max_attempts:
            attempt = record.attempt + 1
            delay = dashboard.backoff_s(
                record.attempt - 1, self.settings.retry_base_s, self.settings.retry_max_s
            )
            values: dict[str, Any] = {"status": "PENDING", "attempt": attempt}
            values["error"] = f"{error}: {details}"[:2000]
            again = MeetingProcessingRequested(job_id=record.id, user_id=record.user_id, attempt=attempt)
            if self.outbox is not None:
                # the retry request waits in the outbox (available after the delay): it survives a
                # crash; the run's job takes the attempt and a lease from the end of the delay

                async def next_attempt(session: AsyncSession) -> bool:
                    run = await self.runs.current(session, record.id)
                    return (
                        run is not None
                        and self.jobs is not None
                        and await self.jobs.advance(session, run, again, attempts=attempt, delay_s=delay)
                    )

                if await self.step(
                    record.id, ("PROCESSING",), values, [again], delay_s=delay, job=next_attempt
                ):
                    log.info("meetings.retry", meeting_id=record.id, attempt=attempt, delay_s=round(delay, 2))
                return
            if await self.meetings.transition(record.id, ("PROCESSING",), **values):
                log.info("meetings.retry", meeting_id=record.id, attempt=attempt, delay_s=round(delay, 2))
                self.spawn(self._request_later(record, attempt, delay), f"meetings:retry:{record.id}")
            return
        await self.fail(record, error, details, ("PROCESSING",))

    async def _request_later(self, record: MeetingRecord, attempt: int, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        await self.request(record, attempt)

    async def fail(self, record: MeetingRecord, error: str, details: str, allowed: tuple[str, ...]) -> bool:
        """Mark a meeting FAILED (from ``allowed`` statuses) and announce it (one transaction)."""
        failed = MeetingFailed(
            job_id=record.id, user_id=record.user_id, attempt=record.attempt, error=error, details=details
        )
        values = {"status": "FAILED", "analytics_status": "FAILED", "error": f"{error}: {details}"[:2000]}
        keys: list[str] = []
        if not await self.step(
            record.id, allowed, values, [failed], job=self.runs.end(record.id, "failed", error, keys)
        ):
            return False
        with contextlib.suppress(Exception):
            await self.runtime.storage.delete(transcript_key(record.id))
        await self.progress(record.id, "failed", 100, record.attempt)
        return True

    # --- push ------------------------------------------------------------------------------
    async def on_push(self, event: MeetingProgress | MeetingCompleted | MeetingFailed) -> None:
        """Forward meeting events to this replica's WebSocket listeners."""
        message: dict[str, Any] = {
            "meeting_id": event.job_id,
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }
        if isinstance(event, MeetingProgress):
            message.update(
                type="progress", stage=event.stage, percent=round(event.percent, 1), attempt=event.attempt
            )
        elif isinstance(event, MeetingCompleted):
            message.update(type="completed", status="COMPLETED")
        else:
            message.update(type="failed", status="FAILED", error=event.error, details=event.details)
        self.hub.push(event.job_id, message)
