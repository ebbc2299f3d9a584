"""Meeting memos (seed 003): the meeting routes, mounted under ``/api/v1/mobile`` and
``/api/v1/web`` (one router, :func:`surface_operation_id` keeps operation ids unique).

Every route takes :data:`~services.gateway.deps.CurrentUser`; another user's meeting answers
404. Processing never happens in a request: ``POST /meetings/`` stores and queues (see
:mod:`.service` and :mod:`.consumers`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.routing import APIRoute

from services.common.storage import LocalObjectStorage
from services.gateway.deps import CurrentUser, Verifier, refuse_websocket, websocket_user
from services.gateway.products.meetings.exports import MEDIA_TYPES, ExportFormat, render
from services.gateway.products.meetings.models import MeetingRecord
from services.gateway.products.meetings.schemas import (
    ActionItemList,
    ActionItemOut,
    ActionItemPatch,
    ActionItemRow,
    AudioUrl,
    BackgroundAction,
    BackgroundStatus,
    MeetingOut,
    MeetingPage,
    MeetingUpdate,
    PageNo,
    SpeakerRename,
    SpeakerRenameBulk,
    SuggestedDescription,
    SuggestedTitle,
    TemplateSuggestionOut,
)
from services.gateway.products.meetings.service import (
    AudioFile,
    MeetingInputError,
    MeetingsDep,
    NewMeeting,
    copy_upload,
    is_operator,
)
from services.gateway.shared.errors import ApiError
from services.gateway.shared.openapi import NO_BODY, errors, file_responses

router = APIRouter()

SEED_ERROR_PREFIXES = tuple(
    f"/api/v1/{surface}/{area}"
    for surface in ("mobile", "web")
    for area in ("meetings", "templates", "action-items", "debug")
) + ("/api/v1/crm",)
"""Paths whose errors also carry seed 003's ``detail`` (see shared.errors.install_error_handlers)."""

MeetingId = Annotated[uuid.UUID, "a meeting id (UUID); anything else is a 422"]
Limit = Annotated[int, Query(ge=1, le=1000, description="Items per page, 1..1000 (default 100).")]


STATUS_TEXT = "pending, processing, completed or failed (any case; 422 otherwise)."
STATUS_VALUES = {
    "enum": [v for word in ("pending", "processing", "completed", "failed") for v in (word, word.upper())]
}
"""The filter values the document lists (the route accepts them in any case)."""

NO_MEETING = errors(404)
"""Errors of a route on one meeting: another user's meeting answers 404 too."""
AUDIO_REFUSED = errors(
    described={
        400: "No audio file, or one that is empty, corrupt, not audio or over the duration limit",
        503: "The transcription or analysis service is unavailable",
        504: "The transcription or analysis service did not answer in time",
    }
)
"""Errors of the routes that decode an uploaded recording."""


def surface_operation_id(route: APIRoute) -> str:
    """Operation ids unique per mount: ``<route name>_<mobile|web>``."""
    surface = "web" if route.path.startswith("/api/v1/web") else "mobile"
    return f"meetings_{route.name}_{surface}"


def _error(exc: MeetingInputError) -> ApiError:
    return ApiError(exc.status, exc.title, exc.details)


async def _owned(product: Any, meeting_id: uuid.UUID, user: Any) -> MeetingRecord:
    record = await product.meetings.get(str(meeting_id), user.id)
    if record is None:
        raise ApiError(404, "Not found", f"no meeting {meeting_id}")
    return record


def _participants(raw: str | None) -> list[str]:
    if raw is None or not raw.strip():
        return []
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError(
            400, "Invalid participants", 'participants must be a JSON array of strings, e.g. ["Ann", "Ben"]'
        )
    return [v.strip() for v in value if v.strip()][:100]


def _present(upload: UploadFile | None) -> bool:
    return upload is not None and bool(upload.filename or upload.size)


