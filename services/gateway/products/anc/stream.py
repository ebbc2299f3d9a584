"""The live-stream core, independent of the transport. Two transports drive it: the raw
WebSocket (``router.py``) and Socket.IO for seed 004's Flask-SocketIO clients
(``socketio.py``); both speak the same events over the same validation, gRPC call and records.

Protocol (events): ``connect`` (once, describing the stream), ``audio_chunk`` in (float32
little-endian PCM, interleaved primary/reference, or mono for ``ale``; at most 65536 samples
per channel), ``processed_audio`` out (mono float32, one block per chunk, with its sequence
number), ``metrics_update`` out (also stored), ``error`` out (the stream stays open),
``disconnect`` (either side; the final metrics are stored and the session closed).

The transport passes two callbacks: ``send_json(event)`` for the JSON events (a dict with an
``"event"`` key) and ``send_audio(sequence, pcm)`` for each processed block. Both are called
under one lock, so a transport may send an announcement and its binary frame together.
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

__all__ = ["PROTOCOLS_MARKDOWN", "LiveStream", "SessionTaken", "split_frame"]

log = get_logger("earshot.gateway.anc")

PROTOCOLS_MARKDOWN = """
## Live noise cancellation (seed 004): WebSocket and Socket.IO

Open a session with `POST /api/audio/stream` (access token required), then stream it once,
over either transport. Audio is float32 little-endian PCM: frames of interleaved
primary/reference samples (mono for `ale`), at most 65536 samples per channel; each frame is
answered by its processed block (mono, same length, `sequence` from 1).

**WebSocket** `/api/audio/stream/{session_id}/ws` with the owner's token as `?token=` or
`Sec-WebSocket-Protocol: bearer, <token>`; refused before the handshake with 401, 404 or 409.

- `connect` (server): JSON `{event, session_id, algorithm, sample_rate, channels, format,
  layout, timestamp}`.
- `audio_chunk` (client): a binary PCM frame, or JSON `{"event": "audio_chunk", "data": base64}`.
- `processed_audio` (server): JSON `{event, session_id, sequence, samples, format, channels}`,
  then the binary block.
- `metrics_update` (server): JSON `{event, session_id, blocks, samples, attenuation_db,
  recent_attenuation_db, convergence_time_ms, dsp_ms_mean, dsp_ms_max, resets, noise_type,
  confidence, emergency}` every 10 blocks.
- `error` (server): JSON `{event, error, details}`; the socket stays open.
- `disconnect` (either): JSON `{"event": "disconnect"}`; the server answers with the final
  `metrics` and closes.

