"""The gateway's relational records (SQLAlchemy 2 typed models).

The gateway owns these tables; its Alembic migrations live in
``services/gateway/migrations`` with the version table
``alembic_version_gateway``. Every change here needs a new revision there
(``tests/unit/test_db.py`` checks the two agree).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.db import NAMING_CONVENTION, UTCDateTime, utcnow

__all__ = ["JOB_ERROR_MAX", "JOB_ID_MAX", "JOB_KIND_MAX", "TERMINAL_STATUSES", "Base", "Job", "JobStatus"]

JOB_ID_MAX = 36
"""Longest job id (characters): a UUID in its text form."""

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


class Job(Base):
    """One unit of asynchronous work the gateway started (table ``jobs``).

    Attributes:
        id: the job id (a UUID string, at most 36 characters); also the event key.
        kind: what the job does, e.g. ``"temperature"`` (at most 32 characters).
        status: one of :class:`JobStatus` (stored as its text value).
        error: a short machine-readable error code such as ``"corrupt_audio"``,
            only for failed or timed-out jobs; never user content.
        created_at: when the job was created, timezone-aware UTC.
        updated_at: when the job last changed, timezone-aware UTC.
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


# --- ANC sessions and metrics (seed 004) -------------------------------------------------

ANC_OWNER_ANONYMOUS = "anonymous"
"""Owner stored on ANC sessions until requests carry an authenticated user."""


class AncSession(Base):
    """One noise-cancellation session (table ``anc_sessions``): a processed file or a live stream.

    Attributes:
        id: UUID string.
        owner: user id (``"anonymous"`` until the auth issue); every query filters by it.
        kind: ``"file"`` or ``"stream"``.
        status: ``"open"`` (stream created, no socket yet), ``"active"`` (socket
            connected), ``"queued"`` / ``"processing"`` (a long file's batch job),
            ``"completed"``, ``"closed"`` or ``"failed"``.
        algorithm: ``nlms``, ``fdaf``, ``fxnlms``, ``lms`` or ``ale``.
        params: the filter parameters used (taps, mu, block_size, delay, constrained).
        sample_rate: Hz.
        samples: samples processed so far.
        output_key: object-storage key of the processed file (file sessions).
        noise_class, emergency: the last classification of the primary channel.
        progress: percent done of a batch job (``None`` for other sessions).
        error, error_details: why a batch job failed (a code and a sentence).
        created_at, updated_at, ended_at: timezone-aware UTC.
    """

    __tablename__ = "anc_sessions"
    __table_args__ = (
        CheckConstraint("kind IN ('file', 'stream')", name="kind"),
        CheckConstraint(
            "status IN ('open', 'active', 'queued', 'processing', 'completed', 'closed', 'failed')",
            name="status",
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), index=True, default=ANC_OWNER_ANONYMOUS)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    algorithm: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    sample_rate: Mapped[int] = mapped_column(Integer)
    samples: Mapped[int] = mapped_column(BigInteger, default=0)
    output_key: Mapped[str | None] = mapped_column(String(255))
    noise_class: Mapped[str | None] = mapped_column(String(32))
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    progress: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(String(64))
    error_details: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AncMetric(Base):
    """One metrics record of an ANC session (table ``anc_metrics``).

    Attributes:
        id: autoincrement.
        session_id: the session (deleted with it).
        kind: ``"final"`` (a processed file or a closed stream) or ``"update"`` (live).
        attenuation_db: overall attenuation (dB).
        steady_state_attenuation_db: last part of the signal (dB); streams: recent blocks.
        convergence_time_ms: time to 20 dB attenuation (ms), ``None`` if never reached.
        octave_bands: octave-band centre (Hz, text) -> attenuation (dB).
        samples: samples covered.
        dsp_ms_mean: mean DSP time per block (streams) or total (files), ms.
        noise_class, confidence, emergency: classification of the primary channel.
        recorded_at: timezone-aware UTC.
    """

    __tablename__ = "anc_metrics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("anc_sessions.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    attenuation_db: Mapped[float] = mapped_column(Float)
    steady_state_attenuation_db: Mapped[float | None] = mapped_column(Float)
    convergence_time_ms: Mapped[float | None] = mapped_column(Float)
    octave_bands: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    samples: Mapped[int] = mapped_column(BigInteger, default=0)
    dsp_ms_mean: Mapped[float | None] = mapped_column(Float)
    noise_class: Mapped[str | None] = mapped_column(String(32))
    confidence: Mapped[float | None] = mapped_column(Float)
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


