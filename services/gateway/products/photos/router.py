"""Photo to music video (seed 002): upload, status, download, library, progress WebSocket.

Routes:

* ``POST /upload-photo``: JSON ``{"photo": "<base64 or data: URL>", "captions": true}``
  (as the glasses app sends it; ``image``/``image_data``/``photo_data``/``data`` are
  accepted field names too) or ``multipart/form-data`` with a ``photo`` file.
  The photo is sniffed from its bytes (JPEG, PNG, WebP, GIF, BMP, TIFF), checked for
  size (``EARSHOT_PHOTO_MAX_FILE_SIZE``, 10 MB -> 413) and dimensions (decompression
  bombs -> 400) before anything is stored; then ``photos/<task>.<ext>`` is stored,
  the task row created and ``earshot.media.render_requested.v1`` published.
  Answers ``{task_id, status: "queued", ...}``.
* ``GET /photos/{task_id}/status``: ``queued | analyzing | composing | rendering |
  done | failed``, progress 0-100, and the error when failed.
* ``GET /photos/{task_id}/download``: the MP4 (HTTP Range supported) from local
  storage, or a 307 redirect to a presigned URL (S3/MinIO, or ``?redirect=true``);
  409 before the task is done. ``GET /photos/{task_id}/music``: the MP3 the same way.
* ``GET /photos``: the library (newest first, ``limit``/``offset``/``status``);
  ``GET /photos/{task_id}``: one task with all its metadata.
* ``WS /photos/{task_id}/ws``: a snapshot, then every progress change as JSON;
  closed after ``done`` or ``failed``.
* ``GET /health`` gains ``photos`` (queue depth, running tasks).

Records: the gateway owns ``photo_tasks`` (``products/photos/models.py``).
Its consumer group ``gateway.media`` applies ``earshot.media.*`` events to the rows;
the per-replica group ``gateway.media.<instance>`` pushes them to this replica's
WebSocket clients. Each render is a durable job (kind ``media``, docs/jobs.md): the
gateway's lease sweeper re-requests a task that stopped making progress
(``EARSHOT_PHOTO_STALE_AFTER_S``; at start-up on the in-memory bus, every unfinished
task, since its events died with the previous process) up to
``EARSHOT_PHOTO_MAX_ATTEMPTS`` times, then fails it (``lease_expired``).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any, Literal

from fastapi import APIRouter, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, RedirectResponse, Response

from services.common.storage import LocalObjectStorage
from services.gateway.deps import AuthenticatedUser, OptionalUser, Verifier, websocket_user
from services.gateway.products.photos.models import PHOTO_OWNER_ANONYMOUS, PhotoTask
from services.gateway.products.photos.repository import TERMINAL
from services.gateway.products.photos.schemas import (
    Library,
    Task,
    TaskStatus,
    Uploaded,
    UploadPhotoForm,
    UploadPhotoJson,
    summary,
)
from services.gateway.products.photos.service import PhotoProduct, PhotosDep, read_photo
from services.gateway.shared.errors import ApiError, ErrorBody, unauthorized
from services.gateway.shared.openapi import file_responses, request_body
from services.gateway.shared.pagination import MAX_OFFSET
from services.gateway.shared.timefmt import iso_z, utc_timestamp

router = APIRouter()

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Bad base64, not an image, damaged, absurd dimensions"},
    401: {"model": ErrorBody, "description": "An invalid token (or listing anonymously, see docs/auth.md)"},
    404: {"model": ErrorBody, "description": "No such task for this caller"},
    409: {"model": ErrorBody, "description": "Download before the task is done"},
    413: {"model": ErrorBody, "description": "Photo over EARSHOT_PHOTO_MAX_FILE_SIZE"},
}
UPLOAD_BODY = request_body(json=UploadPhotoJson, form=UploadPhotoForm)
VIDEO_RESPONSES = {**file_responses("video/mp4"), **ERRORS}
MUSIC_RESPONSES = {**file_responses("audio/mpeg"), **ERRORS}


def _owner(user: AuthenticatedUser | None) -> str:
    return user.id if user is not None else PHOTO_OWNER_ANONYMOUS


def _visible(task: PhotoTask | None, user: AuthenticatedUser | None) -> bool:
    """An anonymous task is reachable by its id; a user's task only by that user."""
    return task is not None and (
        task.owner == PHOTO_OWNER_ANONYMOUS or (user is not None and task.owner == user.id)
    )


