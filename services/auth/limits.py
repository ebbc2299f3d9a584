"""Failed-login limits with growing lockouts, kept in the database (``login_failures``).

Two keys are counted for every failed login: the account (``account:<email>``, counted
even when no such account exists, so the answer reveals nothing) and the client address
(``address:<ip>``). When a key reaches its limit within ``window_s`` it is locked for
``base_s * 2**(lockouts-1)`` seconds, capped at ``max_s`` (exponential lockout, as in
OWASP's Authentication Cheat Sheet, "Account lockout"); logins for a locked key are
answered 429 with ``Retry-After`` before any password is checked. A successful login
clears the account's counter. Because the state is in the shared database, the limits
hold across every auth and gateway replica.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.auth.models import LoginFailure
from services.common.db import utcnow

__all__ = ["LoginLimiter"]


class LoginLimiter:
    """Counts failures and computes lockouts (see module docstring).

    Args:
        sessions: session factory of the auth database.
        base_s: first lockout, seconds.
        max_s: longest lockout, seconds.
        window_s: failures older than this (with no lock in force) are forgotten.
        clock: returns aware UTC "now" (tests pass a fake clock).
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        base_s: float,
        max_s: float,
        window_s: float,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.base_s = base_s
        self.max_s = max_s
        self.window_s = window_s
        self.clock = clock

    async def retry_after(self, keys: Sequence[str]) -> int:
        """Whole seconds until every key in ``keys`` is unlocked (0 = not locked)."""
        now = self.clock()
        async with self.sessions() as session:
            rows = (await session.scalars(select(LoginFailure).where(LoginFailure.key.in_(list(keys))))).all()
        waits = [
            (r.locked_until - now).total_seconds() for r in rows if r.locked_until and r.locked_until > now
        ]
        return math.ceil(max(waits)) if waits else 0

    def lockout_s(self, lockouts: int) -> float:
        """Length of lockout number ``lockouts`` (1-based): ``base * 2**(n-1)``, capped."""
        return float(min(self.base_s * 2 ** max(lockouts - 1, 0), self.max_s))

    async def record_failure(self, limits: Sequence[tuple[str, int]]) -> int:
        """Count one failure for each ``(key, max_failures)``.

        Returns:
            Seconds until the longest lock now in force ends (0 when none was set).
        """
        longest = 0.0
        for key, maximum in limits:
            for attempt in range(2):  # a concurrent first insert of the same key: retry as an update
                try:
                    longest = max(longest, await self._fail(key, maximum))
                    break
                except IntegrityError:
                    if attempt:
                        raise
        return math.ceil(longest)

    async def _fail(self, key: str, maximum: int) -> float:
        now = self.clock()
        async with self.sessions() as session, session.begin():
            row = await session.get(LoginFailure, key, with_for_update=True)
            if row is None:
                row = LoginFailure(key=key, failures=0, lockouts=0, window_start=now, locked_until=None)
                session.add(row)
            locked = row.locked_until is not None and row.locked_until > now
            if not locked and now - row.window_start > timedelta(seconds=self.window_s):
                quiet = row.locked_until is None or now - row.locked_until > timedelta(seconds=self.window_s)
                row.failures = 0
                row.window_start = now
                if quiet:
                    row.lockouts = 0  # a long quiet spell forgives earlier lockouts
            row.failures += 1
            if row.failures >= maximum:
                row.lockouts += 1
                row.failures = 0
                row.window_start = now
                row.locked_until = now + timedelta(seconds=self.lockout_s(row.lockouts))
            if row.locked_until is not None and row.locked_until > now:
                return (row.locked_until - now).total_seconds()
            return 0.0

    async def reset(self, key: str) -> None:
        """Forget the failures of ``key`` (after a successful login)."""
        async with self.sessions() as session, session.begin():
            await session.execute(delete(LoginFailure).where(LoginFailure.key == key))
