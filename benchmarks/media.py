"""Media benchmark: photo -> 30-second 1080p music video, local engines, on this machine.

Prints one JSON object:

* ``photos``: per photo (astronaut.png, coffee.png), the whole local pipeline (analysis,
  lyrics, synthesizer, MP3, PyAV render) in a fresh process: wall and CPU seconds, peak
  resident memory (MB, ``ru_maxrss``: the worker process's peak plus what the service
  process grew by), the render stage alone, output size and frame size;
  beside it the ``ffmpeg`` command line encoding the same still image and the same audio
  (the pipeline's own soundtrack as WAV) to the same format (libx264 with the same preset,
  options, CRF, fps, frame size and one thread, yuv420p, AAC at the same bit rate,
  ``+faststart``) in the same run, and the ratios ours / ffmpeg.
* ``concurrency``: three renders of one photo at once in one process (the media
  service's ``MAX_CONCURRENT_TASKS=3``), against one render alone.
* ``targets``: under 15 s and 300 MB per video, three concurrent within 2x one.

Every timed figure is the median of ``--runs`` runs (3 by default; ours and ffmpeg
alternate) with its spread (benchmarks/common.py); each run takes seconds. ``ffmpeg`` is
the peer: when it is not on PATH it is installed from Debian's packages (apt-get) or the
benchmark stops with an error; it never skips the comparison.

Usage: ``python benchmarks/media.py [--runs 3]`` (a few minutes on 2 idle cores).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import emit, require, summary  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
PHOTOS = ("astronaut.png", "coffee.png")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _local_pipeline() -> Any:
    from services.media.config import load_media_settings
    from services.media.pipeline import MediaPipeline

    return MediaPipeline(load_media_settings(claude_api_key=None, suno_api_key=None))


async def _run(pipeline: Any, photo: Path, workdir: Path, stages: dict[str, float] | None = None) -> Any:
    async def progress(stage: str, percent: int) -> None:
        if stages is not None and stage not in stages:
            stages[stage] = time.perf_counter()

    return await pipeline.run(photo, workdir, progress=progress)


def _children() -> tuple[float, float]:
    """CPU seconds and peak RSS (MB) of the finished worker processes."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def one(photo: str, out_dir: Path) -> dict[str, Any]:
    """Child mode: one pipeline run; writes video.mp4 and music.wav into ``out_dir``."""
    import numpy as np

    from services.media.music import SAMPLE_RATE, LocalSynthesizer

    base_rss = _peak_mb()
    stages: dict[str, float] = {}
    pipeline = _local_pipeline()
    started, cpu = time.perf_counter(), time.process_time()
    outcome = asyncio.run(_run(pipeline, FIXTURES / photo, out_dir, stages))
    ended = time.perf_counter()
    wall, cpu = ended - started, time.process_time() - cpu
    pipeline.close(wait=True)
    worker_cpu, worker_peak = _children()
    peak = _peak_mb()
    # the same soundtrack as WAV for ffmpeg (not timed)
    audio = LocalSynthesizer().render(outcome.song.music, outcome.analysis.seed, outcome.duration_s)
    with wave.open(str(out_dir / "music.wav"), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu + worker_cpu, 2),
        "render_s": round(ended - stages.get("rendering", started), 2),
        # what one photo costs: the worker process that synthesizes and renders it, plus
        # what the service process grew by while handling it (analysis, lyrics, bookkeeping)
        "peak_rss_mb": round(worker_peak + peak - base_rss, 1),
        "service_process_peak_rss_mb": round(peak, 1),
        "worker_process_peak_rss_mb": round(worker_peak, 1),
        "rss_before_mb": round(base_rss, 1),
        "size": [outcome.width, outcome.height],
        "video_mb": round(outcome.video_path.stat().st_size / 1e6, 2),
        "mood": outcome.song.mood,
    }


def concurrent(photo: str, count: int) -> dict[str, Any]:
    """Child mode: ``count`` renders of one photo at once (as the media service runs them)."""

    pipeline = _local_pipeline()

    async def main() -> list[float]:
        async def timed(i: int) -> float:
            with tempfile.TemporaryDirectory(prefix=f"bench-{i}-") as tmp:
                t = time.perf_counter()
                await _run(pipeline, FIXTURES / photo, Path(tmp))
                return time.perf_counter() - t

        return await asyncio.gather(*(timed(i) for i in range(count)))

    started = time.perf_counter()
    cpu = time.process_time()
    each = asyncio.run(main())
    wall = time.perf_counter() - started
    pipeline.close(wait=True)
    worker_cpu, _ = _children()
    return {
        "wall_s": round(wall, 2),
        "each_s": [round(x, 2) for x in each],
        "cpu_s": round(time.process_time() - cpu + worker_cpu, 2),
    }


def measure(cmd: list[str]) -> dict[str, Any]:
    """Child mode: run a command, report its wall time and peak memory."""
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "wall_s": round(wall, 2),
        "peak_rss_mb": round(peak, 1),
        "returncode": done.returncode,
        "stderr_tail": done.stderr[-300:] if done.returncode else "",
    }


