"""CPU-heavy media work run in worker processes (one per concurrent task).

libx264 encoding through PyAV holds Python's GIL, so renders in threads of one process
take turns on one core: three at once took three times as long as one. Each render
therefore runs in a process of a :class:`~concurrent.futures.ProcessPoolExecutor`
(``spawn`` start method, ``MAX_CONCURRENT_TASKS`` workers, reused between tasks), with
files as its inputs and outputs: the photo, the soundtrack as a ``.npy`` array, the MP4.
Progress is written to a small text file that the service polls.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["read_progress", "render_job", "synthesize_job"]


def synthesize_job(
    prompt: dict[str, object], seed: int, duration_s: float, npy_path: str, mp3_path: str
) -> None:
    """Synthesize the local soundtrack; save it as float32 ``(samples, 2)`` ``.npy`` and as MP3.

    Args:
        prompt: a :class:`~services.media.lyrics.MusicPrompt` as a dict.
        seed: the photo's seed.
        duration_s: seconds.
    """
    from services.media.lyrics import MusicPrompt
    from services.media.music import SAMPLE_RATE, LocalSynthesizer, encode_mp3

    audio = LocalSynthesizer(SAMPLE_RATE).render(MusicPrompt.model_validate(prompt), seed, duration_s)
    np.save(npy_path, audio)
    encode_mp3(audio, SAMPLE_RATE, Path(mp3_path))


def render_job(
    photo_path: str,
    npy_path: str,
    dest: str,
    spec: object,
    seed: int,
    captions: list[str] | None,
    progress_path: str,
) -> tuple[int, int]:
    """Render the video (see :func:`services.media.video.render_video`) from files.

    Returns:
        The frame size ``(width, height)``.
    """
    from services.common.images import open_upright
    from services.media.music import SAMPLE_RATE
    from services.media.video import VideoSpec, render_video

    assert isinstance(spec, VideoSpec)
    image = open_upright(Path(photo_path))
    audio = np.load(npy_path, mmap_mode="r")
    progress_file = Path(progress_path)
    last = [-1.0]

    def progress(fraction: float) -> None:
        if fraction - last[0] >= 0.02 or fraction >= 1.0:
            last[0] = fraction
            tmp = progress_file.with_suffix(".tmp")
            tmp.write_text(f"{fraction:.4f}")
            os.replace(tmp, progress_file)

    return render_video(
        image,
        np.asarray(audio),
        SAMPLE_RATE,
        Path(dest),
        spec,
        seed=seed,
        captions=captions,
        progress=progress,
    )


def read_progress(path: Path) -> float:
    """The last fraction a :func:`render_job` wrote (0 when none yet)."""
    try:
        return float(path.read_text() or 0)
    except (OSError, ValueError):
        return 0.0
