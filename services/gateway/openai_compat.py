"""OpenAI-compatible speech-to-text API: ``POST /v1/audio/transcriptions``, ``GET /v1/models``.

A drop-in for OpenAI's transcription endpoint (point the official SDK's ``base_url`` at
``http://<gateway>/v1``), served offline by the transcription service:

* multipart fields as OpenAI's: ``file``, ``model``, ``language``, ``prompt``,
  ``response_format`` (``json`` | ``text`` | ``srt`` | ``verbose_json`` | ``vtt``),
  ``temperature``, ``timestamp_granularities[]`` (``word`` | ``segment``; ``word``
  needs ``verbose_json``, else 400 as OpenAI does); Earshot extensions ``diarize``,
  ``min_speakers``, ``max_speakers`` and ``engine``.
* recordings up to 60 s go over gRPC ``Transcribe``; longer ones through the job
  events (the upload is stored as ``uploads/<job>.<ext>``, the transcript read back
  from ``transcripts/<job>.json``; both are deleted on every path).
* errors use OpenAI's shape ``{"error": {"message", "type", "param", "code"}}`` plus
  Earshot's ``details`` and ``timestamp``, so both OpenAI clients and Earshot clients
  can read them. Everything is validated before anything is stored.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import grpc
from earshot.transcription.v1 import transcription_pb2, transcription_pb2_grpc
from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.routing import APIRoute
from starlette.datastructures import UploadFile

from services.common import audio, languages, rpc, subtitles
from services.common.events import (
    TRANSCRIPTION_EVENTS,
    Envelope,
    TranscriptionCompleted,
    TranscriptionFailed,
    TranscriptionProgress,
    TranscriptionRequested,
)
from services.common.logging import get_logger
from services.common.storage import ObjectNotFound
from services.common.transcript import Segment, Transcript, Word
from services.gateway.access import ApiKeyOrUser
from services.gateway.errors import ApiError, utc_timestamp
from services.gateway.uploads import BodyTooLarge, copy_upload, too_large_error

log = get_logger("earshot.gateway.openai")

RESPONSE_FORMATS = ("json", "text", "srt", "verbose_json", "vtt")
GRANULARITIES = ("word", "segment")
# The extensions OpenAI's endpoint accepts; the content is sniffed as well.
OPENAI_EXTENSIONS = ("flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm")
SYNC_LIMIT_S = 60.0  # gRPC Transcribe takes clips up to 60 s; longer audio goes through job events

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    404: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    503: "server_error",
    504: "server_error",
}


def openai_error(
    status: int,
    message: str,
    *,
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """An error in OpenAI's shape plus Earshot's ``details`` / ``timestamp`` (``headers``:
    e.g. ``WWW-Authenticate`` of a 401)."""
    return JSONResponse(
        {
            "error": {
                "message": message,
                "type": _ERROR_TYPES.get(
                    status, "server_error" if status >= 500 else "invalid_request_error"
                ),
                "param": param,
                "code": code,
            },
            "details": message,
            "timestamp": utc_timestamp(),
        },
        status_code=status,
        headers=headers,
    )


class _Invalid(ApiError):
    """A 4xx with the OpenAI parameter it concerns."""

    def __init__(
        self, status: int, error: str, details: str, param: str | None = None, code: str | None = None
    ):
        super().__init__(status, error, details)
        self.param = param
        self.code = code


class OpenAIRoute(APIRoute):
    """Route class that renders every error of the ``/v1`` routes in OpenAI's shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        inner = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await inner(request)
            except _Invalid as exc:
                return openai_error(exc.status, exc.details, param=exc.param, code=exc.code)
            except ApiError as exc:
                return openai_error(
                    exc.status,
                    f"{exc.error}: {exc.details}",
                    code=exc.error.lower().replace(" ", "_"),
                    headers=exc.headers,
                )
            except RequestValidationError as exc:
                return openai_error(400, "; ".join(str(e.get("msg")) for e in exc.errors()))

        return handler


router = APIRouter(prefix="/v1", tags=["OpenAI-compatible speech to text"], route_class=OpenAIRoute)


