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
* ``GET /``: a short service description; ``GET /health`` gains ``photos`` (queue
  depth, running tasks) through the gateway's health contributors.

Records: the gateway owns ``photo_tasks`` (:class:`~services.gateway.models.PhotoTask`).
Its consumer group ``gateway.media`` applies ``earshot.media.*`` events to the rows;
the per-replica group ``gateway.media.<instance>`` pushes them to this replica's
WebSocket clients. A watchdog re-requests tasks that stopped making progress
(``EARSHOT_PHOTO_STALE_AFTER_S``; at start-up on the in-memory bus, every unfinished
task, since its events died with the previous process) up to
``EARSHOT_PHOTO_MAX_ATTEMPTS`` times, then marks them failed (``interrupted``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, RedirectResponse, Response
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.datastructures import UploadFile

from services.common import db, images, telemetry
from services.common.bus import Subscription
from services.common.events import (
    MEDIA_EVENTS,
    MEDIA_REQUESTS,
    Envelope,
    MediaCompleted,
    MediaFailed,
    MediaProgress,
    MediaRenderRequested,
)
from services.common.logging import get_logger
from services.common.runtime import Runtime
from services.common.settings import load_settings_class
from services.common.storage import LocalObjectStorage
from services.gateway.errors import ApiError, utc_timestamp
from services.gateway.models import PHOTO_OWNER_ANONYMOUS, PhotoTask
from services.gateway.uploads import BodyTooLarge

if TYPE_CHECKING:
    from services.gateway.service import GatewayService

log = get_logger("earshot.gateway.photos")

router = APIRouter(tags=["photo to music video"])

TERMINAL = ("done", "failed")
RUNNING = ("analyzing", "composing", "rendering")
_ORDER = {"queued": 0, "analyzing": 1, "composing": 2, "rendering": 3}
_JSON_FIELDS = ("photo", "image", "image_data", "photo_data", "data")
_DATA_URL = re.compile(r"^data:[\w.+-]+/[\w.+-]+;base64,", re.I)


class PhotoSettings(BaseSettings):
    """Gateway settings of the photo product (``EARSHOT_PHOTO_*``).

    ``MAX_FILE_SIZE`` of seed 002 (bytes) is not read: seed 000 already uses that name
    in megabytes for audio uploads, so the photo limit has its own name.
    """

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    max_file_size: int = Field(
        10 * 1024 * 1024, ge=1024, le=1 << 30, validation_alias=AliasChoices("EARSHOT_PHOTO_MAX_FILE_SIZE")
    )
    max_pixels: int = Field(50_000_000, ge=10_000, validation_alias=AliasChoices("EARSHOT_PHOTO_MAX_PIXELS"))
    max_side: int = Field(20_000, ge=64, validation_alias=AliasChoices("EARSHOT_PHOTO_MAX_SIDE"))
    stale_after_s: float = Field(900, gt=0, validation_alias=AliasChoices("EARSHOT_PHOTO_STALE_AFTER_S"))
    max_attempts: int = Field(2, ge=1, le=10, validation_alias=AliasChoices("EARSHOT_PHOTO_MAX_ATTEMPTS"))
    watchdog_interval_s: float = Field(
        60, gt=0, validation_alias=AliasChoices("EARSHOT_PHOTO_WATCHDOG_INTERVAL_S")
    )
    url_expiry_s: int = Field(
        3600, ge=60, le=7 * 86400, validation_alias=AliasChoices("EARSHOT_PHOTO_URL_EXPIRY_S")
    )


def load_photo_settings(**overrides: Any) -> PhotoSettings:
    """Read :class:`PhotoSettings` from the environment.

    Raises:
        ConfigurationError: naming the invalid variable.
    """
    return load_settings_class(PhotoSettings, "photo", **overrides)


# --- records ---------------------------------------------------------------------------------
class PhotoTaskStore:
    """Reads and conditional updates of ``photo_tasks`` (terminal rows never go back to running).

    Args:
        sessions: an async session factory with ``expire_on_commit=False``.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add(self, task: PhotoTask) -> None:
        """Insert a new task."""
        async with self._sessions() as session:
            session.add(task)
            await session.commit()

    async def get(self, task_id: str, owner: str | None = None) -> PhotoTask | None:
        """The task, or ``None`` (also when ``owner`` is given and differs)."""
        async with self._sessions() as session:
            task = await session.get(PhotoTask, task_id, populate_existing=True)
        if task is None or (owner is not None and task.owner != owner):
            return None
        return task

    async def page(
        self, owner: str, limit: int, offset: int, status: str | None = None
    ) -> tuple[list[PhotoTask], int]:
        """A page of an owner's tasks, newest first, and the total count."""
        where = [PhotoTask.owner == owner]
        if status:
            where.append(PhotoTask.status == status)
        async with self._sessions() as session:
            total = int((await session.execute(select(func.count()).where(*where))).scalar_one())
            rows = await session.execute(
                select(PhotoTask)
                .where(*where)
                .order_by(PhotoTask.created_at.desc(), PhotoTask.id)
                .limit(limit)
                .offset(offset)
            )
            return list(rows.scalars()), total

    async def counts(self) -> dict[str, int]:
        """Number of tasks per status (all owners)."""
        async with self._sessions() as session:
            rows = await session.execute(select(PhotoTask.status, func.count()).group_by(PhotoTask.status))
            return {str(status): int(count) for status, count in rows.all()}

    async def update_where(self, task_id: str, allowed: tuple[str, ...], **values: Any) -> bool:
        """Update a task only while its status is in ``allowed``; True when a row changed."""
        values.setdefault("updated_at", datetime.now(UTC))
        async with self._sessions() as session:
            result = await session.execute(
                update(PhotoTask)
                .where(PhotoTask.id == task_id, PhotoTask.status.in_(allowed))
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            await session.commit()
            return bool(getattr(result, "rowcount", 0))

    async def stuck(self, older_than: datetime) -> list[PhotoTask]:
        """Unfinished tasks not updated since ``older_than``."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(PhotoTask).where(PhotoTask.status.not_in(TERMINAL), PhotoTask.updated_at < older_than)
            )
            return list(rows.scalars())


# --- WebSocket fan-out -------------------------------------------------------------------------
class ProgressHub:
    """This replica's WebSocket listeners, per task id."""

    def __init__(self) -> None:
        self._listeners: dict[str, set[asyncio.Queue[dict[str, Any]]]] = {}

    def listen(self, task_id: str) -> asyncio.Queue[dict[str, Any]]:
        """Register a listener queue for a task."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=256)
        self._listeners.setdefault(task_id, set()).add(queue)
        return queue

    def forget(self, task_id: str, queue: asyncio.Queue[dict[str, Any]]) -> None:
        """Unregister a listener queue."""
        group = self._listeners.get(task_id)
        if group is not None:
            group.discard(queue)
            if not group:
                self._listeners.pop(task_id, None)

    def has(self, task_id: str) -> bool:
        """Whether anyone here listens to a task."""
        return task_id in self._listeners

    def push(self, task_id: str, message: dict[str, Any]) -> None:
        """Send a message to every listener of a task (dropped for a listener that lags 256 behind)."""
        for queue in list(self._listeners.get(task_id, ())):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(message)

    @property
    def connections(self) -> int:
        """Open WebSocket listeners on this replica."""
        return sum(len(v) for v in self._listeners.values())


class PhotoProduct:
    """The photo product's state on one gateway: settings, records, consumers, watchdog.

    Installed on a :class:`~services.gateway.service.GatewayService` by :func:`install`.
    """

    def __init__(self, gateway: GatewayService) -> None:
        self.gateway = gateway
        self.settings: PhotoSettings
        self.store: PhotoTaskStore
        self.hub = ProgressHub()
        self._subs: list[Subscription] = []
        self._watchdog: asyncio.Task[None] | None = None
        self.started_at = datetime.now(UTC)

    @property
    def runtime(self) -> Runtime:
        return self.gateway.runtime

    async def start(self, runtime: Runtime) -> None:
        """Load settings, open the records, join the consumer groups, recover stuck tasks."""
        self.settings = load_photo_settings()
        self.store = PhotoTaskStore(db.session_factory(self.gateway._engine))
        self.started_at = datetime.now(UTC)
        await runtime.bus.ensure_topics([MEDIA_REQUESTS, MEDIA_EVENTS])
        self._subs.append(await runtime.bus.subscribe([MEDIA_EVENTS], "gateway.media", self.on_record))
        self._subs.append(
            await runtime.bus.subscribe(
                [MEDIA_EVENTS], f"gateway.media.{runtime.instance_id}", self.on_push, from_latest=True
            )
        )
        await self.recover(startup=True)
        self._watchdog = asyncio.create_task(self._watch(), name="photos:watchdog")

    async def stop(self) -> None:
        """Stop the watchdog and leave the consumer groups."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
            self._watchdog = None
        for sub in self._subs:
            await sub.close()
        self._subs.clear()

    async def health(self) -> dict[str, Any]:
        """``photos`` block of ``GET /health``: queue depth and running tasks (all replicas)."""
        counts = await self.store.counts()
        return {
            "photos": {
                "queue_depth": counts.get("queued", 0),
                "running_tasks": sum(counts.get(s, 0) for s in RUNNING),
                "done": counts.get("done", 0),
                "failed": counts.get("failed", 0),
                "websocket_clients": self.hub.connections,
            }
        }

    async def publish(self, payload: MediaRenderRequested) -> None:
        """Publish a render request with the current trace context."""
        await self.runtime.bus.publish(
            payload.topic, Envelope.of(payload, self.runtime.source("gateway"), **telemetry.inject())
        )

    # --- events -------------------------------------------------------------------------
    async def on_record(self, envelope: Envelope) -> None:
        """Apply a media event to its task row (group ``gateway.media``)."""
        if envelope.type == MediaProgress.event_type:
            p = envelope.payload(MediaProgress)
            task = await self.store.get(p.job_id)
            if task is None or task.status in TERMINAL:
                return
            if _ORDER[p.stage] < _ORDER.get(task.status, 0) or (
                p.stage == task.status and p.progress < task.progress
            ):
                return  # an older event than what the row shows
            await self.store.update_where(p.job_id, ("queued", *RUNNING), status=p.stage, progress=p.progress)
        elif envelope.type == MediaCompleted.event_type:
            c = envelope.payload(MediaCompleted)
            changed = await self.store.update_where(
                c.job_id,
                ("queued", *RUNNING, "failed"),
                status="done",
                progress=100,
                error=None,
                error_details=None,
                music_key=c.music_key,
                music_size=c.music_size,
                video_key=c.video_key,
                video_size=c.video_size,
                video_width=c.width,
                video_height=c.height,
                duration_s=c.duration_s,
                title=c.title[:120],
                mood=c.mood[:32],
                lyrics=c.lyrics,
                music_prompt=c.music_prompt[:500],
                analysis=c.analysis,
                lyrics_engine=c.lyrics_engine[:16],
                music_engine=c.music_engine[:16],
                processing_s=c.processing_s,
                warnings=c.warnings,
                completed_at=datetime.now(UTC),
            )
            if not changed and await self.store.get(c.job_id) is None:
                # The task is gone: remove what the late render left behind.
                await self.runtime.storage.delete(c.video_key)
                await self.runtime.storage.delete(c.music_key)
        elif envelope.type == MediaFailed.event_type:
            f = envelope.payload(MediaFailed)
            await self.store.update_where(
                f.job_id,
                ("queued", *RUNNING),
                status="failed",
                error=f.error[:64],
                error_details=f.details[:500],
                completed_at=datetime.now(UTC),
            )

    async def on_push(self, envelope: Envelope) -> None:
        """Forward a media event to this replica's WebSocket listeners."""
        if not self.hub.has(envelope.key):
            return
        message: dict[str, Any] = {"task_id": envelope.key, "timestamp": utc_timestamp()}
        if envelope.type == MediaProgress.event_type:
            p = envelope.payload(MediaProgress)
            message.update(type="progress", status=p.stage, progress=p.progress)
        elif envelope.type in (MediaCompleted.event_type, MediaFailed.event_type):
            # Wait (briefly) until the record shows the outcome, so a client that reacts to
            # this message by downloading finds the task done.
            for _ in range(40):
                task = await self.store.get(envelope.key)
                if task is not None and task.status in TERMINAL:
                    break
                await asyncio.sleep(0.05)
            if envelope.type == MediaCompleted.event_type:
                c = envelope.payload(MediaCompleted)
                message.update(
                    type="done",
                    status="done",
                    progress=100,
                    title=c.title,
                    mood=c.mood,
                    download_url=f"/photos/{c.job_id}/download",
                )
            else:
                f = envelope.payload(MediaFailed)
                message.update(type="failed", status="failed", error=f.details, error_code=f.error)
        else:
            return
        self.hub.push(envelope.key, message)

    # --- stuck tasks ----------------------------------------------------------------------
    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.settings.watchdog_interval_s)
            try:
                await self.recover()
            except Exception as exc:  # keep watching
                log.error("photos.watchdog_failed", error=str(exc))

    async def recover(self, *, startup: bool = False) -> list[str]:
        """Re-request or fail tasks that stopped making progress.

        A task counts as stuck when it is unfinished and was not updated for
        ``stale_after_s``; at start-up on the in-memory bus every unfinished task
        older than this process is stuck (its events died with the previous process).
        Below ``max_attempts`` it is requested again (status ``queued``, attempt + 1) if
        its photo is still stored; otherwise it is marked ``failed`` (``interrupted``).

        Returns:
            The ids of the tasks acted on.
        """
        now = datetime.now(UTC)
        memory_bus = self.runtime.settings.bus_url.startswith("memory://")
        cutoff = (
            self.started_at
            if (startup and memory_bus)
            else now - timedelta(seconds=self.settings.stale_after_s)
        )
        acted: list[str] = []
        for task in await self.store.stuck(cutoff):
            photo_there = await self.runtime.storage.exists(task.photo_key)
            if task.attempt < self.settings.max_attempts and photo_there:
                attempt = task.attempt + 1
                if await self.store.update_where(
                    task.id, ("queued", *RUNNING), status="queued", progress=0, attempt=attempt
                ):
                    await self.publish(
                        MediaRenderRequested(
                            job_id=task.id, photo_key=task.photo_key, captions=task.captions, attempt=attempt
                        )
                    )
                    log.info("photos.retried", task_id=task.id, attempt=attempt)
            else:
                reason = (
                    "the photo is no longer in storage"
                    if not photo_there
                    else f"the render stopped making progress {task.attempt} time(s) (worker restart or loss)"
                )
                await self.store.update_where(
                    task.id,
                    ("queued", *RUNNING),
                    status="failed",
                    error="interrupted",
                    error_details=reason,
                    completed_at=now,
                )
                log.info("photos.given_up", task_id=task.id, reason=reason)
            acted.append(task.id)
        return acted


def install(gateway: GatewayService, app: Any) -> PhotoProduct:
    """Attach the photo product to a gateway and its FastAPI ``app``: start/stop hooks and the
    ``/health`` contributor."""
    product = PhotoProduct(gateway)
    app.state.photos = product
    gateway.start_hooks.append(product.start)
    gateway.stop_hooks.append(product.stop)
    gateway.health_contributors.append(product.health)
    return product


def _product(request: Request | WebSocket) -> PhotoProduct:
    return request.app.state.photos  # type: ignore[no-any-return]


def _owner(request: Request | WebSocket) -> str:
    return PHOTO_OWNER_ANONYMOUS


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _summary(task: PhotoTask, *, full: bool = False) -> dict[str, Any]:
    done = task.status == "done"
    out: dict[str, Any] = {
        "task_id": task.id,
        "status": task.status,
        "progress": task.progress,
        "created_at": _iso(task.created_at),
        "updated_at": _iso(task.updated_at),
        "completed_at": _iso(task.completed_at),
        "title": task.title,
        "mood": task.mood,
        "lyrics": task.lyrics,
        "duration": task.duration_s,
        "photo": {
            "format": task.photo_format,
            "size": task.photo_size,
            "width": task.photo_width,
            "height": task.photo_height,
        },
        "video": {
            "size": task.video_size,
            "width": task.video_width,
            "height": task.video_height,
            "duration": task.duration_s,
            "download_url": f"/photos/{task.id}/download",
        }
        if done
        else None,
        "music": {"size": task.music_size, "url": f"/photos/{task.id}/music", "engine": task.music_engine}
        if done
        else None,
        "engines": {"lyrics": task.lyrics_engine, "music": task.music_engine} if done else None,
        "error": task.error_details,
        "error_code": task.error,
    }
    if full:
        out.update(
            attempt=task.attempt,
            captions=task.captions,
            music_prompt=task.music_prompt,
            analysis=task.analysis,
            processing_s=task.processing_s,
            warnings=task.warnings or [],
        )
    return out


def _task_id(task_id: str) -> str:
    try:
        return str(uuid.UUID(task_id))
    except ValueError:
        raise ApiError(404, "Task not found", f"no photo task with id {task_id!r}") from None


async def _task(request: Request, task_id: str) -> PhotoTask:
    task = await _product(request).store.get(_task_id(task_id), _owner(request))
    if task is None:
        raise ApiError(404, "Task not found", f"no photo task with id {task_id!r}")
    return task


# --- upload ------------------------------------------------------------------------------------
def _too_large(settings: PhotoSettings) -> ApiError:
    return ApiError(
        413,
        "File too large",
        f"the maximum photo size is {settings.max_file_size / (1024 * 1024):g} MB "
        "(EARSHOT_PHOTO_MAX_FILE_SIZE)",
    )


def _decode_base64(text: str, settings: PhotoSettings) -> bytes:
    text = _DATA_URL.sub("", text.strip(), count=1)
    text = "".join(text.split())
    if not text:
        raise ApiError(400, "No photo provided", "the photo field is empty")
    if len(text) * 3 // 4 > settings.max_file_size + 3:
        raise _too_large(settings)
    try:
        if "-" in text or "_" in text:
            return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "Invalid base64", "the photo is not valid base64 (RFC 4648)") from None


