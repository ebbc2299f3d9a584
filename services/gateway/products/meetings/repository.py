"""Queries of the meeting memos: meetings (filters, search, pagination, conditional status
changes), templates and CRM speaker profiles. Every read of a user's record filters by owner.

Search (``search``): on PostgreSQL, ``to_tsvector('english', search_text) @@
plainto_tsquery('english', :q)`` served by the GIN index of revision 0005; on SQLite, FTS5
(``meeting_records_fts``, Porter stemmer, kept in step by triggers) with every word of the
query quoted (``"w1" "w2"``: all must occur). Both stem, so "budget" finds "budgets".
``search_text`` holds the title, description, participants, speaker names and transcript text.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, delete, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.gateway.products.meetings.models import MeetingRecord, MeetingTemplate, SpeakerProfile

UNFINISHED = ("PENDING", "PROCESSING")


def search_document(record: MeetingRecord) -> str:
    """The text searched for a meeting: title, description, participants, speakers, transcript."""
    parts = [record.title or "", record.description or "", " ".join(record.participants or [])]
    parts.append(" ".join(record.speakers or []))
    parts.extend(str(s.get("text", "")) for s in record.transcription or [])
    return "\n".join(p for p in parts if p)


class MeetingRepository:
    """Meeting rows (see module docstring).

    Args:
        sessions: an async session factory with ``expire_on_commit=False``.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def add(self, record: MeetingRecord) -> MeetingRecord:
        """Insert a meeting (its ``search_text`` computed here)."""
        record.search_text = search_document(record)
        async with self.sessions() as session:
            session.add(record)
            await session.commit()
        return record

    async def add_many(self, records: Sequence[MeetingRecord]) -> None:
        """Insert many meetings in one transaction (tests and benchmarks)."""
        for record in records:
            record.search_text = search_document(record)
        async with self.sessions() as session:
            session.add_all(records)
            await session.commit()

    async def get(self, meeting_id: str, user_id: str | None = None) -> MeetingRecord | None:
        """The meeting, or None (also when ``user_id`` is given and is not its owner)."""
        async with self.sessions() as session:
            row = await session.get(MeetingRecord, meeting_id)
        if row is None or (user_id is not None and row.user_id != user_id):
            return None
        return row

    def _filtered(
        self,
        stmt: Select[Any],
        user_id: str | None,
        status: str | None = None,
        analytics_status: str | None = None,
        search: str | None = None,
        date_from: datetime | None = None,
        date_to: datetime | None = None,
        dialect: str = "sqlite",
    ) -> Select[Any]:
        if user_id is not None:
            stmt = stmt.where(MeetingRecord.user_id == user_id)
        if status:
            stmt = stmt.where(MeetingRecord.status == status.upper())
        if analytics_status:
            stmt = stmt.where(MeetingRecord.analytics_status == analytics_status.upper())
        if date_from is not None:
            stmt = stmt.where(MeetingRecord.created_at >= date_from)
        if date_to is not None:
            stmt = stmt.where(MeetingRecord.created_at <= date_to)
        if search and search.strip():
            if dialect == "postgresql":
                stmt = stmt.where(
                    text("to_tsvector('english', search_text) @@ plainto_tsquery('english', :q)").bindparams(
                        q=search.strip()
                    )
                )
            else:
                terms = [t for t in re.findall(r"\w+", search.lower()) if t]
                if terms:
                    query = " ".join('"' + t + '"' for t in terms)
                    stmt = stmt.where(
                        text(
                            "meeting_records.rowid IN (SELECT rowid FROM meeting_records_fts "
                            "WHERE meeting_records_fts MATCH :q)"
                        ).bindparams(q=query)
                    )
        return stmt

    async def page(
        self, user_id: str | None, page: int, limit: int, **filters: Any
    ) -> tuple[list[MeetingRecord], int]:
        """One page (1-based) of the user's meetings, newest first, and the total matching."""
        async with self.sessions() as session:
            dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
            base = self._filtered(select(MeetingRecord), user_id, dialect=dialect, **filters)
            count = self._filtered(
                select(func.count()).select_from(MeetingRecord), user_id, dialect=dialect, **filters
            )
            total = int((await session.execute(count)).scalar_one())
            rows = (
                await session.execute(
                    base.order_by(MeetingRecord.created_at.desc(), MeetingRecord.id)
                    .offset((page - 1) * limit)
                    .limit(limit)
                )
            ).scalars()
            return list(rows), total

    async def transition(
        self,
        meeting_id: str,
        allowed: tuple[str, ...],
        *,
        session: AsyncSession | None = None,
        at_attempt: int | None = None,
        **values: Any,
    ) -> bool:
        """Update the meeting only while its status is in ``allowed`` (and, with ``at_attempt``,
        its attempt is that one); True when it changed.

        With ``session`` the update joins the caller's transaction (the caller commits), e.g. to
        write the next step's event to the outbox with it."""
        values.setdefault("updated_at", datetime.now(UTC))
        conditions = [MeetingRecord.id == meeting_id, MeetingRecord.status.in_(allowed)]
        if at_attempt is not None:
            conditions.append(MeetingRecord.attempt == at_attempt)
        statement = update(MeetingRecord).where(*conditions).values(**values)
        if session is not None:
            result = await session.execute(statement)
            return bool(result.rowcount)  # type: ignore[attr-defined]
        async with self.sessions() as own:
            result = await own.execute(statement)
            await own.commit()
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def save(self, record: MeetingRecord) -> MeetingRecord:
        """Write a changed meeting back (``search_text`` recomputed)."""
        record.search_text = search_document(record)
        async with self.sessions() as session:
            merged = await session.merge(record)
            await session.commit()
        return merged

    async def delete(self, meeting_id: str) -> None:
        """Remove the meeting row."""
        async with self.sessions() as session:
            await session.execute(delete(MeetingRecord).where(MeetingRecord.id == meeting_id))
            await session.commit()

    async def stuck(self, older_than: datetime) -> list[MeetingRecord]:
        """Unfinished meetings not updated since ``older_than``."""
        async with self.sessions() as session:
            rows = await session.execute(
                select(MeetingRecord).where(
                    MeetingRecord.status.in_(UNFINISHED), MeetingRecord.updated_at < older_than
                )
            )
            return list(rows.scalars())

    async def counts(self, user_id: str | None = None) -> dict[str, int]:
        """Meetings per status (of one user, or all)."""
        stmt = select(MeetingRecord.status, func.count()).group_by(MeetingRecord.status)
        if user_id is not None:
            stmt = stmt.where(MeetingRecord.user_id == user_id)
        async with self.sessions() as session:
            return {s: int(n) for s, n in (await session.execute(stmt)).all()}

    async def ids_with_status(
        self, statuses: tuple[str, ...], user_id: str | None = None
    ) -> list[MeetingRecord]:
        """Meetings in ``statuses`` (of one user, or all), oldest first."""
        stmt = select(MeetingRecord).where(MeetingRecord.status.in_(statuses))
        if user_id is not None:
            stmt = stmt.where(MeetingRecord.user_id == user_id)
        async with self.sessions() as session:
            return list((await session.execute(stmt.order_by(MeetingRecord.created_at))).scalars())

    async def last_error(self, user_id: str | None = None) -> MeetingRecord | None:
        """The most recently failed meeting (of one user, or all)."""
        stmt = select(MeetingRecord).where(MeetingRecord.status == "FAILED")
        if user_id is not None:
            stmt = stmt.where(MeetingRecord.user_id == user_id)
        async with self.sessions() as session:
            return (await session.execute(stmt.order_by(MeetingRecord.updated_at.desc()).limit(1))).scalar()

    async def with_speaker(self, user_id: str, speaker: str | None = None) -> list[MeetingRecord]:
        """The user's meetings (newest first); with ``speaker``, only those where that name speaks
        or is a participant (JSON lists filtered here, in Python, to stay portable)."""
        async with self.sessions() as session:
            rows = list(
                (
                    await session.execute(
                        select(MeetingRecord)
                        .where(MeetingRecord.user_id == user_id)
                        .order_by(MeetingRecord.created_at.desc())
                    )
                ).scalars()
            )
        if speaker is None:
            return rows
        want = speaker.lower()
        return [
            r
            for r in rows
            if want in {s.lower() for s in (r.speakers or [])} | {p.lower() for p in r.participants or []}
        ]

    async def rename_speakers(
        self, user_id: str, renames: dict[str, str], meeting_id: str | None = None
    ) -> int:
        """Rename speakers in one transaction across segments, participants, action-item owners,
        speaker lists, label maps and analytics (of one meeting, or all the user's meetings).

        Returns:
            How many meetings changed.
        """
        changed = 0
        async with self.sessions() as session, session.begin():
            stmt = select(MeetingRecord).where(MeetingRecord.user_id == user_id)
            if meeting_id is not None:
                stmt = stmt.where(MeetingRecord.id == meeting_id)
            for record in (await session.execute(stmt.with_for_update())).scalars():
                if apply_renames(record, renames):
                    record.search_text = search_document(record)
                    record.updated_at = datetime.now(UTC)
                    changed += 1
        return changed


