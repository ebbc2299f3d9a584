"""Tables of the interview coach (seed 001), revision 0006.

- ``interview_resumes``: the caller's resume (one per user; a new upload replaces it): the
  extracted text and fields, never the file.
- ``interview_knowledge_sets``: the knowledge set cached by ``(user_id, resume_sha256)``; a new
  resume deletes the user's rows (invalidation); a row costs one small JSON.
- ``interviews``: one session per track; ``status`` ``active`` or ``completed``.
- ``interview_questions``: the questions of an interview in order, with their key concepts.
- ``question_attempts``: one per question: the transcript (text, words, language, duration),
  the voice activity intervals and the file's metadata (never the audio), and the last
  analyses in ``analysis_json``.
- ``interview_reports``: one per interview (``interview_id`` unique, written by an upsert).

Every table carries ``user_id`` (the auth service's user id) and every query filters by it.
Integer ids (seed 001's API uses numbers) grow with inserts, so ``id`` orders rows by age.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import UTCDateTime, utcnow
from services.gateway.models import Base

__all__ = [
    "INTERVIEW_STATUSES",
    "Interview",
    "InterviewQuestion",
    "InterviewReport",
    "KnowledgeSetCache",
    "QuestionAttempt",
    "Resume",
]

INTERVIEW_STATUSES = ("active", "completed")
"""An interview is ``active`` until completed (then its attempts take no new answers)."""

USER_ID_MAX = 64


class Resume(Base):
    """The caller's resume (table ``interview_resumes``; one per user).

    Attributes:
        user_id: owner (unique).
        filename: as uploaded (at most 255 characters); kind: ``pdf``, ``docx`` or ``text``.
        size_bytes: the uploaded file's size; pages: PDF pages.
        text: the extracted text; text_sha256: its SHA-256 (the knowledge set's cache key).
        skills, education, roles, experience: what extraction found (JSON lists).
        years_experience: from the merged date ranges (``None``: not found).
        created_at, updated_at: timezone-aware UTC (updated_at changes with each upload).
    """

    __tablename__ = "interview_resumes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(USER_ID_MAX), unique=True)
    filename: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(8))
    size_bytes: Mapped[int] = mapped_column(Integer)
    pages: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    text_sha256: Mapped[str] = mapped_column(String(64))
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    years_experience: Mapped[float | None] = mapped_column(Float)
    education: Mapped[list[str]] = mapped_column(JSON, default=list)
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    experience: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class KnowledgeSetCache(Base):
    """A knowledge set cached by user and resume content hash (table ``interview_knowledge_sets``)."""

    __tablename__ = "interview_knowledge_sets"
    __table_args__ = (UniqueConstraint("user_id", "resume_sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(USER_ID_MAX), index=True)
    resume_sha256: Mapped[str] = mapped_column(String(64))
    areas: Mapped[dict[str, list[str]]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Interview(Base):
    """One interview session (table ``interviews``).

    Attributes:
        id: integer id (the seed's ``interviewId``); user_id: owner; track: e.g. ``data_science``.
        status: ``active`` or ``completed`` (at most one active per user and track: a
            partial unique index); question_seed: varies regenerated questions.
        created_at, completed_at: timezone-aware UTC.
    """

    __tablename__ = "interviews"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'completed')", name="status"),
        Index("ix_interviews_user_id_id", "user_id", "id"),
        # one active interview per user and track, even when two "create" calls race
        Index(
            "uq_interviews_user_id_track_active",
            "user_id",
            "track",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(USER_ID_MAX))
    track: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="active")
    question_seed: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class InterviewQuestion(Base):
    """One question of an interview (table ``interview_questions``), in ``position`` order.

    Attributes:
        key_concepts: ``[{name, synonyms}]`` a good answer covers (the domain analysis reads them).
        category: ``technical`` or ``behavioural``; difficulty: ``easy``, ``medium``, ``hard``.
    """

    __tablename__ = "interview_questions"
    __table_args__ = (Index("ix_interview_questions_interview_id_id", "interview_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    interview_id: Mapped[int] = mapped_column(ForeignKey("interviews.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(USER_ID_MAX), index=True)
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    topic: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(16))
    difficulty: Mapped[str] = mapped_column(String(8))
    key_concepts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class QuestionAttempt(Base):
    """The answer to one question (table ``question_attempts``): transcript and analyses.

    Attributes:
        transcript: ``Transcript`` JSON (text, segments with word timings, language, duration);
            ``None`` until transcribed.
        speech: voice activity intervals ``[{start, end}]`` (seconds) of the recording.
        audio_meta: the uploaded file's format, size, duration (the audio is never stored).
        analysis_json: the last analyses, by type (``domain``, ``communication``, ``pace``,
            ``pause``) plus ``errors``, ``metadata`` and ``performance``.
        transcribed_at, analyzed_at, created_at: timezone-aware UTC.
    """

    __tablename__ = "question_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    question_id: Mapped[int] = mapped_column(
        ForeignKey("interview_questions.id", ondelete="CASCADE"), unique=True
    )
    interview_id: Mapped[int] = mapped_column(ForeignKey("interviews.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(String(USER_ID_MAX), index=True)
    transcript: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    speech: Mapped[list[dict[str, float]] | None] = mapped_column(JSON)
    audio_meta: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    analysis_json: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    transcribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    analyzed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class InterviewReport(Base):
    """The session report of an interview (table ``interview_reports``; ``interview_id`` unique)."""

    __tablename__ = "interview_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    interview_id: Mapped[int] = mapped_column(ForeignKey("interviews.id", ondelete="CASCADE"), unique=True)
    user_id: Mapped[str] = mapped_column(String(USER_ID_MAX), index=True)
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    overall_score: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