__all__ += ["ANC_OWNER_ANONYMOUS", "AncMetric", "AncSession"]


# --- photo tasks (seed 002, issue 7) ----------------------------------------------------------

PHOTO_OWNER_ANONYMOUS = "anonymous"
"""Owner stored on photo tasks until requests carry an authenticated user."""

PHOTO_STATUSES = ("queued", "analyzing", "composing", "rendering", "done", "failed")
"""Every status a photo task can have, in order; ``done`` and ``failed`` are terminal."""


class PhotoTask(Base):
    """One photo -> music video task (table ``photo_tasks``).

    Attributes:
        id: the task id (UUID string); also the event key.
        owner: user id (``"anonymous"`` until the auth issue); every query filters by it.
        status: one of :data:`PHOTO_STATUSES`.
        progress: overall percentage, 0-100.
        attempt: 1, or more after a stuck task was requested again.
        captions: whether lyric captions are burnt in.
        error, error_details: machine code and human reason, only when failed.
        photo_key, photo_format, photo_size, photo_width, photo_height: the stored photo
            (bytes; upright pixels).
        music_key, music_size, video_key, video_size, video_width, video_height, duration_s:
            the results (bytes, pixels, seconds) once done.
        title, mood, lyrics, music_prompt, analysis: what the pipeline made of the photo.
        lyrics_engine, music_engine: which engines ran (``local``, ``claude``, ``suno``).
        processing_s: wall time of the render, seconds.
        warnings: notes such as a cloud engine replaced by the local one.
        created_at, updated_at, completed_at: timezone-aware UTC.
    """

    __tablename__ = "photo_tasks"
    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'analyzing', 'composing', 'rendering', 'done', 'failed')", name="status"
        ),
        CheckConstraint("progress >= 0 AND progress <= 100", name="progress"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), index=True, default=PHOTO_OWNER_ANONYMOUS)
    status: Mapped[str] = mapped_column(String(16), index=True, default="queued")
    progress: Mapped[int] = mapped_column(Integer, default=0)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    captions: Mapped[bool] = mapped_column(Boolean, default=True)
    error: Mapped[str | None] = mapped_column(String(64))
    error_details: Mapped[str | None] = mapped_column(String(500))
    photo_key: Mapped[str] = mapped_column(String(255))
    photo_format: Mapped[str] = mapped_column(String(8))
    photo_size: Mapped[int] = mapped_column(BigInteger)
    photo_width: Mapped[int] = mapped_column(Integer)
    photo_height: Mapped[int] = mapped_column(Integer)
    music_key: Mapped[str | None] = mapped_column(String(255))
    music_size: Mapped[int | None] = mapped_column(BigInteger)
    video_key: Mapped[str | None] = mapped_column(String(255))
    video_size: Mapped[int | None] = mapped_column(BigInteger)
    video_width: Mapped[int | None] = mapped_column(Integer)
    video_height: Mapped[int | None] = mapped_column(Integer)
    duration_s: Mapped[float | None] = mapped_column(Float)
    title: Mapped[str | None] = mapped_column(String(120))
    mood: Mapped[str | None] = mapped_column(String(32))
    lyrics: Mapped[str | None] = mapped_column(Text)
    music_prompt: Mapped[str | None] = mapped_column(String(500))
    analysis: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    lyrics_engine: Mapped[str | None] = mapped_column(String(16))
    music_engine: Mapped[str | None] = mapped_column(String(16))
    processing_s: Mapped[float | None] = mapped_column(Float)
    warnings: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


__all__ += ["PHOTO_OWNER_ANONYMOUS", "PHOTO_STATUSES", "PhotoTask"]
