"""How the photo routes show a task."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from services.gateway.products.photos.models import PhotoTask
from services.gateway.shared.openapi import FileField
from services.gateway.shared.timefmt import iso_z

__all__ = ["Library", "Task", "TaskStatus", "UploadPhotoForm", "UploadPhotoJson", "Uploaded", "summary"]


def summary(task: PhotoTask, *, full: bool = False) -> dict[str, Any]:
    """A task as the API shows it (``full``: with analysis, prompt, engines and warnings)."""
    done = task.status == "done"
    out: dict[str, Any] = {
        "task_id": task.id,
        "status": task.status,
        "progress": task.progress,
        "created_at": iso_z(task.created_at),
        "updated_at": iso_z(task.updated_at),
        "completed_at": iso_z(task.completed_at),
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


# --- response models ----------------------------------------------------------------------------
class Uploaded(BaseModel):
    """``POST /upload-photo``: the task is queued."""

    task_id: str
    status: str
    message: str
    status_url: str
    download_url: str
    websocket_url: str


class TaskStatus(BaseModel):
    """``GET /photos/{task_id}/status``."""

    task_id: str
    status: str = Field(description="queued, analyzing, composing, rendering, done or failed.")
    progress: int = Field(description="Percent, 0-100.")
    error: str | None = Field(description="Why it failed (failed tasks).")
    error_code: str | None
    created_at: str | None
    updated_at: str | None
    download_url: str | None = Field(description="Once done.")


class PhotoInfo(BaseModel):
    """The stored photo (bytes, upright pixels)."""

    format: str
    size: int
    width: int
    height: int


class VideoInfo(BaseModel):
    """The rendered MP4 (bytes, pixels, seconds)."""

    size: int | None
    width: int | None
    height: int | None
    duration: float | None
    download_url: str


class MusicInfo(BaseModel):
    """The soundtrack (MP3)."""

    size: int | None
    url: str
    engine: str | None


class Task(BaseModel):
    """A task in the library; ``GET /photos/{task_id}`` adds the fields below ``error_code``."""

    task_id: str
    status: str
    progress: int
    created_at: str | None
    updated_at: str | None
    completed_at: str | None
    title: str | None
    mood: str | None
    lyrics: str | None
    duration: float | None
    photo: PhotoInfo
    video: VideoInfo | None
    music: MusicInfo | None
    engines: dict[str, str | None] | None
    error: str | None
    error_code: str | None
    attempt: int | None = None
    captions: bool | None = None
    music_prompt: str | None = None
    analysis: dict[str, Any] | None = None
    processing_s: float | None = None
    warnings: list[str] | None = None


class Library(BaseModel):
    """``GET /photos``: newest first."""

    photos: list[Task]
    total: int
    limit: int
    offset: int


# --- request bodies (OpenAPI documentation; read_photo parses and validates) -------------------
class UploadPhotoJson(BaseModel):
    """JSON as the glasses app sends it (``image``, ``image_data``, ``photo_data`` and ``data``
    are accepted for ``photo`` too). The decoded photo: JPEG, PNG, WebP, GIF, BMP or TIFF, at
    most ``EARSHOT_PHOTO_MAX_FILE_SIZE`` (10 MB)."""

    photo: str = Field(description="The photo, base64 or a data: URL.")
    captions: bool = Field(True, description="Burn the lyrics into the video as captions.")


class UploadPhotoForm(BaseModel):
    """``multipart/form-data`` with the photo file (``file`` and ``image`` are accepted names
    too): JPEG, PNG, WebP, GIF, BMP or TIFF, at most ``EARSHOT_PHOTO_MAX_FILE_SIZE`` (10 MB)."""

    photo: FileField = Field(description="The photo.")
    captions: bool = Field(True, description="Burn the lyrics into the video as captions.")
