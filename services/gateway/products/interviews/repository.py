"""Database access of the interview coach: every query filters by the caller's ``user_id``
(another user's row is simply not found, which the routes answer as 404).

Cursors are the last row's integer id (seed 001: ``cursor=<lastId>``): ids only grow, so a
page never repeats or skips a row when rows are inserted while a list is read (newest first
pages ask ``id < cursor``, oldest first ``id > cursor``).

The session report is written by one ``INSERT ... ON CONFLICT (interview_id) DO UPDATE``
(PostgreSQL and SQLite), so concurrent writers leave exactly one row and none fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import utcnow
from services.gateway.products.interviews.models import (
    Interview,
    InterviewQuestion,
    InterviewReport,
    KnowledgeSetCache,
    QuestionAttempt,
    Resume,
)

__all__ = ["InterviewRepository"]


class InterviewRepository:
    """Queries of one request's session (the caller commits: ``async with session.begin()``).

    Args:
        session: the request's ``AsyncSession``.
        user_id: the caller; every query is limited to their rows.
    """

    def __init__(self, session: AsyncSession, user_id: str) -> None:
        self.session = session
        self.user_id = user_id

    # ---------------------------------------------------------------- resume

    async def resume(self) -> Resume | None:
        """The caller's resume, or None."""
        return await self.session.scalar(select(Resume).where(Resume.user_id == self.user_id))

    async def save_resume(self, **fields: Any) -> Resume:
        """Create or replace the caller's resume; drops their cached knowledge sets."""
        row = await self.resume()
        if row is None:
            row = Resume(user_id=self.user_id, **fields)
            self.session.add(row)
        else:
            for key, value in fields.items():
                setattr(row, key, value)
            row.updated_at = utcnow()
        await self.session.execute(delete(KnowledgeSetCache).where(KnowledgeSetCache.user_id == self.user_id))
        await self.session.flush()
        return row

    async def cached_knowledge(self, resume_sha256: str) -> dict[str, list[str]] | None:
        """The knowledge set cached for this resume content, or None."""
        return await self.session.scalar(
            select(KnowledgeSetCache.areas).where(
                KnowledgeSetCache.user_id == self.user_id, KnowledgeSetCache.resume_sha256 == resume_sha256
            )
        )

    async def cache_knowledge(self, resume_sha256: str, areas: dict[str, list[str]]) -> None:
        """Cache a knowledge set (a concurrent identical insert is ignored)."""
        await self.session.execute(
            _insert(self.session)(KnowledgeSetCache)
            .values(user_id=self.user_id, resume_sha256=resume_sha256, areas=areas, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["user_id", "resume_sha256"])
        )

    # ---------------------------------------------------------------- interviews

    async def interview(self, interview_id: int) -> Interview | None:
        """One of the caller's interviews, or None."""
        return await self.session.scalar(
            select(Interview).where(Interview.id == interview_id, Interview.user_id == self.user_id)
        )

    async def active_interview(self, track: str | None = None) -> Interview | None:
        """The caller's newest active interview (for ``track`` when given), or None."""
        query = select(Interview).where(Interview.user_id == self.user_id, Interview.status == "active")
        if track is not None:
            query = query.where(Interview.track == track)
        return await self.session.scalar(query.order_by(Interview.id.desc()).limit(1))

    async def active_or_new(self, track: str) -> tuple[Interview, bool]:
        """The caller's active interview for ``track``, or a new one: ``(row, created)``.

        Safe when two calls race: the insert does nothing when the partial unique index
        ``uq_interviews_user_id_track_active`` (one active interview per user and track)
        already holds a row, and the row found then is returned, so both calls get the same
        interview.
        """
        existing = await self.active_interview(track)
        if existing is not None:
            return existing, False
        stmt = (
            _insert(self.session)(Interview)
            .values(user_id=self.user_id, track=track, status="active", question_seed=0, created_at=utcnow())
            .on_conflict_do_nothing(
                index_elements=["user_id", "track"], index_where=Interview.status == "active"
            )
            .returning(Interview.id)
        )
        created = await self.session.scalar(stmt)
        row = await self.active_interview(track)
        if row is None:  # cannot happen: inserted, or another call's row is committed
            raise RuntimeError(f"no active {track!r} interview after inserting one")
        return row, created is not None

    async def interviews(self, limit: int, cursor: int | None) -> tuple[list[Interview], int | None]:
        """Newest first, ``limit`` rows after ``cursor`` (an id); and the next cursor (None: the end)."""
        query = select(Interview).where(Interview.user_id == self.user_id)
        if cursor is not None:
            query = query.where(Interview.id < cursor)
        rows = list(await self.session.scalars(query.order_by(Interview.id.desc()).limit(limit + 1)))
        return rows[:limit], rows[limit - 1].id if len(rows) > limit else None

    async def question_counts(self, interview_ids: Sequence[int]) -> dict[int, int]:
        """Questions per interview."""
        if not interview_ids:
            return {}
        result = await self.session.execute(
            select(InterviewQuestion.interview_id, func.count())
            .where(InterviewQuestion.interview_id.in_(interview_ids))
            .group_by(InterviewQuestion.interview_id)
        )
        return {int(i): int(n) for i, n in result.all()}

    # ---------------------------------------------------------------- questions and attempts

    async def questions(
        self, interview_id: int, limit: int | None = None, cursor: int | None = None
    ) -> tuple[list[InterviewQuestion], int | None]:
        """Oldest first after ``cursor`` (an id); and the next cursor (None: the end)."""
        query = select(InterviewQuestion).where(
            InterviewQuestion.interview_id == interview_id, InterviewQuestion.user_id == self.user_id
        )
        if cursor is not None:
            query = query.where(InterviewQuestion.id > cursor)
        query = query.order_by(InterviewQuestion.id)
        if limit is None:
            return list(await self.session.scalars(query)), None
        rows = list(await self.session.scalars(query.limit(limit + 1)))
        return rows[:limit], rows[limit - 1].id if len(rows) > limit else None

    async def replace_questions(self, interview: Interview, questions: list[dict[str, Any]]) -> None:
        """Delete the interview's questions and attempts; store ``questions`` with one attempt each."""
        await self.session.execute(
            delete(QuestionAttempt).where(QuestionAttempt.interview_id == interview.id)
        )
        await self.session.execute(
            delete(InterviewQuestion).where(InterviewQuestion.interview_id == interview.id)
        )
        await self.session.execute(
            delete(InterviewReport).where(InterviewReport.interview_id == interview.id)
        )
        now = utcnow()
        rows = [
            InterviewQuestion(
                interview_id=interview.id, user_id=self.user_id, position=i, created_at=now, **q
            )
            for i, q in enumerate(questions, start=1)
        ]
        self.session.add_all(rows)
        await self.session.flush()
        self.session.add_all(
            QuestionAttempt(question_id=q.id, interview_id=interview.id, user_id=self.user_id, created_at=now)
            for q in rows
        )
        await self.session.flush()

    async def attempts(self, interview_id: int) -> list[tuple[QuestionAttempt, InterviewQuestion]]:
        """The interview's attempts with their questions, in question order."""
        result = await self.session.execute(
            select(QuestionAttempt, InterviewQuestion)
            .join(InterviewQuestion, QuestionAttempt.question_id == InterviewQuestion.id)
            .where(QuestionAttempt.interview_id == interview_id, QuestionAttempt.user_id == self.user_id)
            .order_by(InterviewQuestion.position, InterviewQuestion.id)
        )
        return [(a, q) for a, q in result.tuples()]

    async def attempt(self, attempt_id: int) -> tuple[QuestionAttempt, InterviewQuestion, Interview] | None:
        """One of the caller's attempts with its question and interview, or None."""
        result = await self.session.execute(
            select(QuestionAttempt, InterviewQuestion, Interview)
            .join(InterviewQuestion, QuestionAttempt.question_id == InterviewQuestion.id)
            .join(Interview, QuestionAttempt.interview_id == Interview.id)
            .where(QuestionAttempt.id == attempt_id, QuestionAttempt.user_id == self.user_id)
        )
        row = result.tuples().first()
        return (row[0], row[1], row[2]) if row else None

    # ---------------------------------------------------------------- reports

    async def upsert_report(self, interview_id: int, report: dict[str, Any], overall: int | None) -> None:
        """Insert or replace the interview's report in one statement (safe under concurrency)."""
        now = utcnow()
        stmt = _insert(self.session)(InterviewReport).values(
            interview_id=interview_id,
            user_id=self.user_id,
            report=report,
            overall_score=overall,
            created_at=now,
            updated_at=now,
        )
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=["interview_id"],
                set_={"report": report, "overall_score": overall, "updated_at": now},
            )
        )

    async def report(self, interview_id: int) -> InterviewReport | None:
        """The caller's report of an interview, or None."""
        return await self.session.scalar(
            select(InterviewReport).where(
                InterviewReport.interview_id == interview_id, InterviewReport.user_id == self.user_id
            )
        )

    async def reports(self) -> list[tuple[Interview, InterviewReport]]:
        """The caller's reported interviews, oldest first (for progress over time)."""
        result = await self.session.execute(
            select(Interview, InterviewReport)
            .join(InterviewReport, InterviewReport.interview_id == Interview.id)
            .where(Interview.user_id == self.user_id)
            .order_by(Interview.id)
        )
        return [(i, r) for i, r in result.tuples()]


def _insert(session: AsyncSession) -> Any:
    """The dialect's ``insert`` with ``ON CONFLICT`` support (PostgreSQL or SQLite)."""
    name = session.get_bind().dialect.name
    return postgresql.insert if name == "postgresql" else sqlite.insert
