"""The photo product's event handlers, as two tables:

* group ``gateway.media`` (one member handles each event) applies ``earshot.media.*``
  events to the ``photo_tasks`` rows;
* group ``gateway.media.<instance>`` (every replica, from the end of the log) pushes them
  to this replica's WebSocket listeners.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from services.common.events import MEDIA_EVENTS, MediaCompleted, MediaFailed, MediaProgress
from services.gateway.products.photos.repository import RUNNING, TERMINAL
from services.gateway.shared.consumers import ConsumerTable, On
from services.gateway.shared.timefmt import utc_timestamp

if TYPE_CHECKING:
    from services.gateway.products.photos.service import PhotoProduct

__all__ = ["MEDIA_KIND", "MediaEvents"]

MEDIA_KIND = "media"
"""Kind of a render's ``jobs`` row (its lease: ``EARSHOT_PHOTO_STALE_AFTER_S``, attempts:
``EARSHOT_PHOTO_MAX_ATTEMPTS``)."""

_ORDER = {"queued": 0, "analyzing": 1, "composing": 2, "rendering": 3}


class MediaEvents:
    """Typed handlers of the media events for one :class:`PhotoProduct`."""

    def __init__(self, product: PhotoProduct) -> None:
        self.product = product

    def tables(self) -> Sequence[ConsumerTable]:
        """The two consumer groups (module docstring)."""
        return (
            ConsumerTable(
                "gateway.media",
                (
                    On(MEDIA_EVENTS, MediaProgress, self.record_progress),
                    On(MEDIA_EVENTS, MediaCompleted, self.record_completed),
                    On(MEDIA_EVENTS, MediaFailed, self.record_failed),
                ),
            ),
            ConsumerTable(
                "gateway.media.{instance}",
                (
                    On(MEDIA_EVENTS, MediaProgress, self.push_progress),
                    On(MEDIA_EVENTS, MediaCompleted, self.push_completed),
                    On(MEDIA_EVENTS, MediaFailed, self.push_failed),
                ),
                from_latest=True,
            ),
        )

    # --- records ------------------------------------------------------------------------------
    async def record_progress(self, p: MediaProgress) -> None:
        """Move the task to the event's stage, unless the row already shows a later one."""
        store = self.product.store
        task = await store.get(p.job_id)
        if task is None or task.status in TERMINAL:
            return
        if _ORDER[p.stage] < _ORDER.get(task.status, 0) or (
            p.stage == task.status and p.progress < task.progress
        ):
            return  # an older event than what the row shows
        await store.update_where(
            p.job_id,
            ("queued", *RUNNING),
            status=p.stage,
            progress=p.progress,
            attempt=max(task.attempt, p.attempt),
        )

    async def record_completed(self, c: MediaCompleted) -> None:
        """Mark the task done with its results; a task that is gone gets its late files removed."""
        store = self.product.store
        changed = await store.update_where(
            c.job_id,
            ("queued", *RUNNING, "failed"),
            status="done",
            progress=100,
            error=None,
            error_details=None,
            music_key=c.music_key,
            music_size=c.music_size,
            video_key=c.video_key,
            video_size=c.video_size,
            video_width=c.width,
            video_height=c.height,
            duration_s=c.duration_s,
            title=c.title[:120],
            mood=c.mood[:32],
            lyrics=c.lyrics,
            music_prompt=c.music_prompt[:500],
            analysis=c.analysis,
            lyrics_engine=c.lyrics_engine[:16],
            music_engine=c.music_engine[:16],
            processing_s=c.processing_s,
            warnings=c.warnings,
            completed_at=datetime.now(UTC),
        )
        await self._end_job(c.job_id, "succeeded", None)
        if not changed and await store.get(c.job_id) is None:
            # The task is gone: remove what the late render left behind.
            await self.product.runtime.storage.delete(c.video_key)
            await self.product.runtime.storage.delete(c.music_key)

    async def record_failed(self, f: MediaFailed) -> None:
        """Mark an unfinished task failed with the event's code and reason."""
        task = await self.product.store.get(f.job_id)
        await self.product.store.update_where(
            f.job_id,
            ("queued", *RUNNING),
            status="failed",
            error=f.error[:64],
            error_details=f.details[:500],
            completed_at=datetime.now(UTC),
            attempt=max(task.attempt if task is not None else 1, f.attempt),
        )
        await self._end_job(f.job_id, "failed", f.error)

    async def _end_job(self, task_id: str, status: str, error: str | None) -> None:
        jobs = self.product.ctx.jobs
        code = (
            None if error is None else "".join(c if c.isalnum() or c in "_.:-" else "_" for c in error)[:64]
        )
        async with self.product.ctx.sessions() as session, session.begin():
            spent = await jobs.end(session, task_id, status, code or None)
        await jobs.delete_objects(spent)

    # --- WebSocket push -----------------------------------------------------------------------
    def _message(self, task_id: str, **fields: Any) -> dict[str, Any]:
        return {"task_id": task_id, "timestamp": utc_timestamp(), **fields}

    async def _outcome_recorded(self, task_id: str) -> None:
        # Wait (briefly) until the record shows the outcome, so a client that reacts to the
        # message by downloading finds the task done.
        for _ in range(40):
            task = await self.product.store.get(task_id)
            if task is not None and task.status in TERMINAL:
                return
            await asyncio.sleep(0.05)

    async def push_progress(self, p: MediaProgress) -> None:
        """Forward a progress event to this replica's listeners of the task."""
        if self.product.hub.has(p.job_id):
            self.product.hub.push(
                p.job_id, self._message(p.job_id, type="progress", status=p.stage, progress=p.progress)
            )

    async def push_completed(self, c: MediaCompleted) -> None:
        """Forward completion (once the row shows it)."""
        if not self.product.hub.has(c.job_id):
            return
        await self._outcome_recorded(c.job_id)
        self.product.hub.push(
            c.job_id,
            self._message(
                c.job_id,
                type="done",
                status="done",
                progress=100,
                title=c.title,
                mood=c.mood,
                download_url=f"/photos/{c.job_id}/download",
            ),
        )

    async def push_failed(self, f: MediaFailed) -> None:
        """Forward failure (once the row shows it)."""
        if not self.product.hub.has(f.job_id):
            return
        await self._outcome_recorded(f.job_id)
        self.product.hub.push(
            f.job_id,
            self._message(f.job_id, type="failed", status="failed", error=f.details, error_code=f.error),
        )