# --- waiting for long jobs ---------------------------------------------------------------------
class _JobWaiter:
    """Resolves futures by job id from transcription events (per-replica group, from latest)."""

    def __init__(self) -> None:
        self.pending: dict[str, asyncio.Future[TranscriptionCompleted | TranscriptionFailed]] = {}
        self.progress: dict[str, float] = {}
        self._started = False
        self._lock = asyncio.Lock()

    async def ensure(self, gateway: Any) -> None:
        async with self._lock:
            if self._started:
                return
            rt = gateway.runtime
            await rt.bus.ensure_topics([TRANSCRIPTION_EVENTS])
            await rt.bus.subscribe(
                [TRANSCRIPTION_EVENTS], f"gateway.openai.{rt.instance_id}", self._on_event, from_latest=True
            )
            self._started = True

    async def _on_event(self, envelope: Envelope) -> None:
        fut = self.pending.get(envelope.key)
        if fut is None or fut.done():
            return
        if envelope.type == TranscriptionProgress.event_type:
            self.progress[envelope.key] = envelope.payload(TranscriptionProgress).percent
        elif envelope.type == TranscriptionCompleted.event_type:
            fut.set_result(envelope.payload(TranscriptionCompleted))
        elif envelope.type == TranscriptionFailed.event_type:
            fut.set_result(envelope.payload(TranscriptionFailed))


def _waiter(request: Request) -> _JobWaiter:
    state = request.app.state
    if not hasattr(state, "openai_waiter"):
        state.openai_waiter = _JobWaiter()
    waiter: _JobWaiter = state.openai_waiter
    return waiter


# --- request parsing ---------------------------------------------------------------------------
def _bool(value: str | None, name: str) -> bool:
    if value is None or value == "":
        return False
    if value.lower() in ("true", "1", "yes", "on"):
        return True
    if value.lower() in ("false", "0", "no", "off"):
        return False
    raise _Invalid(400, "Invalid request", f"{name} must be true or false", name, "invalid_value")


def _int(value: str | None, name: str, low: int, high: int) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise _Invalid(400, "Invalid request", f"{name} must be an integer", name, "invalid_value") from None
    if not low <= number <= high:
        raise _Invalid(
            400, "Invalid request", f"{name} must be between {low} and {high}", name, "invalid_value"
        )
    return number


class _Params:
    """Validated form fields of one request."""

    def __init__(self, form: Any) -> None:
        def text(name: str) -> str | None:
            value = form.get(name)
            if value is None or isinstance(value, UploadFile):
                return None
            return str(value).strip() or None

        self.model = text("model")
        if not self.model:
            raise _Invalid(
                400, "Invalid request", "you must provide a model parameter", "model", "missing_model"
            )
        self.response_format = text("response_format") or "json"
        if self.response_format not in RESPONSE_FORMATS:
            raise _Invalid(
                400,
                "Invalid request",
                f"response_format must be one of {', '.join(RESPONSE_FORMATS)}",
                "response_format",
                "invalid_value",
            )
        language = text("language")
        if language is not None and not languages.is_known(language):
            raise _Invalid(
                400,
                "Invalid request",
                f"language {language!r} is not a supported ISO-639-1 code",
                "language",
                "invalid_language_format",
            )
        self.language = language.lower() if language else None
        self.prompt = text("prompt")
        temperature = text("temperature")
        self.temperature: float | None = None
        if temperature is not None:
            try:
                self.temperature = float(temperature)
            except ValueError:
                self.temperature = math.nan
            if not (0 <= self.temperature <= 1):
                raise _Invalid(
                    400,
                    "Invalid request",
                    "temperature must be between 0 and 1",
                    "temperature",
                    "invalid_value",
                )
        grains = [
            str(g).strip()
            for g in form.getlist("timestamp_granularities[]") + form.getlist("timestamp_granularities")
        ]
        grains = [g for g in grains if g]
        for g in grains:
            if g not in GRANULARITIES:
                raise _Invalid(
                    400,
                    "Invalid request",
                    f"timestamp_granularities[] items must be 'word' or 'segment', not {g!r}",
                    "timestamp_granularities",
                    "invalid_value",
                )
        if grains and self.response_format != "verbose_json":
            raise _Invalid(
                400,
                "Invalid request",
                "timestamp_granularities is only supported with response_format verbose_json",
                "timestamp_granularities",
                "invalid_value",
            )
        self.words = "word" in grains
        self.segments = not grains or "segment" in grains
        self.diarize = _bool(text("diarize"), "diarize")
        self.min_speakers = _int(text("min_speakers"), "min_speakers", 1, 32)
        self.max_speakers = _int(text("max_speakers"), "max_speakers", 1, 32)
        if self.min_speakers and self.max_speakers and self.min_speakers > self.max_speakers:
            raise _Invalid(
                400, "Invalid request", "min_speakers exceeds max_speakers", "min_speakers", "invalid_value"
            )
        self.engine = text("engine")
        if self.engine is not None and self.engine not in ("local", "openai", "gemini"):
            raise _Invalid(
                400, "Invalid request", "engine must be local, openai or gemini", "engine", "invalid_value"
            )


