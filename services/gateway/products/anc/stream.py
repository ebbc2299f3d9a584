"""The live-stream core, independent of the transport (raw WebSocket today; any transport that
can send JSON events and binary audio can drive it).

Protocol (events): ``connect`` (JSON, once), ``audio_chunk`` in (float32 little-endian PCM,
interleaved primary/reference, as binary frames or ``{"event": "audio_chunk", "data":
<base64>}``), ``processed_audio`` out (binary, mono float32), ``metrics_update`` out (JSON;
also stored), ``error`` out (JSON; the stream stays open), ``disconnect`` (either side).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
from earshot.anc.v1 import anc_pb2

from services.common.logging import get_logger
from services.gateway.products.anc.models import AncSession
from services.gateway.products.anc.repository import AncRepository
from services.gateway.products.anc.schemas import stream_metrics_json
from services.gateway.shared.timefmt import utc_timestamp

__all__ = ["LiveStream", "split_frame"]

log = get_logger("earshot.gateway.anc")

MAX_FRAME_SAMPLES = 65536
"""Samples per channel one frame may carry."""


def split_frame(data: bytes, channels: int) -> tuple[list[np.ndarray], str | None]:
    """Interleaved float32 frame -> per-channel arrays, or the reason it is garbage."""
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


class LiveStream:
    """One stream session's run: the gRPC ``Stream`` call, the reply pump, metrics records.

    Args:
        row: the session (``kind == "stream"``, status ``open``).
        repo: the ANC records.
        call_factory: opens the anc service's ``Stream`` call.
        send_json: sends a JSON event to the client.
        send_audio: sends processed audio (mono float32 bytes) to the client.
    """

    def __init__(
        self,
        row: AncSession,
        repo: AncRepository,
        call_factory: Callable[[], Any],
        send_json: Callable[[dict[str, Any]], Awaitable[None]],
        send_audio: Callable[[bytes], Awaitable[None]],
    ) -> None:
        self.row, self.repo = row, repo
        self.session_id = row.id
        self.channels = 1 if row.algorithm == "ale" else 2
        self._call_factory = call_factory
        self._send_json, self._send_audio = send_json, send_audio
        self._send_lock = asyncio.Lock()
        self.final: dict[str, Any] = {}
        self.samples = 0
        self._sequence = 0
        self._call: Any = None
        self._pump: asyncio.Task[None] | None = None

    async def emit(self, event: dict[str, Any]) -> None:
        """Send a JSON event (serialised with the audio frames)."""
        async with self._send_lock:
            await self._send_json(event)

    async def error(self, error: str, details: str) -> None:
        """Send an ``error`` event; the stream stays open."""
        await self.emit({"event": "error", "error": error, "details": details})

    async def start(self) -> None:
        """Mark the session active, open the gRPC call, start the reply pump, send ``connect``."""
        row = self.row
        await self.repo.set_status(self.session_id, "active")
        p = row.params
        params = anc_pb2.FilterParams(
            algorithm=row.algorithm,
            taps=int(p.get("taps", 0)),
            mu=float(p.get("mu", 0.0)),
            block_size=int(p.get("block_size", 0)),
            delay=int(p.get("delay", 0)),
            unconstrained=not bool(p.get("constrained", True)),
        )
        self._call = self._call_factory()
        await self._call.write(
            anc_pb2.StreamRequest(
                config=anc_pb2.StreamConfig(
                    session_id=self.session_id, sample_rate=row.sample_rate, params=params
                )
            )
        )
        self._pump = asyncio.create_task(self._replies())
        await self.emit(
            {
                "event": "connect",
                "session_id": self.session_id,
                "algorithm": row.algorithm,
                "sample_rate": row.sample_rate,
                "channels": self.channels,
                "format": "f32le",
                "layout": "interleaved" if self.channels == 2 else "mono",
                "timestamp": utc_timestamp(),
            }
        )

    async def _replies(self) -> None:
        async for resp in self._call:
            kind = resp.WhichOneof("kind")
            if kind == "block":
                async with self._send_lock:
                    await self._send_audio(resp.block.audio)
            elif kind == "metrics":
                m = stream_metrics_json(resp.metrics)
                self.final.clear()
                self.final.update(m)
                await self.repo.store_stream_metric(self.session_id, "update", m)
                await self.emit({"event": "metrics_update", "session_id": self.session_id, **m})
            elif kind == "error":
                await self.error(resp.error.error, resp.error.details)

    async def feed(self, data: bytes) -> None:
        """Process one interleaved float32 frame (a bad frame gets an ``error`` event)."""
        block, problem = split_frame(data, self.channels)
        if problem:
            await self.error("Invalid audio_chunk", problem)
            return
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

    async def feed_event(self, event: Any) -> bool:
        """Handle a JSON event from the client; returns False on ``disconnect``."""
        if not isinstance(event, dict):
            await self.error("Invalid message", "not JSON")
            return True
        name = event.get("event")
        if name == "disconnect":
            return False
        if name == "audio_chunk" and isinstance(event.get("data"), str):
            try:
                data = base64.b64decode(event["data"], validate=True)
            except ValueError:
                await self.error("Invalid audio_chunk", "data is not base64")
                return True
            await self.feed(data)
            return True
        await self.error("Unknown event", "send binary PCM frames, audio_chunk {data: base64} or disconnect")
        return True

    async def finish(self) -> dict[str, Any] | None:
        """End the call, wait for the last replies (30 s), store the final metrics, close the session.

        Returns:
            The final metrics, or ``None`` when none arrived.
        """
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
            await self.repo.store_stream_metric(self.session_id, "final", self.final)
        await self.repo.set_status(self.session_id, "closed", self.samples)
        return self.final or None
