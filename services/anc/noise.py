"""Noise classification: features, the synthetic corpus, and the trained classifier.

Features (:func:`features`) are computed on 1 s windows resampled to 16 kHz: 40 log-mel
band energies (512-point Hann frames, hop 256, 20 Hz..8 kHz) averaged and spread over
the window, the first 13 MFCCs (DCT-II of the log-mel frames) likewise, spectral
flatness, centroid, flux and peakiness (tonality), zero-crossing rate, frame-energy
spread and envelope periodicity, and the level in dBFS. Log-mel means are centred on
their average so the shape is level independent; the level travels separately.

The corpus (:func:`synthesise`) is generated from a seed, so the same seed always
gives the same clips: white, pink (1/f), brown (1/f^2) noise, mains hum (50/60 Hz
with harmonics), engine-like tones (firing harmonics with rpm drift plus rumble),
babble (4-8 overlapping talkers cut from the repository's speech recordings), siren
sweeps (wail and yelp), alarm beeps and silence (digital or near-silent hiss).

The model is a scikit-learn pipeline trained by ``scripts/train_noise_classifier.py``
and stored with skops (no pickle) at ``services/anc/models/noise_classifier.skops``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "CLASSES",
    "EMERGENCY_CLASSES",
    "FEATURE_RATE",
    "MODEL_PATH",
    "Classification",
    "NoiseClassifier",
    "features",
    "load_classifier",
    "synthesise",
]

FEATURE_RATE = 16000
"""Sample rate (Hz) features are computed at."""

WINDOW_S = 1.0
"""Analysis window (s)."""

CLASSES: tuple[str, ...] = ("white", "pink", "brown", "hum", "engine", "babble", "siren", "alarm", "silence")
"""Noise classes the model knows."""

EMERGENCY_CLASSES: frozenset[str] = frozenset({"siren", "alarm"})
"""Classes flagged as emergencies."""

MODEL_PATH = Path(__file__).parent / "models" / "noise_classifier.skops"
"""The committed model file."""

MODEL_NAME = "noise_classifier"
MODEL_VERSION = "1"

_N_FFT = 512
_HOP = 256
_N_MELS = 40
_N_MFCC = 13


@functools.lru_cache(maxsize=4)
def _mel_filterbank(rate: int = FEATURE_RATE, n_fft: int = _N_FFT, n_mels: int = _N_MELS) -> NDArray[Any]:
    """Triangular mel filterbank (HTK mel scale), shape ``(n_mels, n_fft // 2 + 1)``."""

    def mel(f: NDArray[Any]) -> NDArray[Any]:
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def hz(m: NDArray[Any]) -> NDArray[Any]:
        return 700.0 * (10 ** (m / 2595.0) - 1.0)

    edges = hz(np.linspace(mel(np.array(20.0)), mel(np.array(rate / 2)), n_mels + 2))
    bins = np.fft.rfftfreq(n_fft, 1.0 / rate)
    fb = np.zeros((n_mels, bins.size))
    for i in range(n_mels):
        lo, mid, hi = edges[i], edges[i + 1], edges[i + 2]
        up = (bins - lo) / max(mid - lo, 1e-9)
        down = (hi - bins) / max(hi - mid, 1e-9)
        fb[i] = np.clip(np.minimum(up, down), 0.0, None)
    return fb


@functools.lru_cache(maxsize=2)
def _dct_matrix(n_in: int = _N_MELS, n_out: int = _N_MFCC) -> NDArray[Any]:
    k = np.arange(n_out)[:, None]
    n = np.arange(n_in)[None, :]
    return np.asarray(np.cos(np.pi * k * (2 * n + 1) / (2 * n_in)) * math.sqrt(2.0 / n_in))


def to_feature_rate(samples: NDArray[Any], sample_rate: int) -> NDArray[np.float64]:
    """Resample a mono signal to :data:`FEATURE_RATE` (polyphase, scipy)."""
    from scipy.signal import resample_poly

    x = np.asarray(samples, dtype=np.float64)
    if sample_rate == FEATURE_RATE:
        return x
    g = math.gcd(int(sample_rate), FEATURE_RATE)
    return np.asarray(resample_poly(x, FEATURE_RATE // g, int(sample_rate) // g))


def features(window: NDArray[Any]) -> NDArray[np.float64]:
    """Feature vector of one window at :data:`FEATURE_RATE`.

    Parameters
    ----------
    window : ndarray, shape (n,)
        Mono samples in [-1, 1] at 16 kHz; at least 512 samples (1 s is used in
        training; shorter windows are zero-padded to 512).

    Returns
    -------
    ndarray, shape (n_features,)
        The features described in the module docstring (finite values).
    """
    x = np.asarray(window, dtype=np.float64)
    if x.size < _N_FFT:
        x = np.pad(x, (0, _N_FFT - x.size))
    n_frames = 1 + (x.size - _N_FFT) // _HOP
    idx = np.arange(_N_FFT)[None, :] + _HOP * np.arange(n_frames)[:, None]
    frames = x[idx] * np.hanning(_N_FFT)[None, :]
    spec = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    spec += 1e-6 * float(np.mean(spec)) + 1e-12
    mel = spec @ _mel_filterbank().T
    # Floor 60 dB under the mean band energy: clean synthetic tones and real recordings
    # with a noise floor then look alike in empty bands.
    logmel = 10 * np.log10(mel + 1e-6 * float(np.mean(mel)) + 1e-12)
    mfcc = logmel @ _dct_matrix().T
    level = 10 * math.log10(float(np.mean(x * x)) + 1e-12)
    lm_mean = logmel.mean(axis=0)
    shape = lm_mean - lm_mean.mean()
    flat = np.exp(np.mean(np.log(spec), axis=1)) / np.mean(spec, axis=1)
    freqs = np.fft.rfftfreq(_N_FFT, 1.0 / FEATURE_RATE)
    centroid = (spec @ freqs) / spec.sum(axis=1) / (FEATURE_RATE / 2)
    peak = 10 * np.log10(spec.max(axis=1) / spec.mean(axis=1))
    norm_spec = spec / spec.sum(axis=1, keepdims=True)
    flux = np.sqrt(np.sum(np.diff(norm_spec, axis=0) ** 2, axis=1)) if n_frames > 1 else np.zeros(1)
    zcr = np.mean(np.abs(np.diff(np.signbit(frames), axis=1)), axis=1)
    energy = 10 * np.log10(np.mean(frames * frames, axis=1) + 1e-12)
    env = energy - energy.mean()
    if env.size > 4 and np.std(env) > 1e-6:
        ac = np.correlate(env, env, mode="full")[env.size - 1 :]
        ac = ac / ac[0]
        periodicity = float(np.max(ac[2 : max(3, env.size // 2)]))
    else:
        periodicity = 0.0
    # Pitch track of the strongest bin (sirens sweep, hum/alarm hold still).
    peak_bin = np.argmax(spec[:, 2:], axis=1) + 2
    peak_f = freqs[peak_bin] / 1000.0
    vec = np.concatenate(
        [
            shape,
            logmel.std(axis=0),
            mfcc.mean(axis=0)[1:],
            mfcc.std(axis=0),
            [
                level,
                float(np.mean(flat)),
                float(np.std(flat)),
                float(np.mean(centroid)),
                float(np.std(centroid)),
                float(np.mean(peak)),
                float(np.std(peak)),
                float(np.mean(flux)),
                float(np.mean(zcr)),
                float(np.std(energy)),
                periodicity,
                float(np.std(peak_f)),
                float(np.mean(np.abs(np.diff(peak_f)))) if peak_f.size > 1 else 0.0,
            ],
        ]
    )
    return np.nan_to_num(vec, nan=0.0, posinf=0.0, neginf=0.0)


# --- corpus -------------------------------------------------------------------------------


def _norm(x: NDArray[Any]) -> NDArray[np.float64]:
    x = np.asarray(x, dtype=np.float64)
    r = math.sqrt(float(np.mean(x * x))) or 1.0
    return np.asarray(x / r)


def _colored(rng: np.random.Generator, n: int, exponent: float) -> NDArray[np.float64]:
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / FEATURE_RATE)
    f[0] = f[1]
    spec *= f ** (-exponent / 2)
    return _norm(np.fft.irfft(spec, n=n))


def _tone_series(f0: NDArray[Any]) -> NDArray[np.float64]:
    return np.asarray(2 * np.pi * np.cumsum(f0) / FEATURE_RATE)


def synth_clip(kind: str, rng: np.random.Generator, speech: NDArray[Any] | None, n: int) -> NDArray[Any]:
    """One synthetic clip of ``n`` samples at 16 kHz, RMS 1 before the level is applied.

    Raises
    ------
    ValueError
        Unknown ``kind`` or babble without ``speech``.
    """
    t = np.arange(n) / FEATURE_RATE
    if kind == "white":
        x = rng.standard_normal(n)
    elif kind == "pink":
        x = _colored(rng, n, 1.0)
    elif kind == "brown":
        x = _colored(rng, n, 2.0)
    elif kind == "hum":
        f0 = rng.choice([50.0, 60.0]) + rng.uniform(-0.3, 0.3)
        x = np.zeros(n)
        for h in range(1, 9):
            amp = rng.uniform(0.1, 1.0) if h == 1 or rng.random() < 0.6 else 0.0  # some harmonics absent
            x += amp / h**0.7 * np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 2 * np.pi))
    elif kind == "engine":
        rpm = rng.uniform(900, 4000) * (1 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.1, 0.5) * t))
        f0 = rpm / 60 * rng.choice([1.0, 2.0, 3.0])  # firing frequency
        phase = _tone_series(f0)
        x = np.zeros(n)
        for h in range(1, 12):
            x += rng.uniform(0.2, 1.0) / h * np.sin(h * phase + rng.uniform(0, 2 * np.pi))
        x = _norm(x) + rng.uniform(0.2, 0.6) * _colored(rng, n, 2.0)
    elif kind == "babble":
        if speech is None or speech.size < n:
            raise ValueError("babble needs a speech recording longer than the clip")
        x = np.zeros(n)
        for _ in range(int(rng.integers(4, 9))):
            start = int(rng.integers(0, speech.size - n))
            x += rng.uniform(0.5, 1.0) * _norm(speech[start : start + n] + 1e-6 * rng.standard_normal(n))
    elif kind == "siren":
        lo = rng.uniform(400, 900)
        hi = lo + rng.uniform(300, 1000)
        rate = rng.choice([rng.uniform(0.15, 0.5), rng.uniform(2.0, 7.0)])  # wail or yelp
        sweep = lo + (hi - lo) * (0.5 + 0.5 * np.sin(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi)))
        phase = _tone_series(sweep)
        x = (
            np.sin(phase)
            + rng.uniform(0.0, 0.4) * np.sin(2 * phase)
            + rng.uniform(0.0, 0.2) * np.sin(3 * phase)
        )
    elif kind == "alarm":
        f = rng.uniform(1000, 4000)
        period = rng.uniform(0.1, 0.5)
        duty = rng.uniform(0.3, 0.7)
        gate = ((t + rng.uniform(0, period)) % period) < duty * period
        x = np.sin(2 * np.pi * f * t) * gate + rng.uniform(0.0, 0.3) * np.sin(4 * np.pi * f * t) * gate
    elif kind == "silence":
        if rng.random() < 0.3:
            return np.zeros(n)
        return rng.standard_normal(n) * 10 ** (rng.uniform(-100, -75) / 20)
    else:
        raise ValueError(f"unknown noise kind {kind!r}")
    x = _norm(x)
    x = x + 10 ** (rng.uniform(-90, -30) / 20) * rng.standard_normal(n)  # some background hiss
    level_db = rng.uniform(-40, -6)
    return np.asarray(np.clip(x * 10 ** (level_db / 20), -1, 1))


def synthesise(
    per_class: int, seed: int, speech: NDArray[Any], clip_s: float = WINDOW_S
) -> tuple[NDArray[np.float64], NDArray[np.str_]]:
    """A reproducible labelled corpus: ``per_class`` clips of every class in :data:`CLASSES`.

    Parameters
    ----------
    per_class : int
        Clips per class.
    seed : int
        Seed of ``numpy.random.default_rng``; equal seeds give equal corpora.
    speech : ndarray
        Mono speech at 16 kHz, longer than ``clip_s`` (babble source).
    clip_s : float
        Clip length (s).

    Returns
    -------
    (X, y)
        Feature matrix ``(per_class * 9, n_features)`` and labels ``(per_class * 9,)``.
    """
    rng = np.random.default_rng(seed)
    n = round(clip_s * FEATURE_RATE)
    rows, labels = [], []
    for _ in range(per_class):
        for kind in CLASSES:
            rows.append(features(synth_clip(kind, rng, speech, n)))
            labels.append(kind)
    return np.vstack(rows), np.asarray(labels)


# --- inference ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Classification:
    """Result of classifying a recording or a stream window.

    Attributes:
        label: the most likely class, or ``"unknown"`` when its probability is below
            the confidence threshold.
        confidence: probability of the top class (0..1).
        top_class: the top class even when ``label`` is ``"unknown"``.
        probabilities: class -> probability.
        emergency: the top class is a siren or alarm with probability at least the
            emergency threshold (and emergency detection is enabled).
        windows: how many 1 s windows were averaged.
    """

    label: str
    confidence: float
    top_class: str
    probabilities: dict[str, float]
    emergency: bool
    windows: int


class NoiseClassifier:
    """The trained model plus the thresholds that turn probabilities into a label.

    Parameters
    ----------
    model : sklearn estimator with ``predict_proba`` and ``classes_``.
    confidence_threshold : float
        ``ML_CONFIDENCE_THRESHOLD``: below it the label is ``"unknown"``.
    emergency_enabled : bool
        ``EMERGENCY_DETECTION_ENABLED``.
    emergency_threshold : float
        ``EMERGENCY_CONFIDENCE_THRESHOLD``.
    """

    def __init__(
        self,
        model: Any,
        confidence_threshold: float = 0.7,
        emergency_enabled: bool = True,
        emergency_threshold: float = 0.85,
        meta: dict[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.confidence_threshold = confidence_threshold
        self.emergency_enabled = emergency_enabled
        self.emergency_threshold = emergency_threshold
        self.meta = meta or {}

    def classify(self, samples: NDArray[Any], sample_rate: int, max_windows: int = 30) -> Classification:
        """Classify a mono recording by averaging class probabilities over 1 s windows.

        Parameters
        ----------
        samples : ndarray, shape (n,)
            Mono samples in [-1, 1], finite.
        sample_rate : int
            Rate in Hz.
        max_windows : int
            At most this many windows, spread evenly over the recording.

        Raises
        ------
        ValueError
            Empty or non-finite samples.
        """
        x = np.asarray(samples, dtype=np.float64)
        if x.ndim != 1 or x.size == 0:
            raise ValueError("classification needs a non-empty mono signal")
        if not np.isfinite(x).all():
            raise ValueError("samples contain NaN or Inf")
        y = to_feature_rate(x, sample_rate)
        w = round(WINDOW_S * FEATURE_RATE)
        if y.size <= w:
            starts = [0]
        else:
            count = min(max_windows, y.size // w)
            starts = [int(s) for s in np.linspace(0, y.size - w, count)]
        feats = np.vstack([features(y[s : s + w]) for s in starts])
        proba = self.model.predict_proba(feats).mean(axis=0)
        classes = [str(c) for c in self.model.classes_]
        best = int(np.argmax(proba))
        top, conf = classes[best], float(proba[best])
        label = top if conf >= self.confidence_threshold else "unknown"
        emergency = bool(
            self.emergency_enabled and top in EMERGENCY_CLASSES and conf >= self.emergency_threshold
        )
        return Classification(
            label=label,
            confidence=round(conf, 4),
            top_class=top,
            probabilities={c: round(float(p), 4) for c, p in zip(classes, proba, strict=True)},
            emergency=emergency,
            windows=len(starts),
        )


TRUSTED_TYPES: list[str] = [
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.linear_model._logistic.LogisticRegression",
    "numpy.dtype",
    "numpy.ndarray",
    "numpy.core.multiarray._reconstruct",
]


def load_model(path: Path = MODEL_PATH) -> Any:
    """Load a skops model file, trusting only the pipeline's own types.

    Raises
    ------
    FileNotFoundError
        No model at ``path``.
    skops.io.exceptions.UntrustedTypesFoundException
        The file holds types outside the expected pipeline.
    """
    import skops.io as sio

    if not Path(path).is_file():
        raise FileNotFoundError(f"no noise model at {path}; run scripts/train_noise_classifier.py")
    untrusted = sio.get_untrusted_types(file=path)
    allowed = [t for t in untrusted if t in TRUSTED_TYPES]
    return sio.load(path, trusted=allowed)


@functools.lru_cache(maxsize=4)
def load_classifier(
    path: str = str(MODEL_PATH),
    confidence_threshold: float = 0.7,
    emergency_enabled: bool = True,
    emergency_threshold: float = 0.85,
) -> NoiseClassifier:
    """The shared classifier (loaded once per process and thresholds)."""
    return NoiseClassifier(
        load_model(Path(path)), confidence_threshold, emergency_enabled, emergency_threshold
    )