async def _receive(request: Request, tmp: Path) -> tuple[_Params, Path, audio.AudioInfo]:
    settings = request.app.state.gateway.runtime.settings
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise _Invalid(400, "Invalid request", "send multipart/form-data with the audio in 'file'", "file")
    try:
        form = await request.form(max_files=2, max_fields=30)
    except BodyTooLarge:
        raise too_large_error(settings) from None
    except Exception as exc:  # malformed multipart bodies raise several types
        raise _Invalid(400, "Invalid request", f"the multipart body could not be parsed: {exc}") from None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise _Invalid(
                400, "Invalid request", "you must provide a file parameter", "file", "missing_file"
            )
        params = _Params(form)
        name = upload.filename or ""
        ext = name.rsplit(".", 1)[1].lower() if "." in name else ""
        if ext and ext not in OPENAI_EXTENSIONS:
            raise _Invalid(
                400,
                "Invalid file format",
                f"Invalid file format. Supported formats: {OPENAI_EXTENSIONS!r}".replace("'", '"'),
                "file",
                "invalid_file_format",
            )
        path = tmp / "upload"
        size = await asyncio.to_thread(copy_upload, upload, path, settings.max_file_size_bytes)
    finally:
        await form.close()
    if size < 0:
        raise too_large_error(settings)
    if size == 0:
        raise _Invalid(400, "Empty file", "the uploaded file is empty (0 bytes)", "file", "empty_file")
    try:
        # Headers first: clips for gRPC are validated by the service's full decode (nothing
        # is stored on that path); longer files are decoded fully here before being stored.
        info = await asyncio.to_thread(audio.probe, path, verify=False)
        if info.duration_s > SYNC_LIMIT_S:
            info = await asyncio.to_thread(audio.probe, path)
    except audio.AudioError as exc:
        raise _Invalid(400, "Invalid file", f"{exc.details}", "file", exc.code) from None
    return params, path, info


# --- calling the transcription service ----------------------------------------------------------
_GRPC_HTTP = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.UNAVAILABLE: 503,
}


def _from_proto(reply: transcription_pb2.TranscribeResponse) -> Transcript:
    return Transcript(
        language=reply.language or "en",
        duration=reply.duration,
        text=reply.text,
        segments=[
            Segment(
                id=s.id,
                start=s.start,
                end=s.end,
                text=s.text,
                speaker=s.speaker or None,
                words=[
                    Word(word=w.word, start=w.start, end=w.end, probability=w.probability) for w in s.words
                ],
            )
            for s in reply.segments
        ],
    )


def _client_error(details: str) -> _Invalid:
    code, _, message = details.partition(": ")
    if not message:
        code, message = "invalid_request", details
    param = {
        "model_not_found": "model",
        "unsupported_language": "language",
        "unknown_engine": "engine",
        "corrupt_audio": "file",
        "unsupported_audio": "file",
        "empty_audio": "file",
    }.get(code)
    return _Invalid(400 if code != "model_not_found" else 404, "Invalid request", message, param, code)


