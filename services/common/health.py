"""Cheap health probes: answers computed at most once per interval, dependency checks with deadlines.

Kubernetes (and load balancers, and dashboards) call probes often and in parallel; a probe
that queries the database on every call turns monitoring into load. :class:`Cached`
computes an answer at most once per ``ttl_s`` however many callers ask at once (callers
arriving while it is computed wait for that computation: "single flight"), and
:func:`check_dependencies` runs readiness checks concurrently, each under a short deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Generic, TypeVar

T = TypeVar("T")

OK = "ok"


class Cached(Generic[T]):
    """The result of ``compute`` reused for ``ttl_s`` seconds, computed by one caller at a time.

    Args:
        compute: the async computation (no arguments).
        ttl_s: how long a result is served again, seconds (> 0).
        clock: monotonic clock in seconds (tests pass a fake one).

    A computation that raises is not cached: every caller waiting for it gets the error and
    the next call computes again.
    """

    def __init__(
        self,
        compute: Callable[[], Awaitable[T]],
        ttl_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_s <= 0:
            raise ValueError("ttl_s must be > 0")
        self._compute = compute
        self.ttl_s = ttl_s
        self._clock = clock
        self._value: T | None = None
        self._at = float("-inf")
        self._running: asyncio.Future[T] | None = None

    def clear(self) -> None:
        """Forget the cached result (the next call computes)."""
        self._at = float("-inf")

    async def get(self) -> T:
        """The cached result while fresh, else a new one (shared with concurrent callers).

        Raises:
            whatever ``compute`` raised.
        """
        if self._clock() - self._at < self.ttl_s:
            return self._value  # type: ignore[return-value]
        if self._running is None:
            self._running = asyncio.ensure_future(self._refresh())
        # shield: a caller that gives up (client gone) does not cancel the others' answer
        return await asyncio.shield(self._running)

    async def _refresh(self) -> T:
        try:
            value = await self._compute()
            self._value, self._at = value, self._clock()
            return value
        finally:
            self._running = None


async def check_dependencies(
    checks: Mapping[str, Callable[[], Awaitable[object]]], deadline_s: float = 1.0
) -> dict[str, str]:
    """Run readiness checks concurrently, each under ``deadline_s`` seconds.

    Args:
        checks: name -> async check that raises when the dependency cannot be used.
        deadline_s: time allowed to each check.

    Returns:
        name -> ``"ok"`` or ``"error: <Type>: <message>"`` (a check past its deadline
        reports ``TimeoutError``); never raises for a failing check.
    """

    async def one(check: Callable[[], Awaitable[object]]) -> str:
        try:
            await asyncio.wait_for(check(), deadline_s)
        except TimeoutError:
            return f"error: TimeoutError: no answer within {deadline_s:g} s"
        except Exception as exc:  # any failure means not ready
            return f"error: {type(exc).__name__}: {exc}"[:300]
        return OK

    names = list(checks)
    results = await asyncio.gather(*(one(checks[name]) for name in names))
    return dict(zip(names, results, strict=True))
