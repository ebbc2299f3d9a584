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

On a machine with two cores or more the server and the load generator are pinned to
different cores (``sched_setaffinity``, what ``taskset`` does: server on the last core, wrk
on the first), so that they do not take turns on one core and the latency measured is the
server's, not the scheduler's; ``--no-pin`` leaves both to the scheduler.

``--profile``: one more ``/api/me`` round with the server sampled by py-spy (a sampling
profiler: the server runs at full speed, unlike under cProfile); the report then holds the
functions with the most samples (own and inclusive) and the share of samples per layer of the
request path (uvicorn/httptools, middleware, routing and dependency resolution, JWT
verification, serialisation, logging/tracing/metrics, event loop).

Targets (issue 18): ``/api/me`` p99 < 25 ms and >= 1.5x the throughput measured before the
work (805 requests/s, issue 18's figure); ``targets`` gives each verdict (``met``).

Usage: python benchmarks/auth.py [--clients 16] [--seconds 4] [--rounds 5] [--profile] [--no-pin]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import re
import shutil
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

BEFORE_REQUESTS_PER_S = 805.0
"""``GET /api/me`` throughput before issue 18 (the issue's figure, 16 clients)."""
P99_TARGET_MS = 25.0


def cores(pin: bool) -> tuple[set[int] | None, set[int] | None]:
    """CPU sets of (server, load generator): different cores with ``pin`` and >= 2 cores
    available to this process, else (None, None) (left to the scheduler)."""
    available = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not pin or len(available) < 2:
        return None, None
    return {available[-1]}, {available[0]}


def pinned(cpus: set[int] | None) -> Any:
    """A ``preexec_fn`` that pins the child to ``cpus`` (None: no pinning)."""
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(port: int, data_dir: str) -> None:
    """Child process: auth + gateway as ``earshot`` runs them, until SIGTERM."""
    from services.common.settings import Settings, load_settings
    from services.platform import serve as serve_platform

    grpc_ports = {name: 0 for name in Settings.model_fields if name.endswith("_grpc_port")}
    settings = load_settings(data_dir=Path(data_dir), port=port, log_level="warning", **grpc_ports)
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
    binary: str,
    url: str,
    token: str | None,
    clients: int,
    seconds: float,
    server_pid: int | None = None,
    cpus: set[int] | None = None,
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
    out = subprocess.run(cmd, capture_output=True, text=True, check=False, preexec_fn=pinned(cpus))
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


LAYERS: dict[str, tuple[str, ...]] = {
    "uvicorn_httptools": ("uvicorn/", "httptools", "h11/"),
    "event_loop": ("asyncio/", "uvloop/"),
    "middleware": ("starlette/middleware", "services/common/metrics.py", "services/common/asgi.py"),
    "access_log": ("services/common/access_log.py",),
    "routing_and_dependencies": ("fastapi/routing", "fastapi/dependencies", "starlette/routing"),
    "jwt_and_crypto": ("jwt/", "cryptography", "shared/tokens.py"),
    "serialisation": ("pydantic", "json/", "fastapi/encoders", "starlette/responses", "fastapi/_compat"),
    "logging_tracing_metrics": ("structlog", "opentelemetry", "prometheus_client", "services/common/logging"),
    "route_code": ("services/gateway",),
}
"""Layers of the request path, by the file of a sampled frame (first match wins)."""


def _layer(frame: str) -> str:
    return next((name for name, keys in LAYERS.items() if any(k in frame for k in keys)), "other")


def profile_report(raw_path: str, top: int = 20) -> dict[str, Any]:
    """Summarise py-spy's raw samples (``frame;frame;... count`` per line, outermost first).

    Returns:
        ``samples``; ``own_by_layer_pct`` (layer of the innermost frame: where the CPU was);
        ``inclusive_by_layer_pct`` (samples with the layer anywhere on the stack);
        ``top_own`` and ``top_inclusive`` (function, percent of samples).
    """
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    own_layer: collections.Counter[str] = collections.Counter()
    incl_layer: collections.Counter[str] = collections.Counter()
    total = 0
    for line in Path(raw_path).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [f for f in stack.split(";") if f]
        if not frames:
            continue
        total += n
        own[frames[-1]] += n
        own_layer[_layer(frames[-1])] += n
        for frame in set(frames):
            inclusive[frame] += n
        for layer in {_layer(f) for f in frames}:
            incl_layer[layer] += n
    if not total:
        raise RuntimeError("py-spy recorded no samples")

    def pct(counter: collections.Counter[str]) -> dict[str, float]:
        return {k: round(v * 100 / total, 1) for k, v in counter.most_common()}

    def rows(counter: collections.Counter[str]) -> list[dict[str, Any]]:
        return [{"function": f, "pct": round(v * 100 / total, 1)} for f, v in counter.most_common(top)]

    return {
        "samples": total,
        "own_by_layer_pct": pct(own_layer),
        "inclusive_by_layer_pct": pct(incl_layer),
        "top_own": rows(own),
        "top_inclusive": rows(inclusive),
    }


def start_server(port: int, data_dir: str, cpus: set[int] | None) -> subprocess.Popen[bytes]:
    """The server child process (its log lines go to stderr: stdout carries the JSON only)."""
    args = [sys.executable, __file__, "--serve", str(port), data_dir]
    child = subprocess.Popen(args, cwd=ROOT, stdout=sys.stderr, preexec_fn=pinned(cpus))
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
    py_spy = _py_spy() if args.profile else ""
    server_cpus, wrk_cpus = cores(args.pin)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="earshot-bench-auth-") as data_dir:
        child = start_server(port, data_dir, server_cpus)
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
                wrk(binary, url, tok, args.clients, 1, cpus=wrk_cpus)
            rounds: dict[str, list[dict[str, float]]] = {name: [] for name in routes}
            for _ in range(args.rounds):
                for name, (url, tok) in routes.items():
                    rounds[name].append(
                        wrk(binary, url, tok, args.clients, args.seconds, child.pid, cpus=wrk_cpus)
                    )
            profile: dict[str, Any] | None = None
            if args.profile:
                profile = profile_me(py_spy, binary, child.pid, f"{base}/api/me", token, args, wrk_cpus)
        finally:
            child.send_signal(signal.SIGTERM)
            child.wait(timeout=60)
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
    me_rps, me_p99 = me["requests_per_s"]["median"], me["p99_ms"]["median"]
    result: dict[str, Any] = {
        "load_generator": "wrk, 1 thread, separate process",
        "pinned_cpus": {"server": sorted(server_cpus or ()), "load_generator": sorted(wrk_cpus or ())},
        "clients": args.clients,
        "seconds_per_round": args.seconds,
        "rounds": args.rounds,
        "event_loop": _event_loop(),
        "routes": figures,
        "me_requests_per_s": me["requests_per_s"]["median"],
        "me_p99_ms": me["p99_ms"]["median"],
        "me_server_cpu_ms_per_request": me["server_cpu_ms_per_request"]["median"],
        "targets": {
            "me_p99_ms": {"value": me_p99, "target": f"< {P99_TARGET_MS:g}", "met": me_p99 < P99_TARGET_MS},
            "me_requests_per_s": {
                "value": me_rps,
                "target": f">= 1.5 x {BEFORE_REQUESTS_PER_S:g} (before issue 18)",
                "ratio_to_before": round(me_rps / BEFORE_REQUESTS_PER_S, 2),
                "met": me_rps >= 1.5 * BEFORE_REQUESTS_PER_S,
            },
        },
    }
    if profile is not None:
        result["profile_me"] = profile
    return result


