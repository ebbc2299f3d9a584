"""The gateway's job records: a small async repository over the ``jobs`` table.

A job moves ``queued`` -> ``running`` -> one terminal status (``succeeded``,
``failed``, ``timed_out``) and never back. Because events are delivered at
least once and may arrive late, an update that would move a job backwards
(a redelivered ``running`` after ``succeeded``, or a second, different
terminal status) is ignored and the job is returned unchanged; updates are
conditional ``UPDATE`` statements, so concurrent writers cannot break this.

Durable jobs (issue 15, docs/jobs.md): :meth:`JobRepository.submit` records a job together
with its first request in the caller's transaction (the request goes out through the
outbox), :meth:`JobRepository.advance` moves it to its next step the same way, progress
extends its lease (:meth:`JobRepository.extend_lease`), and whichever way it ends
(:meth:`JobRepository.set_status` / :meth:`JobRepository.end` to a terminal status, or the
sweeper) its lease is cleared and its objects are deleted.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import func, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common.db import utcnow
from services.common.events import EventPayload
from services.common.leases import delete_objects, extend, request_of
from services.gateway.models import (
    ACTIVE_STATUSES,
    JOB_ERROR_MAX,
    JOB_ID_MAX,
    JOB_KIND_MAX,
    TERMINAL_STATUSES,
    Job,
    JobStatus,
)
from services.gateway.shared.durable import DurableJobs

__all__ = ["JobAlreadyExists", "JobNotFound", "JobRepository"]

log = logging.getLogger(__name__)

_ERROR_CODE = re.compile(rf"^[A-Za-z0-9_.:-]{{1,{JOB_ERROR_MAX}}}$")

# For each target status, the statuses a job may move to it from.
_MAY_ENTER_FROM: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset(),
    JobStatus.RUNNING: frozenset({JobStatus.QUEUED}),
    **{status: frozenset({JobStatus.QUEUED, JobStatus.RUNNING}) for status in TERMINAL_STATUSES},
}


class JobNotFound(KeyError):
    """Raised when a job id is unknown. ``job_id`` holds the id."""

    def __init__(self, job_id: str) -> None:
        super().__init__(job_id)
        self.job_id = job_id

    def __str__(self) -> str:
        return f"job not found: {self.job_id!r}"


class JobAlreadyExists(ValueError):
    """Raised by :meth:`JobRepository.create` for an id that is already taken."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job already exists: {job_id!r}")
        self.job_id = job_id


def _check_text(name: str, value: str, limit: int) -> str:
    if not isinstance(value, str) or not value or len(value) > limit:
        raise ValueError(f"{name} must be a non-empty string of at most {limit} characters, got {value!r}")
    return value


def _check_status(status: JobStatus | str) -> JobStatus:
    try:
        return JobStatus(status)
    except ValueError:
        allowed = ", ".join(s.value for s in JobStatus)
        raise ValueError(f"unknown job status {status!r} (allowed: {allowed})") from None


