"""Photo -> lyrics -> music -> video, as one reusable pipeline (the service and the CLI use it).

Stages and the overall progress they cover (reported through ``progress(stage, percent)``):

=============  ========  ==========================================================
stage          percent   work
=============  ========  ==========================================================
analyzing      0-20      Pillow analysis of the photo, then lyrics (local or Claude)
composing      20-40     soundtrack (local synthesizer or Suno), MP3 file
rendering      40-100    video frames, H.264 + AAC encoding
=============  ========  ==========================================================

Everything is written inside the ``workdir`` the caller owns (and removes).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from services.common.processes import die_with_parent
from services.media.config import MediaSettings
from services.media.lyrics import ClaudeLyricist, LocalLyricist, Lyricist, LyricsError, SongText
from services.media.music import (
    SAMPLE_RATE,
    LocalSynthesizer,
    MusicError,
    SunoClient,
    decode_audio,
    encode_mp3,
    fit_duration,
)
from services.media.photo import PhotoAnalysis, analyze_photo
from services.media.video import VideoSpec
from services.media.worker import read_progress, render_job, synthesize_job

__all__ = ["MediaPipeline", "PipelineError", "Progress", "RenderOutcome", "encode_mp3"]

Progress = Callable[[str, int], Awaitable[None]]
"""``await progress(stage, percent)``: stage is analyzing, composing or rendering; percent 0-100."""


class PipelineError(RuntimeError):
    """A stage failed for good. ``code`` is a short machine code, ``stage`` the stage."""

    def __init__(self, code: str, details: str, stage: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details
        self.stage = stage


@dataclass
class RenderOutcome:
    """What one pipeline run produced (files inside the caller's workdir).

    Attributes:
        video_path: the MP4.
        music_path: the soundtrack (MP3).
        analysis: the photo analysis.
        song: lyrics and music prompt.
        music_engine: ``local`` or ``suno``.
        width, height: video frame size, pixels.
        duration_s: video duration, seconds.
        processing_s: wall time of the run, seconds.
        warnings: e.g. that a cloud engine was replaced by the local one.
    """

    video_path: Path
    music_path: Path
    analysis: PhotoAnalysis
    song: SongText
    music_engine: str
    width: int
    height: int
    duration_s: float
    processing_s: float
    warnings: list[str] = field(default_factory=list)


class MediaPipeline:
    """The configured engines and their order (see module docstring).

    Args:
        settings: media settings: which engines (keys set or not), video spec.
    """

    def __init__(self, settings: MediaSettings) -> None:
        self.settings = settings
        self.local_lyricist = LocalLyricist()
        self.lyricist: Lyricist = self.local_lyricist
        if settings.claude_api_key:
            self.lyricist = ClaudeLyricist(
                settings.claude_api_key,
                settings.claude_model,
                base_url=settings.claude_base_url,
                timeout_s=settings.claude_timeout_s,
                max_retries=settings.claude_max_retries,
            )
        self.synth = LocalSynthesizer(SAMPLE_RATE)
        self._pool: ProcessPoolExecutor | None = None
        self.suno: SunoClient | None = None
        if settings.suno_api_key:
            self.suno = SunoClient(
                settings.suno_api_key,
                settings.suno_base_url,
                poll_interval_s=settings.suno_poll_interval_s,
                timeout_s=settings.suno_timeout_s,
            )
        self.spec = VideoSpec(
            duration_s=settings.duration_s,
            fps=settings.fps,
            max_long_side=settings.max_long_side,
            max_short_side=settings.max_short_side,
            preset=settings.x264_preset,
            crf=settings.x264_crf,
            threads=settings.x264_threads,
            audio_bitrate=settings.audio_bitrate,
            x264_params=settings.x264_params,
        )

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.settings.max_concurrent_tasks,
                mp_context=multiprocessing.get_context("spawn"),
                # workers end with this process, however it ends (no orphans holding models)
                initializer=die_with_parent,
                initargs=(os.getpid(),),
            )
        return self._pool

    async def _in_worker(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` in a worker process (see :mod:`services.media.worker`).

        Raises:
            BrokenProcessPool: a worker died (crash, OOM kill); the next call starts new workers.
        """
        try:
            return await asyncio.wrap_future(self._executor().submit(fn, *args))
        except BrokenProcessPool:
            self._pool = None
            raise

    def close(self, wait: bool = False) -> None:
        """Stop the worker processes (a render in progress finishes first; in the background
        unless ``wait``)."""
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=True)
            self._pool = None

    @property
    def engines(self) -> dict[str, str]:
        """Active engines: ``{"lyrics": "local"|"claude", "music": "local"|"suno", "video": ...}``."""
        return {
            "vision": "pillow" + ("+claude" if self.lyricist is not self.local_lyricist else ""),
            "lyrics": self.lyricist.name,
            "music": self.suno.name if self.suno else self.synth.name,
            "video": f"pyav-libx264-{self.spec.preset}",
            "x264_params": self.spec.x264_params,
        }

    async def run(
        self, photo: Path, workdir: Path, *, captions: bool = True, progress: Progress | None = None
    ) -> RenderOutcome:
        """Run every stage on a photo file.

        Args:
            photo: the photo (any accepted format; EXIF orientation applied).
            workdir: an existing private folder for outputs and temporary files.
            captions: burn the lyric lines into the video.
            progress: awaited at stage changes and during the render (about every 5%).

        Returns:
            The :class:`RenderOutcome`.
        Raises:
            PipelineError: codes ``bad_photo``, ``lyrics_provider_failed``,
                ``lyrics_bad_reply``, ``music_provider_failed``, ``music_provider_timeout``,
                ``music_bad_audio``, ``render_failed``.
        """
        from services.common.images import ImageError

        started = time.perf_counter()
        warnings: list[str] = []

        async def report(stage: str, percent: int) -> None:
            if progress is not None:
                await progress(stage, percent)

        await report("analyzing", 2)
        try:
            analysis, image = await asyncio.to_thread(analyze_photo, photo)
        except ImageError as exc:
            raise PipelineError("bad_photo", exc.details, "analyzing") from exc
        await report("analyzing", 8)
        try:
            song = await self.lyricist.write(analysis, image)
        except LyricsError as exc:
            if not self.settings.fallback_to_local:
                raise PipelineError(exc.code, exc.details, "analyzing") from exc
            warnings.append(f"lyrics: {exc.details}; the local writer was used")
            song = self.local_lyricist.compose(analysis)

        await report("composing", 20)
        music_path = workdir / "music.mp3"
        audio_path = workdir / "audio.npy"
        duration = self.settings.duration_s
        music_engine = self.synth.name
        have_audio = False
        if self.suno is not None:
            try:

                async def polled(status: str) -> None:
                    await report("composing", 25 if status in ("submitted", "queued") else 32)

                await self.suno.generate(song, music_path, on_poll=polled)
                decoded = await asyncio.to_thread(decode_audio, music_path, SAMPLE_RATE)
                await asyncio.to_thread(np.save, audio_path, fit_duration(decoded, SAMPLE_RATE, duration))
                music_engine = self.suno.name
                have_audio = True
            except MusicError as exc:
                if not self.settings.fallback_to_local:
                    raise PipelineError(exc.code, exc.details, "composing") from exc
                warnings.append(f"music: {exc.details}; the local synthesizer was used")
                music_path.unlink(missing_ok=True)
        if not have_audio:
            await self._in_worker(
                synthesize_job,
                song.music.model_dump(),
                analysis.seed,
                duration,
                str(audio_path),
                str(music_path),
            )
        await report("rendering", 40)

        video_path = workdir / "video.mp4"
        progress_path = workdir / "render.progress"
        try:
            job = self._in_worker(
                render_job,
                str(photo),
                str(audio_path),
                str(video_path),
                self.spec,
                analysis.seed,
                song.lines if captions else None,
                str(progress_path),
            )
            waiter = asyncio.ensure_future(job)
            last = 40
            while not waiter.done():
                await asyncio.wait({waiter}, timeout=0.25)
                percent = 40 + int(59 * read_progress(progress_path))
                if percent >= last + 5:
                    last = percent
                    await report("rendering", percent)
            width, height = waiter.result()
        except Exception as exc:  # PyAV raises FFmpegError subclasses, numpy/Pillow others
            raise PipelineError(
                "render_failed", f"the video could not be encoded: {exc}", "rendering"
            ) from exc
        return RenderOutcome(
            video_path=video_path,
            music_path=music_path,
            analysis=analysis,
            song=song,
            music_engine=music_engine,
            width=width,
            height=height,
            duration_s=self.spec.duration_s,
            processing_s=round(time.perf_counter() - started, 3),
            warnings=warnings,
        )
