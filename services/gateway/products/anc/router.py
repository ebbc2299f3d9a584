"""Active noise cancellation (seed 004): the HTTP and WebSocket routes.

* ``POST /api/audio/process``: multipart with ``audio`` (a stereo file: channel 0 the
  primary/error microphone, channel 1 the reference; or a mono file with ``ale``) or
  ``primary`` + ``reference`` (two mono files, same rate and length); form fields
  ``algorithm``, ``taps``, ``mu``, ``block_size``, ``delay``, ``constrained``,
  ``classify``. Returns the processed WAV's object key and URL and the metrics.
  Recordings over ``MAX_PROCESS_S`` (60 s) become batch jobs over events: validated the
  same way without decoding them whole, stored under ``anc/inputs/<id>/``, a ``queued``
  session, ``AncProcessRequested`` published, **202** with the session id and status URL.
* ``POST /api/audio/stream``: opens a stream session; returns its id and WebSocket URL.
* ``WS /api/audio/stream/{id}/ws``: the live protocol of :mod:`.stream`.
* ``GET /api/audio/sessions``, ``GET /api/audio/sessions/{id}``, ``DELETE
  /api/audio/sessions/{id}``, ``GET /api/metrics/sessions/{id}``, ``GET /api/metrics/summary``,
  ``GET /api/status``, ``POST /api/ml/classify``, ``GET /api/ml/models``.

Access (docs/auth.md): everything under ``/api/audio/...`` and ``/api/metrics/...`` and the
stream WebSocket takes ``CurrentUser``; sessions belong to the user who created them and
another user's session answers 404. ``/api/status``, ``/api/ml/models`` and
``POST /api/ml/classify`` store nothing and stay open.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from fastapi import APIRouter, Request, Response, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from services.common import db
from services.gateway.deps import (
    ApiKeyOrUser,
    CurrentUser,
    Settings,
    Verifier,
    refuse_websocket,
    websocket_user,
)
from services.gateway.products.anc.inputs import (
    MAX_PROCESS_S,
    decode,
    decode_inputs,
    finite,
    is_long,
    receive,
)
from services.gateway.products.anc.models import AncSession
from services.gateway.products.anc.schemas import (
    BatchQueued,
    ClassifyForm,
    ClassifyResult,
    MetricsSummary,
    ModelList,
    OpenStreamBody,
    ProcessAudioForm,
    ProcessResult,
    SessionDetail,
    SessionList,
    SessionMetrics,
    StreamOpened,
    SystemStatus,
    classification_json,
    metric_json,
    params_dict,
    session_json,
    ws_url,
)
from services.gateway.products.anc.service import URL_EXPIRY, AncDep, AncProduct
from services.gateway.products.anc.stream import LiveStream, SessionTaken
from services.gateway.shared.errors import ApiError, ErrorBody
from services.gateway.shared.openapi import request_body
from services.gateway.shared.pagination import PageDep
from services.gateway.shared.timefmt import utc_timestamp
from services.gateway.shared.uploads import receive_audio

router = APIRouter()

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Invalid file, parameters, channels or lengths"},
    401: {"model": ErrorBody, "description": "Missing, invalid, expired or signed-out access token"},
    404: {"model": ErrorBody, "description": "No such session for this user"},
    413: {"model": ErrorBody, "description": "File over MAX_FILE_SIZE"},
}


async def _session(product: AncProduct, owner: str, session_id: str) -> AncSession:
    row = await product.repo.get(session_id, owner)
    if row is None:
        raise ApiError(404, "Not found", f"no session {session_id!r}")
    return row


PROCESS_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"model": BatchQueued, "description": "Over 60 s: a queued batch job"},
    **ERRORS,
}
PROCESS_ROUTE: dict[str, Any] = {
    "response_model": ProcessResult,
    "responses": PROCESS_RESPONSES,
    "openapi_extra": request_body(form=ProcessAudioForm),
}
STREAM_ROUTE: dict[str, Any] = {
    "status_code": 201,
    "response_model": StreamOpened,
    "responses": ERRORS,
    "openapi_extra": request_body(json=OpenStreamBody, required=False),
}
CLASSIFY_BODY = request_body(form=ClassifyForm)
SPARSE: dict[str, Any] = {"response_model_exclude_unset": True}
"""Keys that do not apply to a session (``websocket_url``, ``progress``, ``error``) are left out."""


# --- files -----------------------------------------------------------------------------------
@router.post("/api/audio/process", **PROCESS_ROUTE)
async def process_audio(
    request: Request, product: AncDep, settings: Settings, user: CurrentUser
) -> dict[str, Any] | JSONResponse:
    """Cancel the noise in a recording; store the result; return its URL and the metrics.

    Recordings over ``MAX_PROCESS_S`` become batch jobs: 202 with the session id and its
    status URL (``Location``)."""
    owner = user.id
    with product.runtime.temp_dir("anc-") as tmp:
        saved, values, classify = await receive(request, settings, tmp)
        if is_long(saved):
            body = await product.submit_batch(owner, saved, values, classify)
            status_url = str(request.url_for("get_session", session_id=body["session_id"]))
            return JSONResponse(
                status_code=202, content={**body, "status_url": status_url}, headers={"Location": status_url}
            )
        primary, reference, rate = await decode_inputs(saved)
    return await product.process_file(owner, primary, reference, rate, values, classify)


# --- streams ---------------------------------------------------------------------------------
STREAM_NUMBERS = ("sample_rate", "taps", "mu", "block_size", "delay")
"""The numeric fields of ``POST /api/audio/stream``, bounded by :class:`OpenStreamBody` (422);
the other parameters are checked by the anc service (400)."""


@router.post("/api/audio/stream", **STREAM_ROUTE)
async def open_stream(request: Request, product: AncDep, user: CurrentUser) -> dict[str, Any]:
    """Open a live session: JSON body (optional) with ``algorithm``, ``taps``, ``mu``,
    ``block_size``, ``delay``, ``constrained``, ``sample_rate``. Connect to the returned
    ``websocket_url`` within the session's life."""
    body: dict[str, Any] = {}
    raw = await request.body()
    if raw.strip():
        try:
            body = json.loads(raw)
        except ValueError:
            raise ApiError(400, "Malformed request", "the body must be a JSON object") from None
        if not isinstance(body, dict):
            raise ApiError(400, "Malformed request", "the body must be a JSON object")
    rate_raw = body.get("sample_rate", 0) or 0
    if isinstance(rate_raw, bool) or not isinstance(rate_raw, int | float) or rate_raw != int(rate_raw):
        raise ApiError(400, "Invalid parameter", f"sample_rate must be an integer (Hz), got {rate_raw!r}")
    try:  # bounds of every numeric field (no value may overflow a proto field): 422
        OpenStreamBody.model_validate({k: body[k] for k in STREAM_NUMBERS if k in body})
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False, include_context=False)) from None
    session_id, resolved = await product.open_stream(user.id, body, int(rate_raw))
    return {
        "session_id": session_id,
        "status": "open",
        "algorithm": resolved.params.algorithm,
        "params": params_dict(resolved.params),
        "sample_rate": resolved.sample_rate,
        "channels": resolved.channels,
        "format": "f32le",
        "websocket_url": ws_url(request, session_id),
        "timestamp": utc_timestamp(),
    }


