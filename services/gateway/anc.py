"""Active noise cancellation (seed 004): files, live streams, classification, metrics.

Routes (all JSON errors are ``{error, details, timestamp}``):

* ``POST /api/audio/process``: multipart with ``audio`` (a stereo file: channel 0 the
  primary/error microphone, channel 1 the reference; or a mono file with ``ale``) or
  ``primary`` + ``reference`` (two mono files, same rate and length); form fields
  ``algorithm``, ``taps``, ``mu``, ``block_size``, ``delay``, ``constrained``,
  ``classify``. Returns the processed WAV's object key and URL and the metrics.
  Recordings over ``MAX_PROCESS_S`` (60 s) become batch jobs over events: validated the
  same way without decoding them whole, stored under ``anc/inputs/<id>/``, a ``queued``
  session, ``AncProcessRequested`` published, **202** with the session id and status URL;
  :class:`BatchResults` (group ``gateway-anc`` on ``earshot.anc.events``) records progress,
  completion (output key, final metrics) or failure (code, reason) on the session.
* ``POST /api/audio/stream``: opens a stream session; returns its id and WebSocket URL.
* ``WS /api/audio/stream/{id}/ws``: events ``connect``, ``audio_chunk`` (binary frames:
  float32 little-endian PCM, interleaved primary/reference), ``processed_audio``
  (binary frames, mono float32), ``metrics_update`` (JSON), ``error`` (JSON; the socket
  stays open) and ``disconnect``.
* ``GET /api/audio/sessions``, ``GET /api/audio/sessions/{id}``,
  ``GET /api/metrics/sessions/{id}``, ``GET /api/metrics/summary``, ``GET /api/status``,
  ``POST /api/ml/classify``, ``GET /api/ml/models``.

The DSP and the classifier run in the anc service, reached over gRPC
(``earshot.anc.v1.AncService``). The gateway decodes and validates uploads first
(channel counts, sample rates, lengths, NaN/Inf samples, parameters through
``ResolveParams``), so bad input is rejected before anything is stored; sessions and
metrics rows are written only after the work succeeded (batch jobs: the session is
written when the job is queued, its metrics when it completes). Every session has an ``owner``
column; until requests carry an authenticated user it is ``"anonymous"``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import math
import time
import uuid
import wave
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from earshot.anc.v1 import anc_pb2, anc_pb2_grpc
from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from sqlalchemy import func, select
from starlette.datastructures import UploadFile

from services.common import audio, db, rpc
from services.common.bus import Subscription
from services.common.events import (
    ANC_EVENTS,
    ANC_REQUESTS,
    AncProcessCompleted,
    AncProcessFailed,
    AncProcessRequested,
    AncProgress,
    Envelope,
)
from services.common.logging import get_logger
from services.gateway.access import ApiKeyOrUser
from services.gateway.anc_live import LiveStream, SessionTaken, StreamSink
from services.gateway.anc_socketio import Handshake, SocketIoTransport, StreamRefused
from services.gateway.auth import auth_gate
from services.gateway.errors import ApiError, utc_timestamp
from services.gateway.models import ANC_OWNER_ANONYMOUS, AncMetric, AncSession
from services.gateway.uploads import copy_upload, read_multipart, too_large_error

log = get_logger("earshot.gateway.anc")

router = APIRouter(tags=["active noise cancellation"])

MAX_PROCESS_S = 60.0
"""Longest recording ``POST /api/audio/process`` processes synchronously (s); longer files
would exceed the gRPC message limit as float32 (the anc service enforces the same limit), so
they become batch jobs over events (202)."""

MAX_BATCH_S = 4 * 3600.0
"""Longest recording a batch job takes (s)."""

INPUT_PREFIX = "anc/inputs"
BATCH_GROUP = "gateway-anc"
"""Consumer group of the gateway on ``earshot.anc.events`` (one member handles each event)."""

PARAM_FIELDS = ("algorithm", "taps", "mu", "block_size", "delay", "constrained")
OUTPUT_PREFIX = "anc/outputs"
URL_EXPIRY = timedelta(hours=1)

_channels: dict[str, grpc.aio.Channel] = {}


def _stub(request: Request | WebSocket) -> anc_pb2_grpc.AncServiceStub:
    rt = request.app.state.gateway.runtime
    try:
        target = rt.grpc_target("anc")
    except LookupError as exc:
        raise ApiError(503, "ANC service unavailable", str(exc)) from None
    ch = _channels.get(target)
    if ch is None:
        ch = _channels[target] = rpc.channel(target)
    return anc_pb2_grpc.AncServiceStub(ch)


def owner_of(request: Request | WebSocket) -> str:
    """The requesting user's id; ``"anonymous"`` until the auth issue sets ``request.state.user_id``."""
    return str(getattr(request.state, "user_id", None) or ANC_OWNER_ANONYMOUS)


def _rpc_error(exc: grpc.aio.AioRpcError, what: str) -> ApiError:
    if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
        return ApiError(400, f"Invalid {what}", exc.details() or "rejected by the anc service")
    if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return ApiError(503, "ANC service unavailable", exc.details() or exc.code().name)
    return ApiError(502, "ANC service error", f"{exc.code().name}: {exc.details()}")


def _deadline(request: Request | WebSocket) -> float:
    return float(request.app.state.gateway.runtime.settings.grpc_deadline_s)


def _sessions(request: Request | WebSocket) -> Any:
    return _factory(request.app.state.gateway)