def _task_id(task_id: str) -> str:
    try:
        return str(uuid.UUID(task_id))
    except ValueError:
        raise ApiError(404, "Task not found", f"no photo task with id {task_id!r}") from None


async def _task(product: PhotoProduct, user: AuthenticatedUser | None, task_id: str) -> PhotoTask:
    task = await product.store.get(_task_id(task_id))
    if task is None or not _visible(task, user):
        raise ApiError(404, "Task not found", f"no photo task with id {task_id!r}")
    return task


@router.post("/upload-photo", response_model=Uploaded, responses=ERRORS, openapi_extra=UPLOAD_BODY)
async def upload_photo(request: Request, product: PhotosDep, user: OptionalUser) -> dict[str, Any]:
    """Upload a photo (base64 JSON or multipart) and start its music video.

    Errors: 400 bad base64 / not an image / damaged / absurd dimensions, 413 over the size
    limit, 415 other content types. With an access token the caller owns the task; without
    one (the glasses app) the task is anonymous and reachable by its id only.
    """
    data, captions = await read_photo(request, product.settings)
    task_id = await product.submit(data, captions, _owner(user))
    return {
        "task_id": task_id,
        "status": "queued",
        "message": "Photo received; the music video is being made",
        "status_url": f"/photos/{task_id}/status",
        "download_url": f"/photos/{task_id}/download",
        "websocket_url": f"/photos/{task_id}/ws",
    }


# --- reads -------------------------------------------------------------------------------------
@router.get("/photos/{task_id}/status", response_model=TaskStatus, responses=ERRORS)
async def photo_status(task_id: str, product: PhotosDep, user: OptionalUser) -> dict[str, Any]:
    """Status of a task: ``queued | analyzing | composing | rendering | done | failed``, progress
    0-100, and the error (``error``: reason, ``error_code``) when failed."""
    task = await _task(product, user, task_id)
    return {
        "task_id": task.id,
        "status": task.status,
        "progress": task.progress,
        "error": task.error_details,
        "error_code": task.error,
        "created_at": iso_z(task.created_at),
        "updated_at": iso_z(task.updated_at),
        "download_url": f"/photos/{task.id}/download" if task.status == "done" else None,
    }


async def _serve(
    product: PhotoProduct, task: PhotoTask, key: str | None, media_type: str, name: str, redirect: bool
) -> Response:
    if task.status != "done" or not key:
        detail = f"the task is {task.status}" + (f": {task.error_details}" if task.error_details else "")
        raise ApiError(409, "Not ready", f"{detail}; download once the status is done")
    storage = product.runtime.storage
    if isinstance(storage, LocalObjectStorage) and not redirect:
        try:
            path = storage.open_path(key)
        except (KeyError, ValueError):
            path = None
        if path is None or not path.is_file():
            raise ApiError(404, "Not found", "the file is no longer in storage")
        return FileResponse(path, media_type=media_type, filename=name)
    if not await storage.exists(key):
        raise ApiError(404, "Not found", "the file is no longer in storage")
    url = await storage.presigned_get_url(key, timedelta(seconds=product.settings.url_expiry_s))
    return RedirectResponse(url, status_code=307)


@router.get("/photos/{task_id}/download", response_class=Response, responses=VIDEO_RESPONSES)
async def download_video(
    product: PhotosDep,
    user: OptionalUser,
    task_id: str,
    redirect: bool = Query(False, description="Answer with a 307 to a presigned URL instead of the bytes."),
) -> Response:
    """The MP4 (HTTP Range supported), or a redirect to a presigned URL; 409 before done."""
    task = await _task(product, user, task_id)
    return await _serve(product, task, task.video_key, "video/mp4", f"earshot-{task.id}.mp4", redirect)


@router.get("/photos/{task_id}/music", response_class=Response, responses=MUSIC_RESPONSES)
async def download_music(
    product: PhotosDep,
    user: OptionalUser,
    task_id: str,
    redirect: bool = Query(False, description="Answer with a 307 to a presigned URL instead of the bytes."),
) -> Response:
    """The soundtrack (MP3), like the video download."""
    task = await _task(product, user, task_id)
    return await _serve(product, task, task.music_key, "audio/mpeg", f"earshot-{task.id}.mp3", redirect)


