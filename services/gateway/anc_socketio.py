"""Seed 004's live protocol as Socket.IO (python-socketio's ASGI server at ``/socket.io/``).

Seed 004's clients were written for Flask-SocketIO; they connect here unchanged and speak
exactly its events, over the same streaming core as the raw WebSocket
(:class:`~services.gateway.anc_live.LiveStream`):

``connect``
    Socket.IO's handshake. Authenticated: an access token in the ``auth`` payload
    (``{"token": ...}`` or ``{"access_token": ...}``), else an ``Authorization: Bearer``
    header or a ``token`` query parameter of the handshake request. ``session_id`` (same
    places) names a stream session from ``POST /api/audio/stream`` that belongs to the
    caller and is still ``open``. A refused connection gets ``connect_error`` with
    ``{message, data: {status, error, details}}`` (401 for the token, 400 without a session,
    404 for an unknown or another user's session, 409 for one already streamed).
``audio_chunk`` (client to server)
    One frame: raw bytes (a binary attachment) or ``{"data": <bytes | base64 str>}``; float32
    little-endian PCM, interleaved primary/reference (mono for ``ale``), at most 65536 samples
    per channel. The acknowledgement is ``{"accepted": true, "session_id", "sequence"}`` or
    ``{"accepted": false, "error", "details"}`` (the connection stays open).
``processed_audio`` (server to client)
    ``{"session_id", "sequence", "samples", "format": "f32le", "channels": 1, "data": <bytes>}``.
``metrics_update`` (server to client)
    ``{"session_id", "blocks", "samples", "attenuation_db", "recent_attenuation_db",
    "convergence_time_ms", "dsp_ms_mean", "dsp_ms_max", "resets", "noise_type",
    "confidence", "emergency"}`` every few blocks.
``disconnect``
    Either side; the gateway then stores the final metrics and closes the session.

Cross-origin browsers are accepted (``cors_allowed_origins="*"``): every connection is
authenticated by its token, not by cookies, so another origin gains nothing.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import socketio

from services.common.logging import get_logger
from services.gateway.anc_live import LiveStream, SessionTaken, StreamSink
from services.gateway.errors import ApiError

log = get_logger("earshot.gateway.anc.socketio")

SOCKETIO_PATH = "/socket.io"
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
"""Largest Socket.IO message accepted (a 65536-sample stereo float32 frame is 512 KiB, base64
in JSON about 700 KiB)."""


@dataclass
class Handshake:
    """What a client presented at ``connect``: its token and the session it asks for."""

    token: str | None
    session_id: str | None


class StreamRefused(Exception):
    """A connection that cannot stream; ``status`` follows HTTP (401, 404, 409, 503)."""

    def __init__(self, status: int, error: str, details: str) -> None:
        super().__init__(details)
        self.payload = {"status": status, "error": error, "details": details}


OpenStream = Callable[[Handshake, StreamSink], Awaitable[LiveStream]]
"""Authenticate, find the caller's open session and build its :class:`LiveStream` (not yet
opened); raises :class:`StreamRefused` or :class:`~services.gateway.errors.ApiError`."""


def handshake(environ: dict[str, Any], auth: Any) -> Handshake:
    """Token and session id from the ``auth`` payload, the headers, or the query string."""
    payload = auth if isinstance(auth, dict) else {}
    query = parse_qs(environ.get("QUERY_STRING", ""))
    token = payload.get("token") or payload.get("access_token")
    if not token:
        scheme, _, value = str(environ.get("HTTP_AUTHORIZATION", "")).partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            token = value.strip()
    if not token and query.get("token"):
        token = query["token"][0]
    session_id = payload.get("session_id") or (query.get("session_id") or [None])[0]
    return Handshake(token=str(token) if token else None, session_id=str(session_id) if session_id else None)


def chunk_bytes(data: Any) -> bytes | str:
    """An ``audio_chunk`` payload -> its PCM bytes, or why it cannot be read."""
    if isinstance(data, dict):
        data = data.get("data", data.get("audio"))
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    if isinstance(data, str):
        try:
            return base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            return "data is neither binary nor base64"
    return "send the PCM frame as binary data or {data: <bytes or base64>}"


def _refusal(payload: dict[str, Any]) -> socketio.exceptions.ConnectionRefusedError:
    """A refused ``connect``: the client's ``connect_error`` gets ``{message, data}`` with
    ``data = {status, error, details}`` (Socket.IO's CONNECT_ERROR packet)."""
    return socketio.exceptions.ConnectionRefusedError(f"{payload['error']}: {payload['details']}", payload)


class _Sink:
    """Emits the stream's output to one Socket.IO connection."""

    def __init__(self, sio: socketio.AsyncServer, sid: str) -> None:
        self.sio = sio
        self.sid = sid
        self.session_id = ""

    async def processed_audio(self, sequence: int, audio: bytes) -> None:
        await self.sio.emit(
            "processed_audio",
            {
                "session_id": self.session_id,
                "sequence": sequence,
                "samples": len(audio) // 4,
                "format": "f32le",
                "channels": 1,
                "data": audio,
            },
            to=self.sid,
        )

    async def metrics_update(self, metrics: dict[str, Any]) -> None:
        await self.sio.emit("metrics_update", {"session_id": self.session_id, **metrics}, to=self.sid)

    async def error(self, error: str, details: str) -> None:
        # No extra event name (seed 004 speaks five): DSP errors are logged; chunk errors
        # go back in the audio_chunk acknowledgement.
        log.warning("anc.socketio_stream_error", session_id=self.session_id, error=error, details=details)


class SocketIoTransport:
    """The Socket.IO server (module docstring). ``asgi_app`` is mounted at ``/socket.io``.

    Args:
        open_stream: builds the caller's :class:`LiveStream` from a :class:`Handshake`.
    """

    def __init__(self, open_stream: OpenStream) -> None:
        self.open_stream = open_stream
        self.sio = socketio.AsyncServer(
            async_mode="asgi",
            cors_allowed_origins="*",
            max_http_buffer_size=MAX_MESSAGE_BYTES,
            logger=False,
            engineio_logger=False,
        )
        self.streams: dict[str, LiveStream] = {}
        self.asgi_app = socketio.ASGIApp(self.sio, socketio_path="")
        self.sio.on("connect", self._connect)
        self.sio.on("audio_chunk", self._audio_chunk)
        self.sio.on("disconnect", self._disconnect)

    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        sink = _Sink(self.sio, sid)
        try:
            stream = await self.open_stream(handshake(environ, auth), sink)
        except StreamRefused as exc:
            raise _refusal(exc.payload) from None
        except ApiError as exc:
            raise _refusal({"status": exc.status, "error": exc.error, "details": exc.details}) from None
        sink.session_id = stream.session_id
        self.streams[sid] = stream
        try:
            await stream.open()
        except SessionTaken:
            self.streams.pop(sid, None)
            raise _refusal(
                {"status": 409, "error": "Conflict", "details": "the session is already streaming or closed"}
            ) from None
        except Exception:
            self.streams.pop(sid, None)
            await stream.close()
            raise _refusal(
                {"status": 503, "error": "ANC service unavailable", "details": "the stream could not start"}
            ) from None

    async def _audio_chunk(self, sid: str, data: Any = None) -> dict[str, Any]:
        stream = self.streams.get(sid)
        if stream is None:
            return {"accepted": False, "error": "Not streaming", "details": "the connection has no session"}
        frame = chunk_bytes(data)
        problem = frame if isinstance(frame, str) else await stream.feed(frame)
        if problem:
            return {"accepted": False, "error": "Invalid audio_chunk", "details": problem}
        return {"accepted": True, "session_id": stream.session_id, "sequence": stream.sequence}

    async def _disconnect(self, sid: str, reason: Any = None) -> None:
        stream = self.streams.pop(sid, None)
        if stream is not None:
            await stream.close()

    async def close(self) -> None:
        """Close every stream (gateway stop): final metrics stored, sessions closed."""
        for sid in list(self.streams):
            stream = self.streams.pop(sid)
            try:
                await stream.close()
            finally:
                await self.sio.disconnect(sid)
