"""Benchmark: authenticated ``GET /api/me`` and the probes (``/health``, ``/livez``, ``/ready``).

The server runs in a child process exactly as ``earshot`` runs it (``services.platform.serve``
on the event loop of ``services.common.eventloop``: uvloop, with uvicorn's httptools parser),
with only ``auth`` and ``gateway``. The load generator is another process: ``wrk`` (Debian's
package, installed when missing, else the benchmark stops), one thread, ``--clients`` (16)
keep-alive connections. Besides requests/s and latency, each round reports the server's CPU
milliseconds per request (from /proc), which other load on a shared machine moves least.
The routes are measured in alternating rounds (me, health, me,
health ...) so that load from elsewhere on the machine hits all alike; each round lasts
``--seconds`` (>= 1 s), and each figure is the median of ``--rounds`` rounds with its spread.
``/api/me`` verifies the Ed25519 JWT locally (cached JWKS), so it makes no call to auth.

``--profile``: one more ``/api/me`` round with the server under cProfile; the report then
holds the top functions by own time and the share of the request path spent per layer
(uvicorn/httptools, middleware, dependency resolution, JWT verification, serialisation).

Targets (issue 18): ``/api/me`` p99 < 25 ms and >= 1.5x the throughput measured before the
work (805 requests/s with the old httpx load generator; the figures before and after, with
this script, are in the issue's report).

Usage: python benchmarks/auth.py [--clients 16] [--seconds 4] [--rounds 5] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import MIN_SECONDS, emit, require, summary  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(port: int, data_dir: str, profile_path: str | None) -> None:
    """Child process: auth + gateway as ``earshot`` runs them, until SIGTERM.

    With ``profile_path``: SIGUSR1 starts cProfile, SIGUSR2 stops it and writes the stats there.
    """
    from services.common.settings import Settings, load_settings
    from services.platform import serve as serve_platform

    grpc_ports = {name: 0 for name in Settings.model_fields if name.endswith("_grpc_port")}
    settings = load_settings(data_dir=Path(data_dir), port=port, log_level="warning", **grpc_ports)
    if profile_path:
        profiler = cProfile.Profile()

        def dump(*_: object) -> None:
            profiler.disable()
            profiler.dump_stats(profile_path)

        signal.signal(signal.SIGUSR1, lambda *_: profiler.enable())
        signal.signal(signal.SIGUSR2, dump)
    try:
        from services.common.eventloop import run
    except ImportError:  # a checkout from before the event-loop module (figures "before")
        run = asyncio.run  # type: ignore[assignment]
    run(serve_platform(settings, ["auth", "gateway"], run_migrations=True))


def request(url: str, body: dict[str, Any] | None = None, token: str | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=30) as reply:
        return json.loads(reply.read())


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip()).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by process ``pid`` (all its threads; Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(
    binary: str, url: str, token: str | None, clients: int, seconds: float, server_pid: int | None = None
) -> dict[str, float]:
    """One load round: requests/s and latency percentiles (ms) as wrk measures them, and the
    server's CPU milliseconds per request (``server_pid``): the figure least moved by other
    load on a shared machine.

    Raises:
        RuntimeError: wrk failed, or any answer was not 2xx.
    """
    cmd = [binary, "-t1", f"-c{clients}", f"-d{seconds:g}s", "--latency", "--timeout", "10s", url]
    if token:
        cmd[1:1] = ["-H", f"Authorization: Bearer {token}"]
    cpu_before = cpu_seconds(server_pid) if server_pid else 0.0
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    cpu = cpu_seconds(server_pid) - cpu_before if server_pid else float("nan")
    if out.returncode:
        raise RuntimeError(f"wrk failed: {out.stderr or out.stdout}")
    text = out.stdout
    if "Non-2xx" in text or "Socket errors" in text:
        raise RuntimeError(f"{url}: errors under load:\n{text}")
    pct = {m[0]: _ms(m[1]) for m in re.findall(r"^\s*(50|75|90|99)%\s+([\d.]+(?:us|ms|s|m))\s*$", text, re.M)}
    if "99" not in pct:
        raise RuntimeError(f"wrk printed no latency distribution:\n{text}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    done = int(re.search(r"(\d+) requests in", text).group(1))  # type: ignore[union-attr]
    return {
        "requests": done,
        "requests_per_s": rps,
        "p50_ms": pct["50"],
        "p99_ms": pct["99"],
        "server_cpu_ms_per_request": cpu * 1000 / max(done, 1),
    }


def profile_report(path: str, top: int = 25) -> dict[str, Any]:
    """Top functions by own time, and own time grouped by layer of the request path (percent)."""
    stats = pstats.Stats(path)
    total = sum(v[2] for v in stats.stats.values()) or 1e-9  # type: ignore[attr-defined]
    layers = {
        "uvicorn_httptools": ("uvicorn", "httptools", "h11"),
        "event_loop": ("asyncio", "uvloop"),
        "starlette_middleware": (
            "starlette/middleware",
            "services/common/metrics.py",
            "services/common/asgi",
        ),
        "routing_and_dependencies": ("fastapi/routing", "fastapi/dependencies", "starlette/routing"),
        "jwt_and_crypto": ("jwt/", "cryptography", "auth"),
        "serialisation": ("pydantic", "json", "fastapi/encoders", "starlette/responses"),
        "logging_tracing_metrics": ("structlog", "opentelemetry", "prometheus_client", "contextvars"),
    }
    by_layer = dict.fromkeys(layers, 0.0)
    by_layer["other"] = 0.0
    rows = []
    for (file, line, name), (_, calls, own, cum, _) in stats.stats.items():  # type: ignore[attr-defined]
        where = f"{file}:{line}({name})"
        layer = next((k for k, keys in layers.items() if any(key in where for key in keys)), "other")
        by_layer[layer] += own
        rows.append((own, cum, calls, where))
    rows.sort(reverse=True)
    short = re.compile(r"^.*?(site-packages/|/services/|/lib/python3\.\d+/)")
    return {
        "own_time_by_layer_pct": {k: round(v / total * 100, 1) for k, v in by_layer.items()},
        "top_own_time": [
            {"function": short.sub("", where), "calls": calls, "own_s": round(own, 3), "cum_s": round(cum, 3)}
            for own, cum, calls, where in rows[:top]
        ],
    }


def start_server(port: int, data_dir: str, profile_path: str | None) -> subprocess.Popen[bytes]:
    args = [sys.executable, __file__, "--serve", str(port), data_dir]
    if profile_path:
        args.append(profile_path)
    child = subprocess.Popen(args, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            request(f"{base}/health")
            return child
        except OSError:
            if child.poll() is not None:
                raise RuntimeError("server process exited") from None
            time.sleep(0.1)
    child.terminate()
    raise RuntimeError("server did not answer /health in 60 s")


def register(base: str) -> str:
    reply = request(
        f"{base}/api/users", {"email": "bench@example.com", "password": "bench-password-1", "name": "B"}
    )
    return str(reply["access_token"])


def main(args: argparse.Namespace) -> dict[str, Any]:
    if args.seconds < MIN_SECONDS:
        sys.exit(f"--seconds must be >= {MIN_SECONDS}")
    binary = require("wrk", "wrk")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="earshot-bench-auth-") as data_dir:
        child = start_server(port, data_dir, None)
        try:
            token = register(base)
            routes: dict[str, tuple[str, str | None]] = {"me": (f"{base}/api/me", token)}
            for path in ("/health", "/livez", "/ready"):
                try:
                    request(base + path)
                except OSError:  # a checkout without the probe routes (figures "before")
                    continue
                routes[path.strip("/")] = (base + path, None)
            for url, tok in routes.values():  # warm-up: JWKS cached, code paths loaded
                wrk(binary, url, tok, args.clients, 1)
            rounds: dict[str, list[dict[str, float]]] = {name: [] for name in routes}
            for _ in range(args.rounds):
                for name, (url, tok) in routes.items():
                    rounds[name].append(wrk(binary, url, tok, args.clients, args.seconds, child.pid))
        finally:
            child.send_signal(signal.SIGTERM)
            child.wait(timeout=60)
        profile: dict[str, Any] | None = None
        if args.profile:
            stats_path = str(Path(data_dir) / "me.prof")
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            child = start_server(port, str(Path(data_dir) / "profiled"), stats_path)
            try:
                token = register(base)
                wrk(binary, f"{base}/api/me", token, args.clients, 1)
                child.send_signal(signal.SIGUSR1)
                time.sleep(0.2)
                profiled = wrk(binary, f"{base}/api/me", token, args.clients, args.seconds)
                child.send_signal(signal.SIGUSR2)
                time.sleep(1.0)
            finally:
                child.send_signal(signal.SIGTERM)
                child.wait(timeout=60)
            profile = {"requests_under_profiler": profiled["requests"], **profile_report(stats_path)}
    figures = {
        name: {
            "requests_per_s": summary([r["requests_per_s"] for r in results]),
            "p50_ms": summary([r["p50_ms"] for r in results], 2),
            "p99_ms": summary([r["p99_ms"] for r in results], 2),
            "server_cpu_ms_per_request": summary([r["server_cpu_ms_per_request"] for r in results], 3),
            "requests_per_round": summary([r["requests"] for r in results], 0),
        }
        for name, results in rounds.items()
    }
    me = figures["me"]
    result: dict[str, Any] = {
        "load_generator": "wrk, 1 thread, separate process",
        "clients": args.clients,
        "seconds_per_round": args.seconds,
        "rounds": args.rounds,
        "event_loop": _event_loop(),
        "routes": figures,
        "me_requests_per_s": me["requests_per_s"]["median"],
        "me_p99_ms": me["p99_ms"]["median"],
        "me_server_cpu_ms_per_request": me["server_cpu_ms_per_request"]["median"],
        "targets": {"me_p99_ms": "< 25", "me_requests_per_s": ">= 1.5x before (see the docstring)"},
    }
    if profile is not None:
        result["profile_me"] = profile
    return result


def _event_loop() -> str:
    try:
        from services.common.eventloop import loop_name
    except ImportError:
        return "asyncio"
    return loop_name()


if __name__ == "__main__":
    if len(sys.argv) in (4, 5) and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]), sys.argv[3], sys.argv[4] if len(sys.argv) == 5 else None)
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="also profile one /api/me round")
    emit("auth", main(parser.parse_args()))
