"""Benchmark: meeting memos (seed 003) on an embedded platform started by this script.

Prints JSON with:

- ``create_ms``: latency of ``POST /api/v1/mobile/meetings/`` with weekly_sync.wav (51 s,
  1.6 MB) -- p50/p95 over ``--uploads`` runs (target p95 < 300 ms; the seed promises < 5 s):
  validation, storage, the record, everything but publishing the processing request (about
  1 ms; left out so the uploads, deleted at once, do not load the machine with transcriptions);
- ``processing``: wall time from upload to COMPLETED of a ``--minutes`` meeting (weekly_sync
  repeated; 10 minutes by default) and its real-time factor (target <= 0.15 with diarization
  and analysis), beside the **bare steps** measured in the same run on the same file:
  ``transcribe`` (the service's Whisper engine, no diarization), ``transcribe_diarize`` (with
  diarization; ``diarize`` is the difference) and ``analyze`` (speaker naming, summary, action
  items, analytics with the local analyzer);
- ``list_ms`` / ``search_ms``: p50/p95 of ``GET /meetings/?page=1&limit=100`` and
  ``GET /meetings/?search=<a transcript word>`` over ``--meetings`` meetings of one user
  (10,000 by default, inserted through the repository; SQLite in the embedded mode, whose
  search is the LIKE fallback -- PostgreSQL uses the GIN index) (target p95 < 50 ms).

Usage: ``python benchmarks/meetings.py [--uploads 10] [--minutes 10] [--meetings 10000]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import emit  # noqa: E402
from services.analysis.meeting import LocalMeetingAnalyzer, MeetingRequest  # noqa: E402
from services.common import audio  # noqa: E402
from services.common.logging import configure_logging  # noqa: E402
from services.common.settings import Settings, load_settings  # noqa: E402
from services.gateway.products.meetings.media import write_wav  # noqa: E402
from services.gateway.products.meetings.models import MeetingRecord  # noqa: E402
from services.platform import running  # noqa: E402
from services.transcription.engine import TranscribeOptions  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
WEEKLY = FIXTURES / "weekly_sync.wav"
ANY_FREE_GRPC_PORT = {name: 0 for name in Settings.model_fields if name.endswith("_grpc_port")}
PARTICIPANTS = ["Alice", "Bob", "Carol"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return {"p50": round(statistics.median(ordered), 1), "p95": round(p95, 1), "n": len(ordered)}


def long_meeting(minutes: float, out: Path) -> float:
    """weekly_sync repeated to ``minutes``; its duration in seconds."""
    one = audio.decode(WEEKLY, 16000)
    reps = max(1, int(np.ceil(minutes * 60 / (len(one) / 16000))))
    samples = np.concatenate([one] * reps)[: int(minutes * 60 * 16000)]
    write_wav(out, samples, 16000)
    return len(samples) / 16000


async def bare_steps(platform: Any, path: Path) -> dict[str, float]:
    engine = platform.services["transcription"].engine
    started = time.perf_counter()
    await asyncio.to_thread(engine.transcribe_file, path, TranscribeOptions())
    transcribe = time.perf_counter() - started
    started = time.perf_counter()
    diarized = await asyncio.to_thread(
        engine.transcribe_file, path, TranscribeOptions(diarize=True, min_speakers=3, max_speakers=3)
    )
    both = time.perf_counter() - started
    started = time.perf_counter()
    LocalMeetingAnalyzer().run(diarized, MeetingRequest(participants=PARTICIPANTS))
    analyze = time.perf_counter() - started
    return {
        "transcribe_s": round(transcribe, 2),
        "transcribe_diarize_s": round(both, 2),
        "diarize_s": round(max(0.0, both - transcribe), 2),
        "analyze_s": round(analyze, 2),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    configure_logging("error")
    data = Path(tempfile.mkdtemp(prefix="earshot-bench-meetings-"))
    port = free_port()
    settings = load_settings(data_dir=data, port=port, log_level="error", **ANY_FREE_GRPC_PORT)
    out: dict[str, Any] = {}  # emit adds the machine (CPU, cores, memory, Python)
    async with (
        running(settings) as platform,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=600) as client,
    ):
        reply = await client.post(
            "/api/users",
            json={
                "email": f"bench-{uuid.uuid4().hex[:8]}@example.com",
                "password": "bench-pass-42",
                "name": "B",
            },
        )
        token = reply.json()["access_token"]
        h = {"Authorization": f"Bearer {token}"}
        user_id = str((await client.get("/api/v1/mobile/auth/me", headers=h)).json()["id"])
        product = platform.services["gateway"].app.state.products["meetings"]
        body = WEEKLY.read_bytes()

        latencies = []
        queue = product.pipeline.request

        async def measured_request(record: Any, attempt: int) -> None:
            """Publish as usual, timed apart: processing the benchmark's uploads would only load
            the machine (they are deleted at once), so the request event is not published here."""

        product.pipeline.request = measured_request
        for _ in range(args.uploads):
            started = time.perf_counter()
            reply = await client.post(
                "/api/v1/mobile/meetings/",
                headers=h,
                data={"title": "Bench", "participants": json.dumps(PARTICIPANTS)},
                files={"audio_file": ("weekly_sync.wav", body, "audio/wav")},
            )
            latencies.append((time.perf_counter() - started) * 1000)
            assert reply.status_code == 201, reply.text
            await client.delete(f"/api/v1/mobile/meetings/{reply.json()['id']}", headers=h)
        product.pipeline.request = queue
        out["create_ms"] = pct(latencies)

        long_path = data / "long.wav"
        duration = long_meeting(args.minutes, long_path)
        started = time.perf_counter()
        reply = await client.post(
            "/api/v1/mobile/meetings/",
            headers=h,
            data={"title": "Long", "participants": json.dumps(PARTICIPANTS)},
            files={"audio_file": ("long.wav", long_path.read_bytes(), "audio/wav")},
        )
        mid = reply.json()["id"]
        while (m := (await client.get(f"/api/v1/mobile/meetings/{mid}", headers=h)).json())["status"] not in (
            "COMPLETED",
            "FAILED",
        ):
            await asyncio.sleep(0.5)
        wall = time.perf_counter() - started
        out["processing"] = {
            "audio_s": round(duration, 1),
            "status": m["status"],
            "wall_s": round(wall, 2),
            "rtf": round(wall / duration, 3),
            "speakers": sorted(m.get("speakers") or []),
            "bare": await bare_steps(platform, long_path),
        }
        bare = out["processing"]["bare"]
        out["processing"]["bare_rtf"] = round(
            (bare["transcribe_diarize_s"] + bare["analyze_s"]) / duration, 3
        )

        t0 = datetime(2025, 1, 1, tzinfo=UTC)
        batch = []
        for i in range(args.meetings):
            word = "flamingo" if i == args.meetings // 2 else f"topic{i % 97}"
            batch.append(
                MeetingRecord(
                    id=str(uuid.uuid4()),
                    user_id=user_id,
                    title=f"Meeting {i}",
                    participants=["Ann", "Ben"],
                    transcription=[
                        {
                            "speaker": "Ann",
                            "text": f"We talked about {word} and budgets.",
                            "start_time": "0:00",
                            "end_time": "0:05",
                        }
                    ],
                    action_items=[],
                    speakers=["Ann"],
                    speaker_labels=[],
                    status="COMPLETED",
                    analytics_status="COMPLETED",
                    attempt=1,
                    created_at=t0 + timedelta(minutes=i),
                    updated_at=t0 + timedelta(minutes=i),
                )
            )
            if len(batch) == 1000:
                await product.meetings.add_many(batch)
                batch = []
        if batch:
            await product.meetings.add_many(batch)
        for name, query in (("list_ms", "page=1&limit=100"), ("search_ms", "search=flamingo")):
            times = []
            for _ in range(args.queries):
                started = time.perf_counter()
                reply = await client.get(f"/api/v1/mobile/meetings/?{query}", headers=h)
                times.append((time.perf_counter() - started) * 1000)
                assert reply.status_code == 200
            out[name] = {**pct(times), "meetings": args.meetings}
        out["search_hits"] = reply.json()["total"]
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=10)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--meetings", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=30)
    emit("meetings", asyncio.run(main(parser.parse_args())))
