"""Start-up against dependencies that may not be up yet: retry with backoff for a bounded
time, then fail with ONE line naming the dependency, its address and the setting to change.

::

    bus = await wait_for(
        Dependency("Kafka", "127.0.0.1:9092", "EARSHOT_BUS_URL"), connect, timeout_s=30
    )

Each failed attempt is logged at warning level (``startup.waiting``); after ``timeout_s``
:class:`DependencyUnavailable` is raised. The CLI prints ``str(exc)`` on one line and
exits 1; the full traceback of the last error is printed only when the log level is
``debug``. Backoff: exponential with full jitter (``min(max_s, base_s * 2**n)``, drawn
uniformly from ``[base_s, that]``), as in "Exponential Backoff And Jitter", AWS
Architecture Blog, 2015.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

from services.common.logging import get_logger

__all__ = [
    "Dependency",
    "DependencyUnavailable",
    "address_of",
    "wait_for",
    "wait_for_database",
    "wait_for_grpc",
]

T = TypeVar("T")

log = get_logger("earshot.startup")


def address_of(url: str) -> str:
    """Where a URL points, without credentials: ``host:port[/path]`` (a file or SQLite URL:
    its path; Kafka's ``kafka://h1:9092,h2:9092``: the host list).

    >>> address_of("postgresql+asyncpg://earshot:secret@db:5432/earshot")
    'db:5432/earshot'
    """
    if url.startswith("sqlite"):
        return url.split(":///", 1)[-1]
    parts = urlsplit(url)
    if parts.scheme == "file":
        return parts.path or url
    netloc = parts.netloc.rsplit("@", 1)[-1]
    path = parts.path if parts.path not in ("", "/") else ""
    return f"{netloc}{path}" or url.split("://", 1)[-1]


@dataclass(frozen=True)
class Dependency:
    """What a process needs at start-up.

    Attributes:
        kind: human name, e.g. ``Kafka``, ``PostgreSQL``, ``object storage``, ``gRPC auth``.
        address: where it was looked for (``host:port``, a URL without credentials).
        setting: the environment variable that sets the address, e.g. ``EARSHOT_BUS_URL``.
    """

    kind: str
    address: str
    setting: str


class DependencyUnavailable(RuntimeError):
    """A dependency stayed unreachable for the whole start-up timeout.

    ``str(exc)`` is one line: ``cannot reach <kind> at <address> after <n> s (<attempts>
    attempts): <last error>; check <setting> (wait longer with EARSHOT_STARTUP_TIMEOUT_S)``.

    Attributes:
        dependency: the :class:`Dependency`.
        attempts: connection attempts made.
        waited_s: seconds spent trying.
        last_error: the last attempt's exception (its traceback is kept as ``__cause__``).
    """

    def __init__(self, dependency: Dependency, attempts: int, waited_s: float, last_error: BaseException):
        self.dependency, self.attempts, self.waited_s, self.last_error = (
            dependency,
            attempts,
            waited_s,
            last_error,
        )
        error = " ".join(f"{type(last_error).__name__}: {last_error}".split())
        if len(error) > 200:
            error = error[:197] + "..."
        super().__init__(
            f"cannot reach {dependency.kind} at {dependency.address} after {waited_s:.0f} s"
            f" ({attempts} attempt{'s' if attempts != 1 else ''}): {error};"
            f" check {dependency.setting} (wait longer with EARSHOT_STARTUP_TIMEOUT_S)"
        )


async def wait_for(
    dependency: Dependency,
    attempt: Callable[[], Awaitable[T]],
    *,
    timeout_s: float,
    base_s: float = 0.25,
    max_s: float = 5.0,
) -> T:
    """Await ``attempt()`` until it returns, retrying with backoff for up to ``timeout_s``.

    Each attempt is itself bounded by the time left (at least 1 s), so a dependency that
    hangs instead of refusing cannot stretch start-up past the timeout by much.

    Args:
        dependency: what is being reached (for the log lines and the error).
        attempt: one connection attempt; raises when the dependency is not usable.
        timeout_s: total time to keep trying, seconds (0: one attempt).
        base_s: first backoff, seconds.
        max_s: cap of one backoff, seconds.

    Returns:
        what the successful attempt returned.

    Raises:
        DependencyUnavailable: every attempt failed until the timeout (from the last error).
    """
    loop = asyncio.get_running_loop()
    start = loop.time()
    deadline = start + max(timeout_s, 0.0)
    attempts = 0
    while True:
        attempts += 1
        try:
            async with asyncio.timeout(max(deadline - loop.time(), 1.0)):
                return await attempt()
        except Exception as exc:  # any failure of the attempt is "not yet"
            now = loop.time()
            if now >= deadline:
                raise DependencyUnavailable(dependency, attempts, now - start, exc) from exc
            pause = min(random.uniform(base_s, min(max_s, base_s * 2**attempts)), deadline - now)
            log.warning(
                "startup.waiting",
                dependency=dependency.kind,
                address=dependency.address,
                setting=dependency.setting,
                attempt=attempts,
                retry_in_s=round(pause, 2),
                error=f"{type(exc).__name__}: {exc}",
            )
            await asyncio.sleep(pause)


async def wait_for_database(url: str, timeout_s: float) -> None:
    """Wait until the database at ``url`` answers ``SELECT 1`` (SQLite: nothing to wait for).

    Raises:
        DependencyUnavailable: it stayed unreachable for ``timeout_s`` seconds
            (names ``EARSHOT_DATABASE_URL``).
    """
    if url.startswith("sqlite"):
        return
    from services.common import db

    kind = "PostgreSQL" if url.startswith("postgresql") else "the database"
    dependency = Dependency(kind, address_of(url), "EARSHOT_DATABASE_URL")

    async def attempt() -> None:
        engine = db.create_engine(url)
        try:
            await db.check(engine)
        finally:
            await engine.dispose()

    await wait_for(dependency, attempt, timeout_s=timeout_s)


async def wait_for_grpc(service: str, target: str, timeout_s: float, *, deadline_s: float = 2.0) -> None:
    """Wait until the gRPC server at ``target`` reports SERVING (``grpc.health.v1``, overall
    status) for a caller of ``service``.

    Args:
        service: the called service's name, e.g. ``auth`` (names ``EARSHOT_AUTH_GRPC_TARGET``).
        target: ``host:port``.
        timeout_s: total time to keep trying, seconds.
        deadline_s: deadline of one health check, seconds.

    Raises:
        DependencyUnavailable: it did not report SERVING within ``timeout_s``.
    """
    from services.common import rpc

    dependency = Dependency(f"gRPC {service}", target, f"EARSHOT_{service.upper()}_GRPC_TARGET")

    async def attempt() -> None:
        if not await rpc.health_check(target, timeout_s=deadline_s):
            raise ConnectionError("health check: not SERVING (down or unreachable)")

    await wait_for(dependency, attempt, timeout_s=timeout_s)
