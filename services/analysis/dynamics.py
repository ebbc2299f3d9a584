"""Audio dynamics of a recording for the temperature analyzer: loudness relative to the
recording itself, energy bursts, pitch spread (see :mod:`services.analysis.temperature`,
whose docstring gives how each measure enters the score).

Every measure is relative (peaks against the recording's own median, frames within a few
dB of its 95th percentile), so a gain change moves none of them; digital silence is the
only absolute threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

FRAME_SECONDS = 0.05
SILENCE_DBFS = -120.0
#: Frames quieter than this are never speech (digital silence only: thresholds are relative).
VOICED_FLOOR_DBFS = -100.0
PITCH_MIN_HZ = 70.0
PITCH_MAX_HZ = 400.0
PITCH_MIN_CORRELATION = 0.5
BURST_DB = 10.0
#: "Loud" frames are those within this many dB of the 95th-percentile level.
LOUD_WINDOW_DB = 6.0
CLIP_LEVEL = 0.99


@dataclass(frozen=True)
class AudioDynamics:
    """Loudness statistics of a recording from 50 ms frame RMS levels (dBFS).

    Voiced frames are those above ``max(-100 dBFS, min(loudest - 30 dB, noise floor + 10 dB))``,
    where the noise floor is the 10th percentile of all frame levels: thresholds relative
    to the recording, so a gain change moves every level by the same dB and leaves the
    relative statistics (dynamic range, loud fraction, peak over median, bursts) as they
    were. Pitch: per 50 ms voiced frame, the normalised-autocorrelation peak between 70
    and 400 Hz where it exceeds 0.5 (a YIN-like periodicity test; de Cheveigné & Kawahara
    2002, "YIN, a fundamental frequency estimator for speech and music").
    """

    duration_s: float
    voiced_fraction: float  # share of frames that are voiced
    loudness_db: float  # median level of voiced frames
    loudness_p95_db: float  # 95th percentile level of voiced frames
    loudness_p10_db: float  # 10th percentile level of voiced frames
    dynamic_range_db: float  # p95 - p10 of voiced frames
    loud_fraction: float  # share of voiced frames within 6 dB of the p95 level
    peak_dbfs: float  # sample peak
    clipped_fraction: float  # share of samples at |x| >= 0.99
    energy_burst_fraction: float = 0.0  # share of voiced frames >= 10 dB above the median
    pitch_spread_semitones: float = 0.0  # p90 - p10 of voiced-frame F0, semitones
    pitch_frames: int = 0  # frames with a pitch estimate

    @property
    def peak_over_median_db(self) -> float:
        """Loud peaks against the recording's own speaking level (p95 - median), dB:
        unchanged by a gain change."""
        return self.loudness_p95_db - self.loudness_db

    @property
    def has_voice(self) -> bool:
        """Whether any frame was loud enough to be speech."""
        return self.voiced_fraction > 0.0


def _to_dbfs(value: np.ndarray | float) -> np.ndarray:
    return 20.0 * np.log10(np.maximum(np.asarray(value, dtype=np.float64), 1e-6))


def compute_audio_dynamics(samples: np.ndarray, sample_rate: int) -> AudioDynamics:
    """Loudness statistics of mono float samples in [-1, 1] (any rate; 16 kHz expected).

    A 2-D array is mixed down to mono (channels on the shorter axis). Never raises on
    empty or silent input: levels are then -120 dBFS and fractions 0.
    """
    if sample_rate <= 0:
        raise ValueError("sample_rate must be positive")
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=0 if x.shape[0] <= x.shape[1] else 1)
    x = np.nan_to_num(x.reshape(-1), nan=0.0, posinf=1.0, neginf=-1.0)
    duration = x.size / sample_rate
    silent = AudioDynamics(
        duration, 0.0, SILENCE_DBFS, SILENCE_DBFS, SILENCE_DBFS, 0.0, 0.0, SILENCE_DBFS, 0.0
    )
    if x.size == 0:
        return silent

    peak = float(np.max(np.abs(x)))
    clipped = float(np.mean(np.abs(x) >= CLIP_LEVEL))
    frame = max(1, round(FRAME_SECONDS * sample_rate))
    n_frames = max(1, math.ceil(x.size / frame))
    padded = np.zeros(n_frames * frame)
    padded[: x.size] = x
    frames = padded.reshape(n_frames, frame)
    # the last frame's RMS over its real samples only
    counts = np.full(n_frames, frame, dtype=np.float64)
    counts[-1] = x.size - (n_frames - 1) * frame
    rms = np.sqrt(np.sum(frames * frames, axis=1) / counts)
    levels = np.maximum(_to_dbfs(rms), SILENCE_DBFS)

    floor = float(np.percentile(levels, 10))
    threshold = max(VOICED_FLOOR_DBFS, min(float(levels.max()) - 30.0, floor + 10.0))
    voiced = levels[levels >= threshold]
    peak_db = max(float(_to_dbfs(peak)), SILENCE_DBFS)
    if voiced.size == 0 or float(levels.max()) < VOICED_FLOOR_DBFS:
        return AudioDynamics(
            duration, 0.0, SILENCE_DBFS, SILENCE_DBFS, SILENCE_DBFS, 0.0, 0.0, peak_db, clipped
        )
    p10, p50, p95 = (float(v) for v in np.percentile(voiced, [10, 50, 95]))
    voiced_mask = levels >= threshold
    pitches = _frame_pitches(frames[voiced_mask], sample_rate)
    spread = (
        float(np.subtract(*np.percentile(12 * np.log2(pitches), [90, 10]))) if pitches.size >= 10 else 0.0
    )
    return AudioDynamics(
        duration_s=duration,
        voiced_fraction=float(voiced.size / n_frames),
        loudness_db=p50,
        loudness_p95_db=p95,
        loudness_p10_db=p10,
        dynamic_range_db=p95 - p10,
        loud_fraction=float(np.mean(voiced >= p95 - LOUD_WINDOW_DB)),
        peak_dbfs=peak_db,
        clipped_fraction=clipped,
        energy_burst_fraction=float(np.mean(voiced >= p50 + BURST_DB)),
        pitch_spread_semitones=spread,
        pitch_frames=int(pitches.size),
    )


def _frame_pitches(frames: np.ndarray, sample_rate: int) -> np.ndarray:
    """F0 (Hz) of each frame that is clearly periodic, by normalised autocorrelation."""
    if frames.size == 0:
        return np.zeros(0)
    x = frames - frames.mean(axis=1, keepdims=True)
    n = x.shape[1]
    spec = np.fft.rfft(x, n=2 * n, axis=1)
    ac = np.fft.irfft(np.abs(spec) ** 2, axis=1)[:, :n]
    lo, hi = int(sample_rate / PITCH_MAX_HZ), min(n - 1, int(sample_rate / PITCH_MIN_HZ))
    if hi <= lo:
        return np.zeros(0)
    norm = ac[:, lo:hi] / (ac[:, :1] + 1e-12)
    lag = np.argmax(norm, axis=1)
    ok = norm[np.arange(len(lag)), lag] >= PITCH_MIN_CORRELATION
    return sample_rate / (lag[ok] + lo).astype(np.float64)
