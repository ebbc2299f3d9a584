"""Relational database access shared by every service: engines, sessions, migrations.

The URL chooses the backend (``EARSHOT_DATABASE_URL``):

* ``sqlite+aiosqlite:///abs/path/earshot.db`` (the embedded default): the
  parent folder is created; every connection turns on foreign keys, a busy
  timeout and the rollback journal without memory mapping (see
  :data:`SQLITE_JOURNAL_MODE`: no WAL, whose memory-mapped ``-shm`` file
  kills the process with ``SIGBUS`` once it is made read-only).
* ``postgresql+asyncpg://user:pass@host:5432/earshot`` (distributed): pooled
  connections are pinged before use.

Faults (both backends): a connection that cannot be opened raises
:class:`~services.common.faults.DatabaseUnavailable`; an error that says the
database is unreachable or read-only (:func:`services.common.faults.unavailable_dependency`)
throws the pool's connections away, so the next request opens fresh ones and works
again as soon as the database does (no poisoned pool, no restart).

Each service declares its own SQLAlchemy ``Base`` (use :data:`NAMING_CONVENTION`
so constraints have stable names) and its own Alembic script folder whose
``env.py`` is just::

    from services.common.db import run_alembic_env
    from services.<service>.models import Base

    run_alembic_env(Base.metadata)

Migrations run programmatically with :func:`run_migrations` /
:func:`downgrade`. Each service records its revision in its own version table
(``alembic_version_<service>``), so services can share one database while
each owns, migrates and autogenerates only its own tables.

Times are stored and returned as timezone-aware UTC through :class:`UTCDateTime`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import DateTime, MetaData, event, text
from sqlalchemy.engine import URL, Connection, Dialect, ExceptionContext, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from services.common.faults import DATABASE, DatabaseUnavailable, unavailable_dependency

__all__ = [
    "NAMING_CONVENTION",
    "UTCDateTime",
    "alembic_config",
    "check",
    "create_engine",
    "downgrade",
    "downgrade_async",
    "run_alembic_env",
    "run_migrations",
    "run_migrations_async",
    "session_factory",
    "utcnow",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Constraint naming convention for every service's ``MetaData``.

Named constraints are what lets Alembic's SQLite batch mode (and any later
migration) find and alter them on every backend.
"""

# Alembic keeps its running environment in module-level proxies (alembic.context,
# alembic.op), so one process runs one Alembic command at a time. Separate
# processes are serialised by the database (advisory lock / write lock) instead.
_ALEMBIC_LOCK = threading.Lock()

SQLITE_BUSY_TIMEOUT_MS = 15_000
"""How long a SQLite connection waits for a lock held by another connection (ms)."""

SQLITE_JOURNAL_MODE = "DELETE"
"""SQLite's journal: the rollback journal, not WAL (issue 15).

In WAL mode every connection maps the ``<db>-shm`` wal-index into memory (``mmap``,
``MAP_SHARED``) and writes to it even to *read* (read marks). When that file stops being
writable while mapped -- ``chattr +i`` on the data folder, a file system gone read-only --
the kernel cannot honour the write fault and sends ``SIGBUS``: the process dies on its next
query, with no exception and no log line (and its worker processes are orphaned). No
SQLite setting moves the wal-index out of shared memory short of an exclusive lock
(``locking_mode=EXCLUSIVE`` or the ``unix-excl`` VFS), which would lock out the
``earshot users`` commands run beside the platform. The rollback journal uses plain
``read``/``write`` calls, so the same fault is an ``OperationalError`` ("attempt to write a
readonly database", "disk I/O error") answered with 503. ``PRAGMA mmap_size=0`` keeps the
database file itself out of memory mapping for the same reason (a build may enable it by
default). The embedded mode has one process writing; readers wait at most the busy timeout
during a commit.
"""


