"""Media service: consumes render requests, runs the pipeline, stores the results.

Consumes ``earshot.media.render_requested.v1`` (group ``media``). A request is
accepted at once and queued in this worker; at most ``MAX_CONCURRENT_TASKS``
(default 3) renders run at the same time, the rest wait their turn. For each
render it downloads ``photos/<task>.<ext>`` into a private temp folder, runs
:class:`~services.media.pipeline.MediaPipeline`, stores ``music/<task>.mp3`` and
``videos/<task>.mp4`` and publishes ``earshot.media.progress.v1`` along the way,
then ``earshot.media.completed.v1`` or ``earshot.media.failed.v1`` (with a code
and a reason). The temp folder is removed on every path; a failed render leaves
no music or video object behind.

Why the handler does not hold the partition while rendering: a render takes
seconds to minutes (Suno), longer than a consumer should stall a partition, and
holding it would serialise renders whose keys share a partition. Durability comes
from the owner of the task records instead: the gateway re-requests (or fails)
tasks that stop making progress, including after a restart. Duplicate requests
for a task already queued or running here are ignored.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from services.common import publishing, telemetry
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
from services.common.logging import bind, get_logger, unbind
from services.common.runtime import Runtime
from services.common.storage import ObjectNotFound
from services.media.config import MediaSettings, load_media_settings
from services.media.pipeline import MediaPipeline, PipelineError

log = get_logger("earshot.media")

GROUP = "media"


class MediaService:
    """The media capability service (see module docstring).

    Args:
        settings: media settings; read from the environment at start when ``None``.
    """

    name = "media"

    def __init__(self, settings: MediaSettings | None = None) -> None:
        self.runtime: Runtime
        self.settings = settings
        self.pipeline: MediaPipeline
        self._sub: Subscription | None = None
        self._slots: asyncio.Semaphore
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._running: set[str] = set()
        self.completed = 0
        self.failed = 0

    async def start(self, runtime: Runtime) -> None:
        """Read settings, build the engines and join the ``media`` consumer group.

        Raises:
            services.common.settings.ConfigurationError: invalid media settings.
        """
        self.runtime = runtime
        if self.settings is None:
            self.settings = load_media_settings()
        self.pipeline = MediaPipeline(self.settings)
        self._slots = asyncio.Semaphore(self.settings.max_concurrent_tasks)
        await runtime.bus.ensure_topics([MEDIA_REQUESTS, MEDIA_EVENTS])
        self._sub = await runtime.bus.subscribe([MEDIA_REQUESTS], GROUP, self.handle)
        log.info("media.ready", engines=self.pipeline.engines, slots=self.settings.max_concurrent_tasks)

    async def stop(self) -> None:
        """Leave the consumer group and cancel renders in progress (the gateway retries them)."""
        if self._sub:
            await self._sub.close()
            self._sub = None
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.settings is not None:
            self.pipeline.close()

    async def health(self) -> dict[str, Any]:
        """Detailed status for the gateway's ``/health``: engines, slots, queue."""
        assert self.settings is not None
        return {
            "media": {
                "status": "healthy",
                "engines": self.pipeline.engines,
                "max_concurrent_tasks": self.settings.max_concurrent_tasks,
                "running_tasks": len(self._running),
                "queued_tasks": len(self._tasks) - len(self._running),
                "completed_tasks": self.completed,
                "failed_tasks": self.failed,
            }
        }

    async def handle(self, envelope: Envelope) -> None:
        """Accept one render request (queued here; see the module docstring)."""
        if envelope.type != MediaRenderRequested.event_type:
            return
        request = envelope.payload(MediaRenderRequested)
        if request.job_id in self._tasks:
            log.info("media.duplicate_request", job_id=request.job_id, attempt=request.attempt)
            return
        # the task copies this context: its render span hangs below this event's process span
        task = asyncio.create_task(self._render(request), name=f"media:{request.job_id}")
        self._tasks[request.job_id] = task
        job_id = request.job_id

        def forget(_: asyncio.Task[None]) -> None:
            self._tasks.pop(job_id, None)

        task.add_done_callback(forget)

    async def _render(self, request: MediaRenderRequested) -> None:
        async with self._slots:
            self._running.add(request.job_id)
            bind(job_id=request.job_id)
            try:
                with telemetry.child_span("media.render", "earshot.media", attempt=request.attempt):
                    await self._process(request)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # never leave a task without an answer
                log.exception("media.unexpected_error", error=type(exc).__name__)
                self.failed += 1
                await self._publish(
                    MediaFailed(
                        job_id=request.job_id,
                        attempt=request.attempt,
                        error="internal_error",
                        details="the render failed unexpectedly; it has been logged",
                    )
                )
            finally:
                self._running.discard(request.job_id)
                unbind("job_id")

    async def _process(self, request: MediaRenderRequested) -> None:
        rt = self.runtime
        job = request.job_id
        started = time.perf_counter()

        async def progress(stage: str, percent: int) -> None:
            await self._publish(
                MediaProgress(job_id=job, stage=stage, progress=percent, attempt=request.attempt)  # type: ignore[arg-type]
            )

        video_key = f"videos/{job}.mp4"
        music_key = f"music/{job}.mp3"
        stored: list[str] = []
        with rt.temp_dir("media-") as tmp:
            photo = tmp / ("photo." + request.photo_key.rsplit(".", 1)[-1])
            try:
                await rt.storage.get_to_file(request.photo_key, photo)
            except ObjectNotFound:
                self.failed += 1
                await self._publish(
                    MediaFailed(
                        job_id=job,
                        attempt=request.attempt,
                        stage="analyzing",
                        error="photo_missing",
                        details="the photo is no longer in storage",
                    )
                )
                return
            try:
                outcome = await self.pipeline.run(photo, tmp, captions=request.captions, progress=progress)
                await rt.storage.put_file(music_key, outcome.music_path, "audio/mpeg")
                stored.append(music_key)
                video = await rt.storage.put_file(video_key, outcome.video_path, "video/mp4")
                stored.append(video_key)
                music_size = outcome.music_path.stat().st_size
            except PipelineError as exc:
                for key in stored:
                    await rt.storage.delete(key)
                self.failed += 1
                log.info("media.failed", code=exc.code, stage=exc.stage, reason=exc.details)
                await self._publish(
                    MediaFailed(
                        job_id=job,
                        attempt=request.attempt,
                        stage=exc.stage,  # type: ignore[arg-type]
                        error=exc.code,
                        details=exc.details,
                    )
                )
                return
            except BaseException:
                for key in stored:
                    await asyncio.shield(rt.storage.delete(key))
                raise
        song = outcome.song
        self.completed += 1
        log.info("media.done", seconds=round(time.perf_counter() - started, 2), size=video.size)
        await self._publish(
            MediaCompleted(
                job_id=job,
                attempt=request.attempt,
                video_key=video_key,
                music_key=music_key,
                title=song.title,
                mood=song.mood,
                lyrics=song.lyrics,
                music_prompt=song.music.describe(),
                analysis=outcome.analysis.model_dump(mode="json", exclude={"seed"}),
                lyrics_engine=song.engine,
                music_engine=outcome.music_engine,
                duration_s=outcome.duration_s,
                width=outcome.width,
                height=outcome.height,
                video_size=video.size,
                music_size=music_size,
                processing_s=round(time.perf_counter() - started, 3),
                warnings=outcome.warnings,
            )
        )

    async def _publish(self, payload: MediaProgress | MediaCompleted | MediaFailed) -> None:
        await publishing.publish(self.runtime, self.name, payload)
