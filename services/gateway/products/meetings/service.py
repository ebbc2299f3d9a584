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
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from services.common import audio
from services.common.logging import get_logger
from services.common.runtime import Runtime
from services.gateway.products.meetings.consumers import MeetingPipeline, transcript_key
from services.gateway.products.meetings.media import merge_dual
from services.gateway.products.meetings.models import MeetingRecord
from services.gateway.products.meetings.repository import (
    MeetingRepository,
    ProfileRepository,
    TemplateRepository,
)
from services.gateway.products.meetings.settings import MeetingSettings

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
        info = audio.probe(file.path)
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
            await self.meetings.add(record)
        except BaseException:
            for key in stored:
                with contextlib.suppress(Exception):
                    await self.runtime.storage.delete(key)
            raise
        await self.pipeline.request(record, 1)
        return record

    async def delete(self, record: MeetingRecord) -> None:
        """Remove a meeting, its audio objects and its transcript."""
        keys = {k for k in (record.s3_audio_path, record.master_audio_key, transcript_key(record.id)) if k}
        await self.meetings.delete(record.id)
        for key in keys:
            with contextlib.suppress(Exception):
                await self.runtime.storage.delete(key)

    async def retry(self, record: MeetingRecord) -> bool:
        """Re-queue a FAILED meeting (attempts start again); False when it is not FAILED."""
        if not await self.meetings.transition(
            record.id, ("FAILED",), status="PENDING", analytics_status="PENDING", attempt=1, error=None
        ):
            return False
        await self.pipeline.request(record, 1)
        return True

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
            "consumer_lag": None,
            "websocket_clients": self.pipeline.hub.connections,
        }