**Socket.IO** at `/socket.io/` (seed 004's Flask-SocketIO clients; Engine.IO 4):
`connect` with `auth={"token": ACCESS_TOKEN, "session_id": ID}` (refusals: `connect_error`
`{message, data: {status, error, details}}`); `audio_chunk` (binary, or `{"data": bytes or
base64}`; acknowledged `{accepted, session_id, sequence}` or `{accepted: false, error,
details}`); `processed_audio` `{session_id, sequence, samples, format, channels, data}`;
`metrics_update` as above; `disconnect` stores the final metrics and closes the session.
"""
"""The live protocols, for the OpenAPI description (``app.py``) and docs/anc.md."""

MAX_FRAME_SAMPLES = 65536
"""Samples per channel one frame may carry."""


class SessionTaken(Exception):
    """The session was claimed by another connection (or is no longer ``open``)."""


def split_frame(data: bytes, channels: int) -> tuple[list[np.ndarray], str | None]:
    """Interleaved float32 frame -> per-channel arrays, or the reason it is garbage.

    Args:
        data: little-endian float32 samples, interleaved when ``channels == 2``.
        channels: 1 or 2.

    Returns:
        ``(arrays, None)``, one contiguous array per channel; or ``([], reason)`` for an empty
        frame, a partial frame, more than :data:`MAX_FRAME_SAMPLES` per channel, or NaN/Inf.
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


class LiveStream:
    """One stream session's run: the gRPC ``Stream`` call, the reply pump, metrics records.

    Args:
        row: the session (``kind == "stream"``, status ``open``).
        repo: the ANC records.
        call_factory: opens the anc service's ``Stream`` call.
        send_json: sends a JSON event (``{"event": name, ...}``) to the client.
        send_audio: sends one processed block (sequence number from 1, mono float32 bytes).
    """

    def __init__(
        self,
        row: AncSession,
        repo: AncRepository,
        call_factory: Callable[[], Any],
        send_json: Callable[[dict[str, Any]], Awaitable[None]],
        send_audio: Callable[[int, bytes], Awaitable[None]],
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
        self._finished = False
        self._claimed = False

    @property
    def sequence(self) -> int:
        """Chunks forwarded so far (the last chunk's sequence number)."""
        return self._sequence

    async def emit(self, event: dict[str, Any]) -> None:
        """Send a JSON event (serialised with the audio frames)."""
        async with self._send_lock:
            await self._send_json(event)

    async def error(self, error: str, details: str) -> None:
        """Send an ``error`` event; the stream stays open."""
        await self.emit({"event": "error", "error": error, "details": details})

    def describe(self) -> dict[str, Any]:
        """The ``connect`` payload: session, algorithm, rate (Hz), channels, format and layout."""
        return {
            "session_id": self.session_id,
            "algorithm": self.row.algorithm,
            "sample_rate": self.row.sample_rate,
            "channels": self.channels,
            "format": "f32le",
            "layout": "interleaved" if self.channels == 2 else "mono",
            "timestamp": utc_timestamp(),
        }

    async def claim(self) -> None:
        """Move the session from ``open`` to ``active`` in one statement, so only one
        connection (of either transport, on any replica) can stream it.

        Raises:
            SessionTaken: the session was not ``open`` any more.
        """
        if not await self.repo.claim_stream(self.session_id):
            self._finished = True  # nothing of ours to close
            raise SessionTaken(f"session {self.session_id} is no longer open")
        self._claimed = True

    async def start(self) -> None:
        """Claim the session (unless :meth:`claim` was called), open the gRPC call, start the
        reply pump, send ``connect``.

        Raises:
            SessionTaken: another connection streams (or streamed) the session.
        """
        row = self.row
        if not self._claimed:
            await self.claim()
        p = row.params
        params = anc_pb2.FilterParams(
            algorithm=row.algorithm,
            taps=int(p.get("taps", 0)),
            mu=float(p.get("mu", 0.0)),
            block_size=int(p.get("block_size", 0)),
            delay=int(p.get("delay", 0)),
            unconstrained=not bool(p.get("constrained", True)),
        )
        try:
            self._call = self._call_factory()
            await self._call.write(
                anc_pb2.StreamRequest(
                    config=anc_pb2.StreamConfig(
                        session_id=self.session_id, sample_rate=row.sample_rate, params=params
                    )
                )
            )
        except Exception:
            self._finished = True
            await self.repo.set_status(self.session_id, "failed")  # never "active" with nobody
            raise
        self._pump = asyncio.create_task(self._replies())
        await self.emit({"event": "connect", **self.describe()})

    async def _replies(self) -> None:
        async for resp in self._call:
            kind = resp.WhichOneof("kind")
            if kind == "block":
                async with self._send_lock:
                    await self._send_audio(int(resp.block.sequence), resp.block.audio)
            elif kind == "metrics":
                m = stream_metrics_json(resp.metrics)
                self.final.clear()
                self.final.update(m)
                await self.repo.store_stream_metric(self.session_id, "update", m)
                await self.emit({"event": "metrics_update", "session_id": self.session_id, **m})
            elif kind == "error":
                await self.error(resp.error.error, resp.error.details)

    async def feed(self, data: bytes) -> str | None:
        """Process one interleaved float32 frame.

        Returns:
            ``None`` when it went on to the DSP; else why it was refused (also sent as an
            ``error`` event; the stream stays open).
        """
        block, problem = split_frame(data, self.channels)
        if problem:
            await self.error("Invalid audio_chunk", problem)
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
        """End the call, wait for the last replies (30 s), store the final metrics, close the
        session. Idempotent (a transport and the product's stop may both call it).

        Returns:
            The final metrics, or ``None`` when none arrived.
        """
        if self._finished:
            return self.final or None
        self._finished = True
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