def utcnow() -> datetime:
    """The current time as a timezone-aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp column that only takes and always returns timezone-aware UTC datetimes.

    PostgreSQL stores ``timestamp with time zone``. SQLite has no time zones:
    values are stored as naive UTC text and tagged UTC again on the way out.

    Raises:
        ValueError: when binding a naive datetime (its zone would be a guess).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to UTC (naive UTC for SQLite); reject naive values."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware value (e.g. UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# --------------------------------------------------------------------------------------
# Engines and sessions
# --------------------------------------------------------------------------------------


def _normalize_url(url: str | URL) -> URL:
    """Parse ``url`` and pick the async driver when only the backend is named."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy.exc.ArgumentError and friends
        raise ValueError(f"invalid database URL: {exc}") from None
    if parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed


def _sqlite_file(url: URL) -> Path | None:
    """The database file of a SQLite URL, or ``None`` for in-memory / URI databases."""
    database = url.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    if str(url.query.get("uri", "")).lower() in ("true", "1") or url.query.get("mode") == "memory":
        return None
    return Path(database).expanduser()


def _create_engine(url: str | URL, *, migrations: bool = False, **kwargs: Any) -> AsyncEngine:
    parsed = _normalize_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        db_file = _sqlite_file(parsed)
        if db_file is not None:
            db_file.parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(parsed, **kwargs)
        _install_sqlite_pragmas(engine, on_file=db_file is not None, migrations=migrations)
        _install_fault_handling(engine)
        return engine
    if backend == "postgresql":
        kwargs.setdefault("pool_pre_ping", True)
    engine = create_async_engine(parsed, **kwargs)
    _install_fault_handling(engine)
    return engine


READ_ONLY_CONNECTION_TTL_S = 1.0
"""A pooled connection opened while the database was read-only is replaced once older than
this (seconds): SQLite opens such a file read-only for good, a PostgreSQL session keeps the
``default_transaction_read_only`` it started with. So writes work again at most this long
after the database does, with no failed request in between."""

_READ_ONLY_SINCE = "earshot_read_only_since"


def _sqlite_writable(db_file: Path) -> bool:
    """Whether SQLite would open ``db_file`` read-write and can create its journal beside it
    (``access(2)``: also false for a read-only mount or an immutable file, even for root)."""
    return (not db_file.exists() or os.access(db_file, os.W_OK)) and os.access(db_file.parent, os.W_OK)


def _connection_read_only(engine: AsyncEngine, dbapi_connection: Any) -> bool:
    db_file = _sqlite_file(engine.url) if engine.url.get_backend_name() == "sqlite" else None
    if db_file is not None:
        return not _sqlite_writable(db_file)
    if engine.url.get_backend_name() == "postgresql":
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SHOW transaction_read_only")
            row = cursor.fetchone()
        finally:
            cursor.close()
        return bool(row) and str(row[0]).lower() == "on"
    return False


def _install_fault_handling(engine: AsyncEngine) -> None:
    """Connection faults raise :class:`DatabaseUnavailable`; an unavailable or read-only
    database throws the pooled connections away (they may hold a read-only file handle or a
    session that started read-only; SQLite connections are rolled back first), and a
    connection opened while the database was read-only lives at most
    :data:`READ_ONLY_CONNECTION_TTL_S` in the pool, so recovery needs no restart."""

    @event.listens_for(engine.sync_engine, "connect")
    def _mark_read_only(dbapi_connection: Any, record: Any) -> None:
        if _connection_read_only(engine, dbapi_connection):
            record.info[_READ_ONLY_SINCE] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _renew_read_only(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_READ_ONLY_SINCE)
        if since is not None and time.monotonic() - since > READ_ONLY_CONNECTION_TTL_S:
            # the pool replaces this connection with a new one (read-only again if still so)
            raise DisconnectionError("opened while the database was read-only")

    @event.listens_for(engine.sync_engine, "do_connect")
    def _connect(dialect: Dialect, _record: Any, cargs: Any, cparams: Any) -> Any:
        try:
            return dialect.connect(*cargs, **cparams)
        except OSError as exc:  # refused, unreachable, DNS, timeout (TimeoutError is an OSError)
            raise DatabaseUnavailable(f"cannot connect to the database: {exc}") from exc

    if engine.url.get_backend_name() == "sqlite":
        # (PostgreSQL ends a closed connection's transaction itself, and a rollback sent to an
        # unreachable server could wait for the TCP timeout.)

        @event.listens_for(engine.sync_engine, "invalidate")
        @event.listens_for(engine.sync_engine, "soft_invalidate")
        def _roll_back(dbapi_connection: Any, _record: Any, _exception: BaseException | None) -> None:
            # Roll back before the connection is closed: SQLite's close of a connection whose
            # failed statement is still referenced (by the traceback being logged) leaves a
            # "zombie" that keeps its transaction's write lock, and every later write waits for it.
            try:
                dbapi_connection.rollback()
            except Exception:  # noqa: BLE001, S110 - the connection is being thrown away anyway
                pass

    @event.listens_for(engine.sync_engine, "handle_error")
    def _fault(context: ExceptionContext) -> None:
        if context.sqlalchemy_exception is not None and (
            unavailable_dependency(context.sqlalchemy_exception) == DATABASE
        ):
            context.is_disconnect = True  # SQLAlchemy then invalidates the pool


