"""Duration limits enforced on the decoded stream, and absurd header sample rates refused."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from services.common import audio
from tests.unit.test_audio import encode


def _wav(path: Path, rate: int, frames: int) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.zeros(frames, dtype="<i2").tobytes())
    return path


def test_wav_header_at_1_hz_is_refused_before_decoding(tmp_path: Path) -> None:
    # 3 KB of PCM "at 1 Hz" declares 25 minutes; resampling it to 16 kHz would cost seconds.
    path = _wav(tmp_path / "one-hz.wav", 1, 1500)
    with pytest.raises(audio.UnsupportedAudio, match="1 Hz"):
        audio.probe(path, verify=False)


def test_declared_duration_over_the_limit_is_refused(tmp_path: Path) -> None:
    path = encode(tmp_path / "three.flac", "flac", "flac", seconds=3.0, rate=8000)
    with pytest.raises(audio.AudioTooLong) as caught:
        audio.probe(path, max_duration_s=2.0)
    assert caught.value.code == "audio_too_long"
    assert caught.value.duration_s == pytest.approx(3.0)
    # within the limit the probe succeeds and reports the decoded length
    assert audio.probe(path, max_duration_s=3.5).duration_s == pytest.approx(3.0)


def test_decoding_stops_as_soon_as_the_decoded_audio_passes_the_limit(tmp_path: Path) -> None:
    # frames() counts what is decoded, whatever the header says
    path = _wav(tmp_path / "ten.wav", 8000, 8000 * 10)
    with audio._Source(path) as source:
        with pytest.raises(audio.AudioTooLong) as caught:
            for _ in source.frames(max_duration_s=1.0):
                pass
        decoded = source.decoded_s
    assert 1.0 < decoded < 2.0
    assert caught.value.limit_s == 1.0


def test_too_long_survives_pickling() -> None:
    import pickle

    exc = audio.AudioTooLong.over("WAV", 9.0, 5.0, decoded=True)
    again = pickle.loads(pickle.dumps(exc))
    assert isinstance(again, audio.AudioTooLong) and again.code == "audio_too_long"
