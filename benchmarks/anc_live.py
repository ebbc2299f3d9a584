"""Live ANC round trip over both transports of one streaming core: the raw WebSocket and
Socket.IO (seed 004's clients), on the same platform (auth, anc, gateway in this process),
same signal, same filter. Prints JSON: per transport, the round-trip time of one 1024-sample
stereo block (send -> processed block back) at p50/p99/max, and the blocks per second.

    python benchmarks/anc_live.py [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import emit  # noqa: E402

FS = 48000
BLOCK = 1024


def frames(seconds: float) -> np.ndarray:
    """Stereo float32 frames: a noise reference and the primary hearing it through a short path."""
    rng = np.random.default_rng(7)
    ref = 0.25 * rng.standard_normal(int(seconds * FS))
    primary = np.convolve(ref, [0.0, 0.6, 0.3, -0.2, 0.1])[: ref.size] + 0.001 * rng.standard_normal(ref.size)
    return np.stack([primary, ref], axis=1).astype("<f4")


def summary(rtts: list[float], wall: float) -> dict[str, Any]:
    ms = np.asarray(rtts) * 1000
    return {
        "blocks": len(rtts),
        "round_trip_ms_p50": round(float(np.percentile(ms, 50)), 3),
        "round_trip_ms_p99": round(float(np.percentile(ms, 99)), 3),
        "round_trip_ms_max": round(float(ms.max()), 3),
        "blocks_per_s": round(len(rtts) / wall, 1),
        "realtime_factor": round(len(rtts) * BLOCK / FS / wall, 2),
    }


async def over_websocket(url: str, token: str, session: dict[str, Any], data: np.ndarray) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    rtts: list[float] = []
    started = time.perf_counter()
    async with connect(f"{session['websocket_url']}?token={token}", max_size=None) as ws:
        await ws.recv()  # connect
        for lo in range(0, data.shape[0] - BLOCK + 1, BLOCK):
            t0 = time.perf_counter()
            await ws.send(data[lo : lo + BLOCK].tobytes())
            while not isinstance(await ws.recv(), bytes):  # the processed_audio announcement first
                pass
            rtts.append(time.perf_counter() - t0)
        await ws.send(json.dumps({"event": "disconnect"}))
    return summary(rtts, time.perf_counter() - started)


async def over_socketio(url: str, token: str, session: dict[str, Any], data: np.ndarray) -> dict[str, Any]:
    import socketio

    replies: asyncio.Queue[Any] = asyncio.Queue()
    sio = socketio.AsyncClient(reconnection=False)
    sio.on("processed_audio", replies.put)
    await sio.connect(
        url, auth={"token": token, "session_id": session["session_id"]}, transports=["websocket"]
    )
    rtts: list[float] = []
    started = time.perf_counter()
    for lo in range(0, data.shape[0] - BLOCK + 1, BLOCK):
        t0 = time.perf_counter()
        await sio.emit("audio_chunk", data[lo : lo + BLOCK].tobytes())
        await replies.get()
        rtts.append(time.perf_counter() - t0)
    wall = time.perf_counter() - started
    await sio.disconnect()
    return summary(rtts, wall)


async def run(seconds: float) -> dict[str, Any]:
    import httpx
    import uvicorn

    from services.common.logging import configure_logging
    from services.common.settings import Settings, load_settings
    from services.platform import Platform

    configure_logging("error")  # stdout carries the JSON result only
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    tmp = tempfile.TemporaryDirectory(prefix="anc-live-bench-")
    ports = {name: 0 for name in Settings.model_fields if name.endswith("_grpc_port")}
    settings = load_settings(data_dir=Path(tmp.name), port=port, log_level="warning", **ports)
    platform = Platform(settings, ("auth", "anc", "gateway"))
    await platform.start()
    server = uvicorn.Server(
        uvicorn.Config(platform.gateway.app, host="127.0.0.1", port=port, log_config=None, lifespan="off")
    )
    serving = asyncio.create_task(server.serve())
    url = f"http://127.0.0.1:{port}"
    data = frames(seconds)
    report: dict[str, Any] = {"setup": {"audio_s": seconds, "block": BLOCK, "sample_rate_hz": FS}}
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            for _ in range(200):
                try:
                    if (await client.get("/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
            signed = await client.post(
                "/api/auth/register",
                json={
                    "email": "live-bench@example.com",
                    "password": "benchmark-password-42",
                    "name": "Bench",
                },
            )
            token = signed.json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            for name, transport in (("websocket", over_websocket), ("socketio", over_socketio)):
                opened = await client.post(
                    "/api/audio/stream",
                    json={"algorithm": "fdaf", "taps": 512, "block_size": BLOCK, "sample_rate": FS},
                    headers=headers,
                )
                report[name] = await transport(url, token, opened.json(), data)
    finally:
        server.should_exit = True
        await serving
        await platform.stop()
        tmp.cleanup()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0, help="audio streamed per transport")
    args = parser.parse_args()
    emit("anc_live", asyncio.run(run(args.seconds)))


if __name__ == "__main__":
    main()
