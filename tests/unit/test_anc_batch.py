"""Batch (long-file) processing: block-wise decoding, filtering and metrics equal the
synchronous path's."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import lfilter

from services.anc import batch, engine
from services.anc.config import AncSettings
from services.anc.dsp import metrics as m

RATE = 8000


def _write(path: Path, data: np.ndarray) -> None:
    arr = np.atleast_2d(data)
    pcm = np.round(np.clip(arr.T, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(arr.shape[0])
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())


def _scene(seconds: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    n = int(seconds * RATE)
    x = 0.2 * rng.standard_normal(n)
    d = lfilter([0.0, 0.5, 0.3, -0.1], [1.0], x) + 0.01 * np.sin(np.arange(n) * 0.05)
    return d, x


def test_running_summary_matches_summary_in_one_piece() -> None:
    d, x = _scene(7.3)
    e = d - lfilter([0.0, 0.49, 0.3], [1.0], x)
    e[: RATE // 2] = d[: RATE // 2]  # converges after 0.5 s
    rs = batch.RunningSummary(RATE)
    for i in range(0, d.size, 3001):  # blocks not aligned with anything
        rs.add(d[i : i + 3001], e[i : i + 3001])
    got, want = rs.result(), m.summary(d, e, RATE)
    assert got["convergence_time_ms"] == want["convergence_time_ms"]
    for key in ("attenuation_db", "steady_state_attenuation_db", "input_rms_db", "output_rms_db"):
        assert got[key] == pytest.approx(want[key], abs=0.011)
    assert got["octave_bands_db"].keys() == want["octave_bands_db"].keys()
    for band, value in want["octave_bands_db"].items():
        assert got["octave_bands_db"][band] == pytest.approx(value, abs=0.011)


@pytest.mark.parametrize("two_files", [False, True])
def test_run_equals_engine_process(tmp_path: Path, two_files: bool) -> None:
    d, x = _scene(5.0)
    if two_files:
        _write(tmp_path / "p.wav", d)
        _write(tmp_path / "r.wav", x)
        primary, reference = tmp_path / "p.wav", tmp_path / "r.wav"
    else:
        _write(tmp_path / "in.wav", np.stack([d, x]))
        primary, reference = tmp_path / "in.wav", None
    spec = engine.resolve(AncSettings(), algorithm="fdaf", taps=64, block_size=128)
    seen: list[int] = []
    out = batch.run(spec, primary, reference, RATE, tmp_path / "out.wav", progress=seen.append)
    # the reference result: the same quantised input, at once
    q = lambda s: np.round(np.clip(s, -1, 1) * 32767) / 32768  # noqa: E731
    want_out, want = engine.process(spec, q(d), q(x), RATE)
    with wave.open(str(tmp_path / "out.wav"), "rb") as w:
        got_out = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2") / 32767.0
    assert got_out.size == d.size and seen[-1] == d.size
    np.testing.assert_allclose(got_out, want_out, atol=2 / 32767)
    got = out["metrics"]
    assert got["samples"] == want["samples"]
    assert got["attenuation_db"] == pytest.approx(want["attenuation_db"], abs=0.02)
    assert got["attenuation_db"] > 20
    assert got["octave_bands_db"].keys() == want["octave_bands_db"].keys()


def test_run_rejects_lengths_that_differ(tmp_path: Path) -> None:
    d, x = _scene(2.0)
    _write(tmp_path / "p.wav", d)
    _write(tmp_path / "r.wav", x[:-100])
    spec = engine.resolve(AncSettings(), algorithm="nlms", taps=8)
    with pytest.raises(ValueError, match="lengths differ"):
        batch.run(spec, tmp_path / "p.wav", tmp_path / "r.wav", RATE, tmp_path / "out.wav")
