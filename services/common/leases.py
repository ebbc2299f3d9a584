"""Job leases and the sweeper: no job stays ``queued`` or ``running`` after a crash.

Every job in a non-terminal state holds a *lease*: ``lease_expires_at`` (when the owner stops
believing that someone works on it), ``attempts`` (how many times its current step was
requested) and ``request`` (the CloudEvent that starts its current step: topic, type, data).
Whoever writes the job's request sets the lease (:meth:`LeasePolicy.expiry`); progress
events from the worker extend it (:func:`extend`). A :class:`Sweeper`, a periodic task in the
process that owns the jobs table, looks for expired leases and

* below the kind's attempt limit writes the request to the outbox again (a new event id; a
  request with an ``attempt`` field carries the new attempt number;
  published after the kind's backoff ``min(backoff_s * 2^(attempts-1), backoff_max_s)``) and
  takes a new lease, in one transaction;
* at the limit (or when the step cannot be requested again) fails the job with the code
  ``lease_expired`` and writes the kind's failure events to the outbox in the same
  transaction (so the product's records end the way a worker failure would end them); the
  job's objects are deleted after the commit.

Several replicas may sweep one table: on PostgreSQL a pass takes its rows with ``SELECT ...
FOR UPDATE SKIP LOCKED``; every write is also conditional (``WHERE status IN (active) AND
lease_expires_at = <read value>``), so a row another sweeper or a worker event changed in
between is left alone.

This is the lease idea of Gray & Cheriton, "Leases: an efficient fault-tolerant mechanism
for distributed file cache consistency" (SOSP 1989) applied to job ownership, with the
retry/dead-letter rule of a work queue.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Integer, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from services.common import telemetry
from services.common.background import BackgroundTask
from services.common.db import UTCDateTime, utcnow
from services.common.events import Envelope, EventPayload
from services.common.logging import get_logger
from services.common.outbox import Outbox
from services.common.storage import ObjectNotFound, ObjectStorage

__all__ = [
    "LEASE_EXPIRED",
    "LeaseColumns",
    "LeasePolicy",
    "SweepResult",
    "FailureHook",
    "Sweeper",
    "delete_objects",
    "extend",
    "request_of",
]

log = get_logger("earshot.leases")

LEASE_EXPIRED = "lease_expired"
"""Error code of a job failed by the sweeper."""


class LeaseColumns:
    """Mixin of the lease columns for a declarative job model (which brings ``id``, ``kind``,
    ``status``, ``error`` and ``updated_at``).

    Attributes:
        attempts: how many times the current step was requested (1 after the first request).
        lease_expires_at: when the lease runs out (timezone-aware UTC); ``None`` once terminal.
        request: the event that starts the current step, ``{"topic", "type", "data"}``, or
            ``None`` when the step cannot be requested again (a synchronous request whose
            waiting client is gone).
        objects: object-storage keys (a key ending in ``/`` is a prefix) removed when the job
            ends, whichever way.
    """

    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    request: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    objects: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")


@dataclass(frozen=True)
class LeasePolicy:
    """Lease length, attempt limit and backoff of one job kind.

    Attributes:
        lease_s: seconds a request or a progress event buys (> 0).
        max_attempts: requests of one step at most (>= 1; 1 = never requested again).
        backoff_s: delay before the 2nd request, seconds; doubles per attempt.
        backoff_max_s: longest delay, seconds.
    """

    lease_s: float
    max_attempts: int = 3
    backoff_s: float = 2.0
    backoff_max_s: float = 60.0

    def __post_init__(self) -> None:
        if self.lease_s <= 0 or self.max_attempts < 1 or self.backoff_s < 0 or self.backoff_max_s < 0:
            raise ValueError(f"invalid lease policy {self!r}")

    def backoff(self, attempts: int) -> float:
        """Delay (seconds) before request number ``attempts + 1`` after ``attempts`` requests."""
        return float(min(self.backoff_s * 2 ** max(attempts - 1, 0), self.backoff_max_s))

    def expiry(self, now: datetime, delay_s: float = 0.0) -> datetime:
        """When a lease taken at ``now`` for a request published after ``delay_s`` runs out."""
        return now + timedelta(seconds=delay_s + self.lease_s)


def request_of(payload: EventPayload) -> dict[str, Any]:
    """The ``request`` column value of a step started by ``payload``."""
    return {"topic": payload.topic, "type": payload.event_type, "data": payload.model_dump(mode="json")}


async def extend(
    session: AsyncSession,
    model: Any,
    job_id: str,
    policy: LeasePolicy,
    *,
    active: Sequence[str],
    now: datetime | None = None,
) -> bool:
    """Extend an active job's lease to ``now + lease_s`` (never shortens it).

    Args:
        session: the caller's session (the caller commits).
        model: the declarative job model (with :class:`LeaseColumns`).
        job_id: the job.
        policy: its kind's policy.
        active: the non-terminal statuses.
        now: "now" (default: the current UTC time).

    Returns:
        Whether a row changed.
    """
    now = now or utcnow()
    expiry = policy.expiry(now)
    result: Any = await session.execute(
        update(model)
        .where(
            model.id == job_id,
            model.status.in_(list(active)),
            (model.lease_expires_at.is_(None)) | (model.lease_expires_at < expiry),
        )
        .values(lease_expires_at=expiry)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)


async def delete_objects(storage: ObjectStorage, keys: Sequence[str]) -> None:
    """Delete a job's objects: each key, or every key under a prefix ending in ``/``.

    Missing objects are fine; other storage errors are logged, not raised (the job's outcome
    is already recorded; the next clean-up of the same job tries again).
    """
    for key in keys:
        try:
            if key.endswith("/"):
                for info in await storage.list(key):
                    with contextlib.suppress(ObjectNotFound):
                        await storage.delete(info.key)
            else:
                with contextlib.suppress(ObjectNotFound):
                    await storage.delete(key)
        except Exception as exc:
            log.error("leases.delete_failed", key=key, error=f"{type(exc).__name__}: {exc}")


FailureEvents = Callable[[Any], Sequence[EventPayload]]
"""Given an expired job row, the events that tell its product it failed (may be empty)."""

FailureHook = Callable[[AsyncSession, Any], Awaitable[Sequence[EventPayload]]]
"""Given the sweeper's session (inside its transaction) and an expired job row, end the
product's own records in that transaction and return the events to write with it."""


