"""Database kernel and gateway migrations on a temporary SQLite file."""

from __future__ import annotations

import sqlite3
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from services.common import db
from services.common.faults import DatabaseUnavailable
from services.gateway.models import JOB_ID_MAX, Job, JobStatus
from services.gateway.shared.jobs import JobAlreadyExists, JobNotFound, JobRepository
from services.gateway.tables import Base

MIGRATIONS = Path(db.__file__).resolve().parents[1] / "gateway" / "migrations"
VERSION_TABLE = "alembic_version_gateway"


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    return tmp_path / "nested" / "folder" / "earshot.db"


@pytest.fixture
def url(db_file: Path) -> str:
    return f"sqlite+aiosqlite:///{db_file}"


def _tables(db_file: Path) -> set[str]:
    with sqlite3.connect(db_file) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name for (name,) in rows}


def _head() -> str:
    """The gateway's newest revision (revisions chain linearly: 0001, 0002, ...)."""
    return max(p.name.split("_", 1)[0] for p in (MIGRATIONS / "versions").glob("[0-9]*_*.py"))


def _versions(db_file: Path, table: str) -> list[str]:
    with sqlite3.connect(db_file) as conn:
        return [v for (v,) in conn.execute(f"SELECT version_num FROM {table}").fetchall()]


# --- engine ---------------------------------------------------------------------------------


async def test_engine_creates_folder_and_sets_pragmas(db_file: Path, url: str) -> None:
    engine = db.create_engine(url)
    try:
        await db.check(engine)
        assert db_file.parent.is_dir()
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
            # the rollback journal, never WAL (its mmap'd -shm file means SIGBUS once read-only)
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "delete"
            assert (await conn.execute(text("PRAGMA mmap_size"))).scalar() == 0
            assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() == db.SQLITE_BUSY_TIMEOUT_MS
    finally:
        await engine.dispose()


async def test_a_wal_database_is_converted_to_the_rollback_journal(db_file: Path, url: str) -> None:
    """A database an earlier version left in WAL leaves it (and its mmap'd -shm file)."""
    db_file.parent.mkdir(parents=True, exist_ok=True)
    old = sqlite3.connect(db_file)
    assert old.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
    old.execute("CREATE TABLE t (x)")
    old.commit()
    old.close()
    engine = db.create_engine(url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "delete"
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 0
    finally:
        await engine.dispose()
    assert sorted(p.name for p in db_file.parent.iterdir()) == [db_file.name]  # no -shm, no -wal


async def test_bare_sqlite_url_gets_the_async_driver(db_file: Path) -> None:
    engine = db.create_engine(f"sqlite:///{db_file}")
    try:
        assert engine.url.drivername == "sqlite+aiosqlite"
        await db.check(engine)
    finally:
        await engine.dispose()


async def test_check_fails_when_the_database_is_unreachable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OSError):
        db.create_engine(f"sqlite+aiosqlite:///{blocker}/sub/x.db")
    engine = db.create_engine("postgresql+asyncpg://nobody:pw@127.0.0.1:1/none")
    try:
        with pytest.raises(DatabaseUnavailable) as raised:
            await db.check(engine)
        assert isinstance(raised.value.__cause__, OSError)
    finally:
        await engine.dispose()


def test_utc_datetime_rejects_naive_values() -> None:
    column_type = db.UTCDateTime()
    dialect = db.create_engine("sqlite+aiosqlite://").dialect
    aware = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert column_type.process_bind_param(aware, dialect) == datetime(2024, 5, 1, 12, 0)
    assert column_type.process_result_value(datetime(2024, 5, 1, 12, 0), dialect) == aware
    with pytest.raises(ValueError):
        column_type.process_bind_param(datetime(2024, 5, 1, 12, 0), dialect)


# --- migrations -----------------------------------------------------------------------------