# --- background service (literal paths before /meetings/{meeting_id}) --------------------------
@router.get("/meetings/transcription/status", response_model=BackgroundStatus)
async def transcription_status(user: CurrentUser, product: MeetingsDep) -> BackgroundStatus:
    """The background service's health: queue depth, processing, failed, last error (the caller's
    meetings; every user's for operators, ``EARSHOT_MEETINGS_OPERATORS``)."""
    scope = None if is_operator(product.settings, user) else user.id
    return BackgroundStatus.model_validate(await product.service.status(scope))


@router.post(
    "/meetings/transcription/start-background", response_model=BackgroundAction, openapi_extra=NO_BODY
)
async def start_background(user: CurrentUser, product: MeetingsDep) -> BackgroundAction:
    """Start the background service when stopped (an operator's control; others see its state)."""
    if not product.pipeline.running and is_operator(product.settings, user):
        await product.start_pipeline()
        return BackgroundAction(message="background processing started", running=True)
    return BackgroundAction(message="background processing is running", running=product.pipeline.running)


@router.post("/meetings/transcription/process-all", response_model=BackgroundAction, openapi_extra=NO_BODY)
async def process_all(user: CurrentUser, product: MeetingsDep) -> BackgroundAction:
    """Queue every PENDING meeting of the caller (of every user for operators) again."""
    scope = None if is_operator(product.settings, user) else user.id
    queued = await product.service.process_pending(scope)
    return BackgroundAction(
        message=f"{queued} pending meeting(s) queued", running=product.pipeline.running, queued=queued
    )


@router.post(
    "/meetings/transcription/restart-background", response_model=BackgroundAction, openapi_extra=NO_BODY
)
async def restart_background(user: CurrentUser, product: MeetingsDep) -> BackgroundAction:
    """Restart the background service (operators): recovery runs again; others: re-queue theirs."""
    if is_operator(product.settings, user):
        await product.restart_pipeline()
        return BackgroundAction(message="background processing restarted", running=product.pipeline.running)
    queued = await product.service.process_pending(user.id)
    return BackgroundAction(
        message=f"{queued} pending meeting(s) queued", running=product.pipeline.running, queued=queued
    )


# --- suggestions -----------------------------------------------------------------------------
@router.post("/meetings/suggest-template", response_model=TemplateSuggestionOut, responses=AUDIO_REFUSED)
async def suggest_template(
    user: CurrentUser, product: MeetingsDep, audio_file: Annotated[UploadFile, File()]
) -> TemplateSuggestionOut:
    """The template that fits the recording best, from its first minute."""
    result = await product.suggest(user.id, audio_file, "template")
    return TemplateSuggestionOut.model_validate(result)


@router.post("/meetings/suggest-title", response_model=SuggestedTitle, responses=AUDIO_REFUSED)
async def suggest_title(
    user: CurrentUser, product: MeetingsDep, audio_file: Annotated[UploadFile, File()]
) -> SuggestedTitle:
    """A title for the recording, from its first minute."""
    return SuggestedTitle(suggested_title=(await product.suggest(user.id, audio_file, "title"))["title"])


@router.post("/meetings/suggest-description", response_model=SuggestedDescription, responses=AUDIO_REFUSED)
async def suggest_description(
    user: CurrentUser, product: MeetingsDep, audio_file: Annotated[UploadFile, File()]
) -> SuggestedDescription:
    """A one-sentence description of the recording, from its first minute."""
    result = await product.suggest(user.id, audio_file, "description")
    return SuggestedDescription(suggested_description=result["description"])


