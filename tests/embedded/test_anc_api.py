"""ANC product (seed 004) through the embedded platform: files, streams, classification,
metrics, status, and bad input (4xx JSON, nothing stored).
"""

from __future__ import annotations

import asyncio
import io
import json
import struct
import wave
from collections.abc import AsyncIterator
from functools import cache

import httpx
import numpy as np
import pytest
from scipy.signal import lfilter
from sqlalchemy import func, select

from services.common import audio
from services.gateway.products.anc.models import AncMetric, AncSession
from tests.conftest import JFK, Embedded, SignedIn

RATE = 16000


def wav_f32(data: np.ndarray, rate: int = RATE) -> bytes:
    """A float32 WAV (format 3) with channels in rows: NaN/Inf survive, unlike PCM."""
    arr = np.atleast_2d(np.asarray(data, dtype="<f4"))
    ch = arr.shape[0]
    body = arr.T.tobytes()
    fmt = struct.pack("<HHIIHH", 3, ch, rate, rate * ch * 4, ch * 4, 32)
    riff = (
        b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(body)) + body
    )
    return b"RIFF" + struct.pack("<I", len(riff)) + riff


@cache
def speech() -> np.ndarray:
    return audio.decode(JFK, sample_rate=RATE).astype(np.float64)


@cache
def scene(seconds: float = 3.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(primary, reference, speech): speech plus loud noise that reached the primary
    microphone through an acoustic path; the reference hears the noise source."""
    n = int(seconds * RATE)
    rng = np.random.default_rng(11)
    ref = 0.25 * rng.standard_normal(n)
    path = np.array([0.0, 0.0, 0.6, 0.3, -0.2, 0.1, 0.05])
    s = 0.05 * speech()[RATE : RATE + n]
    return s + lfilter(path, [1.0], ref), ref, s


@pytest.fixture
async def client(signed_in: SignedIn) -> httpx.AsyncClient:
    """The ANC routes store a user's records: this module's client is signed in."""
    return signed_in.client


@pytest.fixture(autouse=True)
async def _remove_outputs(embedded: Embedded) -> AsyncIterator[None]:
    """Processed files persist by design; other modules' tests expect an empty object store,
    so this module deletes what it stored after each test."""
    yield
    for info in await embedded.runtime.storage.list("anc/"):
        await embedded.runtime.storage.delete(info.key)


async def _count(embedded: Embedded) -> tuple[int, int, int]:
    async with embedded.gateway.ctx.sessions() as s:
        sessions = await s.scalar(select(func.count()).select_from(AncSession))
        metrics = await s.scalar(select(func.count()).select_from(AncMetric))
    objects = len(await embedded.runtime.storage.list("anc/"))
    return int(sessions or 0), int(metrics or 0), objects


async def test_process_stereo_file_with_fdaf_stores_output_and_metrics(
    embedded: Embedded, client: httpx.AsyncClient, signed_in: SignedIn
) -> None:
    primary, ref, s = scene()
    r = await client.post(
        "/api/audio/process",
        files={"audio": ("scene.wav", wav_f32(np.vstack([primary, ref])), "audio/wav")},
        data={"algorithm": "fdaf", "taps": "64", "block_size": "64", "classify": "true"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["algorithm"] == "fdaf" and body["params"]["taps"] == 64 and body["params"]["constrained"]
    m = body["metrics"]
    assert m["attenuation_db"] > 10  # the noise is gone; the speech stays
    assert m["convergence_time_ms"] is not None and m["convergence_time_ms"] < 500
    assert {"125", "1000", "4000"} <= set(m["octave_bands_db"])
    assert body["classification"]["noise_type"] in {"white", "unknown", "pink", "babble"}
    # The stored output is the cleaned speech.
    out = await client.get(body["output"]["url"])
    assert out.status_code == 200
    with wave.open(io.BytesIO(out.content)) as w:
        assert (w.getnchannels(), w.getframerate(), w.getnframes()) == (1, RATE, primary.size)
        cleaned = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2") / 32767.0
    tail = slice(-RATE, None)
    residual = cleaned[tail] - s[tail]
    assert 10 * np.log10(np.sum(primary[tail] ** 2) / np.sum(residual**2)) > 15
    # Session and metrics are listed for their owner.
    sid = body["session_id"]
    listing = (await client.get("/api/audio/sessions")).json()
    assert sid in [x["session_id"] for x in listing["sessions"]]
    one = (await client.get(f"/api/audio/sessions/{sid}")).json()
    assert one["status"] == "completed" and one["kind"] == "file"
    assert one["metrics"]["attenuation_db"] == pytest.approx(m["attenuation_db"], abs=0.01)
    stored = (await client.get(f"/api/metrics/sessions/{sid}")).json()
    assert [x["kind"] for x in stored["metrics"]] == ["final"]
    async with embedded.gateway.ctx.sessions() as db_session:
        row = await db_session.get(AncSession, sid)
        assert row is not None and row.owner == signed_in.user_id
    assert embedded.temp_leftovers() == []


async def test_process_two_files_with_nlms_and_one_file_with_ale(client: httpx.AsyncClient) -> None:
    primary, ref, _ = scene()
    r = await client.post(
        "/api/audio/process",
        files={
            "primary": ("p.wav", wav_f32(primary), "audio/wav"),
            "reference": ("r.wav", wav_f32(ref), "audio/wav"),
        },
        data={"algorithm": "nlms", "taps": "32"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["metrics"]["steady_state_attenuation_db"] > 10
    t = np.arange(3 * RATE) / RATE
    hum = 0.3 * np.sin(2 * np.pi * 60 * t) + 0.1 * np.sin(2 * np.pi * 180 * t)
    r = await client.post(
        "/api/audio/process",
        files={"audio": ("hum.wav", wav_f32(hum + 0.02 * speech()[: t.size]), "audio/wav")},
        data={"algorithm": "ale", "taps": "128", "delay": "16"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["metrics"]["steady_state_attenuation_db"] > 10
    assert r.json()["params"]["delay"] == 16


async def test_classify_flags_a_siren_as_an_emergency(client: httpx.AsyncClient) -> None:
    t = np.arange(3 * 48000) / 48000
    siren = 0.3 * np.sin(2 * np.pi * np.cumsum(950 + 350 * np.sin(2 * np.pi * 0.4 * t)) / 48000)
    r = await client.post(
        "/api/ml/classify", files={"audio": ("siren.wav", wav_f32(siren, 48000), "audio/wav")}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["noise_type"] == "siren" and body["emergency"] is True
    r = await client.post("/api/ml/classify", files={"audio": ("jfk.flac", JFK.read_bytes(), "audio/flac")})
    assert r.status_code == 200 and r.json()["emergency"] is False


async def test_models_and_status(client: httpx.AsyncClient) -> None:
    models = (await client.get("/api/ml/models")).json()
    names = {m["name"]: m for m in models["models"]}
    assert {"noise_classifier", "nlms", "fdaf", "fxnlms", "lms", "ale"} <= set(names)
    assert "siren" in names["noise_classifier"]["classes"]
    assert models["default_algorithm"] == "nlms"
    status = (await client.get("/api/status")).json()
    assert status["status"] == "operational" and status["checks"]["anc"] == "ok"
    assert status["anc"]["fft_backend"] == "pyfftw"
    summary = (await client.get("/api/metrics/summary")).json()
    assert {"total_sessions", "mean_attenuation_db", "by_algorithm", "emergencies"} <= set(summary)


def _mono(seconds: float = 1.0) -> bytes:
    return wav_f32(np.random.default_rng(1).standard_normal(int(seconds * RATE)) * 0.1)


BAD = {
    "mono file with nlms": (
        lambda: {"files": {"audio": ("m.wav", _mono(), "audio/wav")}},
        "Wrong channel count",
    ),
    "stereo file with ale": (
        lambda: {
            "files": {"audio": ("s.wav", wav_f32(np.zeros((2, RATE)) + 0.1), "audio/wav")},
            "data": {"algorithm": "ale"},
        },
        "Wrong channel count",
    ),
    "three channels": (
        lambda: {"files": {"audio": ("t.wav", wav_f32(np.full((3, RATE), 0.1)), "audio/wav")}},
        "Wrong channel count",
    ),
    "sample rates differ": (
        lambda: {
            "files": {
                "primary": ("p.wav", wav_f32(np.full(RATE, 0.1), RATE), "audio/wav"),
                "reference": ("r.wav", wav_f32(np.full(8000, 0.1), 8000), "audio/wav"),
            }
        },
        "Sample rates differ",
    ),
    "lengths differ": (
        lambda: {
            "files": {
                "primary": ("p.wav", wav_f32(np.full(RATE, 0.1)), "audio/wav"),
                "reference": ("r.wav", wav_f32(np.full(RATE // 2, 0.1)), "audio/wav"),
            }
        },
        "Lengths differ",
    ),
    "NaN samples": (
        lambda: {
            "files": {
                "audio": (
                    "n.wav",
                    wav_f32(np.vstack([np.r_[np.nan, np.zeros(99)], np.zeros(100)])),
                    "audio/wav",
                )
            }
        },
        "Invalid audio",
    ),
    "Inf samples": (
        lambda: {
            "files": {
                "primary": ("p.wav", wav_f32(np.r_[np.inf, np.zeros(99)]), "audio/wav"),
                "reference": ("r.wav", wav_f32(np.zeros(100)), "audio/wav"),
            }
        },
        "Invalid audio",
    ),
    "mu not finite": (lambda: _stereo({"mu": "nan"}), "Invalid parameter"),
    "mu out of range": (lambda: _stereo({"mu": "3.5"}), "Invalid parameters"),
    "mu negative": (lambda: _stereo({"mu": "-0.1"}), "Invalid parameter"),
    "taps over 16384": (lambda: _stereo({"taps": "16385"}), "Invalid parameters"),
    "taps not a number": (lambda: _stereo({"taps": "many"}), "Invalid parameter"),
    "fdaf block not a power of two": (
        lambda: _stereo({"algorithm": "fdaf", "block_size": "1000"}),
        "Invalid parameters",
    ),
    "unknown algorithm": (lambda: _stereo({"algorithm": "wiener"}), "Invalid parameters"),
    "no file": (lambda: {"data": {"algorithm": "nlms"}}, "No audio file provided"),
    "text file": (
        lambda: {"files": {"audio": ("a.wav", b"hello, not audio" * 10, "audio/wav")}},
        "Invalid file format",
    ),
    "primary without reference": (
        lambda: {"files": {"primary": ("p.wav", _mono(), "audio/wav")}},
        "Missing reference",
    ),
}


def _stereo(data: dict[str, str]) -> dict[str, object]:
    return {"files": {"audio": ("s.wav", wav_f32(np.full((2, 800), 0.1)), "audio/wav")}, "data": data}


@pytest.mark.parametrize("case", list(BAD))
async def test_bad_input_is_a_400_and_stores_nothing(
    case: str, embedded: Embedded, client: httpx.AsyncClient
) -> None:
    make, error = BAD[case]
    before = await _count(embedded)
    r = await client.post("/api/audio/process", **make())  # type: ignore[arg-type]
    assert r.status_code == 400, r.text
    body = r.json()
    assert set(body) == {"error", "details", "timestamp"} and body["error"] == error, body
    assert await _count(embedded) == before
    assert embedded.temp_leftovers() == []


async def test_bad_stream_parameters_and_unknown_sessions(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/audio/stream", json={"algorithm": "fdaf", "block_size": 100})
    assert r.status_code == 400 and "power of two" in r.json()["details"]
    r = await client.post(
        "/api/audio/stream", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    for path in ("/api/audio/sessions/nope", "/api/metrics/sessions/nope"):
        r = await client.get(path)
        assert r.status_code == 404 and set(r.json()) == {"error", "details", "timestamp"}


async def test_live_stream_over_websocket(
    embedded: Embedded, client: httpx.AsyncClient, signed_in: SignedIn
) -> None:
    from websockets.asyncio.client import connect

    r = await client.post(
        "/api/audio/stream", json={"algorithm": "fdaf", "taps": 256, "block_size": 256, "sample_rate": RATE}
    )
    assert r.status_code == 201, r.text
    opened = r.json()
    sid, url = opened["session_id"], opened["websocket_url"]
    assert url.endswith(f"/api/audio/stream/{sid}/ws") and opened["channels"] == 2
    primary, ref, _ = scene(6.0)
    block = 1024
    frames = np.stack([primary, ref], axis=1).astype("<f4")
    events: list[dict[str, object]] = []
    out: list[np.ndarray] = []
    async with connect(f"{url}?token={signed_in.token}", max_size=None) as ws:
        hello = json.loads(await ws.recv())
        assert hello["event"] == "connect" and hello["sample_rate"] == RATE

        async def next_audio() -> bytes:
            while True:
                msg = await asyncio.wait_for(ws.recv(), 10)
                if isinstance(msg, bytes):
                    assert events[-1]["event"] == "processed_audio"  # announced right before
                    return msg
                events.append(json.loads(msg))

        for i in range(0, primary.size - block + 1, block):
            await ws.send(frames[i : i + block].tobytes())
            reply = await next_audio()
            out.append(np.frombuffer(reply, dtype="<f4"))
            if i == 10 * block:  # garbage in the middle: an error event, the socket stays open
                await ws.send(b"\x00\x01\x02")
                await ws.send(np.array([[np.nan, 0.0]], dtype="<f4").tobytes())
                await ws.send("not json")
        await ws.send(json.dumps({"event": "disconnect"}))
        while True:
            msg = await asyncio.wait_for(ws.recv(), 10)
            if isinstance(msg, str):
                events.append(json.loads(msg))
                if events[-1]["event"] == "disconnect":
                    break
    assert all(o.size == block for o in out)
    errors = [e for e in events if e["event"] == "error"]
    assert len(errors) == 3 and all({"error", "details"} <= set(e) for e in errors)
    updates = [e for e in events if e["event"] == "metrics_update"]
    assert updates and updates[-1]["attenuation_db"] > 10
    assert updates[-1]["convergence_time_ms"] is not None
    assert "noise_type" in updates[-1] and updates[-1]["emergency"] is False
    assert events[-1]["metrics"] is not None
    # Round-trip time is measured by benchmarks/, never asserted here. Each processed block is
    # announced by a processed_audio event right before its binary frame.
    announced = [e for e in events if e["event"] == "processed_audio"]
    assert [e["sequence"] for e in announced] == list(range(1, len(out) + 1))
    assert all(e["session_id"] == sid and e["samples"] == block for e in announced)
    session = (await client.get(f"/api/audio/sessions/{sid}")).json()
    assert session["status"] == "closed" and session["samples"] == len(out) * block
    stored = (await client.get(f"/api/metrics/sessions/{sid}")).json()
    kinds = [m["kind"] for m in stored["metrics"]]
    assert kinds.count("final") == 1 and kinds.count("update") >= 1
    # A closed session cannot be reopened.
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    with pytest.raises((InvalidStatus, ConnectionClosed)):
        async with connect(f"{url}?token={signed_in.token}") as ws:
            await asyncio.wait_for(ws.recv(), 5)


# --- batch jobs: long files over events ---------------------------------------------------------

LONG_RATE = 8000


def wav_i16(data: np.ndarray, rate: int = LONG_RATE) -> bytes:
    """A 16-bit PCM WAV with channels in rows."""
    arr = np.atleast_2d(data)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(arr.shape[0])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.round(np.clip(arr.T, -1, 1) * 32767).astype("<i2").tobytes())
    return buf.getvalue()


def long_scene(seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """(primary, reference) at LONG_RATE: a quiet tone plus noise through an acoustic path."""
    n = int(seconds * LONG_RATE)
    rng = np.random.default_rng(6)
    ref = 0.25 * rng.standard_normal(n)
    tone = 0.02 * np.sin(2 * np.pi * 440 * np.arange(n) / LONG_RATE)
    return tone + lfilter([0.0, 0.0, 0.6, 0.3, -0.2, 0.1], [1.0], ref), ref


async def _wait_done(client: httpx.AsyncClient, url: str, timeout: float = 60.0) -> dict:  # type: ignore[type-arg]
    """Poll the job until it ends; ``timeout`` only guards against a hang (no speed is
    asserted: the batch job's time is a figure for benchmarks/anc.py)."""
    seen: set[str] = set()
    async with asyncio.timeout(timeout):  # a hang fails the test with TimeoutError
        while True:
            r = await client.get(url)
            assert r.status_code == 200, r.text
            body = r.json()
            seen.add(body["status"])
            if body["status"] in ("completed", "failed"):
                body["seen"] = seen
                return body  # type: ignore[no-any-return]
            await asyncio.sleep(0.1)


async def test_long_stereo_file_goes_through_a_batch_job(
    embedded: Embedded, client: httpx.AsyncClient
) -> None:
    primary, ref = long_scene(80.0)
    r = await client.post(
        "/api/audio/process",
        files={"audio": ("long.wav", wav_i16(np.vstack([primary, ref])), "audio/wav")},
        data={"algorithm": "fdaf", "taps": "32", "block_size": "256", "classify": "true"},
    )
    assert r.status_code == 202, r.text
    job = r.json()
    sid = job["session_id"]
    assert job["job_id"] == sid and job["status"] == "queued"
    assert (
        job["status_url"].endswith(f"/api/audio/sessions/{sid}")
        and r.headers["location"] == job["status_url"]
    )
    assert job["duration_s"] == pytest.approx(80.0) and job["algorithm"] == "fdaf"
    done = await _wait_done(client, job["status_url"])
    assert done["status"] == "completed", done
    assert done["progress"] == 100.0 and done["kind"] == "file" and "error" not in done
    m = done["metrics"]
    assert m["kind"] == "final" and m["samples"] == primary.size
    assert 20 < m["attenuation_db"] < 80 and 20 < m["steady_state_attenuation_db"] < 80
    assert m["convergence_time_ms"] is not None and m["convergence_time_ms"] < 2000
    assert {"125", "1000"} <= set(m["octave_bands_db"])
    assert done["noise_type"] is not None
    # The output: a mono WAV as long as the input, in storage, behind a presigned URL.
    assert done["output_key"] == f"anc/outputs/{sid}.wav"
    out = await client.get(done["output_url"])
    assert out.status_code == 200
    with wave.open(io.BytesIO(out.content)) as w:
        assert (w.getnchannels(), w.getframerate(), w.getnframes()) == (1, LONG_RATE, primary.size)
    # Inputs are gone, nothing is left in the temp folder.
    assert await embedded.runtime.storage.list("anc/inputs/") == []
    assert embedded.temp_leftovers() == []
    # A redelivered request is idempotent: the stored result is announced again, unchanged.
    from services.common.events import ANC_EVENTS, AncProcessCompleted, AncProcessRequested

    got: asyncio.Queue[AncProcessCompleted] = asyncio.Queue()

    async def watch(envelope) -> None:  # type: ignore[no-untyped-def]
        if envelope.type == AncProcessCompleted.event_type and envelope.key == sid:
            got.put_nowait(envelope.payload(AncProcessCompleted))

    sub = await embedded.runtime.bus.subscribe([ANC_EVENTS], f"test-anc-{sid}", watch, from_latest=True)
    try:
        await embedded.gateway.publish(
            AncProcessRequested(
                job_id=sid,
                primary_key=f"anc/inputs/{sid}/audio.wav",
                output_key=done["output_key"],
                sample_rate=LONG_RATE,
                params={"algorithm": "fdaf", "taps": 32, "block_size": 256},
            )
        )
        again = await asyncio.wait_for(got.get(), 30)
    finally:
        await sub.close()
    assert again.metrics["attenuation_db"] == pytest.approx(m["attenuation_db"], abs=0.01)
    stored = (await client.get(f"/api/metrics/sessions/{sid}")).json()
    assert [x["kind"] for x in stored["metrics"]] == ["final"] and stored["status"] == "completed"


async def test_corrupt_long_job_fails_cleanly_with_a_reason(
    embedded: Embedded, client: httpx.AsyncClient, signed_in: SignedIn
) -> None:
    """A job whose stored input turns out corrupt (cut in the middle) fails with a reason, and its
    input is deleted. The gateway rejects such uploads itself, so the job is submitted on the bus."""
    from services.common.events import AncProcessRequested

    sid = "00000000-0000-4000-8000-00000000c0de"
    key = f"anc/inputs/{sid}/audio.flac"
    await embedded.runtime.storage.put(key, JFK.read_bytes()[:20000])
    async with embedded.gateway.ctx.sessions() as s, s.begin():
        s.add(
            AncSession(
                id=sid,
                owner=signed_in.user_id,
                kind="file",
                status="queued",
                algorithm="ale",
                params={},
                sample_rate=16000,
                samples=16000 * 11,
                progress=0.0,
            )
        )
    await embedded.gateway.publish(
        AncProcessRequested(
            job_id=sid,
            primary_key=key,
            output_key=f"anc/outputs/{sid}.wav",
            sample_rate=16000,
            params={"algorithm": "ale", "taps": 16},
        )
    )
    done = await _wait_done(client, f"/api/audio/sessions/{sid}")
    assert done["status"] == "failed", done
    assert done["error"]["code"] == "corrupt_audio", done
    assert "damaged or truncated" in done["error"]["details"]
    assert done["output_key"] is None and done["metrics"] is None and done["ended_at"]
    assert await embedded.runtime.storage.list("anc/") == []
    assert embedded.temp_leftovers() == []


async def test_bad_long_file_is_a_400_and_stores_nothing(
    embedded: Embedded, client: httpx.AsyncClient
) -> None:
    before = await _count(embedded)
    primary, ref = long_scene(70.0)
    bad = np.vstack([primary, ref])
    bad[1, 12345] = np.nan
    r = await client.post(
        "/api/audio/process",
        files={"audio": ("long.wav", wav_f32(bad, LONG_RATE), "audio/wav")},
        data={"algorithm": "fdaf"},
    )
    assert r.status_code == 400 and "NaN" in r.json()["details"], r.text
    r = await client.post(
        "/api/audio/process",
        files={"audio": ("long.wav", wav_i16(primary), "audio/wav")},
        data={"algorithm": "nlms"},
    )
    assert r.status_code == 400 and r.json()["error"] == "Wrong channel count", r.text
    r = await client.post(
        "/api/audio/process",
        files={
            "primary": ("p.wav", wav_i16(primary), "audio/wav"),
            "reference": ("r.wav", wav_i16(ref[:-800]), "audio/wav"),
        },
        data={"algorithm": "fdaf"},
    )
    assert r.status_code == 400 and r.json()["error"] == "Lengths differ", r.text
    r = await client.post(
        "/api/audio/process",
        files={"audio": ("long.wav", wav_i16(np.vstack([primary, ref])), "audio/wav")},
        data={"algorithm": "fdaf", "block_size": "1000"},
    )
    assert r.status_code == 400, r.text
    assert await _count(embedded) == before
    assert embedded.temp_leftovers() == []


async def test_stream_websocket_refuses_missing_revoked_and_foreign_tokens_before_accepting(
    embedded: Embedded, client: httpx.AsyncClient, signed_in: SignedIn
) -> None:
    """The handshake is answered with an HTTP error (never accepted) without a valid token of the owner."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus

    from tests.conftest import auth_header, sign_up

    opened = (await client.post("/api/audio/stream", json={"algorithm": "nlms", "sample_rate": RATE})).json()
    url = opened["websocket_url"]
    other = await sign_up(client, "Mallory")
    leaving = await sign_up(client, "Leaving")
    out = await client.post("/api/auth/logout", headers=auth_header(leaving))
    assert out.status_code == 200
    for suffix, status in (
        ("", 401),  # no token
        ("?token=garbage", 401),
        (f"?token={leaving['access_token']}", 401),  # signed out
        (f"?token={other['access_token']}", 404),  # another user's session
    ):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url + suffix):
                pass
        assert refused.value.response.status_code == status, suffix
        if status == 401:
            assert refused.value.response.headers["WWW-Authenticate"].startswith("Bearer")
    # the session is still open for its owner: the bearer subprotocol convention works too
    async with connect(url, subprotocols=["bearer", signed_in.token]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "bearer"
        hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert hello["event"] == "connect"
        await ws.send(json.dumps({"event": "disconnect"}))
        while True:
            msg = await asyncio.wait_for(ws.recv(), 10)
            if isinstance(msg, str) and json.loads(msg)["event"] == "disconnect":
                break
    session = (await client.get(f"/api/audio/sessions/{opened['session_id']}")).json()
    assert session["status"] == "closed"


async def test_sessions_are_per_user_and_a_signed_out_token_is_401(
    client: httpx.AsyncClient, signed_in: SignedIn
) -> None:
    from tests.conftest import auth_header, sign_up

    sid = (await client.post("/api/audio/stream", json={"algorithm": "nlms"})).json()["session_id"]
    other = await sign_up(client, "Other")
    headers = auth_header(other)
    for path in (f"/api/audio/sessions/{sid}", f"/api/metrics/sessions/{sid}"):
        assert (await client.get(path, headers=headers)).status_code == 404
    assert (await client.delete(f"/api/audio/sessions/{sid}", headers=headers)).status_code == 404
    listed = (await client.get("/api/audio/sessions", headers=headers)).json()
    assert listed == {"sessions": [], "total": 0}
    assert (await client.post("/api/auth/logout", headers=headers)).status_code == 200
    for path in ("/api/audio/sessions", "/api/metrics/summary"):
        reply = await client.get(path, headers=headers)
        assert reply.status_code == 401 and 'error="invalid_token"' in reply.headers["WWW-Authenticate"]
    async with httpx.AsyncClient(base_url=str(client.base_url)) as anonymous:
        reply = await anonymous.get("/api/audio/sessions")
        assert reply.status_code == 401 and reply.headers["WWW-Authenticate"] == 'Bearer realm="earshot"'
    assert (await client.delete(f"/api/audio/sessions/{sid}")).status_code == 204
