"""Meeting processing runs as durable jobs (issue 15, docs/jobs.md "Meeting processing").

Each processing run of a meeting is a ``jobs`` row of kind ``meeting`` with the id
``meeting:<meeting id>:<run>`` (run 1 at upload; a user's retry of a FAILED meeting starts run
+ 1, because ``jobs`` rows only move forward). Its request is the run's
``MeetingProcessingRequested``; its only object is the run's transcript (never the user's
recording); the meeting's ``attempt`` and the job's ``attempts`` are the same number.
:class:`MeetingRuns` gives the pipeline's steps their action on the run (inside the step's
transaction, :data:`StepJob`), the kind's lease policy and the sweeper's failure hook, which
fails the meeting in the sweep's own transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.events import EventPayload, MeetingFailed, MeetingProcessingRequested
from services.common.leases import LEASE_EXPIRED, LeasePolicy
from services.common.logging import get_logger
from services.common.outbox import Outbox
from services.gateway.products.meetings.models import MeetingRecord
from services.gateway.products.meetings.repository import UNFINISHED, MeetingRepository
from services.gateway.products.meetings.settings import MeetingSettings
from services.gateway.shared.jobs import JobRepository

log = get_logger("earshot.gateway.meetings")

JOB_KIND = "meeting"
"""Kind of a meeting processing run's ``jobs`` row."""

StepJob = Callable[[AsyncSession], Awaitable[bool]]
"""A step's action on the meeting's run, in the step's transaction; True when it wrote the
step's events itself (so :meth:`MeetingPipeline.step` does not)."""


def run_job_id(meeting_id: str, run: int) -> str:
    """The job id of a meeting's processing run number ``run`` (1 = the upload's)."""
    return f"meeting:{meeting_id}:{run}"


def run_prefix(meeting_id: str) -> str:
    """The prefix shared by every run's job id of a meeting."""
    return f"meeting:{meeting_id}:"


def transcript_key(meeting_id: str) -> str:
    """Where the transcription service stores a meeting's transcript (``transcripts/<job id>.json``)."""
    return f"transcripts/{meeting_id}.json"