async def _read_photo(request: Request, settings: PhotoSettings) -> tuple[bytes, bool]:
    """The photo's bytes and the captions flag, from a JSON or a multipart body."""
    content_type = request.headers.get("content-type", "").lower()
    captions = True
    if content_type.startswith("multipart/form-data"):
        try:
            form = await request.form(max_files=2, max_fields=10)
        except BodyTooLarge:
            raise _too_large(settings) from None
        except Exception as exc:  # malformed multipart bodies raise several types
            raise ApiError(
                400, "Malformed request", f"the multipart body could not be parsed: {exc}"
            ) from None
        try:
            upload = next(
                (form.get(k) for k in ("photo", "file", "image") if isinstance(form.get(k), UploadFile)), None
            )
            if not isinstance(upload, UploadFile):
                got = ", ".join(sorted(set(form.keys()))) or "none"
                raise ApiError(
                    400, "No photo provided", f"expected a file in the 'photo' field (fields received: {got})"
                )
            flag = form.get("captions")
            if isinstance(flag, str):
                captions = flag.strip().lower() not in ("0", "false", "no", "off")
            data = await upload.read(settings.max_file_size + 1)
            if len(data) > settings.max_file_size:
                raise _too_large(settings)
        finally:
            await form.close()
        return data, captions
    if content_type.startswith("application/json") or not content_type:
        try:
            raw = await request.body()
        except BodyTooLarge:
            raise _too_large(settings) from None
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ApiError(400, "Malformed request", "the body is not valid JSON") from None
        if not isinstance(body, dict):
            raise ApiError(400, "Malformed request", "the body must be a JSON object")
        field = next((k for k in _JSON_FIELDS if k in body), None)
        if field is None:
            raise ApiError(
                400, "No photo provided", 'send {"photo": "<base64>"} (JSON) or a multipart \'photo\' file'
            )
        if not isinstance(body[field], str):
            raise ApiError(400, "Invalid base64", f"'{field}' must be a base64 string")
        if "captions" in body:
            if not isinstance(body["captions"], bool):
                raise ApiError(400, "Malformed request", "'captions' must be true or false")
            captions = body["captions"]
        return _decode_base64(body[field], settings), captions
    raise ApiError(
        415, "Unsupported media type", "send application/json with a base64 photo, or multipart/form-data"
    )