async def test_upgrade_inside_a_running_loop_then_downgrade(db_file: Path, url: str) -> None:
    # Called synchronously from a coroutine: must not trip over the running loop.
    db.run_migrations(url, MIGRATIONS, VERSION_TABLE)
    assert {"jobs", VERSION_TABLE} <= _tables(db_file)
    assert "alembic_version" not in _tables(db_file)
    assert _versions(db_file, VERSION_TABLE) == [_head()]

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
        assert set(columns) == {
            "id",
            "kind",
            "status",
            "error",
            "created_at",
            "updated_at",
            "attempts",
            "lease_expires_at",
            "request",
            "objects",  # 0007: the lease
        }
        assert columns["error"]["nullable"] is True
        assert columns["status"]["nullable"] is False
        assert sorted(str(ix["name"]) for ix in indexes) == ["ix_jobs_lease_expires_at", "ix_jobs_status"]
        assert [ck["name"] for ck in checks] == ["ck_jobs_status"]

        # The database itself refuses a status outside the five.
        async with engine.connect() as conn:
            with pytest.raises(IntegrityError):
                await conn.execute(
                    text(
                        "INSERT INTO jobs (id, kind, status, created_at, updated_at) "
                        "VALUES ('x', 'k', 'paused', '2024-01-01', '2024-01-01')"
                    )
                )
    finally:
        await engine.dispose()

    db.run_migrations(url, MIGRATIONS, VERSION_TABLE)  # already at head: a no-op
    assert _versions(db_file, VERSION_TABLE) == [_head()]

    await db.downgrade_async(url, MIGRATIONS, VERSION_TABLE, "base")
    assert "jobs" not in _tables(db_file)
    assert _versions(db_file, VERSION_TABLE) == []

    await db.run_migrations_async(url, MIGRATIONS, VERSION_TABLE)  # and back up again
    assert "jobs" in _tables(db_file)


def test_upgrade_and_downgrade_from_sync_code(db_file: Path, url: str) -> None:
    db.run_migrations(url, MIGRATIONS, VERSION_TABLE, revision="0001")
    assert "jobs" in _tables(db_file)
    db.downgrade(url, MIGRATIONS, VERSION_TABLE, "base")
    assert "jobs" not in _tables(db_file)


async def test_models_match_migrations(url: str) -> None:
    db.run_migrations(url, MIGRATIONS, VERSION_TABLE)
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


def test_unknown_script_location_is_reported(tmp_path: Path, url: str) -> None:
    with pytest.raises(FileNotFoundError):
        db.run_migrations(url, tmp_path / "nowhere", VERSION_TABLE)


def _other_service(folder: Path, *, broken_second_revision: bool) -> Path:
    """A second service's script folder: its own metadata and version table."""
    (folder / "versions").mkdir(parents=True)
    (folder / "env.py").write_text(
        "from sqlalchemy import MetaData\n"
        "from services.common.db import run_alembic_env\n"
        "run_alembic_env(MetaData())\n"
    )
    (folder / "versions" / "a1_things.py").write_text(
        textwrap.dedent(
            """
            import sqlalchemy as sa
            from alembic import op

            revision = "a1"
            down_revision = None

            def upgrade():
                op.create_table("other_things", sa.Column("id", sa.Integer, primary_key=True))

            def downgrade():
                op.drop_table("other_things")
            """
        )
    )
    if broken_second_revision:
        (folder / "versions" / "a2_broken.py").write_text(
            textwrap.dedent(
                """
                import sqlalchemy as sa
                from alembic import op

                revision = "a2"
                down_revision = "a1"

                def upgrade():
                    op.create_table("other_more", sa.Column("id", sa.Integer, primary_key=True))
                    op.execute("INSERT INTO no_such_table VALUES (1)")

                def downgrade():
                    op.drop_table("other_more")
                """
            )
        )
    return folder


async def test_a_failing_migration_rolls_back_everything(tmp_path: Path, db_file: Path, url: str) -> None:
    broken = _other_service(tmp_path / "broken", broken_second_revision=True)
    with pytest.raises(Exception, match="no_such_table"):
        db.run_migrations(url, broken, "alembic_version_other")
    tables = _tables(db_file)
    assert "other_things" not in tables
    assert "other_more" not in tables
    assert "alembic_version_other" not in tables


