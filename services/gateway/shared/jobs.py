"""The gateway's job records: a small async repository over the ``jobs`` table.

A job moves ``queued`` -> ``running`` -> one terminal status (``succeeded``,
``failed``, ``timed_out``) and never back. Because events are delivered at
least once and may arrive late, an update that would move a job backwards
(a redelivered ``running`` after ``succeeded``, or a second, different
terminal status) is ignored and the job is returned unchanged; updates are
conditional ``UPDATE`` statements, so concurrent writers cannot break this.
"""

from __future__ import annotations

import logging
import re
from typing import Any, cast

from sqlalchemy import func, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common.db import utcnow
from services.gateway.models import (
    JOB_ERROR_MAX,
    JOB_ID_MAX,
    JOB_KIND_MAX,
    TERMINAL_STATUSES,
    Job,
    JobStatus,
)

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
    """

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = session_factory

    async def create(self, job_id: str, kind: str) -> Job:
        """Record a new ``queued`` job.

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
                statement = (
                    update(Job)
                    .where(Job.id == job_id, Job.status.in_([s.value for s in sources]))
                    .values(status=target.value, error=error, updated_at=utcnow())
                    .execution_options(synchronize_session=False)
                )
                result = cast(CursorResult[Any], await session.execute(statement))
                changed = result.rowcount or 0
                await session.commit()
            job = await session.get(Job, job_id, populate_existing=True)
        if job is None:
            raise JobNotFound(job_id)
        if not changed and job.status != target.value:
            log.info(
                "job status update ignored: %s is %s, not moving to %s", job_id, job.status, target.value
            )
        return job

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
