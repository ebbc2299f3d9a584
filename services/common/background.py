"""One long-running ``asyncio`` task owned by an object: started once, cancelled and awaited at stop.

Used by the outbox relay (:class:`services.common.outbox.Outbox`) and the lease sweeper
(:class:`services.common.leases.Sweeper`).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib

__all__ = ["BackgroundTask"]


class BackgroundTask(abc.ABC):
    """Mixin: :meth:`start` runs :meth:`run` as one task named ``task_name``; :meth:`stop`
    cancels it and waits for it to end. Both are idempotent."""

    task_name = "background"
    _task: asyncio.Task[None] | None = None

    @abc.abstractmethod
    async def run(self) -> None:
        """The task's body (usually a loop until cancelled)."""

    def start(self) -> None:
        """Start the task (idempotent; needs a running event loop)."""
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name=self.task_name)

    async def stop(self) -> None:
        """Cancel the task and wait for it to end (idempotent)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
