"""Dependency faults (issue 15): which errors mean "database/storage unavailable", the storage
adapters and the SQLite engine raising them, the pool recovering without a restart, and gRPC
carrying the dependency to the gateway's 503."""

from __future__ import annotations

import asyncio
import errno
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy import event, exc, text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common import db, rpc
from services.common.faults import (
    GRPC_METADATA_KEY,
    DatabaseUnavailable,
    DependencyUnavailable,
    unavailable_dependency,
)
from services.common.storage import LocalObjectStorage, ObjectNotFound, StorageUnavailable
from services.gateway.clients.errors import api_error


def _sa(error: BaseException, cls: type[exc.DBAPIError] = exc.OperationalError) -> exc.DBAPIError:
    return cls("INSERT ...", {}, error)


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (DatabaseUnavailable("down"), "database"),
        (StorageUnavailable("down"), "storage"),
        (_sa(sqlite3.OperationalError("attempt to write a readonly database")), "database"),
        (_sa(sqlite3.OperationalError("disk I/O error")), "database"),
        (_sa(sqlite3.OperationalError("database or disk is full")), "database"),
        (_sa(sqlite3.OperationalError("no such table: jobs")), None),  # a bug, not a fault
        (_sa(sqlite3.IntegrityError("UNIQUE constraint failed"), exc.IntegrityError), None),
        (_sa(_PgError("25006"), exc.DBAPIError), "database"),  # read-only transaction
        (_sa(_PgError("57P01"), exc.DBAPIError), "database"),  # admin shutdown
        (_sa(_PgError("08006"), exc.DBAPIError), "database"),  # connection failure
        (_sa(_PgError("23505"), exc.IntegrityError), None),  # unique violation: a bug or a 409
        (exc.TimeoutError("QueuePool limit reached"), "database"),
        (OSError(errno.EROFS, "Read-only file system"), "storage"),
        (PermissionError(errno.EACCES, "Permission denied"), "storage"),
        (OSError(errno.ENOSPC, "No space left on device"), "storage"),
        (FileNotFoundError(errno.ENOENT, "missing"), None),
        (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), None),  # unknown peer: not guessed
        (ValueError("bad"), None),
    ],
)
def test_unavailable_dependency_classifies(error: BaseException, expected: str | None) -> None:
    assert unavailable_dependency(error) == expected


def test_the_cause_chain_is_followed() -> None:
    try:
        try:
            raise OSError(errno.EROFS, "Read-only file system")
        except OSError as inner:
            raise RuntimeError("could not save") from inner
    except RuntimeError as outer:
        assert unavailable_dependency(outer) == "storage"


# --- local storage ------------------------------------------------------------------------


async def test_local_storage_turns_disk_faults_into_storage_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = LocalObjectStorage(tmp_path / "objects", "http://127.0.0.1:1", b"k")
    await storage.put("a/ok.bin", b"1")
    import services.common.storage.local as storage_module

    def read_only(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.EROFS, "Read-only file system")

    with monkeypatch.context() as patch:
        patch.setattr(storage_module.tempfile, "mkstemp", read_only)
        with pytest.raises(StorageUnavailable) as raised:
            await storage.put("a/new.bin", b"2")
        assert isinstance(raised.value, DependencyUnavailable)
        with pytest.raises(StorageUnavailable):
            await storage.check()
    with pytest.raises(ObjectNotFound):  # a missing object stays a 404, not a fault
        await storage.get("a/missing.bin")
    await storage.put("a/new.bin", b"2")  # the fault is gone: so is the error
    assert await storage.get("a/new.bin") == b"2"


# --- SQLite engine: read-only, full, unreachable, and the pool's recovery --------------------