class JobRepository:
    """Create, update and read job records.

    Every method opens its own session (and transaction) from ``session_factory``
    and returns detached :class:`~services.gateway.models.Job` objects whose
    attributes stay readable (the factory must use ``expire_on_commit=False``,
    as :func:`services.common.db.session_factory` does).

    Args:
        session_factory: an :class:`~sqlalchemy.ext.asyncio.async_sessionmaker`.
        durable: the replica's outbox and lease policies; without it (tools, some tests)
            jobs are recorded without leases and ended jobs keep their objects.
    """

    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], durable: DurableJobs | None = None
    ) -> None:
        self._sessions = session_factory
        self.durable = durable

    async def create(self, job_id: str, kind: str) -> Job:
        """Record a new ``queued`` job without a lease or a request (operators' tools and tests;
        products use :meth:`submit`, so the sweeper can end the job after a crash).

        Args:
            job_id: the job id (1-36 characters, normally a UUID).
            kind: what the job does (1-32 characters), e.g. ``"temperature"``.

        Returns:
            The new job.
        Raises:
            ValueError: ``job_id`` or ``kind`` empty or too long.
            JobAlreadyExists: a job with this id exists.
        """
        _check_text("job_id", job_id, JOB_ID_MAX)
        _check_text("kind", kind, JOB_KIND_MAX)
        now = utcnow()
        job = Job(
            id=job_id, kind=kind, status=JobStatus.QUEUED.value, error=None, created_at=now, updated_at=now
        )
        async with self._sessions() as session:
            session.add(job)
            try:
                await session.commit()
            except IntegrityError:
                await session.rollback()
                if await session.get(Job, job_id) is not None:
                    raise JobAlreadyExists(job_id) from None
                raise
        return job

    async def set_status(self, job_id: str, status: JobStatus | str, error: str | None = None) -> Job:
        """Move a job to ``status``.

        Moves that go backwards (see the module docstring) are ignored: the job
        is returned unchanged. Setting the status a job already has is a no-op.

        Args:
            job_id: the job id.
            status: the new status (a :class:`JobStatus` or its text value).
            error: a short machine-readable code (letters, digits, ``_ . : -``;
                at most 64 characters), only with ``failed`` or ``timed_out``.
                Never put user content here.

        Returns:
            The job as stored after the call.
        Raises:
            ValueError: unknown status, malformed error code, or an error code
                with a status other than ``failed`` / ``timed_out``.
            JobNotFound: no job with this id.
        """
        target = _check_status(status)
        if error is not None:
            if target not in (JobStatus.FAILED, JobStatus.TIMED_OUT):
                raise ValueError(
                    f"an error code is only allowed with failed or timed_out, not {target.value}"
                )
            if not isinstance(error, str) or not _ERROR_CODE.match(error):
                raise ValueError(
                    f"error must be a short code of letters, digits and '_.:-' (at most {JOB_ERROR_MAX}), "
                    f"got {error!r}"
                )
        sources = _MAY_ENTER_FROM[target]
        async with self._sessions() as session:
            changed = 0
            if sources:
                values: dict[str, Any] = {"status": target.value, "error": error, "updated_at": utcnow()}
                if target in TERMINAL_STATUSES:
                    values["lease_expires_at"] = None
                statement = (
                    update(Job)
                    .where(Job.id == job_id, Job.status.in_([s.value for s in sources]))
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
                result = cast(CursorResult[Any], await session.execute(statement))
                changed = result.rowcount or 0
                await session.commit()
            job = await session.get(Job, job_id, populate_existing=True)
        if job is None:
            raise JobNotFound(job_id)
        if changed and target in TERMINAL_STATUSES:
            await self.delete_objects(job.objects or [])
        if not changed and job.status != target.value:
            log.info(
                "job status update ignored: %s is %s, not moving to %s", job_id, job.status, target.value
            )
        return job

    # --- durable jobs (issue 15) -----------------------------------------------------------------
    def _need_durable(self) -> DurableJobs:
        if self.durable is None:
            raise RuntimeError("this JobRepository has no outbox (DurableJobs)")
        return self.durable

    async def submit(
        self,
        session: AsyncSession,
        job_id: str,
        kind: str,
        request: EventPayload,
        *,
        replayable: bool = True,
        objects: list[str] | tuple[str, ...] = (),
        lease_s: float | None = None,
        attempts: int = 1,
    ) -> Job:
        """Record a ``queued`` job and write its first request to the outbox, in the caller's
        transaction (both commit or neither does).

        Args:
            session: the caller's session inside its transaction (it commits, then wakes the
                relay: :meth:`services.common.outbox.Outbox.transaction` does both).
            job_id: the job id (1-36 characters).
            kind: the job kind (1-32 characters), e.g. ``"anc_batch"``.
            request: the event that starts the job's first step.
            replayable: whether the sweeper may write ``request`` again when the lease expires
                (``False`` for synchronous kinds: only the waiting replica can answer).
            objects: keys (prefixes end with ``/``) removed when the job ends, whichever way.
            lease_s: lease length, seconds (default: the kind's policy).
            attempts: requests of the first step so far (1; more when the product's record
                already used some, e.g. a meeting adopted at its current attempt).

        Returns:
            The new job (added to ``session``).
        Raises:
            ValueError: bad id or kind.
            RuntimeError: the repository has no outbox.
        """
        durable = self._need_durable()
        _check_text("job_id", job_id, JOB_ID_MAX)
        _check_text("kind", kind, JOB_KIND_MAX)
        now = utcnow()
        policy = durable.policy(kind)
        expires = now + timedelta(seconds=lease_s) if lease_s is not None else policy.expiry(now)
        job = Job(
            id=job_id,
            kind=kind,
            status=JobStatus.QUEUED.value,
            error=None,
            created_at=now,
            updated_at=now,
            attempts=attempts,
            lease_expires_at=expires,
            request=request_of(request) if replayable else None,
            objects=list(objects),
        )
        session.add(job)
        await session.flush()
        await durable.outbox.add(session, request)
        return job

    async def advance(
        self,
        session: AsyncSession,
        job_id: str,
        request: EventPayload,
        *,
        replayable: bool = True,
        attempts: int = 1,
        delay_s: float = 0.0,
    ) -> bool:
        """Move an active job to its next step: its request becomes ``request`` (written to the
        outbox in the caller's transaction, published after ``delay_s`` seconds), its attempt
        count becomes ``attempts`` (1: a new step; more: a product's own retry of the same step)
        and the lease is renewed (from the end of the delay).

        Returns:
            Whether the job was active (``False``: ended or unknown; nothing was written).
        """
        durable = self._need_durable()
        job = await session.get(Job, job_id)
        if job is None or job.status not in ACTIVE_STATUSES:
            return False
        now = utcnow()
        policy = durable.policy(job.kind)
        values: dict[str, Any] = {"attempts": attempts, "updated_at": now, "status": JobStatus.RUNNING.value}
        if job.request is not None or replayable:
            values["request"] = request_of(request) if replayable else None
        expiry = policy.expiry(now, delay_s)
        if delay_s or job.lease_expires_at is None or job.lease_expires_at < expiry:
            values["lease_expires_at"] = expiry
        result = cast(
            CursorResult[Any],
            await session.execute(
                update(Job)
                .where(Job.id == job_id, Job.status.in_(ACTIVE_STATUSES))
                .values(**values)
                .execution_options(synchronize_session=False)
            ),
        )
        if not result.rowcount:
            return False
        await durable.outbox.add(session, request, delay_s=delay_s)
        return True

    async def touch(self, session: AsyncSession, job_id: str) -> bool:
        """:meth:`extend_lease` in the caller's transaction (a step of the job was taken).
        Returns whether the job was active."""
        durable = self._need_durable()
        job = await session.get(Job, job_id)
        if job is None or job.status not in ACTIVE_STATUSES:
            return False
        await extend(session, Job, job_id, durable.policy(job.kind), active=ACTIVE_STATUSES)
        await session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == JobStatus.QUEUED.value)
            .values(status=JobStatus.RUNNING.value, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        return True

    async def active_with_prefix(self, session: AsyncSession, prefix: str) -> Job | None:
        """The active job whose id starts with ``prefix`` (e.g. a meeting's current run,
        ``meeting:<id>:``; matched literally), or ``None``."""
        rows = await session.execute(
            select(Job)
            .where(Job.id.startswith(prefix, autoescape=True), Job.status.in_(ACTIVE_STATUSES))
            .order_by(Job.created_at.desc())
            .limit(1)
        )
        return rows.scalars().first()

    async def count_with_prefix(self, session: AsyncSession, prefix: str) -> int:
        """How many jobs (any status) have an id starting with ``prefix``."""
        rows = await session.execute(
            select(func.count()).select_from(Job).where(Job.id.startswith(prefix, autoescape=True))
        )
        return int(rows.scalar_one())

    async def extend_lease(self, job_id: str) -> bool:
        """A worker reported progress: an active job's lease runs ``lease_s`` from now again and a
        ``queued`` job becomes ``running``. Returns whether the job was active."""
        self._need_durable()
        async with self._sessions() as session, session.begin():
            return await self.touch(session, job_id)

    async def end(
        self, session: AsyncSession, job_id: str, status: JobStatus | str, error: str | None = None
    ) -> list[str]:
        """End an active job in the caller's transaction (forward only; see :meth:`set_status`).

        Returns:
            The job's objects to delete once the caller committed (:meth:`delete_objects`);
            empty when the job was not active (unknown, or already ended).
        Raises:
            ValueError: ``status`` is not terminal. (A worker's error code is made safe: characters
                other than letters, digits and ``_.:-`` become ``_``, cut at 64.)
        """
        target = _check_status(status)
        if target not in TERMINAL_STATUSES:
            raise ValueError(f"end() needs a terminal status, not {target.value}")
        if error is not None:  # a worker's code, made safe for the column
            error = (
                "".join(c if c.isalnum() or c in "_.:-" else "_" for c in error)[:JOB_ERROR_MAX] or "failed"
            )
        job = await session.get(Job, job_id)
        if job is None or job.status not in ACTIVE_STATUSES:
            return []
        result = cast(
            CursorResult[Any],
            await session.execute(
                update(Job)
                .where(Job.id == job_id, Job.status.in_(ACTIVE_STATUSES))
                .values(status=target.value, error=error, lease_expires_at=None, updated_at=utcnow())
                .execution_options(synchronize_session=False)
            ),
        )
        return list(job.objects or []) if result.rowcount else []

    async def delete_objects(self, keys: list[str]) -> None:
        """Delete an ended job's objects (keys, or prefixes ending in ``/``); errors are logged."""
        if keys and self.durable is not None:
            await delete_objects(self.durable.runtime.storage, keys)

    async def get(self, job_id: str) -> Job | None:
        """Return the job with this id, or ``None``."""
        async with self._sessions() as session:
            return await session.get(Job, job_id)

    async def count_by_status(self) -> dict[JobStatus, int]:
        """Return how many jobs are in each status; every status is present (0 when none)."""
        counts = dict.fromkeys(JobStatus, 0)
        async with self._sessions() as session:
            rows = await session.execute(select(Job.status, func.count()).group_by(Job.status))
            for status, count in rows.all():
                counts[JobStatus(status)] = int(count)
        return counts