@dataclass
class SweepResult:
    """What one sweep did: job ids requested again and job ids failed."""

    retried: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


class Sweeper(BackgroundTask):
    """Re-request or fail jobs whose lease expired (module docstring).

    Args:
        model: declarative job model with ``id``, ``kind``, ``status``, ``error``,
            ``updated_at`` and :class:`LeaseColumns`.
        sessions: session factory of the database holding it and the outbox.
        outbox: where requests and failure events are written.
        storage: where a failed job's objects are deleted.
        policies: lease policy per kind; kinds not listed use ``default``.
        default: policy of unlisted kinds.
        failure_events: per kind, the events written when a job is failed (see
            :data:`FailureEvents`); kinds not listed write none.
        failure_hooks: per kind, a :data:`FailureHook` run in the failing transaction (the
            product's record fails with the job, atomically); its events are written too.
            The mapping is read at each sweep (a product may register later).
        active: non-terminal statuses (default ``queued``, ``running``).
        failed_status: the status a swept job gets.
        interval_s: seconds between sweeps of :meth:`run`.
        batch: jobs handled per sweep at most.
        clock: returns "now" (timezone-aware UTC); tests pass a fake clock.
        on_swept: awaited after every sweep that acted (tests, metrics); optional.
    """

    task_name = "leases:sweeper"

    def __init__(
        self,
        model: Any,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        storage: ObjectStorage,
        *,
        policies: Mapping[str, LeasePolicy],
        default: LeasePolicy,
        failure_events: Mapping[str, FailureEvents] | None = None,
        failure_hooks: Mapping[str, FailureHook] | None = None,
        active: Sequence[str] = ("queued", "running"),
        failed_status: str = "failed",
        interval_s: float = 5.0,
        batch: int = 100,
        clock: Callable[[], datetime] = utcnow,
        on_swept: Callable[[SweepResult], Awaitable[None]] | None = None,
    ) -> None:
        if interval_s <= 0 or batch < 1:
            raise ValueError("interval_s must be > 0 and batch >= 1")
        self.model = model
        self.sessions = sessions
        self.outbox = outbox
        self.storage = storage
        self.policies = policies
        self.default = default
        self.failure_events = dict(failure_events or {})
        self.failure_hooks: Mapping[str, FailureHook] = failure_hooks if failure_hooks is not None else {}
        self.active = tuple(active)
        self.failed_status = failed_status
        self.interval_s = interval_s
        self.batch = batch
        self.clock = clock
        self.on_swept = on_swept

    def policy(self, kind: str) -> LeasePolicy:
        """The policy of ``kind`` (``default`` when not listed)."""
        return self.policies.get(kind, self.default)

    async def expire_all(self) -> int:
        """End every active lease now (start-up on an in-process bus: the previous process's
        events and work died with it, so nobody works on any active job). Returns how many."""
        m = self.model
        now = self.clock()
        async with self.sessions() as session, session.begin():
            result: Any = await session.execute(
                update(m)
                .where(m.status.in_(self.active))
                .values(lease_expires_at=now)
                .execution_options(synchronize_session=False)
            )
        return int(result.rowcount or 0)

    async def sweep_once(self) -> SweepResult:
        """One pass over jobs whose lease expired (at most ``batch``), in one transaction.

        Returns:
            The jobs requested again and the jobs failed.
        """
        m = self.model
        now = self.clock()
        done = SweepResult()
        to_delete: list[str] = []
        async with self.sessions() as session:
            locking = session.bind.dialect.name == "postgresql"
            async with session.begin():
                query = (
                    select(m)
                    .where(
                        m.status.in_(self.active), m.lease_expires_at.is_not(None), m.lease_expires_at <= now
                    )
                    .order_by(m.lease_expires_at)
                    .limit(self.batch)
                )
                if locking:
                    query = query.with_for_update(skip_locked=True)
                jobs = (await session.execute(query)).scalars().all()
                for job in jobs:
                    policy = self.policy(job.kind)
                    same_row = (
                        m.id == job.id,
                        m.status.in_(self.active),
                        m.lease_expires_at == job.lease_expires_at,
                    )
                    if job.request is not None and job.attempts < policy.max_attempts:
                        delay = policy.backoff(job.attempts)
                        result: Any = await session.execute(
                            update(m)
                            .where(*same_row)
                            .values(
                                attempts=job.attempts + 1,
                                lease_expires_at=policy.expiry(now, delay),
                                updated_at=now,
                            )
                            .execution_options(synchronize_session=False)
                        )
                        if not result.rowcount:
                            continue
                        request = job.request
                        data = dict(request["data"])
                        if "attempt" in data:  # requests that carry their attempt number
                            data["attempt"] = job.attempts + 1
                        envelope = Envelope(
                            type=request["type"],
                            source=self.outbox.source,
                            key=job.id,
                            subject=job.id,
                            data=data,
                            extensions=telemetry.event_extensions(request["type"]),  # a new trace
                        )
                        await self.outbox.add_envelope(session, request["topic"], envelope, delay_s=delay)
                        done.retried.append(job.id)
                        log.info(
                            "job.requested_again",
                            job_id=job.id,
                            kind=job.kind,
                            attempt=job.attempts + 1,
                            delay_s=delay,
                        )
                        continue
                    result = await session.execute(
                        update(m)
                        .where(*same_row)
                        .values(
                            status=self.failed_status,
                            error=LEASE_EXPIRED,
                            lease_expires_at=None,
                            updated_at=now,
                        )
                        .execution_options(synchronize_session=False)
                    )
                    if not result.rowcount:
                        continue
                    events = self.failure_events.get(job.kind)
                    for event in events(job) if events is not None else ():
                        await self.outbox.add(session, event)
                    hook = self.failure_hooks.get(job.kind)
                    for event in await hook(session, job) if hook is not None else ():
                        await self.outbox.add(session, event)
                    to_delete.extend(job.objects or ())
                    done.failed.append(job.id)
                    log.warning("job.lease_expired", job_id=job.id, kind=job.kind, attempts=job.attempts)
        if done.retried or done.failed:
            self.outbox.wake()
            await delete_objects(self.storage, to_delete)
            if self.on_swept is not None:
                await self.on_swept(done)
        return done

    async def run(self) -> None:
        """Sweep every ``interval_s`` until cancelled; errors are logged and the loop goes on."""
        while True:
            try:
                await self.sweep_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("leases.sweep_failed", error=f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(self.interval_s)