class Fault:
    """A database fault on an engine, as SQLite shows it:

    * ``read-only``: the file is not writable (``access(2)`` says so, as it does for
      ``chattr +i`` or a read-only mount); like SQLite, a connection opened meanwhile is
      read-only for good (``PRAGMA query_only``), so only a pool that replaces it recovers;
    * ``full``: every write fails with SQLITE_FULL;
    * ``journal``: SQLite cannot open its rollback journal (a dangling symlink is in its way:
      "unable to open database file"), so a write fails *after* taking the write lock, as in
      a folder made immutable; a connection thrown away without a rollback keeps that lock
      for good (SQLite leaves a "zombie" while the failed statement is referenced);
    * ``unreachable``: the driver cannot connect.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.mode: str | None = None
        self.engine = engine
        dialect = engine.sync_engine.dialect
        self._connect = dialect.connect
        self._writable = db._sqlite_writable

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            if self.mode == "read-only":
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA query_only=ON")
                cursor.close()

        @event.listens_for(engine.sync_engine, "do_execute")
        def _on_execute(_cursor: Any, statement: str, *args: Any) -> None:
            if self.mode == "full" and statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
                raise sqlite3.OperationalError("database or disk is full")

        def connect(*args: Any, **kwargs: Any) -> Any:
            if self.mode == "unreachable":
                raise ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
            return self._connect(*args, **kwargs)

        dialect.connect = connect  # type: ignore[method-assign]

    @property
    def journal(self) -> Path:
        return Path(f"{self.engine.url.database}-journal")

    async def start(self, mode: str) -> None:
        self.mode = mode
        if mode == "journal":
            self.journal.symlink_to("/nonexistent/earshot-journal")
        if mode == "read-only":
            db._sqlite_writable = lambda path: False  # type: ignore[assignment]
        await self.engine.dispose()  # the fault reaches every connection from now on

    async def stop(self) -> None:
        """End the fault; nothing else is done: the pool must recover by itself. A connection
        opened during a read-only fault is replaced once older than the TTL: wait that long."""
        was_read_only, self.mode = self.mode == "read-only", None
        if self.journal.is_symlink():
            self.journal.unlink()
        db._sqlite_writable = self._writable  # type: ignore[assignment]
        if was_read_only:
            await asyncio.sleep(db.READ_ONLY_CONNECTION_TTL_S * 1.5)


@pytest.fixture(autouse=True)
def short_read_only_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    """Read-only connections are replaced after 0.1 s instead of 1 s (the tests wait for it);
    a lock left behind fails in 0.5 s instead of 15 s."""
    monkeypatch.setattr(db, "READ_ONLY_CONNECTION_TTL_S", 0.1)
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 500)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'f.db'}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (x TEXT)"))
    yield engine
    await engine.dispose()


async def _insert(engine: AsyncEngine, value: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO t VALUES (:x)"), {"x": value * 5000})


@pytest.mark.parametrize("mode", ["read-only", "full", "journal", "unreachable"])
async def test_database_faults_are_classified_and_the_pool_recovers(engine: AsyncEngine, mode: str) -> None:
    fault = Fault(engine)
    await fault.start(mode)
    kept = []  # like a log handler or an error report: the failures stay referenced
    for attempt in range(3):  # several requests during the fault, each a clear fault
        with pytest.raises(Exception) as raised:
            await _insert(engine, f"during-{attempt}")
        assert unavailable_dependency(raised.value) == "database", repr(raised.value)
        kept.append(raised.value)
    await fault.stop()
    for attempt in range(3):
        await _insert(engine, f"after-{attempt}")
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 3


async def test_check_refuses_a_read_only_sqlite_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``chattr +i`` and read-only mounts make ``access(W_OK)`` fail even for root (the
    embedded tier does it for real); here access(2) is told so."""
    import services.common.db as db_module

    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'r.db'}")
    try:
        await db.check(engine)
        monkeypatch.setattr(db_module.os, "access", lambda path, mode: Path(path).name != "r.db")
        with pytest.raises(DatabaseUnavailable, match="read-only"):
            await db.check(engine)
    finally:
        await engine.dispose()


# --- gRPC: a service's fault reaches the gateway as a 503 naming the dependency -------------


async def test_a_grpc_service_fault_is_unavailable_with_the_dependency() -> None:
    failures: list[BaseException] = [
        DatabaseUnavailable("db down"),
        StorageUnavailable("bucket refuses writes"),
        RuntimeError("a bug"),
    ]

    async def handler(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        raise failures.pop(0)

    def register(server: grpc.aio.Server) -> None:
        method = grpc.unary_unary_rpc_method_handler(handler)
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler("test.Faulty", {"Do": method}),)
        )

    server = await rpc.start_server("127.0.0.1", 0, [register], ["test.Faulty"])
    try:
        async with rpc.channel(f"127.0.0.1:{server.port}") as channel:
            call = channel.unary_unary("/test.Faulty/Do")
            answers = []
            for _ in range(3):
                with pytest.raises(grpc.aio.AioRpcError) as raised:
                    await call(b"", timeout=5)
                answers.append(raised.value)
    finally:
        await server.stop(0)
    database, storage, bug = answers
    assert database.code() == grpc.StatusCode.UNAVAILABLE
    assert (GRPC_METADATA_KEY, "database") in tuple(database.trailing_metadata() or ())
    assert (GRPC_METADATA_KEY, "storage") in tuple(storage.trailing_metadata() or ())
    assert bug.code() == grpc.StatusCode.UNKNOWN
    error = api_error(database, "auth service")
    assert (error.status, error.error) == (503, "Database unavailable")
    assert error.headers["Retry-After"] == "5"
    assert api_error(storage, "media service").error == "Storage unavailable"
    assert api_error(bug, "auth service").status == 502


def test_a_fatal_signal_leaves_a_traceback_on_stderr() -> None:
    """The reported SIGBUS ended the platform with no log line; now every thread's stack is
    written before the process dies."""
    import signal
    import subprocess
    import sys

    code = (
        "import os, signal; from services.cli import crash_log; crash_log(); "
        "os.kill(os.getpid(), signal.SIGBUS)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == -signal.SIGBUS
    assert "Fatal Python error: Bus error" in done.stderr
    assert "Current thread" in done.stderr or "Thread 0x" in done.stderr