# --- meetings ----------------------------------------------------------------------------------
@router.post(
    "/meetings/",
    status_code=201,
    response_model=MeetingOut,
    responses={**AUDIO_REFUSED, **errors(described={404: "No such template (templateid)"})},
)
async def create_meeting(
    user: CurrentUser,
    product: MeetingsDep,
    title: Annotated[str, Form(min_length=1, max_length=300)],
    audio_file: Annotated[
        UploadFile, File(description="Primary recording (mp3, wav, m4a, flac, webm, opus).")
    ],
    description: Annotated[str | None, Form()] = None,
    participants: Annotated[str | None, Form(description='JSON array of names, e.g. ["Ann", "Ben"].')] = None,
    templateid: Annotated[str | None, Form()] = None,
    custom_template_points: Annotated[str | None, Form()] = None,
    second_audio_file: Annotated[
        UploadFile | None, File(description="Second stream, merged (channel 1).")
    ] = None,
) -> MeetingOut:
    """Create a meeting from a recording (two streams are merged); answers PENDING at once and
    processes in the background."""
    names = _participants(participants)
    template = (templateid or "").strip() or None
    limit = product.settings.max_audio_file_size
    with product.runtime.temp_dir("meeting-") as tmp:
        files: list[AudioFile] = []
        for field, upload in (("audio_file", audio_file), ("second_audio_file", second_audio_file)):
            if upload is None or not _present(upload):
                if field == "audio_file":
                    raise ApiError(
                        400, "No audio file provided", "send the recording in the 'audio_file' field"
                    )
                continue
            path = tmp / f"{field}.upload"
            size = await asyncio.to_thread(copy_upload, upload, path, limit)
            if size < 0:
                raise ApiError(
                    413, "File too large", f"'{field}' is over MAX_AUDIO_FILE_SIZE ({limit} bytes)"
                )
            files.append(AudioFile(path=path, filename=upload.filename or field, size=size))
        form = NewMeeting(
            title=title.strip(),
            description=description,
            participants=names,
            templateid=template,
            custom_template_points=custom_template_points,
        )
        try:
            record = await product.service.create(
                user.id, form, files[0], files[1] if len(files) > 1 else None, tmp
            )
        except MeetingInputError as exc:
            raise _error(exc) from None
    return MeetingOut.of(record)


@router.get("/meetings/", response_model=MeetingPage)
async def list_meetings(
    user: CurrentUser,
    product: MeetingsDep,
    page: PageNo = 1,
    limit: Limit = 100,
    status: Annotated[str | None, Query(description=STATUS_TEXT, json_schema_extra=STATUS_VALUES)] = None,
    analytics_status: Annotated[
        str | None, Query(description=STATUS_TEXT, json_schema_extra=STATUS_VALUES)
    ] = None,
    search: Annotated[str | None, Query(max_length=200)] = None,
    date_from: Annotated[datetime | None, Query(description="ISO 8601; created at or after.")] = None,
    date_to: Annotated[datetime | None, Query(description="ISO 8601; created at or before.")] = None,
) -> MeetingPage:
    """The caller's meetings, newest first, filtered and paginated."""
    for name, value in (("status", status), ("analytics_status", analytics_status)):
        if value and value.upper() not in ("PENDING", "PROCESSING", "COMPLETED", "FAILED"):
            raise ApiError(422, "Invalid request", f"{name} must be pending, processing, completed or failed")
    if date_from and date_to and date_from > date_to:
        raise ApiError(422, "Invalid request", "date_from is after date_to")
    rows, total = await product.meetings.page(
        user.id,
        page,
        limit,
        status=status,
        analytics_status=analytics_status,
        search=search,
        date_from=_aware(date_from),
        date_to=_aware(date_to),
    )
    return MeetingPage(
        data=[MeetingOut.of(r) for r in rows],
        total=total,
        page=page,
        limit=limit,
        total_pages=math.ceil(total / limit) if total else 0,
    )


def _aware(value: datetime | None) -> datetime | None:
    from datetime import UTC

    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@router.get("/meetings/{meeting_id}", response_model=MeetingOut, responses=NO_MEETING)
async def get_meeting(meeting_id: uuid.UUID, user: CurrentUser, product: MeetingsDep) -> MeetingOut:
    """One meeting with its transcript, summary, key points, action items and analytics."""
    return MeetingOut.of(await _owned(product, meeting_id, user))