@router.post("/upload-photo")
async def upload_photo(request: Request) -> dict[str, Any]:
    """Upload a photo (base64 JSON or multipart) and start its music video.

    Errors: 400 bad base64 / not an image / damaged / absurd dimensions, 413 over the size
    limit, 415 other content types.
    """
    product = _product(request)
    settings = product.settings
    rt = product.runtime
    data, captions = await _read_photo(request, settings)
    if not data:
        raise ApiError(400, "Empty file", "the photo has no content")
    if len(data) > settings.max_file_size:
        raise _too_large(settings)
    try:
        info = await asyncio.to_thread(
            images.probe_image, data, max_pixels=settings.max_pixels, max_side=settings.max_side
        )
    except images.NotAnImage as exc:
        raise ApiError(400, "Invalid file format", exc.details) from None
    except images.ImageTooLarge as exc:
        raise ApiError(400, "Image dimensions not accepted", exc.details) from None
    except images.CorruptImage as exc:
        raise ApiError(400, "Corrupt image", exc.details) from None
    task_id = str(uuid.uuid4())
    photo_key = f"photos/{task_id}.{info.format}"
    await rt.storage.put(photo_key, data, info.mime_type)
    task = PhotoTask(
        id=task_id,
        owner=_owner(request),
        status="queued",
        progress=0,
        attempt=1,
        captions=captions,
        photo_key=photo_key,
        photo_format=info.format,
        photo_size=len(data),
        photo_width=info.display_width,
        photo_height=info.display_height,
        warnings=[],
    )
    try:
        await product.store.add(task)
    except BaseException:
        await asyncio.shield(rt.storage.delete(photo_key))
        raise
    try:
        await product.publish(MediaRenderRequested(job_id=task_id, photo_key=photo_key, captions=captions))
    except Exception as exc:
        await product.store.update_where(
            task_id,
            ("queued",),
            status="failed",
            error="queue_unavailable",
            error_details="could not queue the render",
        )
        log.error("photos.publish_failed", task_id=task_id, error=str(exc))
        raise ApiError(503, "Service unavailable", "the render queue cannot be reached; try again") from None
    return {
        "task_id": task_id,
        "status": "queued",
        "message": "Photo received; the music video is being made",
        "status_url": f"/photos/{task_id}/status",
        "download_url": f"/photos/{task_id}/download",
        "websocket_url": f"/photos/{task_id}/ws",
    }


