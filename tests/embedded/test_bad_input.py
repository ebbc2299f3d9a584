"""Bad input to POST /analyze-audio: each gets its documented 4xx JSON, and nothing is left
in storage, in the temp folder or in the job table.
"""

from __future__ import annotations

import io
import wave
from collections.abc import Callable

import httpx
import numpy as np
import pytest

from tests.conftest import JFK, Embedded
from tests.embedded.test_temperature_api import assert_nothing_left


def wav_bytes(seconds: float, rate: int = 8000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    pcm = (0.2 * np.sin(2 * np.pi * 220 * t) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def files(name: str, data: bytes, field: str = "audio") -> dict[str, object]:
    return {"files": {field: (name, data, "application/octet-stream")}}


CASES: dict[str, tuple[Callable[[], dict[str, object]], int, str]] = {
    "no file": (lambda: {"data": {"note": "hello"}}, 400, "No audio file provided"),
    "not multipart": (lambda: {"json": {"audio": "x"}}, 400, "No audio file provided"),
    "wrong field name": (
        lambda: files("jfk.flac", JFK.read_bytes(), field="file"),
        400,
        "No audio file provided",
    ),
    "empty file": (lambda: files("empty.wav", b""), 400, "Empty file"),
    "text named .wav": (
        lambda: files("notes.wav", b"hello, this is not audio at all\n" * 20),
        400,
        "Invalid file format",
    ),
    "unsupported extension": (lambda: files("jfk.txt", JFK.read_bytes()), 400, "Invalid file format"),
    "truncated flac": (
        lambda: files("cut.flac", JFK.read_bytes()[: len(JFK.read_bytes()) * 2 // 5]),
        400,
        "Corrupt audio",
    ),
    "flac named .mp3 is accepted as flac": (lambda: files("jfk.mp3", JFK.read_bytes()), 200, ""),
    "over the size limit": (
        lambda: files("big.wav", b"RIFF" + b"\0" * (26 * 1024 * 1024)),
        413,
        "File too large",
    ),
    "over five minutes": (lambda: files("long.wav", wav_bytes(301)), 400, "Audio too long"),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_bad_input(case: str, client: httpx.AsyncClient, embedded: Embedded) -> None:
    make, status, title = CASES[case]
    before = await embedded.gateway.jobs.count_by_status()
    response = await client.post("/analyze-audio", **make())  # type: ignore[arg-type]
    assert response.status_code == status, response.text
    body = response.json()
    if status == 200:
        assert set(body) == {"temperature", "confidence", "timestamp", "analysis_summary"}
    else:
        assert set(body) == {"error", "details", "timestamp"}
        assert body["error"] == title
        assert body["details"]
        assert await embedded.gateway.jobs.count_by_status() == before  # no record half way
    await assert_nothing_left(embedded)