@router.put("/meetings/{meeting_id}", response_model=MeetingOut, responses=NO_MEETING)
async def update_meeting(
    meeting_id: uuid.UUID, body: MeetingUpdate, user: CurrentUser, product: MeetingsDep
) -> MeetingOut:
    """Change the title, description or participants."""
    record = await _owned(product, meeting_id, user)
    if body.title is not None:
        record.title = body.title.strip()
    if body.description is not None:
        record.description = body.description
    if body.participants is not None:
        record.participants = [p.strip() for p in body.participants if p.strip()]
    return MeetingOut.of(await product.meetings.save(record))


@router.delete("/meetings/{meeting_id}", status_code=204, responses=NO_MEETING)
async def delete_meeting(meeting_id: uuid.UUID, user: CurrentUser, product: MeetingsDep) -> Response:
    """Delete the meeting, its audio objects and everything derived."""
    await product.service.delete(await _owned(product, meeting_id, user))
    return Response(status_code=204)


@router.post(
    "/meetings/{meeting_id}/retry",
    response_model=MeetingOut,
    status_code=202,
    openapi_extra=NO_BODY,
    responses=errors(404, described={409: "The meeting is not FAILED"}),
)
async def retry_meeting(meeting_id: uuid.UUID, user: CurrentUser, product: MeetingsDep) -> MeetingOut:
    """Re-queue a FAILED meeting (409 for any other status)."""
    record = await _owned(product, meeting_id, user)
    if not await product.service.retry(record):
        raise ApiError(409, "Not failed", f"the meeting is {record.status}; only FAILED meetings are retried")
    return MeetingOut.of(await _owned(product, meeting_id, user))


@router.get("/meetings/{meeting_id}/audio/url", response_model=AudioUrl, responses=NO_MEETING)
async def audio_url(
    meeting_id: uuid.UUID,
    user: CurrentUser,
    product: MeetingsDep,
    request: Request,
    expiration: Annotated[int, Query(ge=60, le=7 * 86400, description="Seconds, 60..604800.")] = 3600,
) -> AudioUrl:
    """A presigned URL of the meeting's (playback) audio."""
    record = await _owned(product, meeting_id, user)
    url = await product.service.audio_url(record, expiration)
    if url.startswith("/"):
        url = str(request.base_url).rstrip("/") + url
    return AudioUrl(url=url, expires_in=expiration, meeting_id=record.id)


@router.get(
    "/meetings/{meeting_id}/audio",
    response_class=Response,
    responses={
        **file_responses("audio/wav"),
        **errors(described={404: "No such meeting, or its audio is gone"}),
    },
)
async def download_audio(meeting_id: uuid.UUID, user: CurrentUser, product: MeetingsDep) -> Response:
    """The meeting's audio, streamed with HTTP Range support (local storage), or a redirect to a
    short-lived presigned URL (S3/MinIO, which serves ranges itself)."""
    record = await _owned(product, meeting_id, user)
    storage = product.runtime.storage
    key = record.s3_audio_path or ""
    if isinstance(storage, LocalObjectStorage):
        path = storage.open_path(key)
        if not path.is_file():
            raise ApiError(404, "Not found", "the meeting's audio is no longer stored")
        return FileResponse(path, filename=record.audio_filename or path.name)
    return RedirectResponse(await product.service.audio_url(record, 300), status_code=307)


@router.put("/meetings/{meeting_id}/speaker-names", response_model=MeetingOut, responses=NO_MEETING)
async def rename_speaker(
    meeting_id: uuid.UUID, body: SpeakerRename, user: CurrentUser, product: MeetingsDep
) -> MeetingOut:
    """Rename one speaker across segments, participants, action items and analytics."""
    return MeetingOut.of(
        await product.rename(user.id, meeting_id, {body.old_speaker_name: body.new_speaker_name})
    )


@router.put("/meetings/{meeting_id}/speaker-names/bulk", response_model=MeetingOut, responses=NO_MEETING)
async def rename_speakers(
    meeting_id: uuid.UUID, body: SpeakerRenameBulk, user: CurrentUser, product: MeetingsDep
) -> MeetingOut:
    """Rename several speakers at once (one transaction)."""
    return MeetingOut.of(await product.rename(user.id, meeting_id, body.speaker_updates))