@router.get("/photos", response_model=Library, response_model_exclude_unset=True, responses=ERRORS)
async def list_photos(
    product: PhotosDep,
    user: OptionalUser,
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
    status: Literal["queued", "analyzing", "composing", "rendering", "done", "failed"] | None = Query(None),
) -> dict[str, Any]:
    """The library: tasks with metadata (mood, lyrics, duration, sizes, created time), newest first.

    With an access token: the caller's own tasks only. Without one: the anonymous tasks when
    ``EARSHOT_PHOTOS_PUBLIC_LIBRARY=true`` (a single-user kiosk), else 401 -- anonymous
    uploads are reachable by their task id only (docs/auth.md)."""
    if user is None and not product.settings.public_library:
        raise unauthorized(
            "sign in to list your photos (anonymous uploads are reachable by their task id only)", error=None
        )
    tasks, total = await product.store.page(_owner(user), limit, offset, status)
    return {"photos": [summary(t) for t in tasks], "total": total, "limit": limit, "offset": offset}


@router.delete("/photos/{task_id}", status_code=204, response_class=Response, responses=ERRORS)
async def delete_photo(task_id: str, product: PhotosDep, user: OptionalUser) -> Response:
    """Delete a task and its files (photo, video, soundtrack); a render still running has its
    late results removed when they arrive. Same access as reading the task."""
    task = await _task(product, user, task_id)
    await product.delete(task)
    return Response(status_code=204)


@router.get("/photos/{task_id}", response_model=Task, response_model_exclude_unset=True, responses=ERRORS)
async def get_photo(task_id: str, product: PhotosDep, user: OptionalUser) -> dict[str, Any]:
    """One task with all its metadata (analysis, music prompt, engines, warnings)."""
    return summary(await _task(product, user, task_id), full=True)


# --- WebSocket -----------------------------------------------------------------------------------
@router.websocket("/photos/{task_id}/ws")
async def photo_progress(websocket: WebSocket, task_id: str, product: PhotosDep, tokens: Verifier) -> None:
    """Progress of one task as JSON messages: a snapshot first (``type: "snapshot"``), then
    ``progress`` / ``done`` / ``failed``; closed (1000) after a terminal message. An unknown
    task gets one ``error`` message and close code 4404. A token (``token`` query parameter or
    ``Sec-WebSocket-Protocol: bearer, <token>``) is optional, as for the HTTP routes; an
    invalid one is refused before the handshake completes (401)."""
    ok, user, subprotocol = await websocket_user(websocket, tokens, required=False)
    if not ok:
        return
    await websocket.accept(subprotocol=subprotocol)
    try:
        tid = str(uuid.UUID(task_id))
    except ValueError:
        tid = ""
    task = await product.store.get(tid) if tid else None
    if task is None or not _visible(task, user):
        await websocket.send_json(
            {
                "type": "error",
                "error": "Task not found",
                "details": f"no photo task with id {task_id!r}",
                "timestamp": utc_timestamp(),
            }
        )
        await websocket.close(code=4404)
        return
    queue = product.hub.listen(tid)
    try:
        task = await product.store.get(tid) or task  # re-read after listening: no gap
        snapshot = {"type": "snapshot", "timestamp": utc_timestamp(), **summary(task)}
        await websocket.send_json(snapshot)
        if task.status in TERMINAL:
            await websocket.close(code=1000)
            return
        receiver = asyncio.create_task(websocket.receive())
        try:
            while True:
                getter = asyncio.create_task(queue.get())
                done, _ = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    event = getter.result()
                    await websocket.send_json(event)
                    if event.get("status") in TERMINAL:
                        await websocket.close(code=1000)
                        return
                else:
                    getter.cancel()
                if receiver in done:
                    if receiver.result().get("type") == "websocket.disconnect":
                        return
                    receiver = asyncio.create_task(websocket.receive())  # client messages are ignored
        finally:
            receiver.cancel()
    except WebSocketDisconnect:
        return
    finally:
        product.hub.forget(tid, queue)
