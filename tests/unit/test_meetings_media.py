"""Dual-audio merge: stereo_diarization.wav split into two mono files (one resampled to
another rate), merged back into a stereo master and a mix; lag estimation; bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from services.common import audio
from services.gateway.products.meetings.media import estimate_lag, merge_dual, write_wav
from tests.conftest import FIXTURES

STEREO = FIXTURES / "stereo_diarization.wav"


@pytest.fixture(scope="module")
def channels() -> np.ndarray:
    return audio.decode(STEREO, 16000, mono=False)


def corr(x: np.ndarray, y: np.ndarray) -> float:
    n = min(len(x), len(y))
    return float(np.corrcoef(x[:n], y[:n])[0, 1])


def test_split_channels_merge_back_into_master_and_mix(tmp_path: Path, channels: np.ndarray) -> None:
    left, right = tmp_path / "left.wav", tmp_path / "right.wav"
    write_wav(left, channels[0], 16000)
    right_8k = audio.decode(STEREO, 8000, mono=False)[1]
    write_wav(right, right_8k, 8000)  # another sample rate: resampled
    master, mix = tmp_path / "master.wav", tmp_path / "mix.wav"
    result = merge_dual(left, right, master, mix)
    assert result.sample_rate == 16000 and result.lag_s == 0.0
    info = audio.probe(master)
    assert info.channels == 2 and info.sample_rate == 16000
    merged = audio.decode(master, 16000, mono=False)
    assert corr(merged[0], channels[0]) > 0.99
    assert corr(merged[1], channels[1]) > 0.9  # band-limited by the 8 kHz copy
    assert corr(merged[0], channels[1]) < 0.5  # channels not swapped
    assert audio.probe(mix).channels == 1
    assert abs(audio.duration_s(mix) - audio.duration_s(STEREO)) < 0.05


def test_lag_is_estimated_and_applied(channels: np.ndarray) -> None:
    a = channels[0]
    delayed = np.concatenate([np.zeros(8000, dtype=np.float32), a])  # 0.5 s later
    lag, peak = estimate_lag(a, delayed, 16000)
    assert lag == pytest.approx(0.5, abs=0.011) and peak > 0.9
    lag, peak = estimate_lag(channels[0], channels[1], 16000)
    assert peak < 0.5  # two different voices: no alignment applied


def test_unreadable_second_file_raises_audio_error(tmp_path: Path, channels: np.ndarray) -> None:
    good, bad = tmp_path / "a.wav", tmp_path / "b.m4a"
    write_wav(good, channels[0], 16000)
    bad.write_text("not audio at all")
    with pytest.raises(audio.AudioError):
        merge_dual(good, bad, tmp_path / "m.wav", tmp_path / "x.wav")


def test_duration_limit_comes_from_the_decoded_stream(tmp_path: Path) -> None:
    """A recording over EARSHOT_MEETINGS_MAX_DURATION_S is a 400 naming the limit; under it passes."""
    from services.gateway.products.meetings.service import AudioFile, MeetingInputError, check_audio
    from services.gateway.products.meetings.settings import load_meeting_settings

    jfk = FIXTURES / "jfk.flac"  # 11 s
    upload = AudioFile(path=jfk, filename="jfk.flac", size=jfk.stat().st_size)
    with pytest.raises(MeetingInputError) as refused:
        check_audio(upload, load_meeting_settings(max_duration_s=5), "audio_file")
    assert refused.value.status == 400 and "5 s" in refused.value.details
    assert check_audio(upload, load_meeting_settings(max_duration_s=60), "audio_file").duration_s > 10
