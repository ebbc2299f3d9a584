"""Benchmark: memory of the embedded platform before and after 1,000 mixed requests, the 5xx
count, and the slow-client guards' time to disconnect on the platform itself (issue 15's
closing figures).

Starts ``earshot up`` (the embedded mode: SQLite, local folder, in-memory bus) in its own
process on a free port and a fresh data folder, then sends ``--requests`` requests (default
1,000) from ``--concurrency`` clients (default 4), in a fixed pseudo-random order drawn from
this mix: sign-up and login, ``/api/me``, ANC on a good one-second WAV and on a file that is not
audio, the temperature route on a good one-second WAV and on a bad file, a photo that is not an
image, the photos, meetings and interviews lists, ``/health`` and ``/ready``. The platform's
resident memory (``VmRSS`` of its process plus its worker processes, from ``/proc``) is read
when it is ready, after the first 10 % of the requests (warm: models loaded) and at the end.
Then two clients dribble headers (one byte every 0.5 s) and two dribble a body (10 bytes every
0.1 s) at the platform's own port, with its default guards, until it closes each connection.

Prints JSON (and writes ``benchmarks/results/soak.json`` under ``make bench``): ``rss_mib``
(``ready``, ``warm``, ``end``, growth from warm to end), ``requests`` (count, per kind, status
counts), ``server_errors_5xx``, ``transport_errors`` (resets, timeouts), ``slow_clients``
(``headers_s``, ``body_s``: seconds from connecting to the server closing), ``exit_code`` of the
platform after SIGTERM.

Usage: python benchmarks/soak.py [--requests 1000] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import io
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import wave
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.common import emit  # noqa: E402
from benchmarks.slow_clients import _dribble  # noqa: E402
from services.common.settings import Settings  # noqa: E402

EARSHOT = str(Path(sys.executable).parent / "earshot")
GRPC_PORTS = [name for name in Settings.model_fields if name.endswith("_grpc_port")]
PASSWORD = "sturdy-password-42"

MIX: dict[str, int] = {
    "health": 8,
    "ready": 4,
    "me": 12,
    "login": 6,
    "sign_up": 4,
    "photos_list": 10,
    "meetings_list": 10,
    "interviews": 10,
    "anc_good": 10,
    "anc_bad": 8,
    "temperature_good": 2,
    "temperature_bad": 8,
    "photo_bad": 8,
}
"""Weight of each kind of request in the mix (percent)."""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            found.append(int(entry.name))
            found.extend(_children(int(entry.name)))
    return found


def _rss(pid: int) -> dict[str, float]:
    workers = _children(pid)
    main = _rss_kib(pid) / 1024
    total = main + sum(_rss_kib(p) for p in workers) / 1024
    return {"process": round(main, 1), "with_workers": round(total, 1), "workers": len(workers)}


def _wav(seconds: float = 1.0, rate: int = 16000, channels: int = 2) -> bytes:
    rng = np.random.default_rng(15)
    pcm = (rng.standard_normal((int(seconds * rate), channels)) * 3000).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


GOOD_WAV = _wav()
NOT_AUDIO = b"this is not audio at all\n" * 40
NOT_AN_IMAGE = {"photo": base64.b64encode(b"not an image" * 10).decode()}


async def _sign_up(client: httpx.AsyncClient) -> httpx.Response:
    email = f"soak-{uuid.uuid4().hex[:12]}@example.com"
    body = {"email": email, "password": PASSWORD, "name": "Soak"}
    return await client.post("/api/auth/register", json=body)


async def _request(client: httpx.AsyncClient, kind: str, user: dict[str, Any]) -> httpx.Response:
    auth = {"Authorization": f"Bearer {user['access_token']}"}
    if kind == "health":
        return await client.get("/health")
    if kind == "ready":
        return await client.get("/ready")
    if kind == "me":
        return await client.get("/api/me", headers=auth)
    if kind == "login":
        return await client.post("/api/auth/login", json={"email": user["email"], "password": PASSWORD})
    if kind == "sign_up":
        return await _sign_up(client)
    if kind == "photos_list":
        return await client.get("/photos", headers=auth)
    if kind == "meetings_list":
        return await client.get("/api/v1/web/meetings/", headers=auth)
    if kind == "interviews":
        return await client.get("/api/interviews", headers=auth)
    if kind in ("anc_good", "anc_bad"):
        content = GOOD_WAV if kind == "anc_good" else NOT_AUDIO
        return await client.post(
            "/api/audio/process",
            files={"audio": ("clip.wav", content, "audio/wav")},
            data={"algorithm": "nlms", "taps": "16"},
            headers=auth,
        )
    if kind in ("temperature_good", "temperature_bad"):
        content = GOOD_WAV if kind == "temperature_good" else NOT_AUDIO
        return await client.post("/analyze-audio", files={"audio": ("clip.wav", content, "audio/wav")})
    if kind == "photo_bad":
        return await client.post("/upload-photo", json=NOT_AN_IMAGE, headers=auth)
    raise ValueError(kind)


async def _load(url: str, pid: int, total: int, concurrency: int) -> dict[str, Any]:
    rng = random.Random(15)
    plan = rng.choices(list(MIX), weights=list(MIX.values()), k=total)
    statuses: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)
    transport_errors: collections.Counter[str] = collections.Counter()
    warm_at = max(1, total // 10)
    done = 0
    warm: dict[str, float] = {}
    queue: asyncio.Queue[str] = asyncio.Queue()
    for kind in plan:
        queue.put_nowait(kind)

    async def worker() -> None:
        nonlocal done, warm
        async with httpx.AsyncClient(base_url=url, timeout=300) as client:
            signed = await _sign_up(client)
            signed.raise_for_status()
            user = {**signed.json(), "email": signed.json()["user"]["email"]}
            while not queue.empty():
                kind = queue.get_nowait()
                try:
                    reply = await _request(client, kind, user)
                    statuses[kind][reply.status_code] += 1
                except httpx.TransportError as exc:
                    transport_errors[f"{kind}: {type(exc).__name__}"] += 1
                done += 1
                if done == warm_at and not warm:
                    warm = _rss(pid)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    all_codes: collections.Counter[int] = collections.Counter()
    for counter in statuses.values():
        all_codes.update(counter)
    return {
        "warm": warm,
        "seconds": round(elapsed, 1),
        "count": sum(all_codes.values()) + sum(transport_errors.values()),
        "statuses": {str(k): v for k, v in sorted(all_codes.items())},
        "per_kind": {k: {str(c): n for c, n in sorted(v.items())} for k, v in sorted(statuses.items())},
        "server_errors_5xx": sum(n for code, n in all_codes.items() if code >= 500),
        "transport_errors": dict(transport_errors),
    }


async def _slow_clients(port: int) -> dict[str, Any]:
    body_head = b"POST /api/audio/process HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n"
    results = await asyncio.gather(
        _dribble(port, b"GET /health HTTP/1.1\r\n", b"X", 0.5),
        _dribble(port, b"GET /health HTTP/1.1\r\n", b"X", 0.5),
        _dribble(port, body_head, b"x" * 10, 0.1),
        _dribble(port, body_head, b"x" * 10, 0.1),
    )
    defaults = Settings.model_fields
    return {
        "headers_s": results[:2],
        "body_s": results[2:],
        "settings": {
            name: defaults[name].default
            for name in ("http_header_timeout_s", "http_min_body_rate", "http_body_grace_s")
        },
    }


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="earshot-soak-") as data_dir:
        env = {
            **os.environ,
            "EARSHOT_DATA_DIR": data_dir,
            "EARSHOT_LOG_LEVEL": "warning",
            # every client signs up from 127.0.0.1: the per-address limit would answer 429
            "EARSHOT_AUTH_ADDRESS_MAX_SIGNUPS": "0",
            **{f"EARSHOT_{name.upper()}": "0" for name in GRPC_PORTS},
        }
        log_path = Path(data_dir) / "earshot-up.log"
        with log_path.open("w") as log:
            proc = subprocess.Popen(
                [EARSHOT, "up", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
            )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 180
            while True:
                if proc.poll() is not None:
                    sys.exit(f"earshot up exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
                try:
                    if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    sys.exit("earshot up did not become ready in 180 s")
                time.sleep(0.3)
            ready = _rss(proc.pid)
            load = asyncio.run(_load(url, proc.pid, args.requests, args.concurrency))
            end = _rss(proc.pid)
            slow = asyncio.run(_slow_clients(port))
            alive = proc.poll() is None
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                exit_code = proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                exit_code = proc.wait()
    warm = load.pop("warm")
    return emit(
        "soak",
        {
            "rss_mib": {
                "ready": ready,
                "warm": warm,
                "end": end,
                "growth_warm_to_end": round(end["with_workers"] - warm["with_workers"], 1),
            },
            "requests": {**load, "concurrency": args.concurrency, "mix_percent": MIX},
            "server_errors_5xx": load["server_errors_5xx"],
            "platform_alive_after_load": alive,
            "slow_clients": slow,
            "exit_code": exit_code,
        },
    )


if __name__ == "__main__":
    main()
