"""The live ANC streaming core, shared by the raw WebSocket and the Socket.IO transport.

One :class:`LiveStream` is one open stream session: it opens the anc service's
bidirectional ``Stream`` RPC with the session's parameters, validates and forwards the
client's ``audio_chunk`` frames, hands every processed block, metrics update and error to a
:class:`StreamSink` (the transport), stores metrics rows and the session status, and on close
stores the final metrics. Transports only translate between their wire format and these calls:

* raw WebSocket (``/api/audio/stream/{id}/ws``): JSON text events plus binary frames;
* Socket.IO (``/socket.io/``): python-socketio events with binary attachments.

Frames are float32 little-endian PCM, interleaved primary/reference (two channels) or mono
(``ale``), at most 65536 samples per channel; processed audio is mono float32.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Protocol

import numpy as np
from earshot.anc.v1 import anc_pb2, anc_pb2_grpc
from sqlalchemy import update

from services.common import db, rpc
from services.common.logging import get_logger
from services.gateway.errors import utc_timestamp
from services.gateway.models import AncMetric, AncSession

log = get_logger("earshot.gateway.anc.live")

MAX_FRAME_SAMPLES = 65536
"""Most samples per channel in one ``audio_chunk``."""


class SessionTaken(Exception):
    """The stream session was claimed by another connection (or closed) before this one."""


class StreamSink(Protocol):
    """What a transport does with the stream's output (each call may raise if the client is gone)."""

    async def processed_audio(self, sequence: int, audio: bytes) -> None:
        """One processed block: mono float32 little-endian PCM, ``sequence`` from 1."""

    async def metrics_update(self, metrics: dict[str, Any]) -> None:
        """Live metrics (see :func:`stream_metrics`), every few blocks."""

    async def error(self, error: str, details: str) -> None:
        """A problem with one chunk or with the DSP; the stream stays open."""


def split_frame(data: bytes, channels: int) -> tuple[list[np.ndarray], str | None]:
    """Interleaved float32 frame -> per-channel arrays, or the reason it is garbage.

    Args:
        data: little-endian float32 samples, interleaved when ``channels == 2``.
        channels: 1 or 2.

    Returns:
        ``(arrays, None)`` with one contiguous float32 array per channel, or ``([], reason)``
        for an empty frame, a partial sample frame, more than :data:`MAX_FRAME_SAMPLES`
        samples per channel, or NaN/Inf samples.
    """
    frame = 4 * channels
    if not data:
        return [], "empty frame"
    if len(data) % frame:
        return [], f"{len(data)} bytes is not a whole number of {channels}-channel float32 frames"
    if len(data) > 4 * channels * MAX_FRAME_SAMPLES:
        return [], f"frames carry at most {MAX_FRAME_SAMPLES} samples per channel"
    pcm = np.frombuffer(data, dtype="<f4").reshape(-1, channels)
    if not np.isfinite(pcm).all():
        return [], "the frame contains NaN or Inf samples"
    return [np.ascontiguousarray(pcm[:, c]) for c in range(channels)], None


def stream_metrics(m: anc_pb2.StreamMetrics) -> dict[str, Any]:
    """The ``metrics_update`` payload: blocks, samples, attenuation (dB, overall and recent),
    convergence time (ms, ``None`` before 20 dB), DSP time per block (ms), filter resets and
    the primary channel's noise class, confidence and emergency flag."""
    c = m.classification
    return {
        "blocks": m.blocks,
        "samples": m.samples,
        "attenuation_db": round(m.attenuation_db, 2),
        "recent_attenuation_db": round(m.recent_attenuation_db, 2),
        "convergence_time_ms": None if m.convergence_time_ms < 0 else m.convergence_time_ms,
        "dsp_ms_mean": round(m.dsp_ms_mean, 4),
        "dsp_ms_max": round(m.dsp_ms_max, 4),
        "resets": m.resets,
        "noise_type": c.label,
        "confidence": round(c.confidence, 4),
        "emergency": c.emergency,
    }


