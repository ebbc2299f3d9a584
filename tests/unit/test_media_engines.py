"""Media engines as pure logic: photo validation and analysis, local lyrics, the synthesizer
and its mastering, frame sizes, and a small render checked with PyAV."""

from __future__ import annotations

import io
import re
import struct
import zlib
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from services.common import images
from services.media.config import load_media_settings
from services.media.lyrics import RHYME_FAMILIES, LocalLyricist, MusicPrompt, music_prompt_for
from services.media.music import SAMPLE_RATE, LocalSynthesizer, fit_duration, master
from services.media.photo import MOODS, analyze_image, analyze_photo, colour_name
from services.media.video import VideoSpec, output_size, render_video
from tests.conftest import FIXTURES

ASTRONAUT = FIXTURES / "astronaut.png"
COFFEE = FIXTURES / "coffee.png"


# --- photo validation -------------------------------------------------------------------------
def _png_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 10))
        + chunk(b"IEND", b"")
    )


def test_probe_sniffs_the_format_from_content() -> None:
    info = images.probe_image(ASTRONAUT.read_bytes())
    assert (info.format, info.mime_type, info.width, info.height) == ("png", "image/png", 512, 512)
    buf = io.BytesIO()
    Image.open(COFFEE).save(buf, "JPEG")
    assert images.probe_image(buf.getvalue()).format == "jpg"
    buf = io.BytesIO()
    Image.open(COFFEE).save(buf, "WEBP")
    assert images.probe_image(buf.getvalue()).format == "webp"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"GIF89a but no more", images.NotAnImage),
        (b"hello, I am text", images.NotAnImage),
        (b"%PDF-1.7\n", images.NotAnImage),
        (_png_claiming(200_000, 200_000), images.ImageTooLarge),  # decompression bomb by header
        (_png_claiming(20_000, 3_000), images.ImageTooLarge),  # 60 MP
        (_png_claiming(4, 4), images.ImageTooLarge),
        (_png_claiming(5_000, 100), images.ImageTooLarge),  # 50:1
    ],
)
def test_probe_rejects_bad_photos(data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        images.probe_image(data)


def test_probe_rejects_truncated_photos() -> None:
    with pytest.raises(images.CorruptImage):
        images.probe_image(COFFEE.read_bytes()[:30_000])
    buf = io.BytesIO()
    Image.open(COFFEE).save(buf, "JPEG")
    with pytest.raises(images.CorruptImage):
        images.probe_image(buf.getvalue()[: len(buf.getvalue()) // 2])
    buf = io.BytesIO()
    Image.open(COFFEE).save(buf, "GIF")
    with pytest.raises(images.CorruptImage):
        images.probe_image(buf.getvalue()[: len(buf.getvalue()) // 2])


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = tmp_path / "rotated.jpg"
    Image.open(COFFEE).convert("RGB").save(path, "JPEG", exif=exif.tobytes())
    info = images.probe_image(path)
    assert (info.width, info.height, info.display_width, info.display_height) == (600, 400, 400, 600)
    analysis, upright = analyze_photo(path)
    assert (
        upright.size == (400, 600) and analysis.orientation == "portrait" and analysis.exif_orientation == 6
    )


# --- analysis and lyrics ----------------------------------------------------------------------
def test_analysis_measures_the_photos() -> None:
    astro, _ = analyze_photo(ASTRONAUT)
    coffee, _ = analyze_photo(COFFEE)
    assert astro.orientation == "square" and coffee.orientation == "landscape"
    assert coffee.warmth > 0.5  # red cup on wood
    assert coffee.saturation > astro.saturation
    assert astro.mood in MOODS and coffee.mood in MOODS
    assert abs(sum(float(c["share"]) for c in coffee.dominant_colors) - 1) < 0.01  # type: ignore[arg-type]
    assert all(re.fullmatch(r"#[0-9a-f]{6}", str(c["hex"])) for c in coffee.dominant_colors)
    assert 3 <= len(coffee.content_words) <= 6


def test_colour_names_and_moods_follow_the_pixels() -> None:
    assert colour_name((250, 250, 250)) == "white" and colour_name((5, 5, 5)) == "black"
    assert colour_name((30, 60, 200)) == "blue" and colour_name((40, 160, 40)) == "green"
    night = Image.new("RGB", (64, 64), (10, 20, 60))
    assert analyze_image(night, b"night").mood in ("melancholic", "mysterious")
    beach = Image.new("RGB", (64, 64), (250, 200, 120))
    assert analyze_image(beach, b"beach").mood in ("joyful", "serene", "nostalgic")


def test_local_lyrics_rhyme_and_are_deterministic() -> None:
    analysis, _ = analyze_photo(COFFEE)
    song = LocalLyricist().compose(analysis)
    again = LocalLyricist().compose(analysis)
    assert song == again
    assert song.lyrics.startswith("[Verse]") and "[Chorus]" in song.lyrics
    assert len(song.lines) == 8

    def family(line: str) -> str:
        ending = line.rsplit(", ", 1)[1]
        return next(name for name, endings in RHYME_FAMILIES.items() if ending in endings)

    rhymes = [family(line) for line in song.lines]
    # couplets AABB in the verse, ABAB in the chorus
    assert rhymes[0] == rhymes[1] != rhymes[2] == rhymes[3]
    assert rhymes[4] == rhymes[6] != rhymes[5] == rhymes[7]
    assert song.title.lower() in song.lines[4].lower()
    other = LocalLyricist().compose(analyze_photo(ASTRONAUT)[0])
    assert other.lyrics != song.lyrics


def test_music_prompt_from_mood() -> None:
    analysis, _ = analyze_photo(COFFEE)
    prompt = music_prompt_for(analysis)
    assert 50 <= prompt.tempo_bpm <= 180
    assert re.fullmatch(r"[A-G][b#]? (major|minor)", prompt.key)
    assert "BPM" in prompt.describe()
    assert MusicPrompt(genre="x", tempo_bpm=90, key="Db major", instruments=["pad"]).tonic == 1


# --- music ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def soundtrack() -> np.ndarray:
    prompt = MusicPrompt(genre="dream pop", tempo_bpm=96, key="A minor", instruments=["pad", "bass"])
    return LocalSynthesizer().render(prompt, seed=1234, duration_s=30.0)


def test_synth_is_30s_stereo_mastered(soundtrack: np.ndarray) -> None:
    assert soundtrack.shape == (30 * SAMPLE_RATE, 2) and soundtrack.dtype == np.float32
    peak = float(np.max(np.abs(soundtrack)))
    assert 0.85 < peak <= 10 ** (-1 / 20) + 1e-6  # -1 dBFS, never clipping
    rms_db = 20 * np.log10(np.sqrt(np.mean(soundtrack**2)))
    assert -22 < rms_db < -12
    assert np.max(np.abs(soundtrack[:10])) < 0.05  # fades in
    assert np.max(np.abs(soundtrack[-100:])) < 0.01  # fades out
    assert not np.allclose(soundtrack[:, 0], soundtrack[:, 1])  # real stereo
    spectrum = np.abs(np.fft.rfft(soundtrack[:, 0]))
    freqs = np.fft.rfftfreq(soundtrack.shape[0], 1 / SAMPLE_RATE)
    assert spectrum[freqs < 20].max() < spectrum.max() * 1e-2  # no DC / sub rumble (-40 dB)


def test_synth_is_deterministic_per_seed(soundtrack: np.ndarray) -> None:
    prompt = MusicPrompt(genre="dream pop", tempo_bpm=96, key="A minor", instruments=["pad", "bass"])
    short = LocalSynthesizer().render(prompt, seed=1234, duration_s=3.0)
    again = LocalSynthesizer().render(prompt, seed=1234, duration_s=3.0)
    other = LocalSynthesizer().render(prompt, seed=99, duration_s=3.0)
    assert np.array_equal(short, again)
    assert not np.array_equal(short, other)


def test_master_never_clips_and_fit_duration_trims_with_a_fade() -> None:
    loud = np.random.default_rng(0).standard_normal((44_100, 2)) * 5
    out = master(loud, 44_100)
    assert np.max(np.abs(out)) <= 10 ** (-1 / 20) + 1e-6
    long = np.ones((44_100 * 40, 2), np.float32) * 0.5
    fitted = fit_duration(long, 44_100, 30.0)
    assert fitted.shape == (44_100 * 30, 2) and fitted[-1, 0] == 0 and fitted[0, 0] == 0.5
    padded = fit_duration(long[:44_100], 44_100, 2.0)
    assert padded.shape == (88_200, 2) and padded[-1, 0] == 0


# --- video ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((512, 512), (1080, 1080)),
        ((600, 400), (1620, 1080)),
        ((4000, 3000), (1440, 1080)),
        ((3000, 4000), (1080, 1440)),
        ((1080, 1920), (1080, 1920)),
        ((5000, 1000), (1920, 384)),
        ((1001, 999), (1082, 1080)),
    ],
)
def test_output_size_keeps_aspect_and_fits_1080p(size: tuple[int, int], expected: tuple[int, int]) -> None:
    w, h = output_size(*size)
    assert (w, h) == expected
    assert w % 2 == 0 and h % 2 == 0
    assert min(w, h) <= 1080 and max(w, h) <= 1920
    assert abs(w / h - size[0] / size[1]) <= 2 / min(w, h)


def test_small_render_is_h264_aac_with_the_given_length(tmp_path: Path, soundtrack: np.ndarray) -> None:
    image = Image.open(COFFEE).convert("RGB")
    spec = VideoSpec(duration_s=3.0, fps=12, max_long_side=320, max_short_side=240, preset="ultrafast")
    dest = tmp_path / "small.mp4"
    seen: list[float] = []
    size = render_video(
        image, soundtrack, SAMPLE_RATE, dest, spec, seed=3, captions=["one line"], progress=seen.append
    )
    assert size == (320, 212)
    assert seen[-1] == 1.0 and len(seen) == 36
    with av.open(str(dest)) as container:
        (video,) = container.streams.video
        (audio,) = container.streams.audio
        assert (video.codec_context.name, audio.codec_context.name) == ("h264", "aac")
        assert (video.codec_context.width, video.codec_context.height) == (320, 212)
        assert abs(container.duration / 1e6 - 3.0) <= 0.1
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 36
    assert not np.array_equal(frames[0], frames[-1])  # the camera moves
    mean = frames[15].reshape(-1, 3).mean(axis=0)
    assert mean[0] > mean[2]  # colours survive the YUV round trip: the coffee photo stays warm


def test_media_settings_accept_the_seed_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_CONCURRENT_TASKS", "5")
    monkeypatch.setenv("CLAUDE_API_KEY", "sk-test")
    monkeypatch.setenv("SUNO_BASE_URL", "http://127.0.0.1:9/suno")
    settings = load_media_settings()
    assert settings.max_concurrent_tasks == 5
    assert settings.lyrics_engine == "claude" and settings.music_engine == "local"
    assert settings.suno_base_url == "http://127.0.0.1:9/suno"
    monkeypatch.setenv("MAX_CONCURRENT_TASKS", "0")
    from services.common.settings import ConfigurationError

    with pytest.raises(ConfigurationError, match="MAX_CONCURRENT_TASKS"):
        load_media_settings()


async def test_a_crashed_worker_process_is_replaced() -> None:
    import os
    from concurrent.futures.process import BrokenProcessPool

    from services.media.pipeline import MediaPipeline

    pipeline = MediaPipeline(load_media_settings(max_concurrent_tasks=1))
    try:
        with pytest.raises(BrokenProcessPool):
            await pipeline._in_worker(os._exit, 3)  # the worker dies mid-task
        assert await pipeline._in_worker(abs, -4) == 4  # a fresh worker takes the next task
    finally:
        pipeline.close()
