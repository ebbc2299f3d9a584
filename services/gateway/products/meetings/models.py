"""Tables of the meeting memos (seed 003): meetings, templates and CRM speaker profiles.

Created by revision ``0005`` (``services/gateway/migrations/versions/0005_meetings.py``),
which also seeds the shared, read-only default templates. On PostgreSQL a GIN index over
``to_tsvector('english', search_text)`` serves full-text search (``ddl_if`` PostgreSQL);
SQLite searches ``search_text`` with ``LIKE`` (see
:mod:`services.gateway.products.meetings.repository`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, Float, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import UTCDateTime, utcnow
from services.gateway.models import Base

MEETING_STATUSES = ("PENDING", "PROCESSING", "COMPLETED", "FAILED")
"""Status machine of a meeting: PENDING -> PROCESSING -> COMPLETED | FAILED (seed 003)."""

ANALYTICS_STATUSES = ("PENDING", "PROCESSING", "COMPLETED", "FAILED")
"""``analytics_status`` follows its own copy of the same machine."""


class MeetingRecord(Base):
    """One recorded meeting (table ``meeting_records``, the seed's shape).

    Attributes:
        id: UUID string. user_id: owner (auth user id); every query filters by it.
        title, description: given by the user, or suggested by the analysis when blank.
        participants: names the user listed (JSON list of strings).
        transcription: ``[{speaker, text, start_time, end_time, start, end}]`` (times as
            ``M:SS`` strings as the seed shows, and seconds).
        summary: text. key_points: numbered lines ("1. ...\\n2. ..."), as the seed shows.
        action_items: ``[{id, task, assigned_to, due_date, status}]`` (status ``open``/``done``).
        speakers: distinct speaker names of the transcript (CRM counts).
        speaker_labels: diarization label -> name, with the naming confidence.
        audio_filename: the uploaded file's name. s3_audio_path: the playback object key
            (mono mix for dual audio). master_audio_key: what is transcribed (the stereo
            master for dual audio, else the upload). second_audio_filename: the second file's name.
        templateid, custom_template_points: the template chosen and the user's extra points.
        status, analytics_status: see :data:`MEETING_STATUSES`. error: why it failed.
        attempt: the processing attempt (1..3). analytics_data: see services.analysis.speakers.
        duration_s: recording length, seconds. language: detected ISO 639-1 code.
        search_text: title, participants, speaker names and transcript, for search.
        is_processed: true once COMPLETED. created_at, updated_at, processing_started_at,
        completed_at: timezone-aware UTC.
    """

    __tablename__ = "meeting_records"
    __table_args__ = (
        CheckConstraint("status IN ('PENDING', 'PROCESSING', 'COMPLETED', 'FAILED')", name="status"),
        CheckConstraint(
            "analytics_status IN ('PENDING', 'PROCESSING', 'COMPLETED', 'FAILED')", name="analytics_status"
        ),
        Index("ix_meeting_records_user_id_created_at", "user_id", "created_at"),
        Index(
            "ix_meeting_records_search",
            text("to_tsvector('english', search_text)"),
            postgresql_using="gin",
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    participants: Mapped[list[str]] = mapped_column(JSON, default=list)
    transcription: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    summary: Mapped[str | None] = mapped_column(Text)
    key_points: Mapped[str | None] = mapped_column(Text)
    action_items: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    speakers: Mapped[list[str]] = mapped_column(JSON, default=list)
    speaker_labels: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    audio_filename: Mapped[str | None] = mapped_column(String(255))
    second_audio_filename: Mapped[str | None] = mapped_column(String(255))
    s3_audio_path: Mapped[str | None] = mapped_column(String(255))
    master_audio_key: Mapped[str | None] = mapped_column(String(255))
    templateid: Mapped[str | None] = mapped_column(String(36))
    custom_template_points: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True, default="PENDING")
    analytics_status: Mapped[str] = mapped_column(String(16), index=True, default="PENDING")
    analytics_data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    duration_s: Mapped[float | None] = mapped_column(Float)
    language: Mapped[str | None] = mapped_column(String(8))
    search_text: Mapped[str] = mapped_column(Text, default="")
    is_processed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    processing_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class MeetingTemplate(Base):
    """A summarisation template (table ``meeting_templates``; the seed's ``templates``).

    Attributes:
        id: UUID string. created_by: owner's user id; NULL for the shared defaults.
        title, description, transcription_prompt, summary_prompt, speaker_diarization: text.
        key_points_prompt: JSON list of the points to extract.
        keywords: JSON list of words that suggest this template.
        is_default: true for the seeded, read-only templates. is_active: soft switch.
    """

    __tablename__ = "meeting_templates"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    transcription_prompt: Mapped[str | None] = mapped_column(Text)
    summary_prompt: Mapped[str | None] = mapped_column(Text)
    key_points_prompt: Mapped[list[str]] = mapped_column(JSON, default=list)
    speaker_diarization: Mapped[str | None] = mapped_column(Text)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by: Mapped[str | None] = mapped_column(String(64), index=True)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class SpeakerProfile(Base):
    """A CRM contact (table ``speaker_profiles``).

    Attributes:
        id: UUID string. user_id: owner. first_name, middle_name, last_name, email, phone,
        company, designation, notes: the contact. speaker_names: speaker names mapped to it.
    """

    __tablename__ = "speaker_profiles"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    first_name: Mapped[str] = mapped_column(String(100))
    middle_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(50))
    company: Mapped[str | None] = mapped_column(String(200))
    designation: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)
    speaker_names: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    @property
    def full_name(self) -> str:
        """First, middle and last names joined by spaces."""
        return " ".join(p for p in (self.first_name, self.middle_name, self.last_name) if p)


__all__ = ["ANALYTICS_STATUSES", "MEETING_STATUSES", "MeetingRecord", "MeetingTemplate", "SpeakerProfile"]