async def _via_grpc(request: Request, path: Path, params: _Params, want_words: bool) -> Transcript:
    gateway = request.app.state.gateway
    rt = gateway.runtime
    message = transcription_pb2.TranscribeRequest(
        audio=await asyncio.to_thread(path.read_bytes),
        language=params.language or "",
        word_timestamps=want_words,
        model=params.model or "",
        prompt=params.prompt or "",
        diarize=params.diarize,
        min_speakers=params.min_speakers or 0,
        max_speakers=params.max_speakers or 0,
        engine=params.engine or "",
    )
    if params.temperature is not None:
        message.temperature = params.temperature
    try:
        async with rpc.channel(rt.grpc_target("transcription")) as ch:
            stub = transcription_pb2_grpc.TranscriptionServiceStub(ch)
            reply = await stub.Transcribe(
                message, timeout=gateway.request_timeout_s, metadata=rpc.call_metadata()
            )
    except grpc.aio.AioRpcError as exc:
        status = _GRPC_HTTP.get(exc.code(), 502)
        if status in (400, 404):
            raise _client_error(exc.details() or "") from None
        raise ApiError(status, "Transcription unavailable", exc.details() or str(exc.code())) from None
    except LookupError as exc:
        raise ApiError(503, "Transcription unavailable", str(exc)) from None
    return _from_proto(reply)


async def _via_job(
    request: Request, path: Path, info: audio.AudioInfo, params: _Params, want_words: bool
) -> Transcript:
    gateway = request.app.state.gateway
    rt = gateway.runtime
    waiter = _waiter(request)
    await waiter.ensure(gateway)
    job_id = str(uuid.uuid4())
    audio_key = f"uploads/{job_id}.{info.format}"
    transcript_key = ""
    fut: asyncio.Future[TranscriptionCompleted | TranscriptionFailed] = (
        asyncio.get_running_loop().create_future()
    )
    waiter.pending[job_id] = fut
    timeout = gateway.request_timeout_s + info.duration_s
    try:
        await gateway.jobs.create(job_id, "transcription")
        await rt.storage.put_file(audio_key, path)
        await gateway.publish(
            TranscriptionRequested(
                job_id=job_id,
                audio_key=audio_key,
                language=params.language,
                word_timestamps=want_words,
                purpose="openai",
                model=params.model,
                engine=params.engine,
                prompt=params.prompt,
                temperature=params.temperature,
                diarize=params.diarize,
                min_speakers=params.min_speakers,
                max_speakers=params.max_speakers,
            )
        )
        try:
            result = await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            await gateway.jobs.set_status(job_id, "timed_out", "timeout")
            raise ApiError(
                504, "Timeout", f"the transcription did not finish within {timeout:.0f} s"
            ) from None
        if isinstance(result, TranscriptionFailed):
            await gateway.jobs.set_status(job_id, "failed", result.error[:64])
            if result.error in ("corrupt_audio", "unsupported_audio", "empty_audio"):
                raise _Invalid(400, "Invalid file", result.details, "file", result.error)
            raise _client_error(f"{result.error}: {result.details}")
        transcript_key = result.transcript_key
        transcript = Transcript.model_validate_json(await rt.storage.get(transcript_key))
        await gateway.jobs.set_status(job_id, "succeeded")
        return transcript
    finally:
        waiter.pending.pop(job_id, None)
        waiter.progress.pop(job_id, None)
        for key in (audio_key, transcript_key or f"transcripts/{job_id}.json"):
            try:
                await rt.storage.delete(key)
            except ObjectNotFound:
                pass


