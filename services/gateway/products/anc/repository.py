"""Reads and writes of ``anc_sessions`` and ``anc_metrics``; every read of a session is
scoped to its owner (another owner's session reads as missing)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete as sa_delete
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common import db
from services.gateway.products.anc.models import AncMetric, AncSession

__all__ = ["AncRepository", "metric_row"]


def metric_row(
    session_id: str, kind: str, m: dict[str, Any], classification: dict[str, Any] | None
) -> AncMetric:
    """A metrics record from the API's metrics dict and classification (``kind``: final/update)."""
    return AncMetric(
        session_id=session_id,
        kind=kind,
        attenuation_db=float(m["attenuation_db"]),
        steady_state_attenuation_db=m.get("steady_state_attenuation_db", m.get("recent_attenuation_db")),
        convergence_time_ms=m.get("convergence_time_ms"),
        octave_bands=m.get("octave_bands_db") or {},
        samples=int(m.get("samples") or 0),
        dsp_ms_mean=m.get("dsp_ms_mean", m.get("processing_ms")),
        noise_class=classification["noise_type"] if classification else None,
        confidence=classification["confidence"] if classification else None,
        emergency=bool(classification and classification["emergency"]),
    )


class AncRepository:
    """ANC records over one session factory.

    Args:
        sessions: an async session factory with ``expire_on_commit=False``.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def get(self, session_id: str, owner: str | None) -> AncSession | None:
        """The session, or ``None`` when it does not exist or ``owner`` (if given) differs."""
        async with self.sessions() as s:
            row = await s.get(AncSession, session_id)
        if row is None or (owner is not None and row.owner != owner):
            return None
        return row

    async def add(self, row: AncSession, metric: AncMetric | None = None) -> None:
        """Insert a session (and its first metrics record) in one transaction."""
        async with self.sessions() as s, s.begin():
            s.add(row)
            if metric is not None:
                await s.flush()
                s.add(metric)

    async def delete(self, session_id: str) -> None:
        """Delete a session and its metrics (explicitly: SQLite may not enforce the cascade)."""
        async with self.sessions() as s, s.begin():
            await s.execute(sa_delete(AncMetric).where(AncMetric.session_id == session_id))
            row = await s.get(AncSession, session_id)
            if row is not None:
                await s.delete(row)

    async def page(self, owner: str, limit: int, offset: int) -> tuple[list[AncSession], int]:
        """An owner's sessions, newest first, and their total count."""
        async with self.sessions() as s:
            total = await s.scalar(
                select(func.count()).select_from(AncSession).where(AncSession.owner == owner)
            )
            rows = (
                await s.scalars(
                    select(AncSession)
                    .where(AncSession.owner == owner)
                    .order_by(AncSession.created_at.desc(), AncSession.id)
                    .limit(limit)
                    .offset(offset)
                )
            ).all()
        return list(rows), int(total or 0)

    async def metrics(self, session_id: str) -> list[AncMetric]:
        """Every metrics record of a session, oldest first."""
        async with self.sessions() as s:
            rows = await s.scalars(
                select(AncMetric).where(AncMetric.session_id == session_id).order_by(AncMetric.id)
            )
            return list(rows.all())

    async def owner_totals(self, owner: str) -> tuple[Sequence[AncSession], Sequence[AncMetric]]:
        """An owner's sessions and their final metrics records."""
        async with self.sessions() as s:
            sessions = (await s.scalars(select(AncSession).where(AncSession.owner == owner))).all()
            finals = (
                await s.scalars(
                    select(AncMetric)
                    .join(AncSession, AncSession.id == AncMetric.session_id)
                    .where(AncSession.owner == owner, AncMetric.kind == "final")
                )
            ).all()
        return sessions, finals

    async def active_streams(self) -> int:
        """Live streams on every replica."""
        async with self.sessions() as s:
            return int(
                await s.scalar(
                    select(func.count()).select_from(AncSession).where(AncSession.status == "active")
                )
                or 0
            )

    async def store_stream_metric(self, session_id: str, kind: str, m: dict[str, Any]) -> None:
        """Record a live metrics update (or the final one) and copy its classification to the session."""
        async with self.sessions() as s, s.begin():
            s.add(
                AncMetric(
                    session_id=session_id,
                    kind=kind,
                    attenuation_db=float(m["attenuation_db"]),
                    steady_state_attenuation_db=m.get("recent_attenuation_db"),
                    convergence_time_ms=m.get("convergence_time_ms"),
                    octave_bands={},
                    samples=int(m.get("samples") or 0),
                    dsp_ms_mean=m.get("dsp_ms_mean"),
                    noise_class=m.get("noise_type"),
                    confidence=m.get("confidence"),
                    emergency=bool(m.get("emergency")),
                )
            )
            row = await s.get(AncSession, session_id)
            if row is not None:
                row.noise_class = m.get("noise_type")
                row.emergency = bool(row.emergency or m.get("emergency"))
                row.samples = int(m.get("samples") or row.samples)

    async def claim_stream(self, session_id: str) -> bool:
        """``open`` -> ``active`` in one UPDATE; ``False`` when the session was not ``open``
        (another connection claimed it first, or it is closed)."""
        async with self.sessions() as s, s.begin():
            result = await s.execute(
                update(AncSession)
                .where(AncSession.id == session_id, AncSession.status == "open")
                .values(status="active")
            )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def set_status(self, session_id: str, status: str, samples: int | None = None) -> None:
        """Move a session to ``status`` (``closed``/``failed`` also set ``ended_at``)."""
        async with self.sessions() as s, s.begin():
            row = await s.get(AncSession, session_id)
            if row is None:
                return
            row.status = status
            if samples is not None:
                row.samples = max(row.samples, samples)
            if status in ("closed", "failed"):
                row.ended_at = db.utcnow()
