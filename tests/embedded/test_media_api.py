"""Photo to music video (seed 002) through the embedded platform's HTTP and WebSocket API.

Two real renders are shared by the module (started together, so they also run
concurrently): astronaut.png as base64 JSON with captions, watched over the
WebSocket, and coffee.png as multipart without captions. The MP4s are checked with PyAV.
"""

from __future__ import annotations

import asyncio
import base64
import json
import struct
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest
import websockets

from services.gateway.products.photos.models import PhotoTask
from tests.conftest import FIXTURES, SignedIn

ASTRONAUT = FIXTURES / "astronaut.png"
COFFEE = FIXTURES / "coffee.png"

pytestmark = pytest.mark.embedded


@dataclass
class Render:
    task_id: str
    upload: dict[str, Any]
    messages: list[dict[str, Any]] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)


async def wait_terminal(client: httpx.AsyncClient, task_id: str, timeout_s: float = 300) -> dict[str, Any]:
    """Poll the status route until done or failed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        status = (await client.get(f"/photos/{task_id}/status")).json()
        if status["status"] in ("done", "failed"):
            return status
        assert loop.time() < deadline, f"task {task_id} stuck at {status}"
        await asyncio.sleep(0.25)


async def watch(url: str, task_id: str, into: list[dict[str, Any]]) -> None:
    ws_url = url.replace("http://", "ws://") + f"/photos/{task_id}/ws"
    async with websockets.connect(ws_url) as ws:
        async for raw in ws:
            into.append(json.loads(raw))


async def remove_media_objects(embedded: Any) -> None:
    """Delete every photo, soundtrack and video: other modules expect storage they can account for."""
    storage = embedded.runtime.storage
    for prefix in ("photos/", "music/", "videos/"):
        for info in await storage.list(prefix):
            await storage.delete(info.key)


@pytest.fixture(scope="module", autouse=True)
async def _clean_storage_after(embedded: Any) -> AsyncIterator[None]:
    yield
    await remove_media_objects(embedded)


@pytest.fixture(scope="module")
async def renders(embedded: Any) -> dict[str, Render]:
    """Upload both photos, follow the astronaut on the WebSocket, wait for both."""
    async with httpx.AsyncClient(base_url=embedded.url, timeout=120) as client:
        body = {"photo": base64.b64encode(ASTRONAUT.read_bytes()).decode(), "captions": True}
        r1 = await client.post("/upload-photo", json=body)
        assert r1.status_code == 200, r1.text
        astro = Render(r1.json()["task_id"], r1.json())
        watcher = asyncio.create_task(watch(embedded.url, astro.task_id, astro.messages))
        r2 = await client.post(
            "/upload-photo",
            files={"photo": ("coffee.jpg", COFFEE.read_bytes(), "image/jpeg")},  # name and type lie: sniffed
            data={"captions": "false"},
        )
        assert r2.status_code == 200, r2.text
        coffee = Render(r2.json()["task_id"], r2.json())
        astro.final = await wait_terminal(client, astro.task_id)
        coffee.final = await wait_terminal(client, coffee.task_id)
        await asyncio.wait_for(watcher, 30)
    return {"astronaut": astro, "coffee": coffee}


def probe_mp4(path: Path) -> dict[str, Any]:
    """Streams, duration and decoded audio of an MP4."""
    with av.open(str(path)) as container:
        video = [s for s in container.streams if s.type == "video"]
        audio = [s for s in container.streams if s.type == "audio"]
        info: dict[str, Any] = {
            "video_codecs": [s.codec_context.name for s in video],
            "audio_codecs": [s.codec_context.name for s in audio],
            "pix_fmt": video[0].codec_context.pix_fmt if video else None,
            "width": video[0].codec_context.width if video else 0,
            "height": video[0].codec_context.height if video else 0,
            "duration": container.duration / 1e6 if container.duration else 0.0,
            "video_duration": float(video[0].duration * video[0].time_base)
            if video and video[0].duration
            else 0.0,
        }
        chunks = [f.to_ndarray().astype(np.float32) for f in container.decode(audio=0)]
    samples = np.concatenate(chunks, axis=1) if chunks else np.zeros((2, 0), np.float32)
    info["audio_channels"] = samples.shape[0]
    info["audio_seconds"] = samples.shape[1] / 44_100
    info["audio_rms_db"] = float(20 * np.log10(np.sqrt(np.mean(samples**2)) + 1e-12))
    info["audio_clipped_fraction"] = float(np.mean(np.abs(samples) >= 0.999))
    return info


async def download(client: httpx.AsyncClient, task_id: str, dest: Path) -> Path:
    response = await client.get(f"/photos/{task_id}/download")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "video/mp4"
    await asyncio.to_thread(dest.write_bytes, response.content)
    return dest


async def test_base64_upload_renders_a_music_video(
    renders: dict[str, Render], client: httpx.AsyncClient, tmp_path: Path, embedded: Any
) -> None:
    astro = renders["astronaut"]
    assert astro.upload["status"] == "queued"
    assert astro.final["status"] == "done", astro.final
    assert astro.final["progress"] == 100
    mp4 = probe_mp4(await download(client, astro.task_id, tmp_path / "astro.mp4"))
    assert mp4["video_codecs"] == ["h264"] and mp4["audio_codecs"] == ["aac"]
    assert mp4["pix_fmt"] == "yuv420p"
    assert (mp4["width"], mp4["height"]) == (1080, 1080)  # square photo: aspect kept, 1080p
    assert abs(mp4["duration"] - 30.0) <= 0.1
    assert abs(mp4["video_duration"] - 30.0) <= 0.1
    assert mp4["audio_channels"] == 2 and abs(mp4["audio_seconds"] - 30.0) <= 0.1
    assert mp4["audio_rms_db"] > -30, "audio is (nearly) silent"
    assert mp4["audio_clipped_fraction"] < 1e-4, "audio clips"


async def test_multipart_upload_keeps_the_aspect_ratio(
    renders: dict[str, Render], client: httpx.AsyncClient, tmp_path: Path
) -> None:
    coffee = renders["coffee"]
    assert coffee.final["status"] == "done", coffee.final
    mp4 = probe_mp4(await download(client, coffee.task_id, tmp_path / "coffee.mp4"))
    assert (mp4["width"], mp4["height"]) == (1620, 1080)  # 600x400 -> 3:2 at 1080p
    assert mp4["video_codecs"] == ["h264"] and mp4["audio_codecs"] == ["aac"]
    assert abs(mp4["duration"] - 30.0) <= 0.1
    assert mp4["audio_rms_db"] > -30 and mp4["audio_clipped_fraction"] < 1e-4
    detail = (await client.get(f"/photos/{coffee.task_id}")).json()
    assert detail["captions"] is False
    assert detail["photo"] == {"format": "png", "size": COFFEE.stat().st_size, "width": 600, "height": 400}


async def test_mp4_is_faststart(renders: dict[str, Render], client: httpx.AsyncClient) -> None:
    head = await client.get(
        f"/photos/{renders['astronaut'].task_id}/download", headers={"Range": "bytes=0-65535"}
    )
    assert head.status_code == 206
    boxes = []
    offset = 0
    data = head.content
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        boxes.append(kind.decode())
        if size < 8:
            break
        offset += size
    assert boxes.index("moov") < boxes.index("mdat") if "mdat" in boxes else "moov" in boxes


async def test_progress_is_pushed_on_the_websocket(renders: dict[str, Render]) -> None:
    messages = renders["astronaut"].messages
    assert messages[0]["type"] == "snapshot"
    statuses = [m["status"] for m in messages]
    for stage in ("analyzing", "composing", "rendering"):
        assert stage in statuses, statuses
    assert messages[-1]["type"] == "done" and messages[-1]["progress"] == 100
    progress = [m["progress"] for m in messages if m["type"] == "progress"]
    assert progress == sorted(progress) and len(progress) >= 5


async def test_range_requests_and_presigned_redirect(
    renders: dict[str, Render], client: httpx.AsyncClient
) -> None:
    task_id = renders["astronaut"].task_id
    full = await client.get(f"/photos/{task_id}/download")
    part = await client.get(f"/photos/{task_id}/download", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-199/{len(full.content)}"
    assert part.content == full.content[100:200]
    redirect = await client.get(f"/photos/{task_id}/download", params={"redirect": "true"})
    assert redirect.status_code == 307
    followed = await client.get(redirect.headers["location"])
    assert followed.status_code == 200 and followed.content == full.content
    music = await client.get(f"/photos/{task_id}/music")
    assert music.status_code == 200 and music.headers["content-type"] == "audio/mpeg"
    assert music.content[:3] == b"ID3" or music.content[0] == 0xFF


@pytest.fixture
def public_library(embedded: Any) -> Iterator[None]:
    """EARSHOT_PHOTOS_PUBLIC_LIBRARY=true for one test: anonymous tasks are listed."""
    product = embedded.gateway.products["photos"]
    before = product.settings
    product.settings = before.model_copy(update={"public_library": True})
    yield
    product.settings = before


async def test_anonymous_library_is_closed_by_default(
    renders: dict[str, Render], client: httpx.AsyncClient, signed_in: SignedIn
) -> None:
    closed = await client.get("/photos")
    assert closed.status_code == 401 and closed.headers["WWW-Authenticate"].startswith("Bearer")
    mine = (await signed_in.client.get("/photos")).json()
    assert mine["photos"] == [] and mine["total"] == 0  # anonymous tasks are in nobody's library
    # ...but an anonymous task stays reachable by its id, with or without a token
    astro = renders["astronaut"].task_id
    assert (await client.get(f"/photos/{astro}")).status_code == 200
    assert (await signed_in.client.get(f"/photos/{astro}/status")).status_code == 200


async def test_library_and_task_metadata(
    renders: dict[str, Render], client: httpx.AsyncClient, public_library: None
) -> None:
    astro = renders["astronaut"].task_id
    library = (await client.get("/photos", params={"status": "done"})).json()
    ids = [p["task_id"] for p in library["photos"]]
    assert astro in ids and renders["coffee"].task_id in ids
    item = next(p for p in library["photos"] if p["task_id"] == astro)
    assert item["mood"] and item["lyrics"].startswith("[Verse]")
    assert item["duration"] == 30.0
    assert item["video"]["width"] == 1080 and item["video"]["size"] > 100_000
    assert item["created_at"].endswith("Z")
    detail = (await client.get(f"/photos/{astro}")).json()
    assert detail["engines"] == {"lyrics": "local", "music": "local"}
    assert detail["analysis"]["orientation"] == "square"
    assert detail["music_prompt"] and "BPM" in detail["music_prompt"]
    page = (await client.get("/photos", params={"limit": 1})).json()
    assert len(page["photos"]) == 1 and page["total"] >= 2


async def test_objects_are_stored_and_temp_files_removed(renders: dict[str, Render], embedded: Any) -> None:
    storage = embedded.runtime.storage
    for render in renders.values():
        tid = render.task_id
        assert await storage.exists(f"photos/{tid}.png")
        assert await storage.exists(f"music/{tid}.mp3")
        assert await storage.exists(f"videos/{tid}.mp4")
    assert embedded.temp_leftovers() == []


async def test_health_reports_engines_and_queue(client: httpx.AsyncClient) -> None:
    body = (await client.get("/health")).json()
    assert body["status"] == "healthy" and body["timestamp"].endswith("Z")
    assert body["media"]["engines"]["lyrics"] == "local"
    assert body["media"]["engines"]["music"] == "local"
    assert body["media"]["max_concurrent_tasks"] == 3
    assert {"queue_depth", "running_tasks"} <= set(body["photos"])
    root = (await client.get("/")).json()
    assert root["status"] == "healthy" and root["docs"] == "/docs"


# --- bad input ----------------------------------------------------------------------------------


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` (with one tiny, valid IDAT)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


async def _stored(embedded: Any) -> tuple[int, int]:
    photos = await embedded.runtime.storage.list("photos/")
    counts = await embedded.platform.gateway.products["photos"].store.counts()
    return len(photos), sum(counts.values())


@pytest.mark.parametrize(
    ("body", "status", "title"),
    [
        ({"photo": base64.b64encode(b"just some text, not a photo").decode()}, 400, "Invalid file format"),
        ({"photo": "this is not base64!!"}, 400, "Invalid base64"),
        ({"photo": "QUJ"}, 400, "Invalid base64"),  # bad padding
        (
            {"photo": base64.b64encode(png_header(100_000, 100_000)).decode()},
            400,
            "Image dimensions not accepted",
        ),
        ({"photo": base64.b64encode(png_header(8000, 8)).decode()}, 400, "Image dimensions not accepted"),
        ({"photo": base64.b64encode(ASTRONAUT.read_bytes()[:20_000]).decode()}, 400, "Corrupt image"),
        ({"photo": ""}, 400, "No photo provided"),
        ({"picture": "abc"}, 400, "No photo provided"),
        ({"photo": 42}, 400, "Invalid base64"),
    ],
)
async def test_bad_json_uploads_are_rejected_and_store_nothing(
    client: httpx.AsyncClient, embedded: Any, body: dict[str, Any], status: int, title: str
) -> None:
    before = await _stored(embedded)
    response = await client.post("/upload-photo", json=body)
    assert response.status_code == status, response.text
    error = response.json()
    assert error["error"] == title and error["details"] and error["timestamp"].endswith("Z")
    assert await _stored(embedded) == before
    assert embedded.temp_leftovers() == []


async def test_oversized_photos_get_413(client: httpx.AsyncClient, embedded: Any) -> None:
    before = await _stored(embedded)
    big = ASTRONAUT.read_bytes() + bytes(11 * 1024 * 1024)  # a PNG with 11 MB of trailing bytes
    as_json = await client.post("/upload-photo", json={"photo": base64.b64encode(big).decode()})
    assert as_json.status_code == 413, as_json.text
    assert as_json.json()["error"] == "File too large"
    as_form = await client.post("/upload-photo", files={"photo": ("big.png", big, "image/png")})
    assert as_form.status_code == 413, as_form.text
    assert await _stored(embedded) == before


async def test_other_bad_requests(client: httpx.AsyncClient, embedded: Any) -> None:
    before = await _stored(embedded)
    assert (
        await client.post("/upload-photo", content=b"{", headers={"content-type": "application/json"})
    ).status_code == 400
    assert (
        await client.post("/upload-photo", content=b"x", headers={"content-type": "text/plain"})
    ).status_code == 415
    no_file = await client.post(
        "/upload-photo", files={"other": ("a.png", ASTRONAUT.read_bytes(), "image/png")}
    )
    assert no_file.status_code == 400 and no_file.json()["error"] == "No photo provided"
    text = await client.post(
        "/upload-photo", files={"photo": ("a.png", b"%PDF-1.4 not an image", "image/png")}
    )
    assert text.status_code == 400 and text.json()["error"] == "Invalid file format"
    assert await _stored(embedded) == before


async def test_unknown_tasks_are_404(client: httpx.AsyncClient) -> None:
    for path in (
        "/photos/00000000-0000-4000-8000-000000000000/status",
        "/photos/00000000-0000-4000-8000-000000000000",
        "/photos/not-a-uuid/download",
        "/photos/00000000-0000-4000-8000-000000000000/download",
    ):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert set(response.json()) == {"error", "details", "timestamp"}


async def _insert(embedded: Any, status: str, **values: Any) -> PhotoTask:
    import uuid

    product = embedded.platform.gateway.products["photos"]
    task_id = str(uuid.uuid4())
    task = PhotoTask(
        id=task_id,
        owner="anonymous",
        status=status,
        progress=values.pop("progress", 50),
        attempt=values.pop("attempt", 1),
        captions=False,
        photo_key=values.pop("photo_key", f"photos/{task_id}.png"),
        photo_format="png",
        photo_size=10,
        photo_width=64,
        photo_height=64,
        warnings=[],
        **values,
    )
    await product.store.add(task)
    return task


async def test_download_before_done_is_409(client: httpx.AsyncClient, embedded: Any) -> None:
    task = await _insert(embedded, "rendering", progress=55)
    response = await client.get(f"/photos/{task.id}/download")
    assert response.status_code == 409
    assert "rendering" in response.json()["details"]
    status = (await client.get(f"/photos/{task.id}/status")).json()
    assert status["status"] == "rendering" and status["progress"] == 55
    failed = await _insert(embedded, "failed", error="music_provider_failed", error_details="Suno said no")
    response = await client.get(f"/photos/{failed.id}/download")
    assert response.status_code == 409 and "Suno said no" in response.json()["details"]
    status = (await client.get(f"/photos/{failed.id}/status")).json()
    assert status["error"] == "Suno said no" and status["error_code"] == "music_provider_failed"


async def test_stuck_tasks_are_retried_then_failed(embedded: Any, client: httpx.AsyncClient) -> None:
    """The gateway's lease sweeper (issue 15) re-requests a render whose lease ran out, then
    fails it at the attempt limit (EARSHOT_PHOTO_MAX_ATTEMPTS, 2)."""
    from datetime import UTC, datetime, timedelta

    from services.common.events import MediaRenderRequested
    from services.common.leases import request_of
    from services.gateway.models import Job

    gateway = embedded.platform.gateway
    storage = embedded.runtime.storage
    old = datetime.now(UTC) - timedelta(hours=2)

    async def stuck(status: str, attempts: int) -> PhotoTask:
        task = await _insert(embedded, status, attempt=attempts, updated_at=old, created_at=old)
        request = MediaRenderRequested(job_id=task.id, photo_key=task.photo_key, captions=False)
        async with gateway.ctx.sessions() as session, session.begin():
            session.add(
                Job(
                    id=task.id,
                    kind="media",
                    status="running",
                    created_at=old,
                    updated_at=old,
                    attempts=attempts,
                    lease_expires_at=old,
                    request=request_of(request),
                    objects=[],
                )
            )
        return task

    # 1) attempts left and the photo is there (a damaged one, so the worker fails fast):
    retry = await stuck("rendering", 1)
    await storage.put(retry.photo_key, b"\x89PNG\r\n\x1a\n damaged", "image/png")
    # 2) no attempts left:
    spent = await stuck("composing", 2)
    # 3) fresh: left alone (its lease still runs)
    fresh = await _insert(embedded, "analyzing")
    swept = await gateway.ctx.durable.sweeper.sweep_once()
    assert retry.id in swept.retried and spent.id in swept.failed
    assert fresh.id not in swept.retried + swept.failed
    gave_up = await wait_terminal(client, spent.id, timeout_s=30)
    assert gave_up["status"] == "failed" and gave_up["error_code"] == "lease_expired", gave_up
    assert (await gateway.jobs.get(spent.id)).error == "lease_expired"
    final = await wait_terminal(client, retry.id, timeout_s=60)
    assert final["status"] == "failed" and final["error_code"] == "bad_photo", final
    assert (await client.get(f"/photos/{retry.id}")).json()["attempt"] == 2
    job = await gateway.jobs.get(retry.id)
    assert (job.status, job.attempts, job.lease_expires_at) == ("failed", 2, None)
    await storage.delete(retry.photo_key)
