"""How the photo routes show a task."""

from __future__ import annotations

from typing import Any

from services.gateway.products.photos.models import PhotoTask
from services.gateway.shared.timefmt import iso_z

__all__ = ["summary"]


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
