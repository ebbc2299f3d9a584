"""Seed 004's live protocol as Socket.IO: python-socketio's ASGI server at ``/socket.io/``.

Seed 004's clients were written for Flask-SocketIO; they connect here unchanged and speak
exactly its events, over the same streaming core as the raw WebSocket
(:class:`~services.gateway.products.anc.stream.LiveStream`):

``connect``
    Socket.IO's handshake, authenticated: an access token in the ``auth`` payload
    (``{"token": ...}`` or ``{"access_token": ...}``), else an ``Authorization: Bearer`` header
    or a ``token`` query parameter of the handshake request. ``session_id`` (same places)
    names a stream session from ``POST /api/audio/stream`` that belongs to the caller and is
    still ``open``. A refused connection gets ``connect_error`` ``{message, data: {status,
    error, details}}``: 401 token missing, invalid or revoked; 400 no session named; 404 an
    unknown session or another user's; 409 a session already streamed; 503 not started.
``audio_chunk`` (client to server)
    One frame: raw bytes (a binary attachment) or ``{"data": <bytes | base64 str>}``; float32
    little-endian PCM, interleaved primary/reference (mono for ``ale``), at most 65536 samples
    per channel. Acknowledgement: ``{"accepted": true, "session_id", "sequence"}`` or
    ``{"accepted": false, "error", "details"}`` (the connection stays open).
``processed_audio`` (server to client)
    ``{"session_id", "sequence", "samples", "format": "f32le", "channels": 1, "data": <bytes>}``.
``metrics_update`` (server to client)
    ``{"session_id", "blocks", "samples", "attenuation_db", "recent_attenuation_db",
    "convergence_time_ms", "dsp_ms_mean", "dsp_ms_max", "resets", "noise_type",
    "confidence", "emergency"}`` every few blocks.
``disconnect``
    Either side; the gateway then stores the final metrics and closes the session.

The core's other JSON events have no Socket.IO name in seed 004: ``connect``'s description is
what ``POST /api/audio/stream`` already answered, chunk errors go back in the acknowledgement,
DSP errors are logged. Cross-origin browsers are accepted (``cors_allowed_origins="*"``):
connections are authenticated by their token, never by cookies, so another origin gains
nothing. The server reaches the gateway through the ASGI scope's ``app`` (its products and
token verifier), so nothing is global.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import socketio

from services.common.logging import get_logger
from services.gateway.products.anc.service import AncProduct
from services.gateway.products.anc.stream import LiveStream, SessionTaken
from services.gateway.shared.errors import ApiError
from services.gateway.shared.tokens import TokenVerifier

__all__ = ["SOCKETIO_PATH", "Handshake", "SocketIoTransport", "chunk_bytes", "handshake"]

log = get_logger("earshot.gateway.anc.socketio")

SOCKETIO_PATH = "/socket.io"
"""Where the Socket.IO server is mounted (python-socketio's default client path)."""

MAX_MESSAGE_BYTES = 4 * 1024 * 1024
"""Largest Socket.IO message accepted: a 65536-sample stereo float32 frame is 512 KiB (about
700 KiB as base64 in JSON)."""


@dataclass(frozen=True)
class Handshake:
    """What a client presented at ``connect``: its access token and the session it asks for."""

    token: str | None
    session_id: str | None


class Refused(Exception):
    """A connection that cannot stream; ``status`` follows HTTP (400, 401, 404, 409, 503)."""

    def __init__(self, status: int, error: str, details: str) -> None:
        super().__init__(details)
        self.payload = {"status": status, "error": error, "details": details}


def handshake(environ: dict[str, Any], auth: Any) -> Handshake:
    """Token and session id from the ``auth`` payload, else the headers, else the query string."""
    payload = auth if isinstance(auth, dict) else {}
    query = parse_qs(str(environ.get("QUERY_STRING", "")))
    token = payload.get("token") or payload.get("access_token")
    if not token:
        scheme, _, value = str(environ.get("HTTP_AUTHORIZATION", "")).partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            token = value.strip()
    if not token and query.get("token"):
        token = query["token"][0]
    session_id = payload.get("session_id") or next(iter(query.get("session_id", [])), None)
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
    """Socket.IO's CONNECT_ERROR: the client's ``connect_error`` gets ``{message, data}``."""
    return socketio.exceptions.ConnectionRefusedError(f"{payload['error']}: {payload['details']}", payload)


class SocketIoTransport:
    """The Socket.IO server (module docstring); :attr:`asgi_app` is mounted at ``/socket.io``."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncServer(
            async_mode="asgi",
            cors_allowed_origins="*",
            max_http_buffer_size=MAX_MESSAGE_BYTES,
            logger=False,
            engineio_logger=False,
        )
        self.streams: dict[str, tuple[AncProduct, LiveStream]] = {}
        self.asgi_app = socketio.ASGIApp(self.sio, socketio_path="")
        self.sio.on("connect", self._connect)
        self.sio.on("audio_chunk", self._audio_chunk)
        self.sio.on("disconnect", self._disconnect)

    async def _open(self, environ: dict[str, Any], auth: Any, sid: str) -> tuple[AncProduct, LiveStream]:
        app = environ["asgi.scope"]["app"]
        product: AncProduct | None = app.state.products.get(AncProduct.name)
        tokens: TokenVerifier | None = getattr(app.state, "tokens", None)
        if product is None or tokens is None:
            raise Refused(503, "Service unavailable", "the gateway is starting; try again shortly")
        hello = handshake(environ, auth)
        if not hello.token:
            raise Refused(401, "Unauthorized", "an access token is required (auth: {token: ...})")
        user = await tokens.verify(hello.token)
        if not hello.session_id:
            raise Refused(400, "Missing session", "name the session from POST /api/audio/stream (session_id)")
        row = await product.repo.get(hello.session_id, user.id)
        if row is None or row.kind != "stream":
            raise Refused(404, "Not found", "no such stream session")
        if row.status != "open":
            raise Refused(409, "Conflict", f"the session is {row.status}")

        async def send_json(event: dict[str, Any]) -> None:
            if event.get("event") == "metrics_update":
                data = {k: v for k, v in event.items() if k != "event"}
                await self.sio.emit("metrics_update", data, to=sid)
            elif event.get("event") == "error" and event.get("error") != "Invalid audio_chunk":
                log.warning("anc.socketio_stream_error", session_id=row.id, error=event.get("error"))

        async def send_audio(sequence: int, pcm: bytes) -> None:
            await self.sio.emit(
                "processed_audio",
                {
                    "session_id": row.id,
                    "sequence": sequence,
                    "samples": len(pcm) // 4,
                    "format": "f32le",
                    "channels": 1,
                    "data": pcm,
                },
                to=sid,
            )

        stream = LiveStream(row, product.repo, product.client.stream, send_json, send_audio)
        try:
            await stream.claim()
        except SessionTaken:
            raise Refused(409, "Conflict", "the session is already streaming or closed") from None
        return product, stream

    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        try:
            product, stream = await self._open(environ, auth, sid)
        except Refused as exc:
            raise _refusal(exc.payload) from None
        except ApiError as exc:  # the verifier's 401 (expired, revoked...) or a 503
            raise _refusal({"status": exc.status, "error": exc.error, "details": exc.details}) from None
        try:
            await stream.start()
        except Exception as exc:
            log.warning("anc.socketio_start_failed", session_id=stream.session_id, error=str(exc))
            raise _refusal(
                {"status": 503, "error": "ANC service unavailable", "details": "the stream could not start"}
            ) from None
        self.streams[sid] = (product, stream)
        product.live.add(stream)

    async def _audio_chunk(self, sid: str, data: Any = None) -> dict[str, Any]:
        entry = self.streams.get(sid)
        if entry is None:
            return {"accepted": False, "error": "Not streaming", "details": "the connection has no session"}
        stream = entry[1]
        frame = chunk_bytes(data)
        problem = frame if isinstance(frame, str) else await stream.feed(frame)
        if problem:
            return {"accepted": False, "error": "Invalid audio_chunk", "details": problem}
        return {"accepted": True, "session_id": stream.session_id, "sequence": stream.sequence}

    async def _disconnect(self, sid: str, reason: Any = None) -> None:
        entry = self.streams.pop(sid, None)
        if entry is not None:
            product, stream = entry
            product.live.discard(stream)
            await stream.finish()


def socketio_app() -> Any:
    """A new Socket.IO server's ASGI application (mounted by ``app.py`` at :data:`SOCKETIO_PATH`)."""
    return SocketIoTransport().asgi_app