class LiveStream:
    """One live session over the anc service's ``Stream`` RPC (module docstring).

    Args:
        stub: the anc service's gRPC stub.
        sessions: async session factory of the gateway database.
        row: the session (``kind == "stream"``, ``status == "open"``).
        sink: where processed audio, metrics and errors go.

    Use :meth:`open` once, :meth:`feed` per chunk, :meth:`close` exactly once (also when
    the client vanished), in that order.
    """

    def __init__(
        self,
        stub: anc_pb2_grpc.AncServiceStub,
        sessions: Any,
        row: AncSession,
        sink: StreamSink,
    ) -> None:
        self.stub = stub
        self.sessions = sessions
        self.session_id = row.id
        self.algorithm = row.algorithm
        self.sample_rate = row.sample_rate
        self.params = row.params
        self.channels = 1 if row.algorithm == "ale" else 2
        self.sink = sink
        self.samples = 0
        self.final: dict[str, Any] = {}
        self._sequence = 0
        self._call: Any = None
        self._pump: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def sequence(self) -> int:
        """Number of chunks forwarded so far (the last chunk's sequence number)."""
        return self._sequence

    def describe(self) -> dict[str, Any]:
        """What the client must send: session id, algorithm, rate (Hz), channels, sample format
        and layout, plus a timestamp (the ``connect`` payload)."""
        return {
            "session_id": self.session_id,
            "algorithm": self.algorithm,
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "format": "f32le",
            "layout": "interleaved" if self.channels == 2 else "mono",
            "timestamp": utc_timestamp(),
        }

    async def open(self) -> dict[str, Any]:
        """Claim the session (``open`` -> ``active``, atomically), start the RPC and the reply
        pump; returns :meth:`describe`.

        Raises:
            SessionTaken: another connection claimed the session first (or it is not open).
        """
        async with self.sessions() as s, s.begin():
            claimed = await s.execute(
                update(AncSession)
                .where(AncSession.id == self.session_id, AncSession.status == "open")
                .values(status="active")
            )
        if claimed.rowcount != 1:
            self._closed = True  # nothing to close: the session is someone else's stream
            raise SessionTaken(f"session {self.session_id} is no longer open")
        p = self.params
        params = anc_pb2.FilterParams(
            algorithm=self.algorithm,
            taps=int(p.get("taps", 0)),
            mu=float(p.get("mu", 0.0)),
            block_size=int(p.get("block_size", 0)),
            delay=int(p.get("delay", 0)),
            unconstrained=not bool(p.get("constrained", True)),
        )
        try:
            self._call = self.stub.Stream(metadata=rpc.call_metadata())
            await self._call.write(
                anc_pb2.StreamRequest(
                    config=anc_pb2.StreamConfig(
                        session_id=self.session_id, sample_rate=self.sample_rate, params=params
                    )
                )
            )
        except Exception:
            self._closed = True
            await self._set_status("failed")  # never left "active" with nobody streaming
            raise
        self._pump = asyncio.create_task(self._replies())
        return self.describe()

    async def _replies(self) -> None:
        async for resp in self._call:
            kind = resp.WhichOneof("kind")
            if kind == "block":
                await self.sink.processed_audio(int(resp.block.sequence), resp.block.audio)
            elif kind == "metrics":
                m = stream_metrics(resp.metrics)
                self.final = m
                await self._store_metric("update", m)
                await self.sink.metrics_update(m)
            elif kind == "error":
                await self.sink.error(resp.error.error, resp.error.details)

    async def feed(self, data: bytes) -> str | None:
        """Forward one ``audio_chunk`` (module docstring for the format).

        Returns:
            ``None`` when the chunk was sent on, else why it was refused (the stream stays
            open; the transport reports the reason to its client).
        """
        block, problem = split_frame(data, self.channels)
        if problem:
            return problem
        self._sequence += 1
        self.samples += block[0].size
        await self._call.write(
            anc_pb2.StreamRequest(
                block=anc_pb2.AudioBlock(
                    primary=block[0].tobytes(),
                    reference=block[1].tobytes() if self.channels == 2 else b"",
                    sequence=self._sequence,
                )
            )
        )
        return None

    async def close(self) -> dict[str, Any] | None:
        """End the RPC, wait (30 s at most) for the last replies, store the final metrics and
        close the session. Idempotent.

        Returns:
            The final metrics, or ``None`` when no block was processed.
        """
        if self._closed:
            return self.final or None
        self._closed = True
        if self._call is not None:
            with contextlib.suppress(Exception):
                await self._call.done_writing()
        if self._pump is not None:
            try:
                await asyncio.wait_for(self._pump, 30)
            except Exception as exc:  # the client may be gone while replies are sent
                log.info("anc.stream_pump_ended", error=type(exc).__name__)
                self._call.cancel()
        if self.final:
            await self._store_metric("final", self.final)
        await self._set_status("closed", self.samples)
        return self.final or None

    async def _store_metric(self, kind: str, m: dict[str, Any]) -> None:
        async with self.sessions() as s, s.begin():
            s.add(
                AncMetric(
                    session_id=self.session_id,
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
            row = await s.get(AncSession, self.session_id)
            if row is not None:
                row.noise_class = m.get("noise_type")
                row.emergency = bool(row.emergency or m.get("emergency"))
                row.samples = int(m.get("samples") or row.samples)

    async def _set_status(self, status: str, samples: int | None = None) -> None:
        async with self.sessions() as s, s.begin():
            row = await s.get(AncSession, self.session_id)
            if row is None:
                return
            row.status = status
            if samples is not None:
                row.samples = max(row.samples, samples)
            if status in ("closed", "failed"):
                row.ended_at = db.utcnow()