def _factory(gw: Any) -> Any:
    factory = getattr(gw, "_anc_sessions", None)
    if factory is None:
        factory = gw._anc_sessions = db.session_factory(gw._engine)
    return factory


# --- parameters ------------------------------------------------------------------------------


def _form_params(values: dict[str, Any]) -> anc_pb2.FilterParams:
    """Parse filter parameters from form / JSON values (types only; ranges are the anc
    service's, through ``ResolveParams``).

    Raises:
        ApiError: 400 for a value that is not a number / boolean, or non-finite.
    """

    def number(name: str, integer: bool) -> Any:
        raw = values.get(name)
        if raw is None or raw == "":
            return 0
        if isinstance(raw, bool):
            raise ApiError(400, "Invalid parameter", f"{name} must be a number, got {raw!r}")
        try:
            v = float(raw)
        except (TypeError, ValueError):
            raise ApiError(400, "Invalid parameter", f"{name} must be a number, got {raw!r}") from None
        if not math.isfinite(v):
            raise ApiError(400, "Invalid parameter", f"{name} must be finite, got {raw!r}")
        if integer:
            if v != int(v):
                raise ApiError(400, "Invalid parameter", f"{name} must be an integer, got {raw!r}")
            if not -(2**31) < v < 2**31:
                raise ApiError(400, "Invalid parameter", f"{name} is out of range: {raw!r}")
            if v <= 0:
                raise ApiError(400, "Invalid parameter", f"{name} must be positive, got {raw!r}")
            return int(v)
        if v <= 0:
            raise ApiError(400, "Invalid parameter", f"{name} must be positive, got {raw!r}")
        return v

    constrained = values.get("constrained")
    if constrained in (None, ""):
        unconstrained = False
    elif isinstance(constrained, bool):
        unconstrained = not constrained
    elif str(constrained).lower() in ("true", "1", "yes"):
        unconstrained = False
    elif str(constrained).lower() in ("false", "0", "no"):
        unconstrained = True
    else:
        raise ApiError(400, "Invalid parameter", f"constrained must be true or false, got {constrained!r}")
    algorithm = values.get("algorithm") or ""
    if not isinstance(algorithm, str):
        raise ApiError(400, "Invalid parameter", f"algorithm must be a string, got {algorithm!r}")
    return anc_pb2.FilterParams(
        algorithm=algorithm.strip().lower(),
        taps=number("taps", True),
        mu=number("mu", False),
        block_size=number("block_size", True),
        delay=number("delay", True),
        unconstrained=unconstrained,
    )


async def _resolve(
    request: Request | WebSocket, params: anc_pb2.FilterParams, rate: int
) -> anc_pb2.ResolveParamsResponse:
    try:
        reply: anc_pb2.ResolveParamsResponse = await _stub(request).ResolveParams(
            anc_pb2.ResolveParamsRequest(params=params, sample_rate=rate),
            timeout=_deadline(request),
            metadata=rpc.call_metadata(),
        )
    except grpc.aio.AioRpcError as exc:
        raise _rpc_error(exc, "parameters") from None
    return reply


def params_dict(p: anc_pb2.FilterParams) -> dict[str, Any]:
    """Resolved protobuf parameters -> the JSON the API returns."""
    out: dict[str, Any] = {"taps": p.taps, "mu": p.mu}
    if p.algorithm == "fdaf":
        out.update(block_size=p.block_size, constrained=not p.unconstrained)
    if p.algorithm == "ale":
        out["delay"] = p.delay
    return out


# --- uploads ---------------------------------------------------------------------------------


async def _save(upload: Any, name: str, tmp: Path, request: Request) -> tuple[Path, audio.AudioInfo]:
    settings = request.app.state.gateway.runtime.settings
    allowed = settings.allowed_extensions
    filename = upload.filename or ""
    ext = filename.rsplit(".", 1)[1].lower() if "." in filename else ""
    if ext not in allowed:
        raise ApiError(400, "Invalid file format", f"{name}: supported formats: {', '.join(allowed)}")
    path = tmp / f"{name}.{ext}"
    size = await asyncio.to_thread(copy_upload, upload, path, settings.max_file_size_bytes)
    if size < 0:
        raise too_large_error(settings)
    if size == 0:
        raise ApiError(400, "Empty file", f"{name}: the uploaded file has no content")
    try:
        info = await asyncio.to_thread(audio.probe, path)
    except audio.EmptyAudio as exc:
        raise ApiError(400, "Empty audio", f"{name}: {exc.details}") from None
    except audio.CorruptAudio as exc:
        raise ApiError(400, "Corrupt audio", f"{name}: {exc.details}") from None
    except audio.AudioError as exc:
        raise ApiError(400, "Invalid file format", f"{name}: {exc.details}") from None
    if info.duration_s > MAX_BATCH_S:
        raise ApiError(
            400,
            "Audio too long",
            f"{name} lasts {info.duration_s:.1f} s; /api/audio/process takes at most {MAX_BATCH_S:g} s",
        )
    return path, info


