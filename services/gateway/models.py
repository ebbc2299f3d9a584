"""The gateway's declarative ``Base`` and the platform's job records (table ``jobs``).

Each product's tables live in ``products/<name>/models.py`` on this ``Base`` and are listed
in :mod:`services.gateway.tables`. The gateway owns these tables; its Alembic migrations live in
``services/gateway/migrations`` with the version table
``alembic_version_gateway``. Every change here needs a new revision there
(``tests/unit/test_db.py`` checks the two agree).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    MetaData,
    String,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.db import NAMING_CONVENTION, UTCDateTime, utcnow
from services.common.leases import LeaseColumns
from services.common.outbox import outbox_table

__all__ = [
    "ACTIVE_STATUSES",
    "JOB_ERROR_MAX",
    "JOB_ID_MAX",
    "JOB_KIND_MAX",
    "TERMINAL_STATUSES",
    "Base",
    "Job",
    "JobStatus",
    "outbox",
]

JOB_ID_MAX = 64
"""Longest job id (characters): a UUID in its text form, or a meeting run
``meeting:<meeting uuid>:<run>`` (revision ``0008`` widened the column from 36)."""

JOB_KIND_MAX = 32
"""Longest job kind (characters), e.g. ``"temperature"``."""

JOB_ERROR_MAX = 64
"""Longest error code (characters)."""


class Base(DeclarativeBase):
    """Declarative base for the gateway's tables (constraint names follow
    :data:`services.common.db.NAMING_CONVENTION`)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class JobStatus(StrEnum):
    """Where a job is in its life: ``queued`` -> ``running`` -> one terminal status."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"


TERMINAL_STATUSES: frozenset[JobStatus] = frozenset(
    {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.TIMED_OUT}
)
"""Statuses a job never leaves."""

ACTIVE_STATUSES: tuple[str, ...] = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
"""Statuses in which a job holds a lease (``services/common/leases.py``)."""


class Job(LeaseColumns, Base):
    """One unit of asynchronous work the gateway started (table ``jobs``).

    Attributes:
        id: the job id (a UUID string, at most 36 characters); also the event key.
        kind: what the job does, e.g. ``"temperature"`` (at most 32 characters).
        status: one of :class:`JobStatus` (stored as its text value).
        error: a short machine-readable error code such as ``"corrupt_audio"``,
            only for failed or timed-out jobs; never user content.
        created_at: when the job was created, timezone-aware UTC.
        updated_at: when the job last changed, timezone-aware UTC.
        attempts, lease_expires_at, request, objects: the lease
            (:class:`~services.common.leases.LeaseColumns`, revision ``0007``; docs/jobs.md).
    """

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed', 'timed_out')",
            name="status",
        ),
    )

    id: Mapped[str] = mapped_column(String(JOB_ID_MAX), primary_key=True)
    kind: Mapped[str] = mapped_column(String(JOB_KIND_MAX))
    status: Mapped[str] = mapped_column(String(16), index=True, default=JobStatus.QUEUED.value)
    error: Mapped[str | None] = mapped_column(String(JOB_ERROR_MAX))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"Job(id={self.id!r}, kind={self.kind!r}, status={self.status!r}, error={self.error!r})"


outbox = outbox_table(Base.metadata)
"""The gateway's transactional outbox (``services/common/outbox.py``, revision ``0007``)."""
