"""Reads and conditional updates of ``photo_tasks``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.gateway.products.photos.models import PhotoTask

__all__ = ["RUNNING", "TERMINAL", "PhotoTaskStore"]

TERMINAL = ("done", "failed")
RUNNING = ("analyzing", "composing", "rendering")


class PhotoTaskStore:
    """Reads and conditional updates of ``photo_tasks`` (terminal rows never go back to running).

    Args:
        sessions: an async session factory with ``expire_on_commit=False``.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add(self, task: PhotoTask) -> None:
        """Insert a new task."""
        async with self._sessions() as session:
            session.add(task)
            await session.commit()

    async def get(self, task_id: str, owner: str | None = None) -> PhotoTask | None:
        """The task, or ``None`` (also when ``owner`` is given and differs)."""
        async with self._sessions() as session:
            task = await session.get(PhotoTask, task_id, populate_existing=True)
        if task is None or (owner is not None and task.owner != owner):
            return None
        return task

    async def page(
        self, owner: str, limit: int, offset: int, status: str | None = None
    ) -> tuple[list[PhotoTask], int]:
        """A page of an owner's tasks, newest first, and the total count."""
        where = [PhotoTask.owner == owner]
        if status:
            where.append(PhotoTask.status == status)
        async with self._sessions() as session:
            total = int((await session.execute(select(func.count()).where(*where))).scalar_one())
            rows = await session.execute(
                select(PhotoTask)
                .where(*where)
                .order_by(PhotoTask.created_at.desc(), PhotoTask.id)
                .limit(limit)
                .offset(offset)
            )
            return list(rows.scalars()), total

    async def delete(self, task_id: str) -> None:
        """Delete a task's row (a no-op when it is gone)."""
        async with self._sessions() as session:
            task = await session.get(PhotoTask, task_id)
            if task is not None:
                await session.delete(task)
                await session.commit()

    async def counts(self) -> dict[str, int]:
        """Number of tasks per status (all owners)."""
        async with self._sessions() as session:
            rows = await session.execute(select(PhotoTask.status, func.count()).group_by(PhotoTask.status))
            return {str(status): int(count) for status, count in rows.all()}

    async def update_where(self, task_id: str, allowed: tuple[str, ...], **values: Any) -> bool:
        """Update a task only while its status is in ``allowed``; True when a row changed."""
        values.setdefault("updated_at", datetime.now(UTC))
        async with self._sessions() as session:
            result = await session.execute(
                update(PhotoTask)
                .where(PhotoTask.id == task_id, PhotoTask.status.in_(allowed))
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            await session.commit()
            return bool(getattr(result, "rowcount", 0))

    async def stuck(self, older_than: datetime) -> list[PhotoTask]:
        """Unfinished tasks not updated since ``older_than``."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(PhotoTask).where(PhotoTask.status.not_in(TERMINAL), PhotoTask.updated_at < older_than)
            )
            return list(rows.scalars())
