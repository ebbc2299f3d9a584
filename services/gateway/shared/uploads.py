"""Upload handling shared by the product routes: size limits while streaming, a private
temp copy, content sniffing and duration limits.

Every path out of :func:`receive_audio` leaves nothing behind: the temp folder is
removed by the caller's context manager and the multipart form is closed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common import audio
from services.common.asgi import is_json_request
from services.common.faults import unavailable_dependency
from services.common.settings import Settings
from services.gateway.shared.errors import ApiError, error_response

MULTIPART_OVERHEAD = 64 * 1024


class BodyTooLarge(Exception):
    """The request body passed the configured limit while it was being read."""


class BodyLimitMiddleware:
    """Refuse request bodies over ``limit`` bytes with 413, by Content-Length up front or
    by counting while streaming (chunked uploads), before anything is written to disk.
    JSON bodies are left to :class:`services.common.asgi.JsonLimitsMiddleware` (its own,
    smaller limit, and it drains the body so the client reads the 413).

    Args:
        limit: bytes allowed by default.
        overrides: ``{path prefix: bytes}`` for routes with their own limit (the longest
            matching prefix wins), e.g. the meeting uploads' two files of ``MAX_AUDIO_FILE_SIZE``.
    """

    def __init__(self, app: ASGIApp, limit: int, overrides: dict[str, int] | None = None) -> None:
        self.app = app
        self.limit = limit
        self.overrides = sorted((overrides or {}).items(), key=lambda kv: -len(kv[0]))

    def _limit(self, path: str) -> int:
        for prefix, limit in self.overrides:
            if path.startswith(prefix):
                return limit
        return self.limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope.get("method") not in {"POST", "PUT", "PATCH"}
            # JSON bodies are bounded (and drained before their 413) by JsonLimitsMiddleware
            or is_json_request(scope)
        ):
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope.get("path", ""))
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await _too_large(limit, own=limit != self.limit)(scope, receive, send)
                return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge()
            return message

        await self.app(scope, counted, send)


def _too_large(limit: int, *, own: bool = False) -> ASGIApp:
    mb = (limit - MULTIPART_OVERHEAD) / (1024 * 1024)
    if not own:
        return error_response(413, "File too large", f"the maximum file size is {mb:g} MB (MAX_FILE_SIZE)")
    details = f"the request body is over this route's limit of {mb:g} MB"
    response = error_response(413, "File too large", details)
    body = json.loads(bytes(response.body))
    return JSONResponse({**body, "detail": details}, status_code=413)


def too_large_error(settings: Settings) -> ApiError:
    """The 413 error for an upload over ``MAX_FILE_SIZE``."""
    return ApiError(
        413, "File too large", f"the maximum file size is {settings.max_file_size_mb:g} MB (MAX_FILE_SIZE)"
    )


def _malformed(exc: Exception) -> ApiError:
    return ApiError(400, "Malformed request", f"the multipart body could not be parsed: {exc}")


async def parse_form(
    request: Request,
    too_large: ApiError,
    *,
    max_files: int = 4,
    max_fields: int = 20,
    malformed: Callable[[Exception], ApiError] = _malformed,
) -> FormData:
    """THE multipart parser of the gateway: every product's form goes through it.

    Args:
        too_large: the error when the body passes the size limit while it is read.
        max_files, max_fields: parts accepted (more is a 400).
        malformed: builds the 400 for a body that cannot be parsed.

    Returns:
        The form; the caller closes it (``await form.close()``) on every path.
    Raises:
        ApiError: ``too_large`` or ``malformed(...)``.
        OSError: the disk refused the parts spooled to temp files (answered 503 "Storage
            unavailable" by the error handlers).
    """
    try:
        return await request.form(max_files=max_files, max_fields=max_fields)
    except BodyTooLarge:
        raise too_large from None
    except Exception as exc:  # malformed multipart bodies raise several types
        if unavailable_dependency(exc) is not None:
            raise  # the disk refused the spooled parts: a 503 (storage), not the client's fault
        raise malformed(exc) from None


def is_multipart(request: Request) -> bool:
    """Whether the request declares a ``multipart/form-data`` body."""
    return request.headers.get("content-type", "").lower().startswith("multipart/form-data")


async def read_multipart(request: Request, settings: Settings, expected: str) -> FormData:
    """Parse a multipart/form-data audio body (at most 4 files and 20 fields); close it when done.

    Args:
        expected: what the client should send, for the 400 when the body is not multipart.

    Raises:
        ApiError: 400 not multipart ("No audio file provided") or malformed; 413 over the size limit.
    """
    if not is_multipart(request):
        raise ApiError(400, "No audio file provided", expected)
    return await parse_form(request, too_large_error(settings))


@dataclass
class ReceivedAudio:
    """An accepted upload in a private temp folder.

    Attributes:
        path: the temp copy.
        extension: the format sniffed from the content (``wav``, ``flac``...).
        size: bytes.
        info: probe result (duration in seconds, sample rate, channels).
    """

    path: Path
    extension: str
    size: int
    info: audio.AudioInfo


def _extension(filename: str | None) -> str:
    if not filename or "." not in filename:
        return ""
    return filename.rsplit(".", 1)[1].lower()


async def save_audio(
    upload: UploadFile,
    name: str,
    settings: Settings,
    tmp: Path,
    *,
    max_duration_s: float,
    label: str = "",
) -> ReceivedAudio:
    """Copy one uploaded audio file into ``tmp`` and validate it: extension, size (streamed,
    ``MAX_FILE_SIZE``), content sniffed and fully decoded (:func:`services.common.audio.probe`),
    sniffed format accepted, duration at most ``max_duration_s`` seconds.

    Args:
        upload: the multipart file.
        name: the temp file's stem (``audio``, ``primary``...).
        label: prefix of the error details (the field name when a form has several files).

    Raises:
        ApiError: 400 bad extension / empty / not audio / corrupt / too long; 413 over ``MAX_FILE_SIZE``.
    """
    allowed = ", ".join(settings.allowed_extensions)
    prefix = f"{label}: " if label else ""
    ext = _extension(upload.filename)
    if ext not in settings.allowed_extensions:
        raise ApiError(400, "Invalid file format", f"{prefix}Supported formats: {allowed}")
    path = tmp / f"{name}.{ext}"
    size = await asyncio.to_thread(copy_upload, upload, path, settings.max_file_size_bytes)
    if size < 0:
        raise too_large_error(settings)
    if size == 0:
        raise ApiError(400, "Empty file", f"{prefix}the uploaded file has no content")
    try:
        # the limit is enforced on the decoded stream: decoding stops as soon as it passes
        info = await asyncio.to_thread(audio.probe, path, max_duration_s=max_duration_s)
    except audio.AudioTooLong as exc:
        raise ApiError(
            400,
            "Audio too long",
            f"{prefix}the recording lasts more than {max_duration_s / 60:g} minutes ({exc.details})",
        ) from None
    except audio.EmptyAudio as exc:
        raise ApiError(400, "Empty audio", f"{prefix}{exc.details}") from None
    except audio.CorruptAudio as exc:
        raise ApiError(400, "Corrupt audio", f"{prefix}{exc.details}") from None
    except audio.AudioError as exc:
        raise ApiError(
            400, "Invalid file format", f"{prefix}{exc.details}. Supported formats: {allowed}"
        ) from None
    if info.format not in settings.allowed_extensions:
        raise ApiError(
            400,
            "Invalid file format",
            f"{prefix}the content is {info.format}, which is not accepted. Supported formats: {allowed}",
        )
    if info.duration_s > max_duration_s:
        raise ApiError(
            400,
            "Audio too long",
            f"{prefix}the recording lasts {info.duration_s:.1f} s; the maximum is "
            f"{max_duration_s / 60:g} minutes",
        )
    return ReceivedAudio(path=path, extension=info.format, size=size, info=info)


async def receive_audio(request: Request, field: str, settings: Settings, tmp: Path) -> ReceivedAudio:
    """Read multipart field ``field`` into ``tmp`` and validate it as audio (:func:`save_audio`,
    at most ``MAX_AUDIO_DURATION``).

    Raises:
        ApiError: 400 no file / wrong field / bad extension / empty / not audio / corrupt /
            too long; 413 over ``MAX_FILE_SIZE``.
    """
    form = await read_multipart(
        request, settings, f"send multipart/form-data with the recording in the '{field}' field"
    )
    try:
        upload = form.get(field)
        if not isinstance(upload, UploadFile):
            got = ", ".join(sorted(set(form.keys()))) or "none"
            raise ApiError(
                400,
                "No audio file provided",
                f"expected a file in the '{field}' field (fields received: {got})",
            )
        return await save_audio(upload, "upload", settings, tmp, max_duration_s=settings.max_audio_duration_s)
    finally:
        await form.close()


def copy_upload(upload: UploadFile, path: Path, limit: int) -> int:
    """Copy an upload to ``path``; returns its size, or -1 once it passes ``limit`` bytes."""
    upload.file.seek(0)
    size = 0
    with path.open("wb") as out:
        while chunk := upload.file.read(1 << 20):
            size += len(chunk)
            if size > limit:
                return -1
            out.write(chunk)
    return size