def _child(*args: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _median_of(runs: list[dict[str, Any]], keys: tuple[str, ...]) -> dict[str, Any]:
    """The first run's details with each of ``keys`` replaced by its summary over ``runs``."""
    out = dict(runs[0])
    for key in keys:
        out[key] = summary([r[key] for r in runs], 2)
    return out


def main(runs: int) -> None:
    from services.media.config import load_media_settings

    settings = load_media_settings(claude_api_key=None, suno_api_key=None)
    ffmpeg = require("ffmpeg", "ffmpeg")
    version = subprocess.run([ffmpeg, "-version"], capture_output=True, text=True)
    ffmpeg_version = version.stdout.split("\n")[0]
    result: dict[str, Any] = {
        "title": "media: photo -> 30 s music video (local engines)",
        "runs": runs,
        "load_average_1m_before": round(os.getloadavg()[0], 2),
        "settings": {
            "fps": settings.fps,
            "duration_s": settings.duration_s,
            "preset": settings.x264_preset,
            "x264_params": settings.x264_params,
            "crf": settings.x264_crf,
            "threads": settings.x264_threads,
            "audio_bitrate": settings.audio_bitrate,
        },
        "ffmpeg": {"path": ffmpeg, "version": ffmpeg_version},
        "photos": {},
    }
    with tempfile.TemporaryDirectory(prefix="earshot-bench-") as tmp_root:
        for photo in PHOTOS:
            work = Path(tmp_root) / photo
            work.mkdir()
            ours_runs: list[dict[str, Any]] = []
            theirs_runs: list[dict[str, Any]] = []
            for _ in range(runs):
                ours_runs.append(_child("--one", photo, str(work)))
                w, h = ours_runs[-1]["size"]
                cmd = [
                    ffmpeg,
                    "-y",
                    "-hide_banner",
                    "-loglevel",
                    "error",
                    "-loop",
                    "1",
                    "-framerate",
                    str(settings.fps),
                    "-i",
                    str(FIXTURES / photo),
                    "-i",
                    str(work / "music.wav"),
                    "-t",
                    f"{settings.duration_s:g}",
                    "-vf",
                    f"scale={w}:{h}:flags=lanczos,format=yuv420p",
                    "-c:v",
                    "libx264",
                    "-preset",
                    settings.x264_preset,
                    "-x264-params",
                    settings.x264_params,
                    "-crf",
                    str(settings.x264_crf),
                    "-threads",
                    str(settings.x264_threads),
                    "-c:a",
                    "aac",
                    "-b:a",
                    str(settings.audio_bitrate),
                    "-shortest",
                    "-movflags",
                    "+faststart",
                    str(work / "ffmpeg.mp4"),
                ]
                theirs = _child("--measure", *cmd)
                if theirs["returncode"]:
                    sys.exit(f"ffmpeg failed: {theirs['stderr_tail']}")
                theirs["video_mb"] = round((work / "ffmpeg.mp4").stat().st_size / 1e6, 2)
                theirs_runs.append(theirs)
            ours = _median_of(ours_runs, ("wall_s", "cpu_s", "render_s", "peak_rss_mb"))
            theirs = _median_of(theirs_runs, ("wall_s", "peak_rss_mb"))
            entry: dict[str, Any] = {"pipeline": ours, "ffmpeg": theirs}
            entry["ratio_pipeline_vs_ffmpeg_wall"] = round(
                ours["wall_s"]["median"] / max(theirs["wall_s"]["median"], 1e-9), 2
            )
            entry["ratio_render_vs_ffmpeg_wall"] = round(
                ours["render_s"]["median"] / max(theirs["wall_s"]["median"], 1e-9), 2
            )
            entry["ratio_peak_rss_vs_ffmpeg"] = round(
                ours["peak_rss_mb"]["median"] / max(theirs["peak_rss_mb"]["median"], 1e-9), 2
            )
            result["photos"][photo] = entry
    singles, threes = [], []
    for _ in range(runs):
        singles.append(_child("--concurrent", "coffee.png", "1"))
        threes.append(_child("--concurrent", "coffee.png", "3"))
    single = _median_of(singles, ("wall_s", "cpu_s"))
    three = _median_of(threes, ("wall_s", "cpu_s"))
    result["concurrency"] = {
        "photo": "coffee.png",
        "one_at_once": single,
        "three_at_once": three,
        "ratio_three_vs_one": round(three["wall_s"]["median"] / single["wall_s"]["median"], 2),
    }
    worst_wall = max(p["pipeline"]["wall_s"]["median"] for p in result["photos"].values())
    worst_rss = max(p["pipeline"]["peak_rss_mb"]["median"] for p in result["photos"].values())
    result["targets"] = {
        "under_15_s_per_video": worst_wall < 15,
        "under_300_mb_per_video": worst_rss < 300,
        "three_concurrent_within_2x": result["concurrency"]["ratio_three_vs_one"] <= 2,
    }
    emit("media", result)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        print(json.dumps(one(sys.argv[2], Path(sys.argv[3]))))
    elif len(sys.argv) > 1 and sys.argv[1] == "--concurrent":
        print(json.dumps(concurrent(sys.argv[2], int(sys.argv[3]))))
    elif len(sys.argv) > 1 and sys.argv[1] == "--measure":
        print(json.dumps(measure(sys.argv[2:])))
    else:
        parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
        parser.add_argument("--runs", type=int, default=3)
        main(parser.parse_args().runs)
