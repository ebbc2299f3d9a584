"""Meeting records on SQLite and a real PostgreSQL: migration 0005 (GIN full-text index on
PostgreSQL, FTS5 on SQLite), filters, stemmed search by a transcript-only word, renames in
one transaction, deletes leaving the index in step."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from services.common import db
from services.gateway.products.meetings.models import MeetingRecord
from services.gateway.products.meetings.repository import MeetingRepository
from tests.contract.test_db_contract import MIGRATIONS, VERSION_TABLE, url  # noqa: F401 - the fixture

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def record(user: str, i: int, text_: str = "", status: str = "COMPLETED") -> MeetingRecord:
    return MeetingRecord(
        id=str(uuid.uuid4()),
        user_id=user,
        title=f"Meeting {i}",
        participants=["Ann"],
        transcription=[{"speaker": "Ann", "text": text_, "start_time": "0:00", "end_time": "0:01"}]
        if text_
        else [],
        action_items=[],
        speakers=["Ann"] if text_ else [],
        speaker_labels=[],
        status=status,
        analytics_status="PENDING",
        attempt=1,
        created_at=T0 + timedelta(hours=i),
        updated_at=T0 + timedelta(hours=i),
    )


async def test_meeting_search_filters_and_renames(url: str) -> None:  # noqa: F811
    await asyncio.to_thread(db.run_migrations, url, MIGRATIONS, VERSION_TABLE)
    engine = db.create_engine(url)
    try:
        if engine.dialect.name == "postgresql":
            async with engine.connect() as conn:
                index = (
                    await conn.execute(
                        text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_meeting_records_search'")
                    )
                ).scalar()
            assert index is not None and "gin" in index.lower() and "to_tsvector" in index
        repo = MeetingRepository(db.session_factory(engine))
        target = record("u1", 1, "The flamingo budgets were approved.")
        await repo.add_many(
            [
                target,
                record("u1", 2, "Nothing here."),
                record("u2", 3, "flamingo too"),
                record("u1", 4, status="FAILED"),
            ]
        )
        rows, total = await repo.page("u1", 1, 10, search="flamingo budgets")
        assert total == 1 and rows[0].id == target.id
        assert (await repo.page("u1", 1, 10, search="budget"))[1] == 1  # stemmed: finds "budgets"
        assert (await repo.page("u1", 1, 10, status="failed"))[1] == 1
        assert (await repo.page("u1", 2, 2))[1] == 3
        assert await repo.rename_speakers("u1", {"Ann": "Anna"}) == 3
        got = await repo.get(target.id, "u1")
        assert got is not None and got.transcription[0]["speaker"] == "Anna" and got.participants == ["Anna"]
        assert (await repo.page("u1", 1, 10, search="anna"))[1] == 3
        other = (await repo.page("u2", 1, 10))[0][0]
        assert other.participants == ["Ann"]
        await repo.delete(target.id)
        assert (await repo.page("u1", 1, 10, search="flamingo"))[1] == 0
    finally:
        await engine.dispose()
