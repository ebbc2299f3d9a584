"""ANC sessions and metrics (seed 004): tables ``anc_sessions`` and ``anc_metrics`` (revisions 0002, 0004)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import UTCDateTime, utcnow
from services.gateway.models import Base

__all__ = ["AncMetric", "AncSession"]

# --- ANC sessions and metrics (seed 004) -------------------------------------------------


class AncSession(Base):
    """One noise-cancellation session (table ``anc_sessions``): a processed file or a live stream.

    Attributes:
        id: UUID string.
        owner: the user id of the signed-in caller who created it; every query filters by it
            (rows written before ownership keep the old placeholder and are reachable by no one).
        kind: ``"file"`` or ``"stream"``.
        status: ``"open"`` (stream created, no socket yet), ``"active"`` (socket
            connected), ``"queued"`` / ``"processing"`` (a long file's batch job),
            ``"completed"``, ``"closed"`` or ``"failed"``.
        algorithm: ``nlms``, ``fdaf``, ``fxnlms``, ``lms`` or ``ale``.
        params: the filter parameters used (taps, mu, block_size, delay, constrained).
        sample_rate: Hz.
        samples: samples processed so far.
        output_key: object-storage key of the processed file (file sessions).
        noise_class, emergency: the last classification of the primary channel.
        progress: percent done of a batch job (``None`` for other sessions).
        error, error_details: why a batch job failed (a code and a sentence).
        created_at, updated_at, ended_at: timezone-aware UTC.
    """

    __tablename__ = "anc_sessions"
    __table_args__ = (
        CheckConstraint("kind IN ('file', 'stream')", name="kind"),
        CheckConstraint(
            "status IN ('open', 'active', 'queued', 'processing', 'completed', 'closed', 'failed')",
            name="status",
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    algorithm: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    sample_rate: Mapped[int] = mapped_column(Integer)
    samples: Mapped[int] = mapped_column(BigInteger, default=0)
    output_key: Mapped[str | None] = mapped_column(String(255))
    noise_class: Mapped[str | None] = mapped_column(String(32))
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    progress: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(String(64))
    error_details: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AncMetric(Base):
    """One metrics record of an ANC session (table ``anc_metrics``).

    Attributes:
        id: autoincrement.
        session_id: the session (deleted with it).
        kind: ``"final"`` (a processed file or a closed stream) or ``"update"`` (live).
        attenuation_db: overall attenuation (dB).
        steady_state_attenuation_db: last part of the signal (dB); streams: recent blocks.
        convergence_time_ms: time to 20 dB attenuation (ms), ``None`` if never reached.
        octave_bands: octave-band centre (Hz, text) -> attenuation (dB).
        samples: samples covered.
        dsp_ms_mean: mean DSP time per block (streams) or total (files), ms.
        noise_class, confidence, emergency: classification of the primary channel.
        recorded_at: timezone-aware UTC.
    """

    __tablename__ = "anc_metrics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("anc_sessions.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    attenuation_db: Mapped[float] = mapped_column(Float)
    steady_state_attenuation_db: Mapped[float | None] = mapped_column(Float)
    convergence_time_ms: Mapped[float | None] = mapped_column(Float)
    octave_bands: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    samples: Mapped[int] = mapped_column(BigInteger, default=0)
    dsp_ms_mean: Mapped[float | None] = mapped_column(Float)
    noise_class: Mapped[str | None] = mapped_column(String(32))
    confidence: Mapped[float | None] = mapped_column(Float)
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
