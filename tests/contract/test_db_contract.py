"""Contract tests of the database kernel: one suite, run against SQLite (aiosqlite) and a real
PostgreSQL server (asyncpg).

Migrations upgrade and downgrade cleanly (and back up again), the models match the
migrations, a failing migration rolls back everything, services keep their own version
tables, concurrent upgrades from several processes' worth of callers do not collide, and
the gateway's job repository behaves the same on both. SQLite-only details (pragmas, file
creation) stay in ``tests/unit/test_db.py``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from services.common import db
from services.gateway.models import Base, JobStatus
from services.gateway.products.interviews.models import Interview
from services.gateway.products.interviews.repository import InterviewRepository
from services.gateway.shared.jobs import JobAlreadyExists, JobRepository
from tests.integration import infra
from tests.unit.test_db import _other_service

MIGRATIONS = Path(db.__file__).resolve().parents[1] / "gateway" / "migrations"
VERSION_TABLE = "alembic_version_gateway"


def head() -> str:
    """The gateway's newest revision (other issues add revisions; the contract is "at head")."""
    from alembic.script import ScriptDirectory

    config = db.alembic_config("sqlite+aiosqlite://", MIGRATIONS, VERSION_TABLE)
    current = ScriptDirectory.from_config(config).get_current_head()
    assert current is not None
    return current


