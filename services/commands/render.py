"""``earshot render PHOTO [-o OUT.mp4]``: a photo to a 30-second music video, on this machine.

Runs the media pipeline in-process (:class:`services.media.pipeline.MediaPipeline`):
Pillow analysis, lyrics (local writer, or Claude with ``CLAUDE_API_KEY``), soundtrack
(local synthesizer, or Suno with ``SUNO_API_KEY``) and the PyAV render, with a progress
bar. Temporary files live in a private folder removed on every path. Exit codes: 0 done,
1 a stage failed, 2 bad input or configuration.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from pathlib import Path

import typer


def render(
    photo: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="JPEG, PNG, WebP..."),
    output: Path = typer.Option(None, "-o", "--output", help="Where to write the MP4 (default: PHOTO.mp4)."),
    captions: bool = typer.Option(True, "--captions/--no-captions", help="Burn the lyric lines in."),
    music: Path = typer.Option(None, "--music", help="Also keep the soundtrack (MP3) here."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Turn PHOTO into a music video with a soundtrack written for it."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from services.common.images import ImageError, probe_image
    from services.common.settings import ConfigurationError
    from services.media.config import load_media_settings
    from services.media.pipeline import MediaPipeline, PipelineError

    try:
        settings = load_media_settings()
    except ConfigurationError as exc:
        typer.echo(f"earshot: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        probe_image(photo, max_pixels=settings.max_pixels)
    except ImageError as exc:
        typer.echo(f"earshot: {photo}: {exc.details}", err=True)
        raise typer.Exit(2) from None
    out = output or Path(photo.stem + ".mp4")
    pipeline = MediaPipeline(settings)

    async def main() -> dict[str, object]:
        with (
            tempfile.TemporaryDirectory(prefix="earshot-render-") as tmp,
            Progress(
                TextColumn("[bold]{task.description:<10}"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TimeElapsedColumn(),
                transient=as_json,
            ) as bar,
        ):
            task = bar.add_task("queued", total=100)

            async def progress(stage: str, percent: int) -> None:
                bar.update(task, description=stage, completed=percent)

            outcome = await pipeline.run(photo, Path(tmp), captions=captions, progress=progress)
            bar.update(task, description="done", completed=100)
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(outcome.video_path, out)
            if music is not None:
                shutil.move(outcome.music_path, music)
        return {
            "video": str(out),
            "music": str(music) if music else None,
            "title": outcome.song.title,
            "mood": outcome.song.mood,
            "lyrics": outcome.song.lyrics,
            "music_prompt": outcome.song.music.describe(),
            "engines": {"lyrics": outcome.song.engine, "music": outcome.music_engine},
            "width": outcome.width,
            "height": outcome.height,
            "duration_s": outcome.duration_s,
            "size": out.stat().st_size,
            "processing_s": outcome.processing_s,
            "warnings": outcome.warnings,
        }

    try:
        result = asyncio.run(main())
    except PipelineError as exc:
        typer.echo(f"earshot: {exc.stage} failed ({exc.code}): {exc.details}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    size_mb = out.stat().st_size / 1e6
    typer.echo(
        f"{result['video']}: {result['width']}x{result['height']}, {result['duration_s']:g} s, "
        f"{size_mb:.1f} MB in {result['processing_s']:.1f} s"
    )
    typer.echo(f'"{result["title"]}" ({result["mood"]}; {result["music_prompt"]})\n')
    typer.echo(str(result["lyrics"]))