def _py_spy() -> str:
    """Path of py-spy (the dev extra of pyproject.toml), or the benchmark stops."""
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        sys.exit("--profile needs py-spy: pip install 'py-spy>=0.4,<0.5' (in the dev extra)")
    return found


def profile_me(
    py_spy: str,
    binary: str,
    pid: int,
    url: str,
    token: str,
    args: argparse.Namespace,
    wrk_cpus: set[int] | None,
) -> dict[str, Any]:
    """One more ``/api/me`` round with py-spy sampling the server (100 Hz, raw stacks)."""
    with tempfile.TemporaryDirectory(prefix="earshot-bench-spy-") as tmp:
        raw = str(Path(tmp) / "me.txt")
        duration = max(1, int(args.seconds))
        spy = subprocess.Popen(
            [py_spy, "record", "--pid", str(pid), "--format", "raw", "--rate", "100"]
            + ["--duration", str(duration), "--nonblocking", "--output", raw],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(0.5)  # attached before the load starts
        profiled = wrk(binary, url, token, args.clients, duration, cpus=wrk_cpus)
        _, err = spy.communicate(timeout=60)
        if spy.returncode or not Path(raw).exists():
            raise RuntimeError(f"py-spy failed: {err.decode(errors='replace')}")
        return {"requests_under_profiler": profiled["requests"], "profiler": "py-spy", **profile_report(raw)}


def _event_loop() -> str:
    try:
        from services.common.eventloop import loop_name
    except ImportError:
        return "asyncio"
    return loop_name()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]), sys.argv[3])
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="also profile one /api/me round (py-spy)")
    parser.add_argument(
        "--no-pin", dest="pin", action="store_false", help="do not pin server and wrk to cores"
    )
    emit("auth", main(parser.parse_args()))
