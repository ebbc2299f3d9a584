"""The music video: a slow pan and zoom over the photo with its soundtrack, by PyAV.

Output: MP4 (``movflags=+faststart``, so playback starts before the download ends)
with one H.264 stream (libx264, yuv420p, BT.709 limited range, constant rate
factor) and one AAC-LC stream (44.1 kHz stereo).

Frame size (:func:`output_size`): the photo's aspect ratio is kept; the frame is
the largest that fits 1920x1080 (landscape or square) or 1080x1920 (portrait),
with even sides as yuv420p needs; smaller photos are scaled up to it.

The camera move (Ken Burns effect) works on YUV planes, cheaply:

1. once per video, the photo is resized (Lanczos) to ``Z = 1.12`` times the frame
   size and converted to BT.709 limited-range Y, Cb, Cr planes (chroma at half size);
2. each frame is a crop of that source whose size shrinks (zoom in) or grows (zoom
   out) linearly between the whole source and exactly the frame size, moving
   from one side to the other (an eased, smoothstep path chosen by the photo's seed);
3. the crop is copied into a yuv420p frame and scaled to the frame size by
   libswscale (bilinear), then encoded.

Crop positions are whole pixels of the source; at these speeds (under a third of a
pixel per frame) the rounding is not visible. Captions (one lyric line at a time,
faded in and out) are drawn once per line with Pillow and blended into the planes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

__all__ = ["VideoSpec", "output_size", "render_video"]

ZOOM = 1.12
"""Largest zoom of the camera move (source size / frame size)."""


@dataclass(frozen=True)
class VideoSpec:
    """How to encode.

    Attributes:
        duration_s: video length, seconds.
        fps: frames per second.
        max_long_side, max_short_side: the frame-size box, pixels.
        preset: libx264 preset (``ultrafast`` by default, with :attr:`x264_params`).
        crf: libx264 constant rate factor (lower is better quality).
        threads: libx264 threads (1 = one core per render; renders run in parallel instead).
        audio_bitrate: AAC bit rate, bits/s.
        x264_params: extra libx264 options (``key=value:key=value``), e.g. ``cabac=1``.
    """

    duration_s: float = 30.0
    fps: int = 24
    max_long_side: int = 1920
    max_short_side: int = 1080
    preset: str = "ultrafast"
    crf: int = 23
    threads: int = 1
    audio_bitrate: int = 160_000
    x264_params: str = "cabac=1:bframes=3:deblock=1"


def output_size(width: int, height: int, long_side: int = 1920, short_side: int = 1080) -> tuple[int, int]:
    """Frame size for a ``width`` x ``height`` photo (see module docstring).

    Returns:
        ``(w, h)``, both even, aspect ratio within one pixel of the photo's.
    """
    box_w, box_h = (long_side, short_side) if width >= height else (short_side, long_side)
    scale = min(box_w / width, box_h / height)
    w = max(2, int(width * scale) // 2 * 2)
    h = max(2, int(height * scale) // 2 * 2)
    return w, h


def _ycbcr709(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """sRGB uint8 ``(h, w, 3)`` -> BT.709 limited-range Y (h, w), Cb, Cr (full size) uint8."""
    x = rgb.astype(np.float32)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    cb = (b - y) / 1.8556
    cr = (r - y) / 1.5748
    yq = np.clip(16 + y * (219 / 255), 0, 255).round().astype(np.uint8)
    cbq = np.clip(128 + cb * (224 / 255), 0, 255).round().astype(np.uint8)
    crq = np.clip(128 + cr * (224 / 255), 0, 255).round().astype(np.uint8)
    return yq, cbq, crq


def _smoothstep(t: float) -> float:
    return t * t * (3 - 2 * t)


class _Captions:
    """Pre-drawn caption masks, one per lyric line, blended into frames."""

    def __init__(self, lines: list[str], width: int, height: int, start_s: float, end_s: float) -> None:
        self.items: list[tuple[float, float, int, int, np.ndarray, np.ndarray, np.ndarray]] = []
        if not lines:
            return
        size = max(14, height // 18)
        slot = (end_s - start_s) / len(lines)
        for i, line in enumerate(lines):
            font_size = size
            font = ImageFont.load_default(size=font_size)
            while font.getlength(line) > width * 0.9 and font_size > 10:
                font_size -= 2
                font = ImageFont.load_default(size=font_size)
            left, top, right, bottom = font.getbbox(line)
            pad = max(4, font_size // 4)
            box_w = min(width, int(right - left) + 2 * pad) // 2 * 2
            box_h = (int(bottom - top) + 2 * pad) // 2 * 2 + 2
            text = Image.new("L", (box_w, box_h), 0)
            ImageDraw.Draw(text).text((pad - left, pad - top), line, fill=255, font=font)
            shadow = text.filter(ImageFilter.MaxFilter(5)).filter(ImageFilter.GaussianBlur(max(1, pad // 2)))
            x0 = (width - box_w) // 2 // 2 * 2
            y0 = int(height * 0.88 - box_h) // 2 * 2
            a = np.asarray(text, dtype=np.float32) / 255
            s = np.asarray(shadow, dtype=np.float32) / 255 * 0.6
            chroma = (
                np.asarray(
                    Image.fromarray(np.maximum(a, s) * 255).convert("L").resize((box_w // 2, box_h // 2)),
                    dtype=np.float32,
                )
                / 255
            )
            t0 = start_s + i * slot
            self.items.append((t0, t0 + slot, x0, y0, a, s, chroma))

    def blend(self, frame: av.VideoFrame, t: float) -> None:
        for t0, t1, x0, y0, a, s, c in self.items:
            if not t0 <= t < t1:
                continue
            fade = min(1.0, (t - t0) / 0.3, (t1 - t) / 0.3)
            h, w = a.shape
            y_plane = _plane(frame, 0)
            region = y_plane[y0 : y0 + h, x0 : x0 + w].astype(np.float32)
            region *= 1 - s * fade
            alpha = a * fade
            region = (region * (1 - alpha) + 235 * alpha).astype(np.float32)
            y_plane[y0 : y0 + h, x0 : x0 + w] = region.astype(np.uint8)
            keep = 1 - c * fade
            for index in (1, 2):
                plane = _plane(frame, index)
                sub = plane[y0 // 2 : y0 // 2 + h // 2, x0 // 2 : x0 // 2 + w // 2].astype(np.float32)
                plane[y0 // 2 : y0 // 2 + h // 2, x0 // 2 : x0 // 2 + w // 2] = (
                    128 + (sub - 128) * keep
                ).astype(np.uint8)
            return


def _plane(frame: av.VideoFrame, index: int) -> np.ndarray:
    """Writable ``(rows, width)`` view of one plane of a frame (line padding cut off)."""
    plane = frame.planes[index]
    rows = plane.buffer_size // plane.line_size
    return np.frombuffer(memoryview(plane), np.uint8).reshape(rows, plane.line_size)[:, : plane.width]


def render_video(
    image: Image.Image,
    audio: np.ndarray,
    sample_rate: int,
    dest: Path,
    spec: VideoSpec,
    *,
    seed: int = 0,
    captions: list[str] | None = None,
    progress: Callable[[float], None] | None = None,
) -> tuple[int, int]:
    """Encode the music video.

    Args:
        image: the upright RGB photo.
        audio: float32 ``(samples, 2)`` in [-1, 1]; trimmed or zero-padded to the duration.
        sample_rate: of ``audio``, Hz.
        dest: output ``.mp4`` path.
        spec: encoding settings.
        seed: chooses the direction of the camera move.
        captions: lyric lines to show one after another (``None`` or empty: none).
        progress: called with the fraction of frames done (0-1), from this thread.

    Returns:
        The frame size ``(width, height)``.
    Raises:
        av.error.FFmpegError: the encoder or muxer failed.
    """
    width, height = output_size(image.width, image.height, spec.max_long_side, spec.max_short_side)
    src_w = int(width * ZOOM) // 2 * 2
    src_h = int(height * ZOOM) // 2 * 2
    source = image.convert("RGB").resize((src_w, src_h), Image.Resampling.LANCZOS)
    y_src, cb_full, cr_full = _ycbcr709(np.asarray(source))
    del source
    half = (src_w // 2, src_h // 2)
    cb_src = np.asarray(Image.fromarray(cb_full).resize(half, Image.Resampling.BILINEAR))
    cr_src = np.asarray(Image.fromarray(cr_full).resize(half, Image.Resampling.BILINEAR))
    del cb_full, cr_full

    frames = int(round(spec.duration_s * spec.fps))
    zoom_in = seed % 2 == 0
    pan_from = ((seed >> 1) % 3) / 2  # 0, 0.5 or 1
    pan_to = 1 - pan_from if pan_from != 0.5 else (0.0 if (seed >> 3) % 2 else 1.0)
    tilt_from, tilt_to = (0.35, 0.65) if (seed >> 4) % 2 else (0.65, 0.35)
    overlay = _Captions(captions or [], width, height, 1.5, spec.duration_s - 2.0)

    n_audio = int(round(spec.duration_s * sample_rate))
    pcm = np.zeros((2, n_audio), np.float32)
    take = min(n_audio, audio.shape[0])
    pcm[:, :take] = audio[:take].T

    with av.open(str(dest), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        options = {"preset": spec.preset, "crf": str(spec.crf), "threads": str(spec.threads)}
        if spec.x264_params:
            options["x264-params"] = spec.x264_params
        video = out.add_stream("libx264", rate=spec.fps, options=options)
        video.width = width
        video.height = height
        video.pix_fmt = "yuv420p"
        ctx = video.codec_context
        for attr, value in (("color_range", 1), ("colorspace", 1), ("color_primaries", 1), ("color_trc", 1)):
            try:  # BT.709, limited ("tv") range; older PyAV versions lack some attributes
                setattr(ctx, attr, value)
            except (AttributeError, TypeError, ValueError):
                pass
        sound = out.add_stream("aac", rate=sample_rate, layout="stereo", options={"aac_coder": "fast"})
        sound.bit_rate = spec.audio_bitrate
        audio_done = 0
        chunk = sample_rate

        def push_audio(until: int) -> None:
            nonlocal audio_done
            while audio_done < until:
                end = min(until, audio_done + chunk)
                block = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(pcm[:, audio_done:end]), format="fltp", layout="stereo"
                )
                block.sample_rate = sample_rate
                block.pts = audio_done
                block.time_base = Fraction(1, sample_rate)
                for packet in sound.encode(block):
                    out.mux(packet)
                audio_done = end

        for i in range(frames):
            t = _smoothstep(i / max(1, frames - 1))
            z = 1 + (ZOOM - 1) * (t if zoom_in else 1 - t)  # 1 = whole source, ZOOM = 1:1 crop
            crop_w = min(src_w, max(width, int(round(src_w / z / 2)) * 2))
            crop_h = min(src_h, max(height, int(round(crop_w * height / width / 2)) * 2))
            px = pan_from + (pan_to - pan_from) * t
            py = tilt_from + (tilt_to - tilt_from) * t
            x0 = int(round((src_w - crop_w) * px))
            y0 = int(round((src_h - crop_h) * py))
            crop = av.VideoFrame(crop_w, crop_h, "yuv420p")
            _plane(crop, 0)[:] = y_src[y0 : y0 + crop_h, x0 : x0 + crop_w]
            cx, cy = x0 // 2, y0 // 2
            _plane(crop, 1)[:] = cb_src[cy : cy + crop_h // 2, cx : cx + crop_w // 2]
            _plane(crop, 2)[:] = cr_src[cy : cy + crop_h // 2, cx : cx + crop_w // 2]
            if (crop_w, crop_h) == (width, height):
                frame = crop
            else:
                frame = crop.reformat(width, height, interpolation="BILINEAR")
            overlay.blend(frame, i / spec.fps)
            frame.pts = i
            frame.time_base = Fraction(1, spec.fps)
            for packet in video.encode(frame):
                out.mux(packet)
            if i % spec.fps == spec.fps - 1:  # audio in one-second blocks, interleaved with the video
                push_audio(min(n_audio, int(math.ceil((i + 1) / spec.fps * sample_rate))))
            if progress is not None:
                progress((i + 1) / frames)
        push_audio(n_audio)
        for packet in video.encode(None):
            out.mux(packet)
        for packet in sound.encode(None):
            out.mux(packet)
    return width, height