@pytest.fixture(params=["sqlite", "postgresql"])
async def url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database per test."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'earshot.db'}"
        return
    servers: infra.Endpoints = request.getfixturevalue("servers")
    name = f"earshot_test_{uuid.uuid4().hex[:12]}"
    admin = db.create_engine(servers.database_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(servers.database_url).set(database=name).render_as_string(hide_password=False)
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


async def tables(url: str) -> set[str]:
    engine = db.create_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def versions(url: str, table: str) -> list[str]:
    if table not in await tables(url):
        return []
    engine = db.create_engine(url)
    try:
        async with engine.connect() as conn:
            return [v for (v,) in (await conn.execute(text(f"SELECT version_num FROM {table}"))).all()]
    finally:
        await engine.dispose()


async def test_upgrade_downgrade_and_upgrade_again(url: str) -> None:
    await db.run_migrations_async(url, MIGRATIONS, VERSION_TABLE)
    assert {"jobs", VERSION_TABLE} <= await tables(url)
    assert "alembic_version" not in await tables(url)
    assert await versions(url, VERSION_TABLE) == [head()]

    engine = db.create_engine(url)
    try:
        async with engine.connect() as conn:
            columns, indexes, checks = await conn.run_sync(
                lambda c: (
                    {col["name"]: col for col in inspect(c).get_columns("jobs")},
                    inspect(c).get_indexes("jobs"),
                    inspect(c).get_check_constraints("jobs"),
                )
            )
        assert set(columns) >= {"id", "kind", "status", "error", "created_at", "updated_at"}
        assert columns["error"]["nullable"] is True
        assert columns["status"]["nullable"] is False
        assert "ix_jobs_status" in [ix["name"] for ix in indexes]
        assert "ck_jobs_status" in [ck["name"] for ck in checks]
        async with engine.connect() as conn:  # the database itself refuses a sixth status
            with pytest.raises(IntegrityError):
                await conn.execute(
                    text(
                        "INSERT INTO jobs (id, kind, status, created_at, updated_at) "
                        "VALUES ('x', 'k', 'paused', '2024-01-01', '2024-01-01')"
                    )
                )
    finally:
        await engine.dispose()

    await db.run_migrations_async(url, MIGRATIONS, VERSION_TABLE)  # already at head: a no-op
    assert await versions(url, VERSION_TABLE) == [head()]
    await db.downgrade_async(url, MIGRATIONS, VERSION_TABLE, "base")
    assert await tables(url) <= {VERSION_TABLE}  # every table of every revision is gone
    assert await versions(url, VERSION_TABLE) == []
    await db.run_migrations_async(url, MIGRATIONS, VERSION_TABLE)
    assert "jobs" in await tables(url)


async def test_models_match_migrations(url: str) -> None:
    await db.run_migrations_async(url, MIGRATIONS, VERSION_TABLE)
    engine = db.create_engine(url)
    try:
        async with engine.connect() as conn:
            diffs = await conn.run_sync(
                lambda c: compare_metadata(
                    MigrationContext.configure(
                        c,
                        opts={
                            "compare_type": True,
                            "version_table": VERSION_TABLE,
                            "include_name": lambda name, type_, parents: (
                                type_ != "table" or name in Base.metadata.tables
                            ),
                        },
                    ),
                    Base.metadata,
                )
            )
    finally:
        await engine.dispose()
    assert diffs == [], f"models and migrations differ; add a revision: {diffs}"


async def test_a_failing_migration_rolls_back_everything(url: str, tmp_path: Path) -> None:
    broken = _other_service(tmp_path / "broken", broken_second_revision=True)
    with pytest.raises(Exception, match="no_such_table"):
        await db.run_migrations_async(url, broken, "alembic_version_other")
    assert not {"other_things", "other_more", "alembic_version_other"} & await tables(url)


async def test_services_keep_their_own_version_tables(url: str, tmp_path: Path) -> None:
    other = _other_service(tmp_path / "other", broken_second_revision=False)
    await db.run_migrations_async(url, MIGRATIONS, VERSION_TABLE)
    await db.run_migrations_async(url, other, "alembic_version_other")
    assert await versions(url, "alembic_version_other") == ["a1"]
    await db.downgrade_async(url, MIGRATIONS, VERSION_TABLE, "base")
    assert "jobs" not in await tables(url)
    assert "other_things" in await tables(url)
    assert await versions(url, "alembic_version_other") == ["a1"]


async def test_concurrent_upgrades_do_not_collide(url: str) -> None:
    """Several replicas running `earshot migrate` at once: one migrates, the others find head."""
    await asyncio.gather(*(db.run_migrations_async(url, MIGRATIONS, VERSION_TABLE) for _ in range(3)))
    assert await versions(url, VERSION_TABLE) == [head()]


async def test_job_repository_behaves_the_same(url: str) -> None:
    await db.run_migrations_async(url, MIGRATIONS, VERSION_TABLE)
    engine = db.create_engine(url)
    repo = JobRepository(db.session_factory(engine))
    try:
        job = await repo.create("6f1c8a8e-4a51-4f7e-9a7e-0d1b2c3d4e5f", "temperature")
        stored = await repo.get(job.id)
        assert stored is not None and stored.status == JobStatus.QUEUED
        assert stored.created_at == job.created_at and stored.created_at.utcoffset() is not None
        with pytest.raises(JobAlreadyExists):
            await repo.create(job.id, "temperature")
        assert (await repo.set_status(job.id, "failed", "corrupt_audio")).status == "failed"
        assert (await repo.set_status(job.id, "succeeded")).status == "failed"  # terminal stays
        counts = await repo.count_by_status()
        assert counts[JobStatus.FAILED] == 1 and counts[JobStatus.QUEUED] == 0
        await db.check(engine)
    finally:
        await engine.dispose()


async def test_racing_interview_creates_make_one_active_interview(url: str) -> None:
    """Ten "create" calls at once (the interview coach's POST /api/interviews/create) resume
    one interview: the partial unique index and ``INSERT ... ON CONFLICT DO NOTHING``."""
    await db.run_migrations_async(url, MIGRATIONS, VERSION_TABLE)
    engine = db.create_engine(url)
    sessions = db.session_factory(engine)

    async def create(i: int) -> tuple[int, bool]:
        async with sessions() as s, s.begin():
            row, created = await InterviewRepository(s, "alice").active_or_new("data_science")
            return row.id, created

    try:
        got = await asyncio.gather(*(create(i) for i in range(10)))
        async with sessions() as s:
            assert await s.scalar(select(func.count()).select_from(Interview)) == 1
            other, created = await InterviewRepository(s, "alice").active_or_new("ml_engineering")
            assert created and other.id != got[0][0]  # another track: another interview
    finally:
        await engine.dispose()
    assert len({i for i, _ in got}) == 1  # every call got the same interview
    assert sum(created for _, created in got) == 1


async def test_migration_0009_settles_duplicate_active_interviews(url: str) -> None:
    await db.run_migrations_async(url, MIGRATIONS, VERSION_TABLE, revision="0008")
    engine = db.create_engine(url)
    try:
        async with engine.begin() as conn:
            for user, track in [
                ("alice", "ds"),
                ("alice", "ds"),
                ("alice", "ds"),
                ("alice", "ml"),
                ("bob", "ds"),
            ]:
                await conn.execute(
                    text(
                        "INSERT INTO interviews (user_id, track, status, question_seed, created_at) "
                        "VALUES (:u, :t, 'active', 0, CURRENT_TIMESTAMP)"
                    ),
                    {"u": user, "t": track},
                )
        await db.run_migrations_async(url, MIGRATIONS, VERSION_TABLE)
        async with engine.connect() as conn:
            rows = (
                await conn.execute(text("SELECT id, user_id, track, status FROM interviews ORDER BY id"))
            ).all()
    finally:
        await engine.dispose()
    assert [r.status for r in rows] == ["completed", "completed", "active", "active", "active"]
