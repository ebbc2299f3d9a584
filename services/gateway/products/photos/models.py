"""Photo to music video tasks (seed 002): table ``photo_tasks`` (revision 0003)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import UTCDateTime, utcnow
from services.gateway.models import Base

__all__ = ["PHOTO_OWNER_ANONYMOUS", "PHOTO_STATUSES", "PhotoTask"]

# --- photo tasks (seed 002, issue 7) ----------------------------------------------------------

PHOTO_OWNER_ANONYMOUS = "anonymous"
"""Owner of a task uploaded without a token (seed 002's glasses app): reachable by its id only,
listed only when ``EARSHOT_PHOTOS_PUBLIC_LIBRARY=true``."""

PHOTO_STATUSES = ("queued", "analyzing", "composing", "rendering", "done", "failed")
"""Every status a photo task can have, in order; ``done`` and ``failed`` are terminal."""


class PhotoTask(Base):
    """One photo -> music video task (table ``photo_tasks``).

    Attributes:
        id: the task id (UUID string); also the event key.
        owner: the uploader's user id, or :data:`PHOTO_OWNER_ANONYMOUS` for an upload without a token.
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
