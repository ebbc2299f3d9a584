"""The interview coach's repository on the migrated schema (SQLite): ownership filters,
cursor pages stable under inserts, question replacement, and the report upsert under 10
concurrent writers (one row, no error). Racing "create" calls: tests/contract/test_db_contract.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common import db
from services.gateway.products.interviews.models import InterviewReport, QuestionAttempt
from services.gateway.products.interviews.repository import InterviewRepository

MIGRATIONS = Path(db.__file__).resolve().parents[1] / "gateway" / "migrations"


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"
    await db.run_migrations_async(url, MIGRATIONS, "alembic_version_gateway")
    engine = db.create_engine(url)
    try:
        yield db.session_factory(engine)
    finally:
        await engine.dispose()


def question(i: int) -> dict[str, object]:
    return {
        "text": f"Question {i}?",
        "topic": "Python",
        "category": "technical",
        "difficulty": "easy",
        "key_concepts": [{"name": "gil", "synonyms": []}],
    }


async def test_ownership_cursors_and_replacement(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as s, s.begin():
        alice, bob = InterviewRepository(s, "alice"), InterviewRepository(s, "bob")
        made = []
        for _ in range(5):  # one active per user and track: each is completed before the next
            row, created = await alice.active_or_new("data_science")
            assert created
            row.status = "completed"
            await s.flush()
            made.append(row)
        theirs, _ = await bob.active_or_new("data_science")
        await alice.replace_questions(made[0], [question(i) for i in range(7)])
    async with sessions() as s, s.begin():
        alice, bob = InterviewRepository(s, "alice"), InterviewRepository(s, "bob")
        assert await bob.interview(made[0].id) is None and await alice.interview(theirs.id) is None
        page1, cursor = await alice.interviews(2, None)
        assert [i.id for i in page1] == [made[4].id, made[3].id] and cursor == made[3].id
        await alice.active_or_new("data_science")  # inserted while paging: not in later pages
        page2, cursor = await alice.interviews(2, cursor)
        page3, end = await alice.interviews(2, cursor)
        assert [i.id for i in page2 + page3] == [made[2].id, made[1].id, made[0].id] and end is None
        qs, qcursor = await alice.questions(made[0].id, 4, None)
        rest, qend = await alice.questions(made[0].id, 4, qcursor)
        assert [q.position for q in qs + rest] == list(range(1, 8)) and qend is None
        assert (await bob.questions(made[0].id, 4, None))[0] == []
        attempts = await alice.attempts(made[0].id)
        assert len(attempts) == 7 and await bob.attempt(attempts[0][0].id) is None
        await alice.replace_questions(made[0], [question(i) for i in range(3)])
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(QuestionAttempt)) == 3


async def test_report_upsert_is_one_row_under_concurrency(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as s, s.begin():
        interview, _ = await InterviewRepository(s, "alice").active_or_new("ml_engineering")

    async def write(i: int) -> None:
        async with sessions() as s, s.begin():
            await InterviewRepository(s, "alice").upsert_report(interview.id, {"n": i}, i)

    await asyncio.gather(*(write(i) for i in range(10)))
    async with sessions() as s:
        rows = list(await s.scalars(select(InterviewReport)))
        assert len(rows) == 1 and rows[0].report["n"] == rows[0].overall_score


async def test_resume_replacement_drops_the_cached_knowledge(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    fields = {
        "filename": "cv.txt",
        "kind": "text",
        "size_bytes": 10,
        "text": "Python",
        "text_sha256": "a" * 64,
    }
    async with sessions() as s, s.begin():
        repo = InterviewRepository(s, "alice")
        await repo.save_resume(**fields)
        await repo.cache_knowledge("a" * 64, {"programming_languages": ["Python"]})
        await repo.cache_knowledge("a" * 64, {"programming_languages": ["Python"]})  # idempotent
    async with sessions() as s, s.begin():
        repo = InterviewRepository(s, "alice")
        assert await repo.cached_knowledge("a" * 64) == {"programming_languages": ["Python"]}
        assert await InterviewRepository(s, "bob").cached_knowledge("a" * 64) is None
        await repo.save_resume(**{**fields, "text": "Java", "text_sha256": "b" * 64})
    async with sessions() as s:
        repo = InterviewRepository(s, "alice")
        assert await repo.cached_knowledge("a" * 64) is None
        resume = await repo.resume()
        assert resume is not None and resume.text == "Java"
