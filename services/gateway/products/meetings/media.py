"""Dual-audio merge of seed 003 ("merge two audio streams, e.g. mobile mic + system audio").

Both files are decoded and resampled to ``rate`` (16 kHz, mono each) with
:func:`services.common.audio.decode` (libswresample), then **aligned**: the lag between the
two streams is estimated by cross-correlating their short-time energy envelopes (10 ms
frames, mean removed; the classic envelope cross-correlation used for recording
synchronisation, e.g. Shrestha et al. 2007, "Synchronization of multi-camera video
recordings based on audio", ACM MM) within +-``max_lag_s``. The lag is applied only when
the normalised correlation peak is at least ``MIN_ALIGN_CORRELATION`` (both microphones
heard the same sounds); otherwise the streams are taken as starting together, which is how
a phone records its microphone and the system audio. The shorter stream is padded with
silence to the longer one.

Two files are written (16-bit PCM WAV, :mod:`wave`):

- the **stereo master**: channel 0 = primary (``audio_file``), channel 1 = second
  (``second_audio_file``); the transcription service diarizes it by channel;
- the **mixed track** for playback: the mean of the two channels, peak-limited to 0.99.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from services.common import audio

MIN_ALIGN_CORRELATION = 0.5
FRAME_S = 0.01


@dataclass(frozen=True)
class DualMerge:
    """What :func:`merge_dual` did: the lag applied to the second stream (seconds, positive
    when it started later), the correlation peak, the merged duration (s) and the rate (Hz)."""

    lag_s: float
    correlation: float
    duration_s: float
    sample_rate: int


def _envelope(x: np.ndarray, hop: int) -> np.ndarray:
    n = len(x) // hop
    if n == 0:
        return np.zeros(0, dtype=np.float64)
    env = np.sqrt(np.mean(x[: n * hop].astype(np.float64).reshape(n, hop) ** 2, axis=1))
    return env - env.mean()


def estimate_lag(a: np.ndarray, b: np.ndarray, rate: int, max_lag_s: float = 2.0) -> tuple[float, float]:
    """Lag (s) of ``b`` relative to ``a`` and the normalised correlation peak (-1..1).

    Positive lag: ``b``'s content appears later than in ``a``. Envelope cross-correlation
    over 10 ms frames by FFT; ``(0.0, 0.0)`` for silent or too-short input.
    """
    hop = max(1, int(rate * FRAME_S))
    ea, eb = _envelope(a, hop), _envelope(b, hop)
    if len(ea) < 2 or len(eb) < 2:
        return 0.0, 0.0
    na, nb = np.linalg.norm(ea), np.linalg.norm(eb)
    if na == 0 or nb == 0:
        return 0.0, 0.0
    size = 1 << int(np.ceil(np.log2(len(ea) + len(eb))))
    corr = np.fft.irfft(np.fft.rfft(eb, size) * np.conj(np.fft.rfft(ea, size)), size)
    max_lag = int(max_lag_s / FRAME_S)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    values = np.concatenate([corr[: max_lag + 1], corr[size - max_lag :]])
    best = int(np.argmax(values))
    return float(lags[best] * FRAME_S), float(values[best] / (na * nb))


def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    """16-bit PCM WAV of float32 samples, shape (n,) or (channels, n)."""
    data = np.atleast_2d(samples)
    pcm = (np.clip(data, -1.0, 1.0) * 32767).astype("<i2").T.copy()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(data.shape[0])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


def merge_dual(
    primary: Path, second: Path, master_out: Path, mix_out: Path, *, rate: int = 16000, max_lag_s: float = 2.0
) -> DualMerge:
    """Merge two recordings of one meeting into a stereo master and a mono mix (see module doc).

    Args:
        primary, second: the uploaded files (any format :mod:`services.common.audio` reads,
            any sample rate).
        master_out, mix_out: where to write the stereo master and the mono mix (WAV).
        rate: output sample rate, Hz.
        max_lag_s: the largest misalignment searched, seconds.

    Raises:
        services.common.audio.AudioError: when either file is empty, unsupported or corrupt.
    """
    a = audio.decode(primary, rate, mono=True)
    b = audio.decode(second, rate, mono=True)
    lag_s, peak = estimate_lag(a, b, rate, max_lag_s)
    if peak >= MIN_ALIGN_CORRELATION and lag_s != 0.0:
        shift = int(round(abs(lag_s) * rate))
        if lag_s > 0:
            b = b[shift:]
        else:
            b = np.concatenate([np.zeros(shift, dtype=np.float32), b])
    else:
        lag_s = 0.0
    n = max(len(a), len(b))
    stereo = np.zeros((2, n), dtype=np.float32)
    stereo[0, : len(a)] = a
    stereo[1, : len(b)] = b
    write_wav(master_out, stereo, rate)
    mix = stereo.mean(axis=0)
    peak_abs = float(np.max(np.abs(mix))) if n else 0.0
    if peak_abs > 0.99:
        mix *= 0.99 / peak_abs
    write_wav(mix_out, mix, rate)
    return DualMerge(lag_s=lag_s, correlation=round(peak, 3), duration_s=n / rate, sample_rate=rate)