# --- reads -------------------------------------------------------------------------------------
@router.get("/photos/{task_id}/status")
async def photo_status(request: Request, task_id: str) -> dict[str, Any]:
    """Status of a task: ``queued | analyzing | composing | rendering | done | failed``, progress
    0-100, and the error (``error``: reason, ``error_code``) when failed."""
    task = await _task(request, task_id)
    return {
        "task_id": task.id,
        "status": task.status,
        "progress": task.progress,
        "error": task.error_details,
        "error_code": task.error,
        "created_at": _iso(task.created_at),
        "updated_at": _iso(task.updated_at),
        "download_url": f"/photos/{task.id}/download" if task.status == "done" else None,
    }


async def _serve(
    request: Request, task: PhotoTask, key: str | None, media_type: str, name: str, redirect: bool
) -> Response:
    if task.status != "done" or not key:
        detail = f"the task is {task.status}" + (f": {task.error_details}" if task.error_details else "")
        raise ApiError(409, "Not ready", f"{detail}; download once the status is done")
    product = _product(request)
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


@router.get("/photos/{task_id}/download", response_model=None)
async def download_video(
    request: Request,
    task_id: str,
    redirect: bool = Query(False, description="Answer with a 307 to a presigned URL instead of the bytes."),
) -> Response:
    """The MP4 (HTTP Range supported), or a redirect to a presigned URL; 409 before done."""
    task = await _task(request, task_id)
    return await _serve(request, task, task.video_key, "video/mp4", f"earshot-{task.id}.mp4", redirect)


