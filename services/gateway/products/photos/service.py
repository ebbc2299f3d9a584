"""The photo product's lifecycle: settings, records, the WebSocket hub and the upload flow.

Each render is a durable job of kind ``media`` (docs/jobs.md): the task, its job and the
render request commit in one transaction (the request goes out through the outbox). The
gateway's lease sweeper re-requests a task whose lease ran out without progress
(``EARSHOT_PHOTO_STALE_AFTER_S``; at start-up on the in-memory bus, every unfinished task,
since its events died with the previous process) up to ``EARSHOT_PHOTO_MAX_ATTEMPTS``
times, then fails it (``lease_expired``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import re
import uuid
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.datastructures import UploadFile
from starlette.requests import HTTPConnection

from services.common import images
from services.common.events import MEDIA_REQUESTS, MediaRenderRequested
from services.common.leases import LeasePolicy
from services.common.logging import get_logger
from services.common.settings import load_settings_class
from services.gateway.products.photos.consumers import MEDIA_KIND, MediaEvents
from services.gateway.products.photos.models import PhotoTask
from services.gateway.products.photos.repository import RUNNING, PhotoTaskStore
from services.gateway.shared.consumers import ConsumerTable
from services.gateway.shared.errors import ApiError
from services.gateway.shared.openapi import answers
from services.gateway.shared.product import GatewayContext, Product
from services.gateway.shared.uploads import BodyTooLarge, is_multipart, parse_form

log = get_logger("earshot.gateway.photos")

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
    """No longer read (kept so existing configurations still load): the gateway's lease sweeper
    runs every ``EARSHOT_JOB_SWEEP_INTERVAL_S``."""
    public_library: bool = Field(False, validation_alias=AliasChoices("EARSHOT_PHOTOS_PUBLIC_LIBRARY"))
    """List anonymous tasks at ``GET /photos`` without a token (default false: anyone could
    browse everyone's anonymous photos; true only for a single-user deployment)."""
    url_expiry_s: int = Field(
        3600, ge=60, le=7 * 86400, validation_alias=AliasChoices("EARSHOT_PHOTO_URL_EXPIRY_S")
    )


def load_photo_settings(**overrides: Any) -> PhotoSettings:
    """Read :class:`PhotoSettings` from the environment.

    Raises:
        ConfigurationError: naming the invalid variable.
    """
    return load_settings_class(PhotoSettings, "photo", **overrides)


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


class PhotoProduct(Product):
    """The photo product's state on one gateway: settings, records, consumers (module docstring).

    Args:
        ctx: the replica's context.

    Raises:
        ConfigurationError: an invalid ``EARSHOT_PHOTO_*`` setting (start-up stops).
    """

    name = "photos"
    publishes = (MEDIA_REQUESTS,)

    def __init__(self, ctx: GatewayContext) -> None:
        super().__init__(ctx)
        self.settings = load_photo_settings()
        self.store = PhotoTaskStore(ctx.sessions)
        self.hub = ProgressHub()
        ctx.durable.register(
            MEDIA_KIND,
            LeasePolicy(lease_s=self.settings.stale_after_s, max_attempts=self.settings.max_attempts),
        )

    def consumers(self) -> Sequence[ConsumerTable]:
        """Records (``gateway.media``) and this replica's WebSocket push (``gateway.media.<instance>``)."""
        return MediaEvents(self).tables()

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

    async def delete(self, task: PhotoTask) -> None:
        """Delete a task's row, then its stored photo, video and soundtrack."""
        await self.store.delete(task.id)
        for key in (task.photo_key, task.video_key, task.music_key):
            if key:
                await self.runtime.storage.delete(key)

    async def submit(self, data: bytes, captions: bool, owner: str) -> str:
        """Validate a photo, store it, record its task and request its render.

        Args:
            data: the photo's bytes (at most ``EARSHOT_PHOTO_MAX_FILE_SIZE``).
            captions: burn lyric captions in.
            owner: the caller's user id, or ``"anonymous"``.

        Returns:
            The task id.
        Raises:
            ApiError: 400 empty / not an image / damaged / absurd dimensions; 413.
            Exception: a database fault while recording the task and its request (answered 503 by
                the gateway's handlers); nothing is kept.
        """
        settings, rt = self.settings, self.runtime
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
            owner=owner,
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
        request = MediaRenderRequested(job_id=task_id, photo_key=photo_key, captions=captions)
        try:
            # the task, its job (lease) and the render request commit together (outbox)
            async with self.ctx.durable.outbox.transaction() as session:
                session.add(task)
                await self.ctx.jobs.submit(session, task_id, MEDIA_KIND, request)
        except BaseException:
            # nothing half way: no row, no request, and the photo goes too (a database fault is
            # answered 503 naming the database by the gateway's handlers)
            await asyncio.shield(rt.storage.delete(photo_key))
            raise
        return task_id


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


async def read_photo(request: Request, settings: PhotoSettings) -> tuple[bytes, bool]:
    """The photo's bytes and the captions flag, from a JSON or a multipart body."""
    content_type = request.headers.get("content-type", "").lower()
    captions = True
    if is_multipart(request):
        form = await parse_form(request, _too_large(settings), max_files=2, max_fields=10)
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


@answers(503)  # its database, storage or services may be unavailable
async def photo_product(conn: HTTPConnection) -> PhotoProduct:
    """Dependency: this replica's :class:`PhotoProduct`."""
    product: PhotoProduct = conn.app.state.products[PhotoProduct.name]
    return product


PhotosDep = Annotated[PhotoProduct, Depends(photo_product)]
