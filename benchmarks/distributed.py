"""Temperature latency for ``jfk.flac``: distributed (gateway, transcription and analysis as
separate processes on Kafka, PostgreSQL and MinIO) against embedded (one process, in-memory
bus, SQLite, local folder).

Both run the same code path and the same model; the difference is the price of the real
bus, database and object store plus the process hops. ``--requests`` sequential requests
after one warm-up each (each request transcribes 11 s of audio: over a second of work);
reports median, spread and worst wall time per request and the ratio of medians. Needs
``EARSHOT_TEST_KAFKA``, ``EARSHOT_TEST_DATABASE_URL`` and ``EARSHOT_TEST_S3``
(``make bench`` sets them from ``deploy/local/infra.sh``). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
import uvicorn  # noqa: E402

from benchmarks.common import emit, summary  # noqa: E402
from services.common.logging import configure_logging  # noqa: E402
from services.common.settings import load_settings  # noqa: E402
from services.platform import Platform  # noqa: E402
from tests.integration import infra  # noqa: E402
from tests.integration.cluster import Cluster, free_port  # noqa: E402

JFK = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "jfk.flac"


async def timed_requests(url: str, n: int) -> list[float]:
    times = []
    async with httpx.AsyncClient(timeout=300) as client:
        for i in range(n + 1):
            start = time.perf_counter()
            with JFK.open("rb") as f:
                answer = await client.post(
                    f"{url}/analyze-audio", files={"audio": ("jfk.flac", f, "audio/flac")}
                )
            took = time.perf_counter() - start
            if answer.status_code != 200:
                raise RuntimeError(f"{url}: {answer.status_code} {answer.text}")
            if i:  # the first request warms up
                times.append(took)
    return times


async def embedded(n: int, root: Path) -> list[float]:
    port = free_port()
    settings = load_settings(data_dir=root / "embedded", port=port, log_level="error")
    platform = Platform(settings)
    await platform.start()
    server = uvicorn.Server(
        uvicorn.Config(platform.gateway.app, host="127.0.0.1", port=port, log_config=None, lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.05)
        return await timed_requests(f"http://127.0.0.1:{port}", n)
    finally:
        server.should_exit = True
        await task
        await platform.stop()


async def distributed(n: int, root: Path) -> tuple[list[float], float]:
    cluster = Cluster(infra.acquire(), root / "cluster")
    start = time.perf_counter()
    try:
        await cluster.up()
        startup = time.perf_counter() - start
        return await timed_requests(cluster.url, n), startup
    finally:
        await cluster.down()
        infra.release()


def seconds(times: list[float]) -> dict[str, object]:
    """Median, spread and mean of the request times (each over a second of work)."""
    spread = summary(times, 3)
    return {
        "median_s": spread["median"],
        "max_s": spread["max"],
        "mean_s": round(statistics.fmean(times), 3),
        "spread": spread,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=5)
    args = parser.parse_args()
    configure_logging("error")
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # stdout carries the JSON only
    with tempfile.TemporaryDirectory(prefix="earshot-bench-") as tmp:
        root = Path(tmp)
        local = await embedded(args.requests, root)
        remote, startup = await distributed(args.requests, root)
    emit(
        "distributed",
        {
            "title": "distributed_temperature",
            "input": "jfk.flac (11 s)",
            "requests": args.requests,
            "embedded": seconds(local),
            "distributed": seconds(remote),
            "distributed_startup_s": round(startup, 1),
            "distributed_vs_embedded_median": round(statistics.median(remote) / statistics.median(local), 3),
        },
    )


if __name__ == "__main__":
    asyncio.run(main())