def _escape(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _swap(value: Any, renames: dict[str, str]) -> Any:
    return renames.get(value, value) if isinstance(value, str) else value


def apply_renames(record: MeetingRecord, renames: dict[str, str]) -> bool:
    """Rename speakers everywhere in one record (in memory); True when anything changed."""
    before = (
        record.transcription,
        record.participants,
        record.action_items,
        record.speakers,
        record.speaker_labels,
        record.analytics_data,
    )
    record.transcription = [
        {**s, "speaker": _swap(s.get("speaker"), renames)} for s in record.transcription or []
    ]
    record.participants = list(dict.fromkeys(_swap(p, renames) for p in record.participants or []))
    record.action_items = [
        {**i, "assigned_to": _swap(i.get("assigned_to"), renames)} for i in record.action_items or []
    ]
    record.speakers = list(dict.fromkeys(_swap(s, renames) for s in record.speakers or []))
    record.speaker_labels = [
        {**s, "name": _swap(s.get("name"), renames)} for s in record.speaker_labels or []
    ]
    if record.analytics_data:
        data = dict(record.analytics_data)
        data["speakers"] = [
            {**s, "speaker": _swap(s.get("speaker"), renames)} for s in data.get("speakers", [])
        ]
        if data.get("longest_monologue"):
            lm = dict(data["longest_monologue"])
            lm["speaker"] = _swap(lm.get("speaker"), renames)
            data["longest_monologue"] = lm
        record.analytics_data = data
    after = (
        record.transcription,
        record.participants,
        record.action_items,
        record.speakers,
        record.speaker_labels,
        record.analytics_data,
    )
    return before != after


RowT = TypeVar("RowT", MeetingTemplate, SpeakerProfile)


class _RowStore(Generic[RowT]):
    """Insert, write back and delete rows of one table (``model``), one transaction each."""

    model: type[MeetingTemplate] | type[SpeakerProfile]

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def add(self, row: RowT) -> RowT:
        """Insert ``row`` (a new uuid4 id when it has none)."""
        row.id = row.id or str(uuid.uuid4())
        async with self.sessions() as session:
            session.add(row)
            await session.commit()
        return row

    async def save(self, row: RowT) -> RowT:
        """Write a changed row back; returns the merged row."""
        async with self.sessions() as session:
            merged = await session.merge(row)
            await session.commit()
        return merged

    async def delete(self, row_id: str) -> None:
        """Remove the row with id ``row_id`` (nothing when there is none)."""
        async with self.sessions() as session:
            await session.execute(delete(self.model).where(self.model.id == row_id))
            await session.commit()


class TemplateRepository(_RowStore[MeetingTemplate]):
    """Templates: the shared defaults (``created_by`` NULL) and each user's own."""

    model = MeetingTemplate

    async def visible(self, template_id: str, user_id: str) -> MeetingTemplate | None:
        """A default template or one of the user's, else None."""
        async with self.sessions() as session:
            row = await session.get(MeetingTemplate, template_id)
        if row is None or not row.is_active or (row.created_by is not None and row.created_by != user_id):
            return None
        return row

    async def listing(
        self, user_id: str, scope: str = "all", search: str | None = None, page: int = 1, limit: int = 100
    ) -> tuple[list[MeetingTemplate], int]:
        """Templates the user sees (``scope``: all, defaults, user), defaults first, then by title."""
        cond: Any
        if scope == "defaults":
            cond = MeetingTemplate.created_by.is_(None)
        elif scope == "user":
            cond = MeetingTemplate.created_by == user_id
        else:
            cond = or_(MeetingTemplate.created_by.is_(None), MeetingTemplate.created_by == user_id)
        where = [cond, MeetingTemplate.is_active.is_(True)]
        if search and search.strip():
            like = f"%{_escape(search.strip().lower())}%"
            where.append(
                or_(
                    func.lower(MeetingTemplate.title).like(like, escape="\\"),
                    func.lower(func.coalesce(MeetingTemplate.description, "")).like(like, escape="\\"),
                )
            )
        async with self.sessions() as session:
            total = int(
                (
                    await session.execute(select(func.count()).select_from(MeetingTemplate).where(*where))
                ).scalar_one()
            )
            rows = await session.execute(
                select(MeetingTemplate)
                .where(*where)
                .order_by(MeetingTemplate.is_default.desc(), MeetingTemplate.title)
                .offset((page - 1) * limit)
                .limit(limit)
            )
            return list(rows.scalars()), total


class ProfileRepository(_RowStore[SpeakerProfile]):
    """CRM speaker profiles of each user."""

    model = SpeakerProfile

    async def get(self, profile_id: str, user_id: str) -> SpeakerProfile | None:
        """The user's profile, or None."""
        async with self.sessions() as session:
            row = await session.get(SpeakerProfile, profile_id)
        return row if row is not None and row.user_id == user_id else None

    async def all(self, user_id: str) -> list[SpeakerProfile]:
        """Every profile of the user."""
        async with self.sessions() as session:
            rows = await session.execute(select(SpeakerProfile).where(SpeakerProfile.user_id == user_id))
            return list(rows.scalars())

    async def page(
        self, user_id: str, page: int, limit: int, search: str | None = None
    ) -> tuple[list[SpeakerProfile], int]:
        """One page of the user's profiles by name; ``search`` matches names, email, company."""
        where: list[Any] = [SpeakerProfile.user_id == user_id]
        if search and search.strip():
            like = f"%{_escape(search.strip().lower())}%"
            where.append(
                or_(
                    *(
                        func.lower(func.coalesce(col, "")).like(like, escape="\\")
                        for col in (
                            SpeakerProfile.first_name,
                            SpeakerProfile.last_name,
                            SpeakerProfile.email,
                            SpeakerProfile.company,
                        )
                    )
                )
            )
        async with self.sessions() as session:
            total = int(
                (
                    await session.execute(select(func.count()).select_from(SpeakerProfile).where(*where))
                ).scalar_one()
            )
            rows = await session.execute(
                select(SpeakerProfile)
                .where(*where)
                .order_by(SpeakerProfile.first_name, SpeakerProfile.last_name)
                .offset((page - 1) * limit)
                .limit(limit)
            )
            return list(rows.scalars()), total
