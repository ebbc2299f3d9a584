"""The cloud paths of the media pipeline: Claude (``anthropic`` SDK) and Suno (HTTP), against
local fakes that speak their wire formats, including failures and slow polling.

Renders here are small (320x212) so that the cloud logic, not the encoder, is what runs.
"""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest
from PIL import Image

from services.media.config import MediaSettings, load_media_settings
from services.media.pipeline import MediaPipeline, PipelineError
from tests.conftest import FIXTURES
from tests.embedded.test_media_api import remove_media_objects
from tests.fakes.anthropic_vision import AnthropicVisionFake, Fault, image_blocks
from tests.fakes.suno import SunoFake

COFFEE = FIXTURES / "coffee.png"

pytestmark = pytest.mark.embedded


@pytest.fixture(scope="module")
async def claude() -> AsyncIterator[AnthropicVisionFake]:
    async with AnthropicVisionFake() as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture(scope="module")
async def suno() -> AsyncIterator[SunoFake]:
    async with SunoFake() as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture(autouse=True)
def _reset(claude: AnthropicVisionFake, suno: SunoFake) -> None:
    claude.faults.clear()
    claude.requests.clear()
    suno.mode = "ok"
    suno.polls_per_step = 1
    suno.requests.clear()
    suno.polls = 0


