"""Requests and checks shared by the fault-recovery tests of the embedded and the integration
tiers (issue 15 part 3): a sign-up, an ANC upload (storage and database), a template (database
only), the 503 answer's shape, ``/ready`` polled until it says what is expected."""

from __future__ import annotations

import io
import time
import uuid
import wave
from typing import Any

import httpx
import numpy as np

from tests.conftest import PASSWORD


def sign_up(client: httpx.Client) -> httpx.Response:
    """``POST /api/auth/register`` with a fresh address (201 with tokens when all is up)."""
    email = f"fault-{uuid.uuid4().hex[:10]}@example.com"
    return client.post("/api/auth/register", json={"email": email, "password": PASSWORD, "name": "Fault"})


def noise_wav(seconds: float = 1.0, rate: int = 16000) -> bytes:
    """A stereo 16-bit WAV of white noise, ``seconds`` long at ``rate`` Hz."""
    rng = np.random.default_rng(7)
    pcm = (rng.standard_normal((int(seconds * rate), 2)) * 3000).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def process(client: httpx.Client, token: str) -> httpx.Response:
    """ANC on a one-second file: stores the output object and the session rows."""
    return client.post(
        "/api/audio/process",
        files={"audio": ("noise.wav", noise_wav(), "audio/wav")},
        data={"algorithm": "nlms", "taps": "16"},
        headers={"Authorization": f"Bearer {token}"},
    )


def template(client: httpx.Client, token: str) -> httpx.Response:
    """A database-only write of the gateway."""
    return client.post(
        "/api/v1/web/templates",
        json={"title": f"t-{uuid.uuid4().hex[:6]}"},
        headers={"Authorization": f"Bearer {token}"},
    )


def assert_503(reply: httpx.Response, dependency: str) -> None:
    """The fault answer: 503, the JSON error shape naming ``dependency``, ``Retry-After: 5``,
    the keep-alive connection kept."""
    assert reply.status_code == 503, reply.text
    body = reply.json()
    assert set(body) >= {"error", "details", "timestamp"}, body
    assert body["error"] == f"{dependency.capitalize()} unavailable", body
    assert reply.headers.get("retry-after") == "5"
    assert reply.headers.get("connection", "").lower() != "close"


def ready(client: httpx.Client, *, ok: bool, dependency: str, wait_s: float) -> dict[str, Any]:
    """``/ready`` once it gives the expected answer (its answer is reused for a second);
    fails after ``wait_s`` seconds with the last body."""
    deadline = time.monotonic() + wait_s
    while True:
        reply = client.get("/ready")
        body: dict[str, Any] = reply.json()
        if (reply.status_code == 200 and body["checks"][dependency] == "ok") == ok:
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.2)


def connections(client: httpx.Client) -> int:
    """How many connections the client's pool holds (1 means keep-alive held throughout)."""
    return len(client._transport._pool.connections)  # type: ignore[attr-defined]
