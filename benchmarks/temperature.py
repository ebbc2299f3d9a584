"""Benchmark: POST /analyze-audio against the bare faster-whisper call, in one run.

Prints JSON:
- ``jfk``: median latency of the service path (HTTP in, JSON out) over N runs, beside the
  median of calling faster-whisper directly on the same file with the same model and
  settings; ``overhead_ratio`` = service / bare (target <= 1.3).
- ``throughput``: requests per second with 4 concurrent clients.
- ``long_72s``: latency for a 72 s recording (target < 8 s).
Each figure is the median of several runs (each over a second of work) with its spread
(``runs``, ``min``, ``max``, ``spread_pct``: benchmarks/common.py); throughput and the long
recording are measured ``REPEATS`` (3) times.

Usage: python benchmarks/temperature.py [--runs 10]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import emit, summary  # noqa: E402
from services.common import audio  # noqa: E402
from services.common.logging import configure_logging  # noqa: E402
from services.common.settings import Settings, load_settings  # noqa: E402
from services.platform import running  # noqa: E402
from services.transcription.engine import bundled_model_path  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
JFK = FIXTURES / "jfk.flac"


ANY_FREE_GRPC_PORT = {name: 0 for name in Settings.model_fields if name.endswith("_grpc_port")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_long_recording(seconds: float = 72.0) -> bytes:
    """A FLAC of ``seconds`` made by concatenating the shared recordings (real speech)."""
    import av

    parts = [audio.decode(FIXTURES / name) for name in ("weekly_sync.wav", "jfk.flac", "jfk.flac")]
    samples = np.concatenate(parts)[: int(seconds * 16_000)]
    buf = io.BytesIO()
    with av.open(buf, "w", format="flac") as out:
        stream = out.add_stream("flac", rate=16_000, layout="mono")
        frame = av.AudioFrame.from_ndarray(
            (samples * 32767).astype("<i2")[None, :], format="s16", layout="mono"
        )
        frame.rate = 16_000
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


REPEATS = 3


def bare_whisper(runs: int, settings) -> list[float]:  # type: ignore[no-untyped-def]
    from faster_whisper import WhisperModel

    model = WhisperModel(
        str(bundled_model_path()),
        device="cpu",
        compute_type=settings.whisper_compute_type,
        cpu_threads=settings.whisper_threads,
    )
    times = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        segments, _ = model.transcribe(
            str(JFK),
            language="en",
            beam_size=settings.whisper_beam_size,
            word_timestamps=True,
            condition_on_previous_text=False,
        )
        list(segments)
        times.append(time.perf_counter() - started)
    return times[1:]  # first run warms up


async def post(client: httpx.AsyncClient, name: str, data: bytes) -> float:
    started = time.perf_counter()
    response = await client.post("/analyze-audio", files={"audio": (name, data, "audio/flac")})
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed


async def main(runs: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="earshot-bench-") as tmp:
        port = free_port()
        settings = load_settings(data_dir=Path(tmp), port=port, log_level="error", **ANY_FREE_GRPC_PORT)
        bare = await asyncio.to_thread(bare_whisper, runs, settings)
        async with running(settings):
            data = JFK.read_bytes()
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=300) as client:
                await post(client, "jfk.flac", data)  # warm-up
                service = [await post(client, "jfk.flac", data) for _ in range(runs)]
                concurrency, total = 4, max(8, runs)
                queue = list(range(total))

                async def worker() -> None:
                    while queue:
                        queue.pop()
                        await post(client, "jfk.flac", data)

                walls, long_latencies = [], []
                long_data = make_long_recording(72.0)
                for _ in range(REPEATS):
                    queue = list(range(total))
                    started = time.perf_counter()
                    await asyncio.gather(*(worker() for _ in range(concurrency)))
                    walls.append(time.perf_counter() - started)
                    long_latencies.append(await post(client, "long.flac", long_data))
    bare_median = statistics.median(bare)
    service_median = statistics.median(service)
    return {
        "model": "whisper-tiny.en (int8, faster-whisper)",
        "jfk": {
            "audio_s": 11.0,
            "runs": runs,
            "service_median_s": round(service_median, 4),
            "bare_faster_whisper_median_s": round(bare_median, 4),
            "service_s": summary(service, 4),
            "bare_faster_whisper_s": summary(bare, 4),
            "overhead_ratio": round(service_median / bare_median, 3),
            "target_overhead_ratio": 1.3,
        },
        "throughput": {
            "concurrent_clients": concurrency,
            "requests_per_run": total,
            "wall_s": summary(walls, 3),
            "requests_per_s": summary([total / w for w in walls], 3),
        },
        "long_72s": {"audio_s": 72.0, "latency_s": summary(long_latencies, 3), "target_s": 8.0},
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    configure_logging("error")  # stdout carries the JSON result only
    emit("temperature", asyncio.run(main(args.runs)))
