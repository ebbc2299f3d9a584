"""`earshot anc process|classify` on local files."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
from scipy.signal import lfilter
from typer.testing import CliRunner

from services.cli import app


def _wav(path: Path, data: np.ndarray, rate: int = 16000) -> Path:
    data = np.atleast_2d(data)
    pcm = np.round(np.clip(data.T, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(data.shape[0])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


def test_process_writes_the_cleaned_file_and_prints_metrics(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    ref = 0.3 * rng.standard_normal(32000)
    primary = lfilter([0.0, 0.7, 0.2], [1.0], ref)
    src = _wav(tmp_path / "scene.wav", np.vstack([primary, ref]))
    out = tmp_path / "clean.wav"
    result = CliRunner().invoke(
        app,
        ["anc", "process", str(src), str(out), "--algorithm", "fdaf", "--taps", "64", "--block-size", "64"],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["algorithm"] == "fdaf" and report["steady_state_attenuation_db"] > 30
    with wave.open(str(out)) as w:
        assert (w.getnchannels(), w.getnframes()) == (1, 32000)


def test_process_rejects_a_mono_file_for_nlms_and_bad_parameters(tmp_path: Path) -> None:
    src = _wav(tmp_path / "mono.wav", np.zeros(1600))
    r = CliRunner().invoke(app, ["anc", "process", str(src), str(tmp_path / "o.wav"), "--algorithm", "nlms"])
    assert r.exit_code == 2 and "stereo" in r.output
    r = CliRunner().invoke(app, ["anc", "process", str(src), str(tmp_path / "o.wav"), "--taps", "20000"])
    assert r.exit_code == 2 and "taps" in r.output
    assert not (tmp_path / "o.wav").exists()


def test_classify_prints_the_noise_type(tmp_path: Path) -> None:
    t = np.arange(3 * 16000) / 16000
    src = _wav(tmp_path / "hum.wav", 0.3 * np.sin(2 * np.pi * 50 * t) + 0.1 * np.sin(2 * np.pi * 150 * t))
    r = CliRunner().invoke(app, ["anc", "classify", str(src)])
    assert r.exit_code == 0, r.output
    body = json.loads(r.output)
    assert body["label"] == "hum" and body["emergency"] is False
