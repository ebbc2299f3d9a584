"""The hostile-input corpus of issue 15 on the embedded platform: each input answers its 4xx
with the documented JSON error shape, stores nothing (rows, objects, temp files) and leaves
``/health`` answering.
"""

from __future__ import annotations

import functools
import io
import uuid
import wave
from collections.abc import AsyncIterator, Callable, Iterator
from fractions import Fraction
from typing import Any

import av
import httpx
import numpy as np
import pytest
from sqlalchemy import text

from tests.conftest import PASSWORD, Embedded, SignedIn
from tests.embedded.test_auth_api import replica  # noqa: F401

TABLES = ("users", "jobs", "photo_tasks", "anc_sessions")


async def _stored(embedded: Embedded) -> tuple[int, ...]:
    counts = []
    async with embedded.gateway.ctx.sessions() as s:
        for table in TABLES:
            counts.append(int(await s.scalar(text(f"SELECT count(*) FROM {table}")) or 0))  # noqa: S608
    counts.append(len(await embedded.runtime.storage.list("")))
    counts.append(len(embedded.temp_leftovers()))
    return tuple(counts)


JSON_CT = {"content-type": "application/json"}


def nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def one_hz_wav() -> bytes:
    """3 KB of PCM whose header says 1 Hz (25 minutes)."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(1)
        w.writeframes(np.zeros(1500, dtype="<i2").tobytes())
    return buf.getvalue()


@functools.cache
def four_hours_of_silence_flac() -> bytes:
    """A small FLAC holding 4 h of silence at 1 kHz (STREAMINFO states the length)."""
    rate, seconds = 1000, 4 * 3600
    out_buf = io.BytesIO()
    with av.open(out_buf, "w", format="flac") as out:
        stream: Any = out.add_stream("flac", rate=rate, layout="mono")
        block = 4096
        silence = np.zeros((1, block), dtype=np.int16)
        pts = 0
        while pts < rate * seconds:
            n = min(block, rate * seconds - pts)
            frame = av.AudioFrame.from_ndarray(silence[:, :n], format="s16", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = rate, pts, Fraction(1, rate)
            out.mux(stream.encode(frame))
            pts += n
        out.mux(stream.encode(None))
    return out_buf.getvalue()


def chunked(total: int, piece: int = 1 << 20) -> Callable[[], AsyncIterator[bytes]]:
    async def body() -> AsyncIterator[bytes]:
        yield b'{"photo": "'
        sent = 0
        while sent < total:
            yield b"A" * piece
            sent += piece
        yield b'"}'

    return body


def stream_body(value: Any) -> dict[str, Any]:
    return {
        "content": b'{"sample_rate": ' + str(value).encode() + b"}",
        "headers": JSON_CT,
    }


def audio_file(name: str, data: Callable[[], bytes]) -> Callable[[], dict[str, Any]]:
    return lambda: {
        "files": {"file": (name, data(), "application/octet-stream")},
        "data": {"model": "whisper-1"},
    }


CASES: dict[str, tuple[str, str, Callable[[], dict[str, Any]], int]] = {
    "stream sample_rate 2**31": ("POST", "/api/audio/stream", lambda: stream_body(2147483648), 422),
    "stream sample_rate -4e16": ("POST", "/api/audio/stream", lambda: stream_body("-4e16"), 422),
    "stream sample_rate 1e300": ("POST", "/api/audio/stream", lambda: stream_body("1e300"), 422),
    "stream mu 1e300": (
        "POST",
        "/api/audio/stream",
        lambda: {"content": b'{"mu": 1e300}', "headers": JSON_CT},
        422,
    ),
    "stream JSON nested 1,000 deep": (
        "POST",
        "/api/audio/stream",
        lambda: {"content": nested(1000), "headers": JSON_CT},
        400,
    ),
    "stream JSON nested 1,000 deep, no content type": (
        "POST",
        "/api/audio/stream",
        lambda: {"content": b"[" * 1000 + b"]" * 1000},
        400,
    ),
    "photo JSON nested 1,000 deep": (
        "POST",
        "/upload-photo",
        lambda: {"content": nested(1000), "headers": JSON_CT},
        400,
    ),
    "photo 30 MB chunked JSON": (
        "POST",
        "/upload-photo",
        lambda: {"content": chunked(30 << 20)(), "headers": JSON_CT},
        413,
    ),
    "photo 30 MB JSON with a length": (
        "POST",
        "/upload-photo",
        lambda: {
            "content": b'{"photo": "' + b"A" * (30 << 20) + b'"}',
            "headers": JSON_CT,
        },
        413,
    ),
    "register email with NUL": (
        "POST",
        "/api/auth/register",
        lambda: {"json": {"email": "nul\x00@example.com", "password": "sturdy-password-42", "name": "N"}},
        422,
    ),
    "register name with NUL": (
        "POST",
        "/api/users",
        lambda: {"json": {"email": "named-nul@example.com", "password": "sturdy-pw-42", "name": "a\x00b"}},
        422,
    ),
    "transcription of a 3 KB WAV at 1 Hz": (
        "POST",
        "/v1/audio/transcriptions",
        audio_file("one-hz.wav", one_hz_wav),
        400,
    ),
    "transcription of 4 h of silence in FLAC": (
        "POST",
        "/v1/audio/transcriptions",
        audio_file("silence.flac", four_hours_of_silence_flac),
        400,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_hostile_input_is_refused_and_stores_nothing(
    case: str, embedded: Embedded, signed_in: SignedIn
) -> None:
    method, path, build, status = CASES[case]
    before = await _stored(embedded)
    reply = await signed_in.client.request(method, path, **build())
    assert reply.status_code == status, reply.text[:500]
    body = reply.json()
    assert {"error", "details", "timestamp"} <= set(body), body
    if path.startswith("/v1/"):  # OpenAI's shape
        assert set(body["error"]) >= {"message", "type", "code"}, body
    else:
        assert isinstance(body["error"], str) and body["details"], body
    assert await _stored(embedded) == before
    health = await signed_in.client.get("/health")
    assert health.status_code == 200


async def test_an_ordinary_json_body_still_opens_a_stream(signed_in: SignedIn) -> None:
    # the JSON limits and the numeric bounds leave ordinary bodies alone
    reply = await signed_in.client.post("/api/audio/stream", json={"algorithm": "nlms", "sample_rate": 16000})
    assert reply.status_code == 201, reply.text
    assert reply.json()["sample_rate"] == 16000


def test_the_silence_fixture_is_small_and_declares_four_hours() -> None:
    data = four_hours_of_silence_flac()
    assert len(data) < 3 * 1024 * 1024
    assert data[:4] == b"fLaC"
    # STREAMINFO: 20 bits of rate, then 36 bits of total samples
    info = data[8:26]
    word = int.from_bytes(info[10:18], "big")
    rate = word >> 44
    total = word & ((1 << 36) - 1)
    assert (rate, total) == (1000, 4 * 3600 * 1000)


@pytest.fixture
def signup_limit(embedded: Embedded) -> Iterator[Any]:
    """3 sign-ups per address, then a 1 s lockout; the address's counter is cleared after."""
    auth: Any = embedded.platform.services["auth"]
    core = auth.core
    before = core.config
    core.reconfigure(before.model_copy(update={"address_max_signups": 3, "lockout_base_s": 1.0}))
    try:
        yield core
    finally:
        core.reconfigure(before)


async def test_sign_ups_are_limited_per_address_across_replicas(
    embedded: Embedded,
    client: httpx.AsyncClient,
    replica: httpx.AsyncClient,  # noqa: F811 (the fixture imported above)
    signup_limit: Any,
) -> None:
    def body(i: int) -> dict[str, str]:
        return {"email": f"burst-{uuid.uuid4().hex[:8]}-{i}@example.com", "password": PASSWORD, "name": "B"}

    try:
        for i in range(3):
            assert (await client.post("/api/auth/register", json=body(i))).status_code == 201
        users_before = (await _stored(embedded))[0]
        refused = await client.post("/api/users", json=body(4))  # another route, same address
        assert refused.status_code == 429, refused.text
        assert int(refused.headers["retry-after"]) >= 1
        assert set(refused.json()) == {"error", "details", "timestamp"}
        # the count is in the database: a second gateway replica refuses too
        assert (await replica.post("/api/auth/register", json=body(5))).status_code == 429
        assert (await _stored(embedded))[0] == users_before
        assert (await client.get("/health")).status_code == 200
    finally:
        await signup_limit.limiter.reset("signup:127.0.0.1")
