"""Transactional outbox: events written in the caller's database transaction, relayed to the bus.

Pattern: "Transactional outbox" (C. Richardson, *Microservices Patterns*, 2018, ch. 3.3.7;
https://microservices.io/patterns/data/transactional-outbox.html). A service that changes
its records and must announce the change writes the CloudEvent as a row of its own
``outbox`` table in the SAME transaction (:meth:`Outbox.add`), so the change and the event
commit together or not at all. A relay task (:meth:`Outbox.run`) publishes pending rows to
the bus in id order, marks each one sent, and on a bus error retries it later with
exponential backoff (``min(base * 2^(attempts-1), max)``); later rows of the same key wait
for it, so events of one job keep their order. Nothing is ever dropped: a row
stays pending until the bus acknowledged it, so delivery is *at least once* (a crash between
the acknowledgement and the ``sent_at`` update publishes the row again; consumers are
idempotent by job id).

Several replicas may relay the same table: on PostgreSQL a pass takes its rows with
``SELECT ... FOR UPDATE SKIP LOCKED``, so two relays never publish the same row at the same
time; on SQLite (one process) rows are read first and each is marked sent in its own short
write transaction. Sent rows are kept for ``retention_s``
(operators can see what went out) and then purged.

The table (:func:`outbox_table`) is declared on the owning service's metadata; its Alembic
chain creates it (the gateway: revision ``0007``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common import telemetry
from services.common.background import BackgroundTask
from services.common.bus import EventBus
from services.common.db import UTCDateTime, utcnow
from services.common.events import Envelope, EventPayload
from services.common.logging import get_logger

__all__ = ["OUTBOX_TABLE", "Outbox", "OutboxSettings", "outbox_table"]

log = get_logger("earshot.outbox")

OUTBOX_TABLE = "outbox"
"""Name of the table in every service that owns one."""


def outbox_table(metadata: MetaData) -> Table:
    """Declare the ``outbox`` table on ``metadata`` (the owning service's ``Base.metadata``).

    Columns: ``id`` (ordering), ``topic``, ``key`` (the message key, a job id), ``event`` (the
    CloudEvent as JSON: type, source, id, time, subject, data, extensions), ``created_at``,
    ``available_at`` (not published before; delayed re-requests), ``attempts`` (failed
    publishes), ``last_error`` (short text), ``sent_at`` (``NULL`` while pending).

    Returns:
        The :class:`~sqlalchemy.Table`.
    """
    return Table(
        OUTBOX_TABLE,
        metadata,
        Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
        Column("topic", String(255), nullable=False),
        Column("key", String(255), nullable=False),
        Column("event", JSON, nullable=False),
        Column("created_at", UTCDateTime(), nullable=False),
        Column("available_at", UTCDateTime(), nullable=False),
        Column("attempts", Integer, nullable=False, default=0),
        Column("last_error", String(255)),
        Column("sent_at", UTCDateTime()),
        Index("ix_outbox_pending", "sent_at", "available_at"),
    )


@dataclass(frozen=True)
class OutboxSettings:
    """How the relay runs.

    Attributes:
        poll_s: seconds between passes when nothing woke the relay (rows written by another
            replica, delayed rows coming due).
        batch: rows published per pass at most.
        backoff_s: first retry delay after a failed publish, seconds (doubles per attempt).
        backoff_max_s: longest retry delay, seconds.
        retention_s: how long sent rows are kept before they are purged, seconds.
    """

    poll_s: float = 0.5
    batch: int = 100
    backoff_s: float = 0.5
    backoff_max_s: float = 30.0
    retention_s: float = 3600.0

    def backoff(self, attempts: int) -> float:
        """Delay before publishing a row again after its ``attempts``-th failure (seconds)."""
        return float(min(self.backoff_s * 2 ** max(attempts - 1, 0), self.backoff_max_s))


def _envelope_row(envelope: Envelope) -> dict[str, Any]:
    return {
        "type": envelope.type,
        "source": envelope.source,
        "id": envelope.id,
        "time": envelope.time,
        "subject": envelope.subject,
        "data": envelope.data,
        "extensions": envelope.extensions,
    }


def _row_envelope(key: str, event: dict[str, Any]) -> Envelope:
    return Envelope(
        type=event["type"],
        source=event["source"],
        key=key,
        data=event["data"],
        id=event["id"],
        time=event["time"],
        subject=event.get("subject"),
        extensions=dict(event.get("extensions") or {}),
    )


class Outbox(BackgroundTask):
    """Write events in a transaction and relay them to the bus (module docstring).

    Args:
        table: the ``outbox`` table (:func:`outbox_table`).
        sessions: session factory of the owning service's database.
        bus: the bus the relay publishes to.
        source: CloudEvents ``source`` of events added as payloads, e.g. ``/earshot/gateway``.
        settings: relay timing.
        clock: returns "now" (timezone-aware UTC); tests pass a fake clock.
    """

    task_name = "outbox:relay"

    def __init__(
        self,
        table: Table,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        *,
        source: str,
        settings: OutboxSettings | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.table = table
        self.sessions = sessions
        self.bus = bus
        self.source = source
        self.settings = settings or OutboxSettings()
        self.clock = clock
        self._wake = asyncio.Event()
        self._last_purge: datetime | None = None

    # --- writing ------------------------------------------------------------------------------
    async def add(
        self, session: AsyncSession, event: EventPayload | Envelope, *, delay_s: float = 0.0
    ) -> None:
        """Write ``event`` into the caller's transaction (nothing is published before it commits).

        Args:
            session: the caller's session, inside its transaction; the caller commits.
            event: a payload (wrapped with this outbox's ``source`` and the current trace
                context, or a new trace outside any span:
                :func:`services.common.telemetry.event_extensions`); its topic is the payload's
                ``topic`` (a ready envelope goes through :meth:`add_envelope`).
            delay_s: do not publish before this many seconds from now (>= 0).

        Raises:
            ValueError: ``delay_s`` negative.
        """
        if isinstance(event, Envelope):
            raise ValueError("an Envelope has no topic: use add_envelope(session, topic, envelope)")
        envelope = Envelope.of(event, self.source, **telemetry.event_extensions(event.event_type))
        await self.add_envelope(session, event.topic, envelope, delay_s=delay_s)

    async def add_envelope(
        self, session: AsyncSession, topic: str, envelope: Envelope, *, delay_s: float = 0.0
    ) -> None:
        """Write a ready envelope for ``topic`` into the caller's transaction (see :meth:`add`).

        Raises:
            ValueError: ``delay_s`` negative or the topic empty.
        """
        if delay_s < 0:
            raise ValueError(f"delay_s must be >= 0, got {delay_s}")
        if not topic:
            raise ValueError("topic must not be empty")
        now = self.clock()
        await session.execute(
            insert(self.table).values(
                topic=topic,
                key=envelope.key,
                event=_envelope_row(envelope),
                created_at=now,
                available_at=now + timedelta(seconds=delay_s),
                attempts=0,
            )
        )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction; committed on exit (rolled back on an exception), then the
        relay is woken so the events go out at once."""
        async with self.sessions() as session:
            async with session.begin():
                yield session
        self.wake()

    def wake(self) -> None:
        """Ask the relay for a pass now (after a commit that added rows)."""
        self._wake.set()

    # --- relaying ------------------------------------------------------------------------------
    async def relay_once(self) -> int:
        """Publish the pending rows that are due, oldest first (at most ``batch``).

        A row whose publish fails gets ``attempts + 1`` and is retried after the backoff. Rows
        of one key keep their order: a row waits while an earlier row of its key is pending
        and not yet due (a failed or a delayed one).

        Returns:
            How many rows were published.
        """
        t = self.table
        now = self.clock()
        earlier = t.alias("earlier")
        waiting_before = (
            select(earlier.c.id)
            .where(
                earlier.c.key == t.c.key,
                earlier.c.sent_at.is_(None),
                earlier.c.id < t.c.id,
                earlier.c.available_at > now,
            )
            .exists()
        )
        query = (
            select(t.c.id, t.c.topic, t.c.key, t.c.event, t.c.attempts)
            .where(t.c.sent_at.is_(None), t.c.available_at <= now, ~waiting_before)
            .order_by(t.c.id)
            .limit(self.settings.batch)
        )
        async with self.sessions() as session:
            if session.bind.dialect.name != "postgresql":
                # SQLite: one process relays; read, then mark each row in its own short write
                # transaction (a long read transaction could not be upgraded to a write)
                rows = (await session.execute(query)).all()
                await session.rollback()
                return await self._publish(rows, now, None)
            async with session.begin():
                rows = (await session.execute(query.with_for_update(skip_locked=True))).all()
                return await self._publish(rows, now, session)

    async def _publish(self, rows: Any, now: datetime, locked: AsyncSession | None) -> int:
        t = self.table
        published = 0

        async def write(statement: Any) -> None:
            if locked is not None:
                await locked.execute(statement)
                return
            async with self.sessions() as session, session.begin():
                await session.execute(statement)

        blocked: set[str] = set()
        for row in rows:
            if row.key in blocked:
                continue  # an earlier event of this key failed: keep their order
            try:
                await self.bus.publish(row.topic, _row_envelope(row.key, row.event))
            except Exception as exc:
                attempts = row.attempts + 1
                delay = self.settings.backoff(attempts)
                await write(
                    update(t)
                    .where(t.c.id == row.id)
                    .values(
                        attempts=attempts,
                        available_at=now + timedelta(seconds=delay),
                        last_error=f"{type(exc).__name__}: {exc}"[:255],
                    )
                )
                log.warning(
                    "outbox.publish_failed",
                    topic=row.topic,
                    key=row.key,
                    attempts=attempts,
                    retry_in_s=delay,
                    error=f"{type(exc).__name__}: {exc}",
                )
                blocked.add(row.key)
                continue
            await write(update(t).where(t.c.id == row.id).values(sent_at=self.clock()))
            published += 1
        return published

    async def purge(self) -> int:
        """Delete rows sent more than ``retention_s`` ago. Returns how many."""
        cutoff = self.clock() - timedelta(seconds=self.settings.retention_s)
        async with self.sessions() as session, session.begin():
            result: Any = await session.execute(
                delete(self.table).where(self.table.c.sent_at.is_not(None), self.table.c.sent_at < cutoff)
            )
        return int(result.rowcount or 0)

    async def pending(self) -> int:
        """How many rows wait to be published (due or delayed)."""
        async with self.sessions() as session:
            value = await session.scalar(
                select(func.count()).select_from(self.table).where(self.table.c.sent_at.is_(None))
            )
        return int(value or 0)

    async def run(self) -> None:
        """Relay until cancelled: a pass whenever woken or every ``poll_s``; errors (database
        down) are logged and the loop goes on after ``poll_s``."""
        while True:
            self._wake.clear()
            try:
                published = await self.relay_once()
                now = self.clock()
                if self._last_purge is None or (now - self._last_purge).total_seconds() > 60:
                    self._last_purge = now
                    await self.purge()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("outbox.relay_failed", error=f"{type(exc).__name__}: {exc}")
                published = 0
            if published >= self.settings.batch:
                continue  # more are waiting
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.poll_s)