def _float_wav_is_finite(path: Path) -> bool:
    """For IEEE-float WAV files, check the raw samples: decoding clips Inf to full scale, so
    NaN/Inf must be caught before it. Other files hold integers and are always finite."""
    import struct

    with path.open("rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
            return True
        dtype = None
        while True:
            hdr = f.read(8)
            if len(hdr) < 8:
                return True
            cid, size = hdr[:4], struct.unpack("<I", hdr[4:])[0]
            if cid == b"fmt ":
                fmt = f.read(size)
                tag, _, _, _, _, bits = struct.unpack("<HHIIHH", fmt[:16])
                if tag == 0xFFFE and len(fmt) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the sub-format's first 2 bytes
                    tag = struct.unpack("<H", fmt[24:26])[0]
                if tag != 3:
                    return True
                dtype = "<f4" if bits == 32 else "<f8"
                if size % 2:
                    f.read(1)
            elif cid == b"data" and dtype is not None:
                step = 1 << 20
                while chunk := f.read(step):
                    usable = len(chunk) - len(chunk) % np.dtype(dtype).itemsize
                    if not np.isfinite(np.frombuffer(chunk[:usable], dtype=dtype)).all():
                        return False
                return True
            else:
                f.seek(size + (size % 2), 1)


def _finite(samples: np.ndarray, name: str) -> np.ndarray:
    if not np.isfinite(samples).all():
        raise ApiError(400, "Invalid audio", f"{name} contains NaN or Inf samples")
    return samples


Saved = list[tuple[str, Path, audio.AudioInfo]]


async def _read_inputs(
    request: Request, tmp: Path
) -> tuple[np.ndarray, np.ndarray | None, int, dict[str, Any], bool]:
    """Parse the multipart body: ``(primary, reference or None, rate, params, classify)``."""
    saved, values, classify = await _receive(request, tmp)
    primary, reference, rate = await _decode_inputs(saved)
    return primary, reference, rate, values, classify


def _is_long(saved: Saved) -> bool:
    return max(info.duration_s for _, _, info in saved) > MAX_PROCESS_S


async def _receive(request: Request, tmp: Path) -> tuple[Saved, dict[str, Any], bool]:
    """Parse the multipart body and save/probe the files: ``(saved files, params, classify)``."""
    settings = request.app.state.gateway.runtime.settings
    form = await read_multipart(
        request,
        settings,
        "send multipart/form-data with 'audio' (stereo, or mono with ale) or 'primary' + 'reference'",
    )
    try:
        values = {k: form.get(k) for k in PARAM_FIELDS if isinstance(form.get(k), str)}
        classify = str(form.get("classify") or "").lower() in ("1", "true", "yes")
        files = {k: v for k, v in form.multi_items() if isinstance(v, UploadFile)}
        if "audio" in files and ("primary" in files or "reference" in files):
            raise ApiError(400, "Ambiguous input", "send either 'audio' or 'primary' + 'reference', not both")
        if "audio" in files:
            path, info = await _save(files["audio"], "audio", tmp, request)
            saved = [("audio", path, info)]
        elif "primary" in files and "reference" in files:
            saved = [
                ("primary", *(await _save(files["primary"], "primary", tmp, request))),
                ("reference", *(await _save(files["reference"], "reference", tmp, request))),
            ]
        elif "primary" in files:
            raise ApiError(400, "Missing reference", "'primary' needs a 'reference' file of the same length")
        else:
            got = ", ".join(sorted(form.keys())) or "none"
            raise ApiError(
                400,
                "No audio file provided",
                f"expected 'audio' or 'primary' + 'reference' files (fields received: {got})",
            )
    finally:
        await form.close()
    return saved, values, classify


async def _decode_inputs(saved: Saved) -> tuple[np.ndarray, np.ndarray | None, int]:
    """Check channel counts, rates, NaN/Inf and lengths while decoding: ``(primary, reference, rate)``."""
    if len(saved) == 1:
        _, path, info = saved[0]
        if info.channels not in (1, 2):
            raise ApiError(
                400,
                "Wrong channel count",
                f"audio has {info.channels} channels; send stereo (0: primary, 1: reference) "
                "or mono with ale",
            )
        data = await _decode(path, info.sample_rate, "audio")
        primary = _finite(data[0], "audio")
        reference = _finite(data[1], "audio") if data.shape[0] == 2 else None
        rate = info.sample_rate
    else:
        (_, p_path, p_info), (_, r_path, r_info) = saved
        for name, inf in (("primary", p_info), ("reference", r_info)):
            if inf.channels != 1:
                raise ApiError(
                    400, "Wrong channel count", f"{name} has {inf.channels} channels; send mono files"
                )
        if p_info.sample_rate != r_info.sample_rate:
            raise ApiError(
                400,
                "Sample rates differ",
                f"primary is {p_info.sample_rate} Hz but reference is {r_info.sample_rate} Hz",
            )
        rate = p_info.sample_rate
        primary = _finite((await _decode(p_path, rate, "primary"))[0], "primary")
        reference = _finite((await _decode(r_path, rate, "reference"))[0], "reference")
        if primary.shape != reference.shape:
            raise ApiError(
                400,
                "Lengths differ",
                f"primary has {primary.size} samples but reference has {reference.size}",
            )
    return primary, reference, rate


async def _check_long_inputs(saved: Saved) -> tuple[int, int]:
    """The checks of :func:`_decode_inputs` without decoding (flat memory for long files):
    channel counts, rates, NaN/Inf in float WAVs, lengths from the verified probe.
    Returns ``(rate, samples per channel)``."""
    if len(saved) == 1:
        _, path, info = saved[0]
        if info.channels not in (1, 2):
            raise ApiError(
                400,
                "Wrong channel count",
                f"audio has {info.channels} channels; send stereo (0: primary, 1: reference) "
                "or mono with ale",
            )
        if not await asyncio.to_thread(_float_wav_is_finite, path):
            raise ApiError(400, "Invalid audio", "audio contains NaN or Inf samples")
        return info.sample_rate, round(info.duration_s * info.sample_rate)
    (_, p_path, p_info), (_, r_path, r_info) = saved
    for name, inf in (("primary", p_info), ("reference", r_info)):
        if inf.channels != 1:
            raise ApiError(400, "Wrong channel count", f"{name} has {inf.channels} channels; send mono files")
    if p_info.sample_rate != r_info.sample_rate:
        raise ApiError(
            400,
            "Sample rates differ",
            f"primary is {p_info.sample_rate} Hz but reference is {r_info.sample_rate} Hz",
        )
    rate = p_info.sample_rate
    for name, path in (("primary", p_path), ("reference", r_path)):
        if not await asyncio.to_thread(_float_wav_is_finite, path):
            raise ApiError(400, "Invalid audio", f"{name} contains NaN or Inf samples")
    p_n, r_n = round(p_info.duration_s * rate), round(r_info.duration_s * rate)
    if p_n != r_n:
        raise ApiError(400, "Lengths differ", f"primary has {p_n} samples but reference has {r_n}")
    return rate, p_n


async def _decode(path: Path, rate: int, name: str) -> np.ndarray:
    if not await asyncio.to_thread(_float_wav_is_finite, path):
        raise ApiError(400, "Invalid audio", f"{name} contains NaN or Inf samples")
    try:
        data = await asyncio.to_thread(audio.decode, path, rate, False)
    except audio.AudioError as exc:
        raise ApiError(400, "Corrupt audio", f"{name}: {exc.details}") from None
    return np.atleast_2d(np.asarray(data, dtype=np.float32))


def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    """Mono 16-bit PCM WAV of float samples in [-1, 1]."""
    pcm = np.round(np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def _classification(c: anc_pb2.Classification) -> dict[str, Any]:
    return {
        "noise_type": c.label,
        "confidence": round(c.confidence, 4),
        "top_class": c.top_class,
        "probabilities": dict(sorted(c.probabilities.items(), key=lambda kv: -kv[1])),
        "emergency": c.emergency,
        "windows": c.windows,
    }


def _metrics(m: anc_pb2.Metrics) -> dict[str, Any]:
    return {
        "attenuation_db": round(m.attenuation_db, 2),
        "steady_state_attenuation_db": round(m.steady_state_attenuation_db, 2),
        "octave_bands_db": {b.centre_hz: round(b.attenuation_db, 2) for b in m.octave_bands},
        "convergence_time_ms": None if m.convergence_time_ms < 0 else round(m.convergence_time_ms, 2),
        "input_rms_dbfs": round(m.input_rms_db, 2),
        "output_rms_dbfs": round(m.output_rms_db, 2),
        "processing_ms": round(m.processing_ms, 3),
        "realtime_factor": round(m.realtime_factor, 2),
        "resets": m.resets,
        "samples": m.samples,
    }


# --- files -----------------------------------------------------------------------------------


@router.post("/api/audio/process", response_model=None)
async def process_audio(request: Request) -> dict[str, Any] | JSONResponse:
    """Cancel the noise in a recording; store the result; return its URL and the metrics.

    Recordings over ``MAX_PROCESS_S`` become batch jobs: 202 with the session id and its
    status URL (see :func:`_submit_batch`)."""
    gw = request.app.state.gateway
    rt = gw.runtime
    with rt.temp_dir("anc-") as tmp:
        saved, values, classify = await _receive(request, tmp)
        if _is_long(saved):
            return await _submit_batch(request, saved, values, classify)
        primary, reference, rate = await _decode_inputs(saved)
    params = _form_params(values)
    resolved = await _resolve(request, params, rate)
    _check_channels(resolved, reference is not None)
    try:
        reply: anc_pb2.ProcessResponse = await _stub(request).Process(
            anc_pb2.ProcessRequest(
                primary=primary.astype("<f4").tobytes(),
                reference=b"" if reference is None else reference.astype("<f4").tobytes(),
                sample_rate=rate,
                params=resolved.params,
                classify=classify,
            ),
            timeout=max(_deadline(request), 120.0),
            metadata=rpc.call_metadata(),
        )
    except grpc.aio.AioRpcError as exc:
        raise _rpc_error(exc, "audio") from None
    output = np.frombuffer(reply.output, dtype="<f4")
    session_id = str(uuid.uuid4())
    key = f"{OUTPUT_PREFIX}/{session_id}.wav"
    metrics = _metrics(reply.metrics)
    classification = _classification(reply.classification) if reply.HasField("classification") else None
    await rt.storage.put(key, wav_bytes(output, rate), "audio/wav")
    try:
        async with _sessions(request)() as s, s.begin():
            s.add(
                AncSession(
                    id=session_id,
                    owner=owner_of(request),
                    kind="file",
                    status="completed",
                    algorithm=reply.algorithm,
                    params=params_dict(reply.params),
                    sample_rate=rate,
                    samples=int(output.size),
                    output_key=key,
                    noise_class=classification["noise_type"] if classification else None,
                    emergency=bool(classification and classification["emergency"]),
                    ended_at=db.utcnow(),
                )
            )
            await s.flush()
            s.add(_metric_row(session_id, "final", metrics, classification))
    except Exception:
        await rt.storage.delete(key)  # nothing stored half way
        raise
    url = await rt.storage.presigned_get_url(key, URL_EXPIRY)
    return {
        "session_id": session_id,
        "status": "completed",
        "algorithm": reply.algorithm,
        "params": params_dict(reply.params),
        "sample_rate": rate,
        "duration_s": round(output.size / rate, 3),
        "output": {"key": key, "url": url, "format": "wav", "channels": 1},
        "metrics": metrics,
        "classification": classification,
        "timestamp": utc_timestamp(),
    }


def _check_channels(resolved: anc_pb2.ResolveParamsResponse, has_reference: bool) -> None:
    if resolved.channels == 2 and not has_reference:
        raise ApiError(
            400,
            "Wrong channel count",
            f"{resolved.params.algorithm} needs two channels: a stereo file (0: primary, 1: reference) "
            "or 'primary' + 'reference' files",
        )
    if resolved.channels == 1 and has_reference:
        raise ApiError(400, "Wrong channel count", "ale works on one channel; send a mono file")


# --- batch jobs (long files) -----------------------------------------------------------------


async def _submit_batch(
    request: Request, saved: Saved, values: dict[str, Any], classify: bool
) -> JSONResponse:
    """Validate a long recording like a short one (without decoding it whole), store it,
    record a ``queued`` session and publish ``AncProcessRequested``; answer 202."""
    gw = request.app.state.gateway
    rt = gw.runtime
    rate, samples = await _check_long_inputs(saved)
    params = _form_params(values)
    resolved = await _resolve(request, params, rate)
    has_reference = len(saved) == 2 or saved[0][2].channels == 2
    _check_channels(resolved, has_reference)
    session_id = str(uuid.uuid4())
    keys = {name: f"{INPUT_PREFIX}/{session_id}/{name}{path.suffix}" for name, path, _ in saved}
    output_key = f"{OUTPUT_PREFIX}/{session_id}.wav"
    p = resolved.params
    stored: list[str] = []
    recorded = False
    try:
        for name, path, _ in saved:
            await rt.storage.put_file(keys[name], path, "application/octet-stream")
            stored.append(keys[name])
        async with _sessions(request)() as s, s.begin():
            s.add(
                AncSession(
                    id=session_id,
                    owner=owner_of(request),
                    kind="file",
                    status="queued",
                    algorithm=p.algorithm,
                    params=params_dict(p),
                    sample_rate=rate,
                    samples=samples,
                    progress=0.0,
                )
            )
        recorded = True
        await gw.publish(
            AncProcessRequested(
                job_id=session_id,
                primary_key=keys.get("audio") or keys["primary"],
                reference_key=keys.get("reference"),
                output_key=output_key,
                sample_rate=rate,
                params={
                    "algorithm": p.algorithm,
                    "taps": p.taps,
                    "mu": p.mu,
                    "block_size": p.block_size,
                    "delay": p.delay,
                    "unconstrained": p.unconstrained,
                },
                classify=classify,
            )
        )
    except BaseException:
        for key in stored:  # nothing stored half way
            await rt.storage.delete(key)
        if recorded:
            async with _sessions(request)() as s, s.begin():
                row = await s.get(AncSession, session_id)
                if row is not None:
                    await s.delete(row)
        raise
    log.info("anc.batch_submitted", session_id=session_id, samples=samples, algorithm=p.algorithm)
    status_url = str(request.url_for("get_session", session_id=session_id))
    return JSONResponse(
        status_code=202,
        content={
            "session_id": session_id,
            "job_id": session_id,
            "status": "queued",
            "status_url": status_url,
            "algorithm": p.algorithm,
            "params": params_dict(p),
            "sample_rate": rate,
            "duration_s": round(samples / rate, 3),
            "timestamp": utc_timestamp(),
        },
        headers={"Location": status_url},
    )


class BatchResults:
    """The gateway's side of ANC batch jobs: consumer group ``gateway-anc`` on
    ``earshot.anc.events`` updates the sessions (progress, completion with the output key
    and the final metrics, failure with its reason) and deletes the job's input objects."""

    def __init__(self, gateway: Any) -> None:
        self.gateway = gateway
        self._sub: Subscription | None = None

    async def start(self, runtime: Any) -> None:
        """Join the consumer group."""
        await runtime.bus.ensure_topics([ANC_REQUESTS, ANC_EVENTS])
        self._sub = await runtime.bus.subscribe([ANC_EVENTS], BATCH_GROUP, self.handle)

    async def stop(self) -> None:
        """Leave the consumer group."""
        if self._sub is not None:
            await self._sub.close()
            self._sub = None

    async def handle(self, envelope: Envelope) -> None:
        """Apply one event of ``earshot.anc.events`` to its session."""
        factory = _factory(self.gateway)
        storage = self.gateway.runtime.storage
        if envelope.type == AncProgress.event_type:
            prog = envelope.payload(AncProgress)
            async with factory() as s, s.begin():
                row = await s.get(AncSession, prog.job_id)
                if row is not None and row.status in ("queued", "processing"):
                    row.status = "processing"
                    row.progress = max(row.progress or 0.0, prog.percent)
            return
        if envelope.type == AncProcessCompleted.event_type:
            done = envelope.payload(AncProcessCompleted)
            async with factory() as s, s.begin():
                row = await s.get(AncSession, done.job_id)
                if row is None:  # nobody wants it any more
                    await storage.delete(done.output_key)
                    await storage.delete(done.output_key.rsplit(".", 1)[0] + ".json")
                elif row.status in ("queued", "processing"):
                    c = done.classification
                    row.status = "completed"
                    row.progress = 100.0
                    row.output_key = done.output_key
                    row.samples = done.samples
                    row.noise_class = c["noise_type"] if c else None
                    row.emergency = bool(c and c.get("emergency"))
                    row.ended_at = db.utcnow()
                    s.add(_metric_row(done.job_id, "final", done.metrics, c))
            await self._delete_inputs(done.job_id)
            return
        if envelope.type == AncProcessFailed.event_type:
            failed = envelope.payload(AncProcessFailed)
            async with factory() as s, s.begin():
                row = await s.get(AncSession, failed.job_id)
                if row is not None and row.status in ("queued", "processing"):
                    row.status = "failed"
                    row.error = failed.error[:64]
                    row.error_details = failed.details[:500]
                    row.ended_at = db.utcnow()
            await self._delete_inputs(failed.job_id)

    async def _delete_inputs(self, job_id: str) -> None:
        storage = self.gateway.runtime.storage
        for info in await storage.list(f"{INPUT_PREFIX}/{job_id}/"):
            await storage.delete(info.key)


def install(gateway: Any) -> BatchResults:
    """Attach the ANC batch-result consumer to a gateway (start/stop hooks)."""
    consumer = BatchResults(gateway)
    gateway.start_hooks.append(consumer.start)
    gateway.stop_hooks.append(consumer.stop)
    return consumer


def _metric_row(
    session_id: str, kind: str, m: dict[str, Any], classification: dict[str, Any] | None
) -> AncMetric:
    return AncMetric(
        session_id=session_id,
        kind=kind,
        attenuation_db=float(m["attenuation_db"]),
        steady_state_attenuation_db=m.get("steady_state_attenuation_db"),
        convergence_time_ms=m.get("convergence_time_ms"),
        octave_bands=m.get("octave_bands_db") or {},
        samples=int(m.get("samples") or 0),
        dsp_ms_mean=m.get("dsp_ms_mean", m.get("processing_ms")),
        noise_class=classification["noise_type"] if classification else None,
        confidence=classification["confidence"] if classification else None,
        emergency=bool(classification and classification["emergency"]),
    )


# --- sessions --------------------------------------------------------------------------------


def session_json(row: AncSession, request: Request | WebSocket) -> dict[str, Any]:
    """One session as the API shows it."""
    out = {
        "session_id": row.id,
        "kind": row.kind,
        "status": row.status,
        "algorithm": row.algorithm,
        "params": row.params,
        "sample_rate": row.sample_rate,
        "samples": row.samples,
        "duration_s": round(row.samples / row.sample_rate, 3) if row.sample_rate else 0.0,
        "output_key": row.output_key,
        "noise_type": row.noise_class,
        "emergency": row.emergency,
        "created_at": _iso(row.created_at),
        "ended_at": _iso(row.ended_at),
    }
    if row.kind == "stream":
        out["websocket_url"] = _ws_url(request, row.id)
    if row.progress is not None:  # a batch job
        out["progress"] = round(row.progress, 1)
    if row.error:
        out["error"] = {"code": row.error, "details": row.error_details}
    return out


def _iso(value: Any) -> str | None:
    return None if value is None else value.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _ws_url(request: Request | WebSocket, session_id: str) -> str:
    base = str(request.base_url).rstrip("/")
    scheme = "wss" if base.startswith("https") else "ws"
    return f"{scheme}://{base.split('://', 1)[1]}/api/audio/stream/{session_id}/ws"


async def _get_session(request: Request | WebSocket, session_id: str) -> AncSession | None:
    async with _sessions(request)() as s:
        row = await s.get(AncSession, session_id)
    if row is None or row.owner != owner_of(request):
        return None
    return row


@router.post("/api/audio/stream", status_code=201)
async def open_stream(request: Request) -> dict[str, Any]:
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
    params = _form_params(body)
    resolved = await _resolve(request, params, int(rate_raw))
    session_id = str(uuid.uuid4())
    async with _sessions(request)() as s, s.begin():
        row = AncSession(
            id=session_id,
            owner=owner_of(request),
            kind="stream",
            status="open",
            algorithm=resolved.params.algorithm,
            params=params_dict(resolved.params),
            sample_rate=resolved.sample_rate,
            samples=0,
        )
        s.add(row)
    return {
        "session_id": session_id,
        "status": "open",
        "algorithm": resolved.params.algorithm,
        "params": params_dict(resolved.params),
        "sample_rate": resolved.sample_rate,
        "channels": resolved.channels,
        "format": "f32le",
        "websocket_url": _ws_url(request, session_id),
        "timestamp": utc_timestamp(),
    }


@router.get("/api/audio/sessions")
async def list_sessions(request: Request, limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """The caller's sessions, newest first."""
    if not 1 <= limit <= 500 or offset < 0:
        raise ApiError(400, "Invalid parameter", "limit must be 1..500 and offset >= 0")
    owner = owner_of(request)
    async with _sessions(request)() as s:
        total = await s.scalar(select(func.count()).select_from(AncSession).where(AncSession.owner == owner))
        rows = (
            await s.scalars(
                select(AncSession)
                .where(AncSession.owner == owner)
                .order_by(AncSession.created_at.desc(), AncSession.id)
                .limit(limit)
                .offset(offset)
            )
        ).all()
    return {"sessions": [session_json(r, request) for r in rows], "total": int(total or 0)}


@router.get("/api/audio/sessions/{session_id}")
async def get_session(request: Request, session_id: str) -> dict[str, Any]:
    """One session with its latest metrics."""
    row = await _get_session(request, session_id)
    if row is None:
        raise ApiError(404, "Not found", f"no session {session_id!r}")
    out = session_json(row, request)
    if row.output_key:
        out["output_url"] = await request.app.state.gateway.runtime.storage.presigned_get_url(
            row.output_key, URL_EXPIRY
        )
    records = await _metric_rows(request, session_id)
    out["metrics"] = _metric_json(records[-1]) if records else None
    return out


async def _metric_rows(request: Request | WebSocket, session_id: str) -> list[AncMetric]:
    async with _sessions(request)() as s:
        rows = await s.scalars(
            select(AncMetric).where(AncMetric.session_id == session_id).order_by(AncMetric.id)
        )
        return list(rows.all())


def _metric_json(r: AncMetric) -> dict[str, Any]:
    return {
        "kind": r.kind,
        "attenuation_db": r.attenuation_db,
        "steady_state_attenuation_db": r.steady_state_attenuation_db,
        "convergence_time_ms": r.convergence_time_ms,
        "octave_bands_db": r.octave_bands,
        "samples": r.samples,
        "dsp_ms_mean": r.dsp_ms_mean,
        "noise_type": r.noise_class,
        "confidence": r.confidence,
        "emergency": r.emergency,
        "recorded_at": _iso(r.recorded_at),
    }


@router.get("/api/metrics/sessions/{session_id}")
async def session_metrics(request: Request, session_id: str) -> dict[str, Any]:
    """Every metrics record of a session (live updates and the final one)."""
    row = await _get_session(request, session_id)
    if row is None:
        raise ApiError(404, "Not found", f"no session {session_id!r}")
    records = await _metric_rows(request, session_id)
    return {
        "session_id": session_id,
        "status": row.status,
        "metrics": [_metric_json(r) for r in records],
        "latest": _metric_json(records[-1]) if records else None,
    }


@router.get("/api/metrics/summary")
async def metrics_summary(request: Request) -> dict[str, Any]:
    """Totals over the caller's sessions: counts, attenuation, audio processed, emergencies."""
    owner = owner_of(request)
    async with _sessions(request)() as s:
        sessions = (await s.scalars(select(AncSession).where(AncSession.owner == owner))).all()
        finals = (
            await s.scalars(
                select(AncMetric)
                .join(AncSession, AncSession.id == AncMetric.session_id)
                .where(AncSession.owner == owner, AncMetric.kind == "final")
            )
        ).all()
    by_algorithm: dict[str, dict[str, Any]] = {}
    for f in finals:
        algo = next((x.algorithm for x in sessions if x.id == f.session_id), "?")
        entry = by_algorithm.setdefault(algo, {"sessions": 0, "attenuation_db": []})
        entry["sessions"] += 1
        entry["attenuation_db"].append(f.attenuation_db)
    atts = [f.attenuation_db for f in finals]
    return {
        "total_sessions": len(sessions),
        "file_sessions": sum(1 for x in sessions if x.kind == "file"),
        "stream_sessions": sum(1 for x in sessions if x.kind == "stream"),
        "active_streams": sum(1 for x in sessions if x.status == "active"),
        "audio_processed_s": round(sum(x.samples / x.sample_rate for x in sessions if x.sample_rate), 3),
        "mean_attenuation_db": round(float(np.mean(atts)), 2) if atts else None,
        "best_attenuation_db": round(float(np.max(atts)), 2) if atts else None,
        "emergencies": sum(1 for x in sessions if x.emergency),
        "noise_types": _counts(x.noise_class for x in sessions if x.noise_class),
        "by_algorithm": {
            k: {
                "sessions": v["sessions"],
                "mean_attenuation_db": round(float(np.mean(v["attenuation_db"])), 2),
            }
            for k, v in sorted(by_algorithm.items())
        },
        "timestamp": utc_timestamp(),
    }


def _counts(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


# --- status and ML ---------------------------------------------------------------------------


@router.get("/api/status")
async def status(request: Request) -> dict[str, Any]:
    """System status: the anc service's health and defaults, the database, live streams."""
    checks: dict[str, str] = {}
    anc: dict[str, Any] = {}
    started = time.perf_counter()
    try:
        models: anc_pb2.ListModelsResponse = await _stub(request).ListModels(
            anc_pb2.ListModelsRequest(), timeout=5.0, metadata=rpc.call_metadata()
        )
        checks["anc"] = "ok"
        anc = {
            "default_algorithm": models.default_algorithm,
            "algorithms": list(models.algorithms),
            "fft_backend": models.fft_backend,
            "latency_ms": round((time.perf_counter() - started) * 1000, 2),
        }
    except (grpc.aio.AioRpcError, ApiError) as exc:
        checks["anc"] = f"error: {exc}"[:200]
    gw = request.app.state.gateway
    active = 0
    try:
        await asyncio.wait_for(db.check(gw._engine), 5)
        checks["database"] = "ok"
        async with _sessions(request)() as s:
            active = int(
                await s.scalar(
                    select(func.count()).select_from(AncSession).where(AncSession.status == "active")
                )
                or 0
            )
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


@router.get("/api/ml/models")
async def list_models(request: Request) -> dict[str, Any]:
    """The noise classifier and the adaptive filters, with their parameters."""
    try:
        reply: anc_pb2.ListModelsResponse = await _stub(request).ListModels(
            anc_pb2.ListModelsRequest(), timeout=_deadline(request), metadata=rpc.call_metadata()
        )
    except grpc.aio.AioRpcError as exc:
        raise _rpc_error(exc, "request") from None
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


@router.post("/api/ml/classify")
async def classify(request: Request, _caller: ApiKeyOrUser) -> dict[str, Any]:
    """Classify the noise in a recording (multipart field ``audio``; stereo is mixed down)."""
    from services.gateway.uploads import receive_audio

    rt = request.app.state.gateway.runtime
    with rt.temp_dir("anc-ml-") as tmp:
        received = await receive_audio(request, "audio", rt.settings, tmp)
        if received.info.duration_s > MAX_PROCESS_S:
            raise ApiError(400, "Audio too long", f"classification takes at most {MAX_PROCESS_S:g} s")
        rate = received.info.sample_rate
        samples = _finite((await _decode(received.path, rate, "audio")).mean(axis=0), "audio")
    try:
        reply: anc_pb2.ClassifyResponse = await _stub(request).Classify(
            anc_pb2.ClassifyRequest(samples=samples.astype("<f4").tobytes(), sample_rate=rate),
            timeout=_deadline(request),
            metadata=rpc.call_metadata(),
        )
    except grpc.aio.AioRpcError as exc:
        raise _rpc_error(exc, "audio") from None
    out = _classification(reply.classification)
    out.update(model=reply.model, processing_ms=round(reply.processing_ms, 2), timestamp=utc_timestamp())
    return out


# --- WebSocket -------------------------------------------------------------------------------


@router.websocket("/api/audio/stream/{session_id}/ws")
async def stream_socket(ws: WebSocket, session_id: str) -> None:
    """Live ANC over a WebSocket (protocol in the module docstring), on the streaming core."""
    row = await _get_session(ws, session_id)
    if row is None or row.kind != "stream":
        await ws.close(code=4404, reason="unknown session")
        return
    if row.status != "open":
        await ws.close(code=4409, reason=f"session is {row.status}")
        return
    sink = _WebSocketSink(ws, session_id)
    stream = LiveStream(_stub(ws), _sessions(ws), row, sink)
    try:
        hello = await stream.open()
    except SessionTaken:
        await ws.close(code=4409, reason="session is taken")
        return
    await ws.accept()
    await sink.send_json({"event": "connect", **hello})
    client_gone = False
    try:
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                client_gone = True
                break
            data = msg.get("bytes")
            if data is None and msg.get("text") is not None:
                try:
                    event = json.loads(msg["text"])
                    if not isinstance(event, dict):
                        raise ValueError("not an object")
                except ValueError:
                    await sink.error("Invalid message", "not JSON")
                    continue
                name = event.get("event")
                if name == "disconnect":
                    break
                if name == "audio_chunk" and isinstance(event.get("data"), str):
                    try:
                        data = base64.b64decode(event["data"], validate=True)
                    except ValueError:
                        await sink.error("Invalid audio_chunk", "data is not base64")
                        continue
                else:
                    await sink.error(
                        "Unknown event", "send binary PCM frames, audio_chunk {data: base64} or disconnect"
                    )
                    continue
            problem = await stream.feed(data or b"")
            if problem:
                await sink.error("Invalid audio_chunk", problem)
    except WebSocketDisconnect:
        client_gone = True
    finally:
        sink.gone = client_gone
        final = await stream.close()
        if not client_gone:
            with contextlib.suppress(Exception):
                await sink.send_json({"event": "disconnect", "session_id": session_id, "metrics": final})
                await ws.close()


class _WebSocketSink:
    """The raw WebSocket's side of :class:`LiveStream`: JSON text events, and each processed
    block as a ``processed_audio`` JSON event immediately followed by its binary frame."""

    def __init__(self, ws: WebSocket, session_id: str) -> None:
        self.ws = ws
        self.session_id = session_id
        self.lock = asyncio.Lock()
        self.gone = False

    async def send_json(self, data: dict[str, Any]) -> None:
        async with self.lock:
            await self.ws.send_json(data)

    async def processed_audio(self, sequence: int, audio: bytes) -> None:
        announcement = {
            "event": "processed_audio",
            "session_id": self.session_id,
            "sequence": sequence,
            "samples": len(audio) // 4,
            "format": "f32le",
            "channels": 1,
        }
        async with self.lock:  # the announcement and its frame stay together
            await self.ws.send_json(announcement)
            await self.ws.send_bytes(audio)

    async def metrics_update(self, metrics: dict[str, Any]) -> None:
        await self.send_json({"event": "metrics_update", "session_id": self.session_id, **metrics})

    async def error(self, error: str, details: str) -> None:
        await self.send_json({"event": "error", "error": error, "details": details})


# --- Socket.IO (seed 004's Flask-SocketIO clients) ---------------------------------------------


def socketio_transport(app: Any) -> SocketIoTransport:
    """The Socket.IO server of ``app`` over the same streaming core (``anc_socketio``)."""

    class _Conn:
        def __init__(self) -> None:
            self.app = app

    conn: Any = _Conn()

    async def open_stream(hello: Handshake, sink: StreamSink) -> LiveStream:
        if not hello.token:
            raise StreamRefused(401, "Unauthorized", "an access token is required (auth: {token})")
        user = await auth_gate(conn).verify(hello.token)
        if not hello.session_id:
            raise StreamRefused(400, "Missing session", "name the session from POST /api/audio/stream")
        async with _sessions(conn)() as s:
            row = await s.get(AncSession, hello.session_id)
        if row is None or row.kind != "stream" or row.owner not in (user.id, ANC_OWNER_ANONYMOUS):
            raise StreamRefused(404, "Not found", "no such stream session")
        if row.status != "open":
            raise StreamRefused(409, "Conflict", f"the session is {row.status}")
        return LiveStream(_stub(conn), _sessions(conn), row, sink)

    return SocketIoTransport(open_stream)