@router.get("/photos/{task_id}/music", response_model=None)
async def download_music(
    request: Request,
    task_id: str,
    redirect: bool = Query(False, description="Answer with a 307 to a presigned URL instead of the bytes."),
) -> Response:
    """The soundtrack (MP3), like the video download."""
    task = await _task(request, task_id)
    return await _serve(request, task, task.music_key, "audio/mpeg", f"earshot-{task.id}.mp3", redirect)


@router.get("/photos")
async def list_photos(
    request: Request,
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0),
    status: Literal["queued", "analyzing", "composing", "rendering", "done", "failed"] | None = Query(None),
) -> dict[str, Any]:
    """The library: tasks with metadata (mood, lyrics, duration, sizes, created time), newest first."""
    tasks, total = await _product(request).store.page(_owner(request), limit, offset, status)
    return {"photos": [_summary(t) for t in tasks], "total": total, "limit": limit, "offset": offset}


@router.get("/photos/{task_id}")
async def get_photo(request: Request, task_id: str) -> dict[str, Any]:
    """One task with all its metadata (analysis, music prompt, engines, warnings)."""
    return _summary(await _task(request, task_id), full=True)


@router.get("/", tags=["platform"])
async def root() -> dict[str, Any]:
    """Service health check (seed 002's ``GET /``): name, version and where to look next."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        ver = version("earshot")
    except PackageNotFoundError:
        ver = "0.0.0"
    return {
        "service": "Earshot",
        "status": "healthy",
        "version": ver,
        "timestamp": utc_timestamp(),
        "docs": "/docs",
        "health": "/health",
    }


# --- WebSocket -----------------------------------------------------------------------------------
@router.websocket("/photos/{task_id}/ws")
async def photo_progress(websocket: WebSocket, task_id: str) -> None:
    """Progress of one task as JSON messages: a snapshot first (``type: "snapshot"``), then
    ``progress`` / ``done`` / ``failed``; closed (1000) after a terminal message. An unknown
    task gets one ``error`` message and close code 4404."""
    product = _product(websocket)
    await websocket.accept()
    try:
        tid = str(uuid.UUID(task_id))
    except ValueError:
        tid = ""
    task = await product.store.get(tid, _owner(websocket)) if tid else None
    if task is None:
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
        snapshot = {"type": "snapshot", "timestamp": utc_timestamp(), **_summary(task)}
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
