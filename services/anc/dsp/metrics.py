"""Figures of merit for noise cancellation.

* :func:`attenuation_db`: ``10 log10(sum d^2 / sum e^2)``, how much quieter the output
  ``e`` is than the input ``d`` (dB; positive is better).
* :func:`octave_band_attenuation`: the same per octave band (ISO 266 centres
  31.5 Hz .. 16 kHz, band edges ``fc / sqrt(2) .. fc * sqrt(2)``), from Welch power
  spectra.
* :func:`convergence_time`: first time (s) the short-time attenuation reaches a
  threshold (20 dB by default) over windows of ``window_s``.
* :func:`misalignment_db`: ``10 log10(||w - h||^2 / ||h||^2)``, distance of the learnt
  weights from the true system (system identification; Haykin ch. 6).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "OCTAVE_CENTRES_HZ",
    "attenuation_db",
    "bands_from_psd",
    "convergence_time",
    "misalignment_db",
    "octave_band_attenuation",
    "summary",
]

OCTAVE_CENTRES_HZ: tuple[float, ...] = (31.5, 63, 125, 250, 500, 1000, 2000, 4000, 8000, 16000)
"""Nominal octave-band centre frequencies (Hz), ISO 266."""

_TINY = 1e-20


def attenuation_db(d: ArrayLike, e: ArrayLike) -> float:
    """Attenuation of ``e`` relative to ``d`` in dB.

    Parameters
    ----------
    d, e : array_like, shape (n,)
        Input (before) and output (after) signals.

    Returns
    -------
    float
        ``10 log10((sum d^2 + tiny) / (sum e^2 + tiny))``; 0.0 for empty input.
    """
    da, ea = np.asarray(d, dtype=np.float64), np.asarray(e, dtype=np.float64)
    if not da.size:
        return 0.0
    return float(10 * math.log10((float(np.dot(da, da)) + _TINY) / (float(np.dot(ea, ea)) + _TINY)))


def octave_band_attenuation(d: ArrayLike, e: ArrayLike, sample_rate: int) -> dict[str, float]:
    """Attenuation (dB) per octave band below the Nyquist frequency.

    Parameters
    ----------
    d, e : array_like, shape (n,)
        Input and output signals.
    sample_rate : int
        Sampling rate in Hz.

    Returns
    -------
    dict
        ``{"31.5": dB, "63": dB, ...}`` for bands whose upper edge is below
        ``sample_rate / 2`` and that hold at least one spectral bin; bands where ``d``
        has no energy are left out.
    """
    from scipy.signal import welch

    da, ea = np.asarray(d, dtype=np.float64), np.asarray(e, dtype=np.float64)
    if da.size < 16:
        return {}
    nperseg = int(min(da.size, 8192))
    f, pd = welch(da, fs=sample_rate, nperseg=nperseg)
    _, pe = welch(ea, fs=sample_rate, nperseg=nperseg)
    return bands_from_psd(f, pd, pe, sample_rate)


def bands_from_psd(f: np.ndarray, pd: np.ndarray, pe: np.ndarray, sample_rate: int) -> dict[str, float]:
    """Octave-band attenuation (dB) from power spectra of input ``pd`` and output ``pe`` at
    frequencies ``f`` (Hz); the band selection of :func:`octave_band_attenuation`."""
    out: dict[str, float] = {}
    for fc in OCTAVE_CENTRES_HZ:
        lo, hi = fc / math.sqrt(2), fc * math.sqrt(2)
        if hi > sample_rate / 2:
            break
        sel = (f >= lo) & (f < hi)
        if not sel.any():
            continue
        sd, se = float(pd[sel].sum()), float(pe[sel].sum())
        if sd <= _TINY:
            continue
        out[f"{fc:g}"] = round(10 * math.log10((sd + _TINY) / (se + _TINY)), 2)
    return out


def convergence_time(
    d: ArrayLike, e: ArrayLike, sample_rate: int, threshold_db: float = 20.0, window_s: float = 0.01
) -> float | None:
    """Time (s) at which the short-time attenuation first reaches ``threshold_db``.

    The attenuation is measured over consecutive sliding windows of ``window_s``
    seconds (10 ms); the time reported is the end of the first window that reaches the
    threshold. ``None`` when it never does.
    """
    da, ea = np.asarray(d, dtype=np.float64), np.asarray(e, dtype=np.float64)
    w = max(1, round(window_s * sample_rate))
    if da.size < w:
        return None
    cd = np.concatenate([[0.0], np.cumsum(da * da)])
    ce = np.concatenate([[0.0], np.cumsum(ea * ea)])
    pd = cd[w:] - cd[:-w]
    pe = np.maximum(ce[w:] - ce[:-w], 0.0)
    ok = (pd > _TINY) & (pd >= (10 ** (threshold_db / 10)) * (pe + _TINY))
    idx = np.flatnonzero(ok)
    if not idx.size:
        return None
    return float((idx[0] + w) / sample_rate)


def misalignment_db(w: ArrayLike, h: ArrayLike) -> float:
    """Normalised misalignment ``10 log10(||w - h||^2 / ||h||^2)`` in dB.

    The shorter vector is zero-padded to the longer one's length.
    """
    wa, ha = np.asarray(w, dtype=np.float64), np.asarray(h, dtype=np.float64)
    n = max(wa.size, ha.size)
    wa = np.pad(wa, (0, n - wa.size))
    ha = np.pad(ha, (0, n - ha.size))
    return float(10 * math.log10((float(np.sum((wa - ha) ** 2)) + _TINY) / (float(np.sum(ha**2)) + _TINY)))


def summary(d: ArrayLike, e: ArrayLike, sample_rate: int) -> dict[str, object]:
    """The metrics the API reports for one processed signal.

    Returns
    -------
    dict
        ``attenuation_db`` (overall), ``steady_state_attenuation_db`` (last quarter, at
        most the last 2 s), ``octave_bands_db`` and ``convergence_time_ms`` (to 20 dB;
        ``None`` if never reached), ``input_rms_db`` and ``output_rms_db`` (dBFS).
    """
    da, ea = np.asarray(d, dtype=np.float64), np.asarray(e, dtype=np.float64)
    tail = max(1, min(da.size // 4, 2 * sample_rate)) if da.size else 0
    conv = convergence_time(da, ea, sample_rate)
    return {
        "attenuation_db": round(attenuation_db(da, ea), 2),
        "steady_state_attenuation_db": round(attenuation_db(da[-tail:], ea[-tail:]), 2) if tail else 0.0,
        "octave_bands_db": octave_band_attenuation(da, ea, sample_rate),
        "convergence_time_ms": None if conv is None else round(conv * 1000, 2),
        "input_rms_db": round(_rms_db(da), 2),
        "output_rms_db": round(_rms_db(ea), 2),
    }


def _rms_db(x: np.ndarray) -> float:
    if not x.size:
        return -200.0
    return float(10 * math.log10(float(np.dot(x, x)) / x.size + _TINY))