@router.websocket("/api/audio/stream/{session_id}/ws")
async def stream_socket(ws: WebSocket, session_id: str, product: AncDep, tokens: Verifier) -> None:
    """Live ANC over a WebSocket (protocol in :mod:`services.gateway.products.anc.stream`).

    The handshake carries the owner's access token (``token`` query parameter, or
    ``Sec-WebSocket-Protocol: bearer, <token>``); it is refused before it is accepted when
    the token is missing or invalid (401), the session is not the caller's (404) or is not
    ``open`` (409)."""
    ok, user, subprotocol = await websocket_user(ws, tokens, required=True)
    if not ok or user is None:
        return
    row = await product.repo.get(session_id, user.id)
    if row is None or row.kind != "stream":
        await refuse_websocket(ws, ApiError(404, "Not found", f"no stream session {session_id!r}"))
        return
    if row.status != "open":
        await refuse_websocket(ws, ApiError(409, "Conflict", f"session is {row.status}"))
        return

    async def send_audio(sequence: int, pcm: bytes) -> None:
        # Announced as a processed_audio event, then the binary block (kept together by the core's lock).
        await ws.send_json(
            {
                "event": "processed_audio",
                "session_id": session_id,
                "sequence": sequence,
                "samples": len(pcm) // 4,
                "format": "f32le",
                "channels": 1,
            }
        )
        await ws.send_bytes(pcm)

    stream = LiveStream(row, product.repo, product.client.stream, ws.send_json, send_audio)
    try:
        await stream.claim()  # refused before the socket is accepted
    except SessionTaken:
        await refuse_websocket(ws, ApiError(409, "Conflict", "the session is already streaming or closed"))
        return
    await ws.accept(subprotocol=subprotocol)
    await stream.start()
    product.live.add(stream)
    client_gone = False
    try:
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                client_gone = True
                break
            if msg.get("bytes") is not None:
                await stream.feed(msg["bytes"])
                continue
            try:
                event = json.loads(msg.get("text") or "")
            except ValueError:
                await stream.error("Invalid message", "not JSON")
                continue
            if not await stream.feed_event(event):
                break
    except WebSocketDisconnect:
        client_gone = True
    finally:
        product.live.discard(stream)
        final = await stream.finish()
        if not client_gone:
            try:
                await stream.emit({"event": "disconnect", "session_id": session_id, "metrics": final})
                await ws.close()
            except Exception:  # the client may have gone meanwhile
                pass


# --- sessions and metrics --------------------------------------------------------------------
@router.get("/api/audio/sessions", response_model=SessionList, responses=ERRORS, **SPARSE)
async def list_sessions(
    request: Request, product: AncDep, page: PageDep, user: CurrentUser
) -> dict[str, Any]:
    """The caller's sessions, newest first."""
    rows, total = await product.repo.page(user.id, page.limit, page.offset)
    return {"sessions": [session_json(r, request) for r in rows], "total": total}


