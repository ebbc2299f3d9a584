"""Dependency faults: telling "the database or object storage cannot be used right now" apart
from a bug, so that every service answers it as *503, try again* and never as a 500 or a crash.

:func:`unavailable_dependency` classifies an exception raised while using a dependency:

============  ==========================================================================
``database``  :class:`DatabaseUnavailable`; SQLAlchemy ``OperationalError`` /
              ``InterfaceError`` / pool ``TimeoutError``; a DBAPI error the driver marked as
              a lost connection; PostgreSQL SQLSTATE classes ``08`` (connection), ``53``
              (insufficient resources), ``57P0x`` (shutting down / starting up) and ``25006``
              (read-only transaction); SQLite "readonly", "disk I/O error", "unable to open",
              "database or disk is full", "database is locked" (``OperationalError``)
``storage``   :class:`DependencyUnavailable` subclasses for storage
              (:class:`services.common.storage.StorageUnavailable`), and a bare ``OSError``
              that says the local disk refuses writes (``EROFS``, ``EACCES``, ``EPERM``,
              ``ENOSPC``, ``EDQUOT``, ``EIO``): temp files and local objects live there
============  ==========================================================================

Across gRPC the dependency travels as UNAVAILABLE with the trailing metadata
:data:`GRPC_METADATA_KEY` (see :func:`services.common.rpc.start_server`), so the gateway names it
in its own 503.
"""

from __future__ import annotations

import errno
from typing import Literal

__all__ = [
    "DATABASE",
    "DISK_FAULT_ERRNOS",
    "GRPC_METADATA_KEY",
    "RETRY_AFTER_S",
    "STORAGE",
    "DatabaseUnavailable",
    "DependencyUnavailable",
    "unavailable_dependency",
]

Dependency = Literal["database", "storage"]

DATABASE: Dependency = "database"
STORAGE: Dependency = "storage"

GRPC_METADATA_KEY = "earshot-unavailable"
"""Trailing metadata of an UNAVAILABLE gRPC answer: the dependency that failed (``database``
or ``storage``)."""

RETRY_AFTER_S = 5
"""``Retry-After`` (seconds) of a 503 caused by an unavailable dependency."""

DISK_FAULT_ERRNOS = frozenset(
    code
    for code in (
        errno.EROFS,
        errno.EACCES,
        errno.EPERM,
        errno.ENOSPC,
        getattr(errno, "EDQUOT", None),
        errno.EIO,
    )
    if code is not None
)
"""``errno`` values that mean the local disk refuses the operation (not a missing file)."""

# SQLite's messages for a file it cannot write or open (sqlite3.OperationalError texts).
_SQLITE_FAULTS = (
    "readonly database",
    "disk i/o error",
    "unable to open database",
    "database or disk is full",
    "database is locked",
)

_PG_FAULT_STATES = ("25006", "57P01", "57P02", "57P03", "57P04", "57P05")


class DependencyUnavailable(RuntimeError):
    """A dependency (database or object storage) cannot be used right now: unreachable,
    read-only or refusing writes. Answered as 503; nothing about the request was wrong.

    Args:
        message: what failed, for the logs (may name hosts and paths: never sent to clients).

    Attributes:
        dependency: ``"database"`` or ``"storage"`` (a class attribute of each subclass).
    """

    dependency: Dependency = STORAGE


class DatabaseUnavailable(DependencyUnavailable):
    """The database cannot be reached, is read-only, or refused a write for lack of space."""

    dependency: Dependency = DATABASE


def _database_fault(exc: BaseException) -> bool:
    try:
        from sqlalchemy import exc as sa_exc
    except ImportError:  # pragma: no cover - SQLAlchemy is a base dependency
        return False
    if isinstance(exc, sa_exc.TimeoutError):  # the pool had no connection to give
        return True
    if not isinstance(exc, sa_exc.DBAPIError):
        return False
    if exc.connection_invalidated or isinstance(exc, sa_exc.InterfaceError):
        return True
    orig = exc.orig
    state = str(getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or "")
    if state:
        return state.startswith(("08", "53")) or state in _PG_FAULT_STATES
    if isinstance(exc, sa_exc.OperationalError):
        if type(orig).__module__.startswith("sqlite3"):
            # SQLite raises OperationalError for bugs too ("no such table"): only file faults count
            text = str(orig).lower()
            return any(fault in text for fault in _SQLITE_FAULTS)
        return True  # other drivers: OperationalError is a connection or server fault (PEP 249)
    return False


def unavailable_dependency(exc: BaseException) -> Dependency | None:
    """The dependency whose fault ``exc`` reports (table in the module docstring), or ``None``
    for any other error (a bug or a bad request: not a 503).

    The exception's ``__cause__`` chain is followed (an adapter may wrap the driver's error).
    """
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 8:
        if isinstance(current, DependencyUnavailable):
            return current.dependency
        if _database_fault(current):
            return DATABASE
        if (
            isinstance(current, OSError)
            and not isinstance(current, ConnectionError | TimeoutError)
            and current.errno in DISK_FAULT_ERRNOS
        ):
            return STORAGE
        current = current.__cause__
        seen += 1
    return None