class MeetingRuns:
    """The ``meeting`` jobs of one gateway replica's pipeline.

    Args:
        meetings: the meeting repository.
        settings: :class:`MeetingSettings` (its stale time and attempts are the kind's policy).
        outbox: the gateway's outbox; jobs: the gateway's job repository. Without both (unit
            tests of the pipeline alone) every action does nothing.
    """

    def __init__(
        self,
        meetings: MeetingRepository,
        settings: MeetingSettings,
        outbox: Outbox | None,
        jobs: JobRepository | None,
    ) -> None:
        self.meetings = meetings
        self.settings = settings
        self.outbox = outbox
        self.jobs = jobs if outbox is not None else None

    def lease_policy(self) -> LeasePolicy:
        """The ``meeting`` kind's lease policy from the meeting settings: lease
        ``EARSHOT_MEETINGS_STALE_AFTER_S``, ``EARSHOT_MEETINGS_MAX_ATTEMPTS`` requests of a run,
        re-request delays capped at ``EARSHOT_MEETINGS_RETRY_MAX_S`` (the former watchdog's
        settings; register it with ``DurableJobs.register`` and :meth:`on_lease_expired`)."""
        return LeasePolicy(
            lease_s=self.settings.stale_after_s,
            max_attempts=self.settings.max_attempts,
            backoff_max_s=self.settings.retry_max_s,
        )

    async def current(self, session: AsyncSession, meeting_id: str) -> str | None:
        """The job id of the meeting's active run, or ``None`` (finished, or no jobs)."""
        if self.jobs is None:
            return None
        job = await self.jobs.active_with_prefix(session, run_prefix(meeting_id))
        return job.id if job is not None else None

    def new(self, record: MeetingRecord, request: MeetingProcessingRequested) -> StepJob:
        """Step action: record the meeting's next run (a ``meeting`` job whose first request is
        ``request``, written by it) with its transcript as the run's intermediate."""

        async def act(session: AsyncSession) -> bool:
            assert self.jobs is not None
            run = await self.jobs.count_with_prefix(session, run_prefix(record.id)) + 1
            await self.jobs.submit(
                session,
                run_job_id(record.id, run),
                JOB_KIND,
                request,
                objects=[transcript_key(record.id)],
                attempts=request.attempt,  # the job's attempts are the meeting's
            )
            return True

        return act

    def touch(self, meeting_id: str) -> StepJob:
        """Step action: extend the active run's lease (a step was taken or progress reported)."""

        async def act(session: AsyncSession) -> bool:
            run = await self.current(session, meeting_id)
            if run is not None and self.jobs is not None:
                await self.jobs.touch(session, run)
            return False

        return act

    def end(self, meeting_id: str, status: str, error: str | None, keys: list[str]) -> StepJob:
        """Step action: end the active run (``succeeded`` / ``failed``); its objects are added to
        ``keys``, for the caller to delete after the commit."""

        async def act(session: AsyncSession) -> bool:
            run = await self.current(session, meeting_id)
            if run is not None and self.jobs is not None:
                keys.extend(await self.jobs.end(session, run, status, error))
            return False

        return act

    async def on_lease_expired(self, session: AsyncSession, job: Any) -> list[EventPayload]:
        """The sweeper's failure hook for kind ``meeting`` (in its transaction): a run out of
        attempts fails its meeting (``lease_expired`` with a reason) unless it already ended.

        Returns:
            ``MeetingFailed`` to write with it, or nothing.
        """
        meeting_id = str(((job.request or {}).get("data") or {}).get("job_id", ""))
        record = await session.get(MeetingRecord, meeting_id)
        if record is None or record.status not in UNFINISHED:
            return []
        details = f"processing stopped making progress {job.attempts} time(s) (worker restart or loss)"
        values: dict[str, Any] = {
            "status": "FAILED",
            "analytics_status": "FAILED",
            "error": f"{LEASE_EXPIRED}: {details}",
        }
        if not await self.meetings.transition(meeting_id, UNFINISHED, session=session, **values):
            return []
        log.warning("meetings.lease_expired", meeting_id=meeting_id, job_id=job.id, attempts=job.attempts)
        return [
            MeetingFailed(
                job_id=meeting_id,
                user_id=record.user_id,
                attempt=record.attempt,
                error=LEASE_EXPIRED,
                details=details,
            )
        ]

    async def adopt(self) -> list[str]:
        """Give every unfinished meeting without an active run (left by a version whose runs
        were not jobs) a run at its current attempt, with its request, so the lease covers it:
        a PENDING one is processed, a PROCESSING one is requested again (or failed) when the
        new lease expires. Two replicas adopting at once write the same run id: one insert
        fails and that meeting is left to the other.

        Returns:
            The meeting ids adopted.
        """
        if self.jobs is None or self.outbox is None:
            return []
        adopted: list[str] = []
        for record in await self.meetings.stuck(datetime.now(UTC)):
            request = MeetingProcessingRequested(
                job_id=record.id, user_id=record.user_id, attempt=record.attempt
            )
            try:
                async with self.outbox.transaction() as session:
                    if await self.current(session, record.id) is not None:
                        continue
                    await self.new(record, request)(session)
            except IntegrityError:
                continue  # another replica adopted it
            adopted.append(record.id)
            log.info("meetings.adopted", meeting_id=record.id, attempt=record.attempt)
        return adopted

    async def cancel(self, meeting_id: str) -> bool:
        """End the meeting's active run as ``failed`` (``meeting_deleted``) and remove its
        objects: the meeting is being deleted, so nothing may request it again. Returns whether
        a run was active."""
        if self.jobs is None or self.outbox is None:
            return False
        keys: list[str] = []
        async with self.outbox.transaction() as session:
            await self.end(meeting_id, "failed", "meeting_deleted", keys)(session)
        await self.jobs.delete_objects(keys)
        return bool(keys)  # every run has its transcript as its object