def _leave_wal(cursor: Any) -> None:
    """Put the database in :data:`SQLITE_JOURNAL_MODE` (a database left in WAL by an earlier
    version is converted; that needs no other connection open, so a busy database is converted
    by a later connection)."""
    try:
        cursor.execute(f"PRAGMA journal_mode={SQLITE_JOURNAL_MODE}")
    except Exception as exc:  # noqa: BLE001 - sqlite3.OperationalError: locked or read-only
        log.warning("sqlite journal mode not changed: %s", exc)


def _install_sqlite_pragmas(engine: AsyncEngine, *, on_file: bool, migrations: bool) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        if migrations:
            # Let SQLAlchemy, not the driver, issue BEGIN, so DDL is transactional.
            dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # Foreign keys are checked by application connections. Migrations turn
            # them off (batch mode rebuilds tables) and run foreign_key_check instead.
            cursor.execute(f"PRAGMA foreign_keys={'OFF' if migrations else 'ON'}")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA mmap_size=0")
            if on_file:
                _leave_wal(cursor)
        finally:
            cursor.close()

    if migrations:

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(connection: Connection) -> None:
            # Take the write lock up front: concurrent migrators queue instead of failing.
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(url: str | URL, **kwargs: Any) -> AsyncEngine:
    """Create an async engine for ``url``.

    SQLite (``sqlite+aiosqlite:///path``): creates the file's parent folder and,
    on every new connection, enables foreign keys, the :data:`SQLITE_JOURNAL_MODE`
    journal (files only), no memory mapping and a busy timeout of
    :data:`SQLITE_BUSY_TIMEOUT_MS`. PostgreSQL
    (``postgresql+asyncpg://...``): ``pool_pre_ping=True``. A bare ``sqlite://``
    or ``postgresql://`` gets the async driver.

    Args:
        url: the database URL.
        **kwargs: passed to :func:`sqlalchemy.ext.asyncio.create_async_engine`
            (``echo``, ``pool_size``, ``poolclass`` ...).

    Raises:
        ValueError: the URL cannot be parsed.
        sqlalchemy.exc.ArgumentError / NoSuchModuleError: unknown backend or driver.
    """
    return _create_engine(url, **kwargs)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Return a session maker bound to ``engine``; objects stay usable after commit
    (``expire_on_commit=False``)."""
    return async_sessionmaker(engine, expire_on_commit=False)


async def check(engine: AsyncEngine) -> None:
    """Readiness probe: run ``SELECT 1`` on a pooled connection, then make sure the database
    takes writes: PostgreSQL's ``transaction_read_only`` is off; SQLite's file and its folder
    (where the rollback journal is created) are writable (``access(2)``, which also refuses a
    read-only mount and an immutable file, even to root).

    Bound the wait with ``asyncio.timeout(...)`` around the call: an
    unreachable server can otherwise take the driver's connect timeout.

    Raises:
        DatabaseUnavailable: unreachable, or read-only.
        sqlalchemy.exc.SQLAlchemyError: the database refused the query.
    """
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
        if connection.dialect.name == "postgresql":
            read_only = (await connection.execute(text("SHOW transaction_read_only"))).scalar()
            if str(read_only).lower() == "on":
                raise DatabaseUnavailable("the database is read-only (transaction_read_only is on)")
    db_file = _sqlite_file(engine.url) if engine.url.get_backend_name() == "sqlite" else None
    if db_file is not None and not await asyncio.to_thread(_sqlite_writable, db_file):
        raise DatabaseUnavailable(f"the SQLite database {str(db_file)!r} or its folder is read-only")


# --------------------------------------------------------------------------------------
# Migrations
# --------------------------------------------------------------------------------------


def _url_string(url: str | URL) -> str:
    return url.render_as_string(hide_password=False) if isinstance(url, URL) else str(url)


def alembic_config(url: str | URL, script_location: Path | str, version_table: str) -> Any:
    """Build an in-memory Alembic :class:`~alembic.config.Config` (no ``alembic.ini``).

    Use it with any :mod:`alembic.command` (``revision(autogenerate=True)``,
    ``history``, ``current`` ...). The URL travels in ``config.attributes`` (not
    the ini options) so ``%`` in passwords needs no escaping.

    Args:
        url: the database URL.
        script_location: the service's migrations folder (holds ``env.py``).
        version_table: the service's own version table, e.g. ``alembic_version_gateway``.

    Raises:
        FileNotFoundError: ``script_location`` has no ``env.py``.
        ValueError: empty ``version_table``.
    """
    from alembic.config import Config

    location = Path(script_location)
    if not (location / "env.py").is_file():
        raise FileNotFoundError(f"no Alembic env.py in {str(location)!r}")
    if not version_table:
        raise ValueError("version_table must not be empty")
    config = Config()
    config.set_main_option("script_location", str(location))
    config.set_main_option("path_separator", "os")
    config.attributes["url"] = _url_string(url)
    config.attributes["version_table"] = version_table
    return config


def _run_blocking(fn: Callable[[], T]) -> T:
    """Run ``fn`` in a dedicated worker thread and wait for it.

    Alembic's async ``env.py`` starts its own event loop; a fresh thread has
    none running, so this works whether or not the caller is inside a loop.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="earshot-db") as pool:
        return pool.submit(fn).result()