def test_services_share_a_database_with_their_own_version_tables(
    tmp_path: Path, db_file: Path, url: str
) -> None:
    other = _other_service(tmp_path / "other", broken_second_revision=False)
    db.run_migrations(url, MIGRATIONS, VERSION_TABLE)
    db.run_migrations(url, other, "alembic_version_other")
    assert {"jobs", "other_things", VERSION_TABLE, "alembic_version_other"} <= _tables(db_file)
    assert _versions(db_file, VERSION_TABLE) == [_head()]
    assert _versions(db_file, "alembic_version_other") == ["a1"]

    db.downgrade(url, MIGRATIONS, VERSION_TABLE, "base")
    tables = _tables(db_file)
    assert "jobs" not in tables
    assert "other_things" in tables
    assert _versions(db_file, "alembic_version_other") == ["a1"]


# --- JobRepository --------------------------------------------------------------------------


async def test_job_repository_round_trip(url: str) -> None:
    db.run_migrations(url, MIGRATIONS, VERSION_TABLE)
    engine = db.create_engine(url)
    repo = JobRepository(db.session_factory(engine))
    try:
        before = datetime.now(UTC) - timedelta(seconds=1)
        job = await repo.create("6f1c8a8e-4a51-4f7e-9a7e-0d1b2c3d4e5f", "temperature")
        assert isinstance(job, Job)
        assert job.status == JobStatus.QUEUED
        assert job.error is None

        stored = await repo.get(job.id)
        assert stored is not None
        assert (stored.id, stored.kind, stored.status) == (job.id, "temperature", "queued")
        assert stored.created_at.tzinfo is not None and stored.created_at.utcoffset() == timedelta(0)
        assert before <= stored.created_at <= datetime.now(UTC)
        assert stored.created_at == job.created_at
        assert await repo.get("missing") is None

        with pytest.raises(JobAlreadyExists):
            await repo.create(job.id, "temperature")

        running = await repo.set_status(job.id, JobStatus.RUNNING)
        assert running.status == "running"
        assert running.updated_at >= stored.updated_at

        failed = await repo.set_status(job.id, "failed", "corrupt_audio")
        assert (failed.status, failed.error) == ("failed", "corrupt_audio")

        # Late or redelivered updates never move a finished job.
        assert (await repo.set_status(job.id, "running")).status == "failed"
        again = await repo.set_status(job.id, "succeeded")
        assert (again.status, again.error) == ("failed", "corrupt_audio")
        stored = await repo.get(job.id)
        assert stored is not None and (stored.status, stored.error) == ("failed", "corrupt_audio")

        await repo.create("job-2", "temperature")
        await repo.create("job-3", "temperature")
        await repo.set_status("job-3", "timed_out", "timeout")
        counts = await repo.count_by_status()
        assert counts == {
            JobStatus.QUEUED: 1,
            JobStatus.RUNNING: 0,
            JobStatus.SUCCEEDED: 0,
            JobStatus.FAILED: 1,
            JobStatus.TIMED_OUT: 1,
        }
        assert counts["queued"] == 1
    finally:
        await engine.dispose()


async def test_job_repository_validates_input(url: str) -> None:
    db.run_migrations(url, MIGRATIONS, VERSION_TABLE)
    engine = db.create_engine(url)
    repo = JobRepository(db.session_factory(engine))
    try:
        with pytest.raises(JobNotFound) as caught:
            await repo.set_status("ghost", "running")
        assert isinstance(caught.value, KeyError)

        await repo.create("j1", "temperature")
        with pytest.raises(ValueError):
            await repo.set_status("j1", "paused")
        with pytest.raises(ValueError):
            await repo.set_status("j1", "succeeded", error="oops")
        with pytest.raises(ValueError):
            await repo.set_status("j1", "failed", error="the user's words: I can't believe")
        with pytest.raises(ValueError):
            await repo.set_status("j1", "failed", error="x" * 65)
        with pytest.raises(ValueError):
            await repo.create("", "temperature")
        with pytest.raises(ValueError):
            await repo.create("x" * (JOB_ID_MAX + 1), "temperature")  # 64: a meeting run id fits
        with pytest.raises(ValueError):
            await repo.create("j2", "k" * 33)
        stored = await repo.get("j1")
        assert stored is not None and stored.status == "queued"
        assert (await repo.count_by_status())[JobStatus.QUEUED] == 1
    finally:
        await engine.dispose()