@router.get(
    "/meetings/{meeting_id}/export",
    response_class=Response,
    responses={**file_responses("application/octet-stream", redirect=False), **NO_MEETING},
)
async def export_meeting(
    meeting_id: uuid.UUID,
    user: CurrentUser,
    product: MeetingsDep,
    format: Annotated[ExportFormat, Query(description="md, json, srt, vtt, txt or docx.")] = "md",  # noqa: A002
) -> Response:
    """The transcript with speakers and times, summary, key points and action items as a file."""
    record = await _owned(product, meeting_id, user)
    body = await asyncio.to_thread(render, MeetingOut.of(record).model_dump(mode="json"), format)
    name = f"meeting-{record.id}.{format}"
    return Response(
        body,
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- action items across meetings ------------------------------------------------------------
@router.get("/action-items", response_model=ActionItemList)
async def list_action_items(
    user: CurrentUser,
    product: MeetingsDep,
    status: Annotated[str | None, Query(pattern="^(open|done)$")] = None,
    assigned_to: Annotated[str | None, Query(max_length=200)] = None,
) -> ActionItemList:
    """The caller's action items of every completed meeting, due date first."""
    rows: list[ActionItemRow] = []
    for record in await product.meetings.ids_with_status(("COMPLETED",), user.id):
        for item in record.action_items or []:
            if status and item.get("status", "open") != status:
                continue
            if assigned_to and (item.get("assigned_to") or "").lower() != assigned_to.lower():
                continue
            rows.append(
                ActionItemRow(
                    **ActionItemOut.model_validate(item).model_dump(),
                    meeting_id=record.id,
                    meeting_title=record.title,
                )
            )
    rows.sort(key=lambda r: (r.due_date or "9999", r.meeting_title))
    return ActionItemList(data=rows, total=len(rows))


@router.patch("/action-items/{item_id}", response_model=ActionItemRow, responses=errors(404))
async def patch_action_item(
    item_id: uuid.UUID, body: ActionItemPatch, user: CurrentUser, product: MeetingsDep
) -> ActionItemRow:
    """Mark an action item done (or open again)."""
    found = await product.set_item_status(user.id, str(item_id), body.status)
    if found is None:
        raise ApiError(404, "Not found", f"no action item {item_id}")
    record, item = found
    return ActionItemRow(**item, meeting_id=record.id, meeting_title=record.title)


# --- progress ------------------------------------------------------------------------------------
@router.websocket("/meetings/{meeting_id}/ws")
async def meeting_progress(
    websocket: WebSocket, meeting_id: str, product: MeetingsDep, tokens: Verifier
) -> None:
    """Progress of one meeting: a snapshot, then every stage change; closed once COMPLETED or
    FAILED. Authenticated (``Authorization`` header, ``?token=`` or the ``bearer, <token>``
    subprotocol); a missing or bad token (401) or another user's meeting (404) is refused
    before the socket is accepted (denial response, or close code 4401 / 4404)."""
    ok, user, subprotocol = await websocket_user(websocket, tokens, required=True)
    if not ok or user is None:
        return
    record = await product.meetings.get(meeting_id, user.id)
    if record is None:
        await refuse_websocket(websocket, ApiError(404, "Not found", f"no meeting {meeting_id}"))
        return
    queue = product.pipeline.hub.listen(record.id)
    try:
        await websocket.accept(subprotocol=subprotocol)
        await websocket.send_json(
            {"type": "snapshot", "meeting_id": record.id, "status": record.status, "attempt": record.attempt}
        )
        if record.status in ("COMPLETED", "FAILED"):
            await websocket.close()
            return
        while True:
            message = await queue.get()
            await websocket.send_json(message)
            if message.get("type") in ("completed", "failed"):
                await websocket.close()
                return
    except WebSocketDisconnect:
        pass
    finally:
        product.pipeline.hub.forget(record.id, queue)
        with contextlib.suppress(Exception):
            await websocket.close()
