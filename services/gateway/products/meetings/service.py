"""The meeting memos' operations (what the routes call) and the product's lifecycle.

Upload (:meth:`MeetingService.create`): each file is checked (extension one of
:data:`EXTENSIONS`, content sniffed by :func:`services.common.audio.probe`, which also
catches empty, truncated and undecodable files; duration at most
``EARSHOT_MEETINGS_MAX_DURATION_S``), a second file is merged with the first
(:mod:`.media`), the audio is stored under the user-scoped keys
``meetings/<user>/<meeting>/...``, the row is created PENDING and
``earshot.meeting.processing_requested.v1`` is published. Nothing is stored when a check
fails; stored objects are removed when a later step fails; temp files are the caller's
(a :meth:`Runtime.temp_dir` folder removed on every path).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from earshot.analysis.v1 import analysis_pb2
from earshot.transcription.v1 import transcription_pb2
from fastapi import Depends, UploadFile
from starlette.requests import HTTPConnection

from services.common import audio, metrics
from services.common.events import (
    ANALYSIS_EVENTS,
    ANALYSIS_REQUESTS,
    MEETING_EVENTS,
    MEETING_REQUESTS,
    TRANSCRIPTION_EVENTS,
    TRANSCRIPTION_REQUESTS,
    AnalysisCompleted,
    AnalysisCompletedV2,
    AnalysisFailed,
    MeetingCompleted,
    MeetingFailed,
    MeetingProcessingRequested,
    MeetingProgress,
    TranscriptionCompleted,
    TranscriptionFailed,
    TranscriptionProgress,
)
from services.common.logging import get_logger
from services.common.runtime import Runtime
from services.gateway.products.meetings.consumers import JOB_KIND, MeetingPipeline, transcript_key
from services.gateway.products.meetings.media import merge_dual, write_wav
from services.gateway.products.meetings.models import MeetingRecord
from services.gateway.products.meetings.repository import (
    MeetingRepository,
    ProfileRepository,
    TemplateRepository,
)
from services.gateway.products.meetings.settings import MeetingSettings, load_meeting_settings
from services.gateway.shared.consumers import ConsumerTable, On
from services.gateway.shared.errors import ApiError
from services.gateway.shared.openapi import answers
from services.gateway.shared.product import GatewayContext, Product
from services.gateway.shared.uploads import MULTIPART_OVERHEAD, copy_upload

log = get_logger("earshot.gateway.meetings")

EXTENSIONS = ("mp3", "wav", "m4a", "flac", "webm", "opus")
"""File extensions accepted (seed 003's ``SUPPORTED_AUDIO_FORMATS``)."""

CONTENT_FORMATS = {"mp3", "wav", "m4a", "flac", "webm", "ogg"}
"""Sniffed containers accepted (``.opus`` files are Ogg or WebM)."""

CONTENT_TYPES = {
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "m4a": "audio/mp4",
    "flac": "audio/flac",
    "webm": "audio/webm",
    "ogg": "audio/ogg",
}


class MeetingInputError(ValueError):
    """A client error in a meeting upload: ``status`` (400, 404, 413), a title and details."""

    def __init__(self, status: int, title: str, details: str) -> None:
        super().__init__(details)
        self.status = status
        self.title = title
        self.details = details


@dataclass(frozen=True)
class AudioFile:
    """An uploaded file copied to a temp path: its original name and size (bytes)."""

    path: Path
    filename: str
    size: int


@dataclass(frozen=True)
class NewMeeting:
    """The validated form of ``POST /meetings/``."""

    title: str
    description: str | None
    participants: list[str]
    templateid: str | None
    custom_template_points: str | None


def extension(filename: str) -> str:
    """The lower-case extension of ``filename`` ("" without one)."""
    name = filename.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def check_audio(file: AudioFile, settings: MeetingSettings, field: str) -> audio.AudioInfo:
    """Check one uploaded file (see the module docstring).

    Raises:
        MeetingInputError: 400 (extension, content, empty, corrupt, too long) or 413 (size).
    """
    if file.size > settings.max_audio_file_size:
        raise MeetingInputError(
            413, "File too large", f"'{field}' is over MAX_AUDIO_FILE_SIZE ({settings.max_audio_file_size} B)"
        )
    if file.size == 0:
        raise MeetingInputError(400, "Empty file", f"'{field}' has no content")
    ext = extension(file.filename)
    if ext not in EXTENSIONS:
        raise MeetingInputError(
            400,
            "Invalid audio file format",
            f"'{field}' is .{ext or '(none)'}; supported formats: {', '.join(EXTENSIONS)}",
        )
    try:
        # the decoded stream decides the duration: decoding stops as soon as it passes the limit
        info = audio.probe(file.path, max_duration_s=settings.max_duration_s)
    except audio.AudioTooLong as exc:
        raise MeetingInputError(
            400,
            "Audio too long",
            f"'{field}' lasts over {exc.limit_s:.0f} s; the maximum is {settings.max_duration_s:.0f} s",
        ) from None
    except audio.EmptyAudio as exc:
        raise MeetingInputError(400, "Empty audio", f"'{field}': {exc.details}") from None
    except audio.CorruptAudio as exc:
        raise MeetingInputError(400, "Corrupt audio", f"'{field}': {exc.details}") from None
    except audio.AudioError as exc:
        raise MeetingInputError(400, "Invalid audio file format", f"'{field}': {exc.details}") from None
    if info.format not in CONTENT_FORMATS:
        raise MeetingInputError(400, "Invalid audio file format", f"'{field}' holds {info.format} audio")
    if info.duration_s > settings.max_duration_s:
        raise MeetingInputError(
            400,
            "Audio too long",
            f"'{field}' lasts {info.duration_s:.0f} s; the maximum is {settings.max_duration_s:.0f} s",
        )
    return info


def audio_keys(user_id: str, meeting_id: str) -> tuple[str, str]:
    """The user-scoped key prefix of a meeting's audio and its playback key stem."""
    prefix = f"meetings/{uuid.uuid5(uuid.NAMESPACE_URL, 'earshot:user:' + user_id).hex}/{meeting_id}"
    return prefix, f"{prefix}/audio"


class MeetingService:
    """Operations on meetings, templates and profiles (the routes are thin wrappers).

    Args:
        runtime: the platform kernel. meetings, templates, profiles: the repositories.
        pipeline: the processing pipeline. settings: :class:`MeetingSettings`.
    """

    def __init__(
        self,
        runtime: Runtime,
        meetings: MeetingRepository,
        templates: TemplateRepository,
        profiles: ProfileRepository,
        pipeline: MeetingPipeline,
        settings: MeetingSettings,
    ) -> None:
        self.runtime = runtime
        self.meetings = meetings
        self.templates = templates
        self.profiles = profiles
        self.pipeline = pipeline
        self.settings = settings

    async def create(
        self, user_id: str, form: NewMeeting, primary: AudioFile, second: AudioFile | None, tmp: Path
    ) -> MeetingRecord:
        """Validate, merge, store, record PENDING and queue a meeting (module docstring).

        Raises:
            MeetingInputError: bad audio (400/413) or an unknown or foreign template (404).
        """
        if form.templateid and await self.templates.visible(form.templateid, user_id) is None:
            raise MeetingInputError(404, "Template not found", f"no template {form.templateid}")
        info = await asyncio.to_thread(check_audio, primary, self.settings, "audio_file")
        meeting_id = str(uuid.uuid4())
        prefix, _ = audio_keys(user_id, meeting_id)
        stored: list[str] = []
        try:
            if second is not None:
                await asyncio.to_thread(check_audio, second, self.settings, "second_audio_file")
                master, mix = tmp / "master.wav", tmp / "mix.wav"
                try:
                    await asyncio.to_thread(merge_dual, primary.path, second.path, master, mix)
                except audio.AudioError as exc:
                    raise MeetingInputError(400, "Unreadable second audio", exc.details) from None
                master_key, play_key = f"{prefix}/master.wav", f"{prefix}/audio.wav"
                await self.runtime.storage.put_file(master_key, master, "audio/wav")
                stored.append(master_key)
                await self.runtime.storage.put_file(play_key, mix, "audio/wav")
                stored.append(play_key)
            else:
                play_key = f"{prefix}/audio.{info.format}"
                master_key = play_key
                await self.runtime.storage.put_file(play_key, primary.path, CONTENT_TYPES[info.format])
                stored.append(play_key)
            record = MeetingRecord(
                id=meeting_id,
                user_id=user_id,
                title=form.title,
                description=form.description,
                participants=form.participants,
                transcription=[],
                action_items=[],
                speakers=[],
                speaker_labels=[],
                audio_filename=primary.filename[:255],
                second_audio_filename=second.filename[:255] if second else None,
                s3_audio_path=play_key,
                master_audio_key=master_key,
                templateid=form.templateid,
                custom_template_points=form.custom_template_points,
                status="PENDING",
                analytics_status="PENDING",
                attempt=1,
                duration_s=info.duration_s,
            )
            await self.pipeline.submit(record)  # the record and its request in one transaction
        except BaseException:
            for key in stored:
                with contextlib.suppress(Exception):
                    await self.runtime.storage.delete(key)
            raise
        return record

    async def delete(self, record: MeetingRecord) -> None:
        """Remove a meeting, its audio objects and its transcript; its active run (job) ends."""
        keys = {k for k in (record.s3_audio_path, record.master_audio_key, transcript_key(record.id)) if k}
        await self.pipeline.runs.cancel(record.id)
        await self.meetings.delete(record.id)
        for key in keys:
            with contextlib.suppress(Exception):
                await self.runtime.storage.delete(key)

    async def retry(self, record: MeetingRecord) -> bool:
        """Re-queue a FAILED meeting (attempts start again, as a new run: a new ``meeting`` job);
        False when it is not FAILED."""
        return await self.pipeline.retry(record)

    async def process_pending(self, user_id: str | None) -> int:
        """Queue every PENDING meeting (of one user, or all) again; how many were queued."""
        rows = await self.meetings.ids_with_status(("PENDING",), user_id)
        for row in rows:
            await self.pipeline.request(row, row.attempt)
        return len(rows)

    async def audio_url(self, record: MeetingRecord, expiration_s: int) -> str:
        """A presigned GET URL of the playback audio."""
        return await self.runtime.storage.presigned_get_url(
            record.s3_audio_path or "", timedelta(seconds=expiration_s)
        )

    async def status(self, user_id: str | None) -> dict[str, Any]:
        """The background service's health (of one user's meetings, or all)."""
        counts = await self.meetings.counts(user_id)
        last = await self.meetings.last_error(user_id)
        return {
            "running": self.pipeline.running,
            "scope": "user" if user_id is not None else "all",
            "queue_depth": counts.get("PENDING", 0),
            "processing": counts.get("PROCESSING", 0),
            "completed": counts.get("COMPLETED", 0),
            "failed": counts.get("FAILED", 0),
            "last_error": last.error if last else None,
            "last_error_meeting_id": last.id if last else None,
            "consumer_lag": metrics.consumer_lag("gateway.meetings", MEETING_REQUESTS),
            "websocket_clients": self.pipeline.hub.connections,
        }


def is_operator(settings: MeetingSettings, user: Any) -> bool:
    """Whether ``user`` (id or e-mail listed in ``EARSHOT_MEETINGS_OPERATORS``) sees every user's queue."""
    return bool(settings.operators) and (user.id in settings.operators or user.email in settings.operators)


class MeetingsProduct(Product):
    """The meeting memos' lifecycle on one gateway: settings, repositories, the pipeline's
    consumer tables, the ``meeting`` job kind's lease policy and the ``/health`` block."""

    name = "meetings"
    publishes = (MEETING_REQUESTS, MEETING_EVENTS, TRANSCRIPTION_REQUESTS, ANALYSIS_REQUESTS)

    def __init__(self, ctx: GatewayContext) -> None:
        super().__init__(ctx)
        self.settings = load_meeting_settings()
        self.meetings = MeetingRepository(ctx.sessions)
        self.templates = TemplateRepository(ctx.sessions)
        self.profiles = ProfileRepository(ctx.sessions)
        self.pipeline = MeetingPipeline(
            ctx.runtime,
            self.meetings,
            self.templates,
            self.settings,
            self.profiles,
            ctx.durable.outbox,
            ctx.jobs,
        )
        # each processing run is a leased job: the former watchdog's settings are its policy
        ctx.durable.register(
            JOB_KIND,
            self.pipeline.runs.lease_policy(),
            on_fail=self.pipeline.runs.on_lease_expired,
        )
        self.service = MeetingService(
            ctx.runtime, self.meetings, self.templates, self.profiles, self.pipeline, self.settings
        )

    def consumers(self) -> Sequence[ConsumerTable]:
        """The pipeline's group and this replica's push group (:mod:`.consumers`; the same rows
        as ``MeetingPipeline.handlers`` and ``push_handlers``)."""
        p = self.pipeline
        return [
            ConsumerTable(
                "gateway.meetings",
                [
                    On(MEETING_REQUESTS, MeetingProcessingRequested, p.on_requested),
                    On(TRANSCRIPTION_EVENTS, TranscriptionProgress, p.on_transcription_progress),
                    On(TRANSCRIPTION_EVENTS, TranscriptionCompleted, p.on_transcribed),
                    On(TRANSCRIPTION_EVENTS, TranscriptionFailed, p.on_failed),
                    On(ANALYSIS_EVENTS, AnalysisCompleted, p.on_analyzed),
                    On(ANALYSIS_EVENTS, AnalysisCompletedV2, p.on_analyzed_v2),
                    On(ANALYSIS_EVENTS, AnalysisFailed, p.on_failed),
                ],
            ),
            ConsumerTable(
                "gateway.meetings.{instance}",
                [
                    On(MEETING_EVENTS, MeetingProgress, p.on_push),
                    On(MEETING_EVENTS, MeetingCompleted, p.on_push),
                    On(MEETING_EVENTS, MeetingFailed, p.on_push),
                ],
                from_latest=True,
            ),
        ]

    def body_limits(self) -> dict[str, int]:
        """Meeting uploads carry up to two files of ``MAX_AUDIO_FILE_SIZE`` (each checked on its own)."""
        limit = 2 * self.settings.max_audio_file_size + MULTIPART_OVERHEAD
        return {f"/api/v1/{surface}/meetings": limit for surface in ("mobile", "web")}

    async def start(self) -> None:
        """Mark the pipeline running (the consumers are already joined; stalled runs are the
        gateway sweeper's)."""
        await self.pipeline.start()

    async def stop(self) -> None:
        """Stop the background retries and dashboard pushes."""
        await self.pipeline.stop()

    async def start_pipeline(self) -> None:
        """``start-background``: mark the pipeline running again after a stop."""
        await self.pipeline.start()

    async def restart_pipeline(self) -> None:
        """``restart-background``: stop then start the pipeline's background tasks."""
        await self.pipeline.stop()
        await self.pipeline.start()

    async def health(self) -> dict[str, Any]:
        """``meetings`` block of ``GET /health``."""
        status = await self.service.status(None)
        return {"meetings": {k: v for k, v in status.items() if k not in ("scope", "last_error_meeting_id")}}

    async def rename(self, user_id: str, meeting_id: Any, renames: dict[str, str]) -> MeetingRecord:
        """Rename speakers of one meeting in one transaction.

        Raises:
            ApiError: 404 for another user's meeting or a speaker the meeting does not have.
        """
        record = await self.meetings.get(str(meeting_id), user_id)
        if record is None:
            raise ApiError(404, "Not found", f"no meeting {meeting_id}")
        known = set(record.speakers or []) | set(record.participants or [])
        known |= {str(s["speaker"]) for s in record.transcription or [] if s.get("speaker")}
        missing = [old for old in renames if old not in known]
        if missing:
            raise ApiError(404, "Speaker not found", f"the meeting has no speaker {missing[0]!r}")
        clean = {old: new.strip() for old, new in renames.items() if new.strip() and new.strip() != old}
        if clean:
            await self.meetings.rename_speakers(user_id, clean, record.id)
        updated = await self.meetings.get(record.id, user_id)
        assert updated is not None
        return updated

    async def set_item_status(
        self, user_id: str, item_id: str, status: str
    ) -> tuple[MeetingRecord, dict[str, Any]] | None:
        """Mark an action item ``open``/``done``; the meeting and the item, or None when unknown."""
        for record in await self.meetings.ids_with_status(("COMPLETED",), user_id):
            items = [dict(i) for i in record.action_items or []]
            for item in items:
                if item.get("id") == item_id:
                    item["status"] = status
                    record.action_items = items
                    await self.meetings.save(record)
                    return record, item
        return None

    async def suggest(self, user_id: str, upload: UploadFile, kind: str) -> dict[str, Any]:
        """A template, title or description for a recording, from its first minute: the opening
        is transcribed (gRPC ``Transcribe``) and analysed (``SuggestTemplate``/``SuggestTitle``/
        ``SuggestDescription``, with the defaults and the user's templates as candidates).

        Raises:
            ApiError: 400/413 for bad audio (as the upload), 503/504 when a service is down.
        """
        with self.runtime.temp_dir("suggest-") as tmp:
            path = tmp / "upload"
            size = await asyncio.to_thread(copy_upload, upload, path, self.settings.max_audio_file_size)
            if size < 0:
                raise ApiError(413, "File too large", "'audio_file' is over MAX_AUDIO_FILE_SIZE")
            try:
                await asyncio.to_thread(
                    check_audio,
                    AudioFile(path, upload.filename or "audio", size),
                    self.settings,
                    "audio_file",
                )
            except MeetingInputError as exc:
                raise ApiError(exc.status, exc.title, exc.details) from None
            clip = await opening_wav(path, tmp / "opening.wav")
            reply = await self.ctx.clients.transcription.transcribe(
                transcription_pb2.TranscribeRequest(audio=clip.read_bytes()), timeout_s=120.0
            )
        source = analysis_pb2.TranscriptSource(
            transcript=analysis_pb2.Transcript(
                language=reply.language, duration=reply.duration, text=reply.text
            )
        )
        client = self.ctx.clients.analysis
        if client is None:
            raise ApiError(
                503, "Analysis unavailable", self.ctx.clients.analysis_missing or "no analysis client"
            )
        if kind == "title":
            title = await client.suggest_title(analysis_pb2.SuggestTitleRequest(input=source))
            return {"title": title.suggested_title}
        if kind == "description":
            desc = await client.suggest_description(analysis_pb2.SuggestDescriptionRequest(input=source))
            return {"description": desc.suggested_description}
        rows, _ = await self.templates.listing(user_id, "all", None, 1, 1000)
        candidates = [
            analysis_pb2.Template(
                id=t.id,
                title=t.title,
                description=t.description or "",
                summary_prompt=t.summary_prompt or "",
                key_points_prompt=list(t.key_points_prompt or []),
                keywords=list(t.keywords or []),
            )
            for t in rows
        ]
        found = await client.suggest_template(
            analysis_pb2.SuggestTemplateRequest(input=source, templates=candidates)
        )
        return {
            "suggested_template_id": found.suggested_template_id,
            "suggested_template_name": found.suggested_template_name,
            "confidence": round(found.confidence, 3),
            "reason": found.reason,
            "alternative_templates": [
                {
                    "template_id": a.template_id,
                    "template_name": a.template_name,
                    "confidence": round(a.confidence, 3),
                }
                for a in found.alternative_templates
            ],
        }


@answers(503, 504)  # its database, storage or services may be unavailable
def meetings_product(conn: HTTPConnection) -> MeetingsProduct:
    """Dependency: this replica's :class:`MeetingsProduct`.

    Raises:
        ApiError: 503 while the gateway is not started.
    """
    product = getattr(conn.app.state, "products", {}).get(MeetingsProduct.name)
    if product is None:
        raise ApiError(503, "Service unavailable", "the gateway is starting; try again shortly")
    return product  # type: ignore[no-any-return]


MeetingsDep = Annotated[MeetingsProduct, Depends(meetings_product)]


SUGGEST_WINDOW_S = 60.0
"""How much of the recording the suggestions listen to (the synchronous Transcribe limit)."""


async def opening_wav(path: Path, out: Path, seconds: float = SUGGEST_WINDOW_S) -> Path:
    """The first ``seconds`` of a recording as a 16 kHz mono WAV at ``out``."""

    def cut() -> None:
        samples = audio.decode(path, 16000, mono=True)[: int(seconds * 16000)]
        write_wav(out, samples, 16000)

    await asyncio.to_thread(cut)
    return out
