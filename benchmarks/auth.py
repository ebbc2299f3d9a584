"""Benchmark: authenticated ``GET /api/me`` against unauthenticated ``GET /health``, one run.

The gateway and the auth service run in a child process (``--serve``: the platform with only
``auth`` and ``gateway``, real uvicorn on loopback); this process drives it with 16 concurrent
clients (one keep-alive connection each). The two routes are measured in alternating rounds
(health, me, health, me ...) so that load from elsewhere on the machine hits both alike.
``/api/me`` verifies the Ed25519 JWT locally (cached JWKS), so it makes no call to auth.

Prints JSON: requests/s and latency percentiles (ms) per route, and
``me_vs_health_throughput`` (target >= 0.6) and ``me_p99_ms`` (target < 25).

Usage: python benchmarks/auth.py [--clients 16] [--seconds 4] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform as pyplatform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def serve(port: int, data_dir: str) -> None:
    """Child process: auth + gateway until SIGTERM."""
    from services.common.logging import configure_logging
    from services.common.settings import Settings, load_settings
    from services.platform import running

    configure_logging("warning")
    grpc_ports = {name: 0 for name in Settings.model_fields if name.endswith("_grpc_port")}
    settings = load_settings(data_dir=Path(data_dir), port=port, log_level="warning", **grpc_ports)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with running(settings, ["auth", "gateway"]):
        await stop.wait()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def load(url: str, headers: dict[str, str], clients: int, seconds: float) -> tuple[int, list[float]]:
    """``clients`` workers, each on its own keep-alive connection, for ``seconds``."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        async with httpx.AsyncClient(headers=headers, timeout=30) as client:
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                reply = await client.get(url)
                latencies.append(time.perf_counter() - start)
                if reply.status_code != 200:
                    raise RuntimeError(f"{url}: {reply.status_code} {reply.text[:200]}")

    await asyncio.gather(*(worker() for _ in range(clients)))
    return len(latencies), latencies


def summary(count: int, latencies: list[float], seconds: float) -> dict[str, float]:
    ms = [x * 1000 for x in latencies]
    return {
        "requests": count,
        "requests_per_s": round(count / seconds, 1),
        "p50_ms": round(statistics.median(ms), 2),
        "p99_ms": round(percentile(ms, 0.99), 2),
        "max_ms": round(max(ms), 2),
    }


async def main(args: argparse.Namespace) -> dict[str, object]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="earshot-bench-auth-") as data_dir:
        child = await asyncio.to_thread(
            subprocess.Popen, [sys.executable, __file__, "--serve", str(port), data_dir], cwd=ROOT
        )
        try:
            async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                for _ in range(600):
                    try:
                        if (await client.get("/health")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    if child.poll() is not None:
                        raise RuntimeError("server process exited")
                    await asyncio.sleep(0.1)
                reply = await client.post(
                    "/api/users",
                    json={"email": "bench@example.com", "password": "bench-password-1", "name": "B"},
                )
                reply.raise_for_status()
                token = reply.json()["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            routes = {"health": (f"{base}/health", {}), "me": (f"{base}/api/me", auth)}
            for url, headers in routes.values():  # warm-up: JWKS cached, connections open
                await load(url, headers, args.clients, 1.0)
            totals: dict[str, tuple[int, list[float]]] = {name: (0, []) for name in routes}
            for _ in range(args.rounds):
                for name, (url, headers) in routes.items():
                    count, lat = await load(url, headers, args.clients, args.seconds)
                    totals[name] = (totals[name][0] + count, totals[name][1] + lat)
        finally:
            child.send_signal(signal.SIGTERM)
            child.wait(timeout=30)
    measured = args.seconds * args.rounds
    health = summary(*totals["health"], measured)
    me = summary(*totals["me"], measured)
    return {
        "benchmark": "auth",
        "clients": args.clients,
        "seconds_per_route": measured,
        "health": health,
        "me": me,
        "me_vs_health_throughput": round(me["requests_per_s"] / health["requests_per_s"], 3),
        "me_p99_ms": me["p99_ms"],
        "targets": {"me_vs_health_throughput": ">= 0.6", "me_p99_ms": "< 25"},
        "machine": {"cpus": os.cpu_count(), "python": pyplatform.python_version()},
    }


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        asyncio.run(serve(int(sys.argv[2]), sys.argv[3]))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    print(json.dumps(asyncio.run(main(parser.parse_args())), indent=2))