@pytest.fixture(autouse=True)
def _close_pools(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Every pipeline a test builds gets its worker processes stopped afterwards."""
    built: list[MediaPipeline] = []
    original = MediaPipeline.__init__

    def init(self: MediaPipeline, settings: MediaSettings) -> None:
        original(self, settings)
        built.append(self)

    monkeypatch.setattr(MediaPipeline, "__init__", init)
    yield
    for pipeline in built:
        pipeline.close()


def cloud_settings(claude: AnthropicVisionFake | None, suno: SunoFake | None, **extra: Any) -> MediaSettings:
    values: dict[str, Any] = {
        "max_long_side": 320,
        "max_short_side": 240,
        "x264_preset": "ultrafast",
        "suno_poll_interval_s": 0.01,
        "claude_max_retries": 0,
    }
    if claude is not None:
        values.update(claude_api_key="sk-ant-test", claude_base_url=claude.url)
    if suno is not None:
        values.update(suno_api_key="suno-test-key", suno_base_url=suno.url)
    values.update(extra)
    return load_media_settings(**values)


def dominant_hz(path: Path, start_s: float, seconds: float) -> float:
    with av.open(str(path)) as container:
        chunks = [f.to_ndarray() for f in container.decode(audio=0)]
    mono = np.concatenate(chunks, axis=1).mean(axis=0)
    part = mono[int(start_s * 44_100) : int((start_s + seconds) * 44_100)]
    spectrum = np.abs(np.fft.rfft(part * np.hanning(part.size)))
    return float(np.fft.rfftfreq(part.size, 1 / 44_100)[int(np.argmax(spectrum))])


async def test_claude_and_suno_make_the_song(
    claude: AnthropicVisionFake, suno: SunoFake, tmp_path: Path
) -> None:
    suno.polls_per_step = 2  # slow polling: two polls per status step
    pipeline = MediaPipeline(cloud_settings(claude, suno))
    assert pipeline.engines["lyrics"] == "claude" and pipeline.engines["music"] == "suno"
    stages: list[tuple[str, int]] = []

    async def progress(stage: str, percent: int) -> None:
        stages.append((stage, percent))

    outcome = await pipeline.run(COFFEE, tmp_path, progress=progress)
    # Claude saw the photo, as a base64 JPEG block, through the SDK's real request shape
    (request,) = claude.requests
    assert request.headers["x-api-key"] == "sk-ant-test" and request.headers["anthropic-version"]
    assert request.body["model"] == "claude-sonnet-4-5" and request.body["max_tokens"] > 0
    (block,) = image_blocks(request.body)
    photo = Image.open(io.BytesIO(base64.b64decode(block["source"]["data"])))
    assert photo.format == "JPEG" and photo.size == (600, 400)
    assert outcome.song.engine == "claude" and outcome.song.title == "Porcelain Morning"
    assert outcome.song.music.key == "G major" and len(outcome.song.lines) == 8
    # Suno got the lyrics and the style, was polled until complete, and its MP3 is the soundtrack
    (created,) = suno.requests
    assert created.headers["authorization"] == "Bearer suno-test-key"
    assert created.body["prompt"] == outcome.song.lyrics and "92 BPM" in created.body["tags"]
    assert suno.polls >= 6
    assert outcome.music_engine == "suno"
    assert outcome.music_path.read_bytes() == suno.mp3
    hz = dominant_hz(outcome.video_path, 0.5, 1.0)
    assert min(abs(hz - f) for f in (220.0, 261.63, 329.63)) < 3, hz  # the fake's A minor chord
    with av.open(str(outcome.video_path)) as container:
        assert abs(container.duration / 1e6 - 30.0) <= 0.1  # Suno's 40 s trimmed to 30
    assert [s for s, _ in stages] == sorted(
        (s for s, _ in stages), key=["analyzing", "composing", "rendering"].index
    )
    assert ("composing", 25) in stages and ("composing", 32) in stages


@pytest.mark.parametrize(
    ("fault", "code", "words"),
    [
        (Fault(status=529), "lyrics_provider_failed", "529"),
        (Fault(status=401), "lyrics_provider_failed", "401"),
        (Fault(not_json=True), "lyrics_bad_reply", "JSON"),
    ],
)
async def test_claude_failures_fail_the_step(
    claude: AnthropicVisionFake, tmp_path: Path, fault: Fault, code: str, words: str
) -> None:
    claude.faults.append(fault)
    pipeline = MediaPipeline(cloud_settings(claude, None))
    with pytest.raises(PipelineError) as caught:
        await pipeline.run(COFFEE, tmp_path)
    assert caught.value.code == code and caught.value.stage == "analyzing"
    assert words in caught.value.details
    assert not (tmp_path / "video.mp4").exists()


async def test_claude_overload_is_retried_by_the_sdk(claude: AnthropicVisionFake, tmp_path: Path) -> None:
    claude.faults.append(Fault(status=529))
    pipeline = MediaPipeline(cloud_settings(claude, None, claude_max_retries=1, duration_s=2.0))
    outcome = await pipeline.run(COFFEE, tmp_path)
    assert len(claude.requests) == 2 and outcome.song.engine == "claude"


async def test_fallback_to_local_engines_when_allowed(
    claude: AnthropicVisionFake, suno: SunoFake, tmp_path: Path
) -> None:
    claude.faults.append(Fault(status=500))
    suno.mode = "error"
    pipeline = MediaPipeline(cloud_settings(claude, suno, fallback_to_local=True, duration_s=2.0))
    outcome = await pipeline.run(COFFEE, tmp_path)
    assert outcome.song.engine == "local" and outcome.music_engine == "local"
    assert len(outcome.warnings) == 2 and "content moderation" in outcome.warnings[1]


@pytest.mark.parametrize(
    ("mode", "code", "words"),
    [
        ("error", "music_provider_failed", "content moderation"),
        ("http_500", "music_provider_failed", "HTTP 500"),
        ("never", "music_provider_timeout", "did not finish"),
    ],
)
async def test_suno_failures_fail_the_step(
    suno: SunoFake, tmp_path: Path, mode: str, code: str, words: str
) -> None:
    suno.mode = mode
    # Only the never-finishing clip should reach the deadline; the failures must arrive first,
    # however loaded the machine is.
    pipeline = MediaPipeline(cloud_settings(None, suno, suno_timeout_s=0.3 if mode == "never" else 60))
    with pytest.raises(PipelineError) as caught:
        await pipeline.run(COFFEE, tmp_path)
    assert caught.value.code == code and caught.value.stage == "composing"
    assert words in caught.value.details


async def test_a_failed_step_marks_the_task_failed(embedded: Any, suno: SunoFake) -> None:
    """Through the platform: Suno fails, the task ends failed with the reason, nothing half stored."""
    media = embedded.platform.services["media"]
    original = media.pipeline
    media.pipeline = MediaPipeline(cloud_settings(None, suno))
    suno.mode = "error"
    try:
        async with httpx.AsyncClient(base_url=embedded.url, timeout=60) as client:
            body = {"photo": base64.b64encode(COFFEE.read_bytes()).decode()}
            task_id = (await client.post("/upload-photo", json=body)).json()["task_id"]
            for _ in range(400):
                status = (await client.get(f"/photos/{task_id}/status")).json()
                if status["status"] in ("done", "failed"):
                    break
                await asyncio.sleep(0.05)
            assert status["status"] == "failed", status
            assert status["error_code"] == "music_provider_failed"
            assert "content moderation" in status["error"]
            assert (await client.get(f"/photos/{task_id}/download")).status_code == 409
        storage = embedded.runtime.storage
        assert not await storage.exists(f"music/{task_id}.mp3")
        assert not await storage.exists(f"videos/{task_id}.mp4")
        assert embedded.temp_leftovers() == []
    finally:
        media.pipeline.close()
        media.pipeline = original
        await remove_media_objects(embedded)