def _run_coroutine(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """``asyncio.run`` that also works when this thread already runs a loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    return _run_blocking(lambda: asyncio.run(factory()))


def _locked(fn: Callable[..., T], *args: Any) -> T:
    with _ALEMBIC_LOCK:
        return fn(*args)


def run_migrations(
    url: str | URL, script_location: Path | str, version_table: str, revision: str = "head"
) -> None:
    """Upgrade a service's tables to ``revision`` (default: the newest).

    Blocks until done; runs Alembic in a worker thread with its own event loop,
    so it may be called from synchronous code or from inside a running loop
    (prefer :func:`run_migrations_async` there, which does not block the loop).
    Migrations run in one transaction (SQLite and PostgreSQL both have
    transactional DDL). Concurrent runs wait for each other: in one process
    through a lock (Alembic's state is process-global), across processes
    through the database (PostgreSQL advisory lock per version table; SQLite
    write lock).

    Raises:
        FileNotFoundError: no ``env.py`` in ``script_location``.
        alembic.util.CommandError: unknown revision.
        sqlalchemy.exc.SQLAlchemyError: the database refused a migration (rolled back).
    """
    from alembic import command

    config = alembic_config(url, script_location, version_table)
    log.info("migrating %s to %s", version_table, revision)
    _run_blocking(lambda: _locked(command.upgrade, config, revision))


def downgrade(url: str | URL, script_location: Path | str, version_table: str, revision: str) -> None:
    """Downgrade a service's tables to ``revision`` (``"base"`` removes them all).

    Same threading and transaction behaviour as :func:`run_migrations`.

    Raises:
        FileNotFoundError: no ``env.py`` in ``script_location``.
        alembic.util.CommandError: unknown revision.
        sqlalchemy.exc.SQLAlchemyError: the database refused a migration (rolled back).
    """
    from alembic import command

    config = alembic_config(url, script_location, version_table)
    log.info("downgrading %s to %s", version_table, revision)
    _run_blocking(lambda: _locked(command.downgrade, config, revision))


async def run_migrations_async(
    url: str | URL, script_location: Path | str, version_table: str, revision: str = "head"
) -> None:
    """:func:`run_migrations` without blocking the running event loop."""
    await asyncio.to_thread(run_migrations, url, script_location, version_table, revision)


async def downgrade_async(
    url: str | URL, script_location: Path | str, version_table: str, revision: str
) -> None:
    """:func:`downgrade` without blocking the running event loop."""
    await asyncio.to_thread(downgrade, url, script_location, version_table, revision)


def _advisory_key(version_table: str) -> int:
    """A stable signed 64-bit lock id for one version table."""
    return int.from_bytes(hashlib.sha256(version_table.encode()).digest()[:8], "big", signed=True)


def run_alembic_env(target_metadata: MetaData) -> None:
    """The body of a service's Alembic ``env.py``.

    Reads the URL and version table from ``config.attributes`` (set by
    :func:`alembic_config`), else from the ini options ``sqlalchemy.url`` /
    ``version_table``, else the URL from Earshot's settings. Online mode
    runs the async engine through ``connection.run_sync``; offline mode
    (``--sql``) renders SQL. Only tables in ``target_metadata`` are compared by
    autogenerate, so services sharing a database never touch each other's
    tables. SQLite uses batch mode (``render_as_batch``) and checks foreign keys
    (``PRAGMA foreign_key_check``) before committing.

    Raises:
        RuntimeError: a migration left SQLite foreign keys dangling (rolled back).
    """
    from alembic import context

    config = context.config
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        from services.common.settings import get_settings

        url = get_settings().effective_database_url
    url = _url_string(_normalize_url(url))
    version_table = (
        config.attributes.get("version_table") or config.get_main_option("version_table") or "alembic_version"
    )
    is_sqlite = _normalize_url(url).get_backend_name() == "sqlite"

    def include_name(name: str | None, type_: str, parent_names: dict[str, str | None]) -> bool:
        if type_ == "table":
            schema = parent_names.get("schema_name")
            qualified = f"{schema}.{name}" if schema else name
            return qualified in target_metadata.tables
        return True

    options: dict[str, Any] = {
        "target_metadata": target_metadata,
        "version_table": version_table,
        "include_name": include_name,
        "render_as_batch": is_sqlite,
        "compare_type": True,
    }
    # Migration connections issue their own BEGIN on SQLite (see _install_sqlite_pragmas),
    # which makes SQLite DDL transactional: all pending revisions commit or roll back together.
    online_options: dict[str, Any] = {"transactional_ddl": True} if is_sqlite else {}

    if context.is_offline_mode():
        context.configure(url=url, literal_binds=True, dialect_opts={"paramstyle": "named"}, **options)
        with context.begin_transaction():
            context.run_migrations()
        return

    def migrate(connection: Connection) -> None:
        context.configure(connection=connection, **options, **online_options)
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _advisory_key(version_table)}
                )
            context.run_migrations()
            if connection.dialect.name == "sqlite":
                problems = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if problems:
                    raise RuntimeError(f"migration left dangling foreign keys: {problems[:5]!r}")

    given = config.attributes.get("connection")
    if given is not None:
        migrate(given)
        return

    async def run_online() -> None:
        engine = _create_engine(url, migrations=True, poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                await connection.run_sync(migrate)
        finally:
            await engine.dispose()

    _run_coroutine(run_online)
