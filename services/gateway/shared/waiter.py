"""Futures resolved by a job's final event, for routes that answer synchronously.

A product registers the job before publishing its request (:meth:`JobWaiter.waiting`) and
resolves it from a per-replica consumer group (``...{instance}``, ``from_latest``), so only
the replica that holds the request waits for it; events for jobs nobody here waits for are
ignored.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Generic, TypeVar

from services.common.events import EventPayload

__all__ = ["JobWaiter"]

P = TypeVar("P", bound=EventPayload)


class JobWaiter(Generic[P]):
    """Pending futures by job id, plus the last progress (percent) each job reported."""

    def __init__(self) -> None:
        self.pending: dict[str, asyncio.Future[P]] = {}
        self.progress: dict[str, float] = {}

    @asynccontextmanager
    async def waiting(self, job_id: str) -> AsyncIterator[asyncio.Future[P]]:
        """Register a future resolved by this job's final event; unregistered on exit."""
        fut: asyncio.Future[P] = asyncio.get_running_loop().create_future()
        self.pending[job_id] = fut
        try:
            yield fut
        finally:
            self.pending.pop(job_id, None)
            self.progress.pop(job_id, None)

    async def resolve(self, payload: P) -> None:
        """Consumer handler: resolve the future of ``payload.job_id`` (if this replica waits for it)."""
        fut = self.pending.get(payload.job_id)
        if fut is not None and not fut.done():
            fut.set_result(payload)

    def note_progress(self, job_id: str, percent: float) -> None:
        """Remember a waited-for job's progress (ignored for other jobs)."""
        if job_id in self.pending:
            self.progress[job_id] = percent

    def cancel_all(self) -> None:
        """Cancel every pending future (at stop)."""
        for fut in self.pending.values():
            if not fut.done():
                fut.cancel()