@router.get("/api/audio/sessions/{session_id}", response_model=SessionDetail, responses=ERRORS, **SPARSE)
async def get_session(
    request: Request, session_id: str, product: AncDep, user: CurrentUser
) -> dict[str, Any]:
    """One session with its latest metrics."""
    row = await _session(product, user.id, session_id)
    out = session_json(row, request)
    if row.output_key:
        out["output_url"] = await product.runtime.storage.presigned_get_url(row.output_key, URL_EXPIRY)
    records = await product.repo.metrics(session_id)
    out["metrics"] = metric_json(records[-1]) if records else None
    return out


@router.delete("/api/audio/sessions/{session_id}", status_code=204, response_class=Response, responses=ERRORS)
async def delete_session(session_id: str, product: AncDep, user: CurrentUser) -> Response:
    """Delete one of the caller's sessions: its metrics and its stored output. A live stream
    (``active``) answers 409 until it is closed; a queued batch job's late output is removed
    when it arrives."""
    row = await _session(product, user.id, session_id)
    if row.status == "active":
        raise ApiError(409, "Conflict", "the stream is live; disconnect it first")
    await product.delete_session(row)
    return Response(status_code=204)


@router.get("/api/metrics/sessions/{session_id}", response_model=SessionMetrics, responses=ERRORS)
async def session_metrics(session_id: str, product: AncDep, user: CurrentUser) -> dict[str, Any]:
    """Every metrics record of a session (live updates and the final one)."""
    row = await _session(product, user.id, session_id)
    records = await product.repo.metrics(session_id)
    return {
        "session_id": session_id,
        "status": row.status,
        "metrics": [metric_json(r) for r in records],
        "latest": metric_json(records[-1]) if records else None,
    }


@router.get("/api/metrics/summary", response_model=MetricsSummary, responses=ERRORS)
async def metrics_summary(product: AncDep, user: CurrentUser) -> dict[str, Any]:
    """Totals over the caller's sessions: counts, attenuation, audio processed, emergencies."""
    return await product.summary(user.id)


# --- status and ML ---------------------------------------------------------------------------
@router.get("/api/status", response_model=SystemStatus)
async def status(product: AncDep) -> dict[str, Any]:
    """System status: the anc service's health and defaults, the database, live streams."""
    checks: dict[str, str] = {}
    anc: dict[str, Any] = {}
    started = time.perf_counter()
    try:
        models = await product.client.list_models(timeout_s=5.0)
        checks["anc"] = "ok"
        anc = {
            "default_algorithm": models.default_algorithm,
            "algorithms": list(models.algorithms),
            "fft_backend": models.fft_backend,
            "latency_ms": round((time.perf_counter() - started) * 1000, 2),
        }
    except ApiError as exc:
        checks["anc"] = f"error: {exc}"[:200]
    active = 0
    try:
        await asyncio.wait_for(db.check(product.ctx.engine), 5)
        checks["database"] = "ok"
        active = await product.repo.active_streams()
    except Exception as exc:  # any failure means degraded
        checks["database"] = f"error: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    return {
        "status": "operational" if ok else "degraded",
        "checks": checks,
        "anc": anc,
        "active_streams": active,
        "timestamp": utc_timestamp(),
    }


@router.get("/api/ml/models", response_model=ModelList)
async def list_models(product: AncDep) -> dict[str, Any]:
    """The noise classifier and the adaptive filters, with their parameters."""
    reply = await product.client.list_models()
    return {
        "models": [
            {
                "name": m.name,
                "version": m.version,
                "type": m.kind,
                "classes": list(m.classes),
                "description": m.description,
                "parameters": dict(m.parameters),
            }
            for m in reply.models
        ],
        "default_algorithm": reply.default_algorithm,
        "fft_backend": reply.fft_backend,
    }


@router.post("/api/ml/classify", response_model=ClassifyResult, openapi_extra=CLASSIFY_BODY)
async def classify(
    request: Request, product: AncDep, settings: Settings, _caller: ApiKeyOrUser
) -> dict[str, Any]:
    """Classify the noise in a recording (multipart field ``audio``; stereo is mixed down)."""
    with product.runtime.temp_dir("anc-ml-") as tmp:
        received = await receive_audio(request, "audio", settings, tmp)
        if received.info.duration_s > MAX_PROCESS_S:
            raise ApiError(400, "Audio too long", f"classification takes at most {MAX_PROCESS_S:g} s")
        rate = received.info.sample_rate
        samples = finite((await decode(received.path, rate, "audio")).mean(axis=0), "audio")
    reply = await product.client.classify(samples.astype("<f4").tobytes(), rate)
    out = classification_json(reply.classification)
    out.update(model=reply.model, processing_ms=round(reply.processing_ms, 2), timestamp=utc_timestamp())
    return out