# --- rendering -----------------------------------------------------------------------------------
def render(transcript: Transcript, params: _Params) -> Response:
    """The response body for ``params.response_format`` (OpenAI's schemas)."""
    fmt = params.response_format
    usage = {"type": "duration", "seconds": math.ceil(transcript.duration)}
    if fmt == "text":
        return PlainTextResponse(subtitles.to_text(transcript, speakers=params.diarize) + "\n")
    if fmt == "srt":
        return PlainTextResponse(subtitles.to_srt(transcript), media_type="application/x-subrip")
    if fmt == "vtt":
        return PlainTextResponse(subtitles.to_vtt(transcript), media_type="text/vtt")
    if fmt == "json":
        return JSONResponse({"text": transcript.text, "usage": usage})
    body: dict[str, Any] = {
        "task": "transcribe",
        "language": languages.name_of(transcript.language),
        "duration": round(transcript.duration, 3),
        "text": transcript.text,
    }
    if params.segments:
        body["segments"] = [
            {
                "id": s.id,
                "seek": 0,
                "start": s.start,
                "end": s.end,
                "text": s.text,
                "tokens": [],
                "temperature": params.temperature or 0.0,
                "avg_logprob": _avg_logprob(s),
                "compression_ratio": 1.0,
                "no_speech_prob": 0.0,
                **({"speaker": s.speaker} if s.speaker else {}),
            }
            for s in transcript.segments
        ]
    if params.words:
        body["words"] = [
            {"word": w.word, "start": w.start, "end": w.end, **({"speaker": s.speaker} if s.speaker else {})}
            for s in transcript.segments
            for w in s.words
        ]
    body["usage"] = usage
    return JSONResponse(body)


def _avg_logprob(segment: Segment) -> float:
    if not segment.words:
        return 0.0
    return round(sum(math.log(max(w.probability, 1e-6)) for w in segment.words) / len(segment.words), 4)


# --- routes ----------------------------------------------------------------------------------------
@router.post(
    "/audio/transcriptions",
    summary="Transcribe audio (OpenAI-compatible)",
    response_model=None,
    responses={
        400: {"description": "Invalid parameter or audio"},
        413: {"description": "File over MAX_FILE_SIZE"},
    },
)
async def create_transcription(request: Request, _caller: ApiKeyOrUser) -> Response:
    """OpenAI's ``POST /v1/audio/transcriptions``, served by Earshot's engines (module docstring)."""
    gateway = request.app.state.gateway
    with gateway.runtime.temp_dir("openai-") as tmp:
        params, path, info = await _receive(request, tmp)
        want_words = params.words or params.diarize
        started = time.perf_counter()
        if info.duration_s <= SYNC_LIMIT_S:
            transcript = await _via_grpc(request, path, params, want_words)
        else:
            transcript = await _via_job(request, path, info, params, want_words)
    log.info(
        "openai.transcription",
        audio_s=round(info.duration_s, 2),
        seconds=round(time.perf_counter() - started, 3),
        format=params.response_format,
    )
    return render(transcript, params)


async def _list_models(request: Request) -> list[dict[str, Any]]:
    gateway = request.app.state.gateway
    try:
        async with rpc.channel(gateway.runtime.grpc_target("transcription")) as ch:
            stub = transcription_pb2_grpc.TranscriptionServiceStub(ch)
            reply = await stub.ListModels(
                transcription_pb2.ListModelsRequest(), timeout=10, metadata=rpc.call_metadata()
            )
    except (grpc.aio.AioRpcError, LookupError) as exc:
        raise ApiError(503, "Transcription unavailable", str(exc)) from None
    return [{"id": m.id, "object": "model", "created": 0, "owned_by": m.owned_by} for m in reply.models]


@router.get("/models", summary="List models (OpenAI-compatible)")
async def list_models(request: Request, _caller: ApiKeyOrUser) -> dict[str, Any]:
    """OpenAI's ``GET /v1/models``: the speech-to-text models the platform serves."""
    return {"object": "list", "data": await _list_models(request)}


@router.get("/models/{model_id:path}", summary="Retrieve a model (OpenAI-compatible)")
async def get_model(model_id: str, request: Request, _caller: ApiKeyOrUser) -> dict[str, Any]:
    """OpenAI's ``GET /v1/models/{model}``; 404 for an unknown id."""
    for model in await _list_models(request):
        if model["id"] == model_id:
            return model
    raise _Invalid(404, "Not found", f"The model '{model_id}' does not exist", "model", "model_not_found")


__all__ = ["openai_error", "render", "router"]
