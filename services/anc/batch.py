"""Batch processing of long recordings: decode, filter and write in blocks, flat memory.

:func:`run` streams one job's input file(s) through a new filter (the same filters and
parameters as :func:`services.anc.engine.process`), writes the output as a mono 16-bit
WAV while it goes, and computes the same metrics as the synchronous path with
:class:`RunningSummary` (running sums, a streaming Welch estimate and the last 2 s), so
memory does not grow with the recording's length.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from services.anc import engine
from services.anc.dsp import as_signal
from services.anc.dsp import metrics as m
from services.common import audio

__all__ = ["CLASSIFY_S", "RunningSummary", "rechunk", "run"]

CLASSIFY_S = 30
"""Seconds at the start of the primary channel that a batch job classifies."""

_TINY = 1e-20
_WELCH = 8192


class RunningSummary:
    """The metrics of :func:`services.anc.dsp.metrics.summary`, fed block by block.

    Args:
        sample_rate: Hz.
    """

    def __init__(self, sample_rate: int) -> None:
        self.rate = sample_rate
        self.n = 0
        self.d2 = 0.0
        self.e2 = 0.0
        self._tail_len = 2 * sample_rate
        self._tail_d = np.zeros(0)
        self._tail_e = np.zeros(0)
        self._w = max(1, round(0.01 * sample_rate))
        self._conv_d = np.zeros(0)
        self._conv_e = np.zeros(0)
        self.convergence_s: float | None = None
        self._buf_d = np.zeros(0)
        self._buf_e = np.zeros(0)
        self._psd_d: NDArray[np.float64] | None = None
        self._psd_e: NDArray[np.float64] | None = None
        self._freqs: NDArray[np.float64] | None = None
        self._segments = 0

    def add(self, d: NDArray[np.float64], e: NDArray[np.float64]) -> None:
        """Account for one block of input ``d`` and output ``e`` (same length)."""
        from scipy.signal import welch

        if not d.size:
            return
        self.d2 += float(np.dot(d, d))
        self.e2 += float(np.dot(e, e))
        self._tail_d = np.concatenate([self._tail_d, d])[-self._tail_len :]
        self._tail_e = np.concatenate([self._tail_e, e])[-self._tail_len :]
        if self.convergence_s is None:
            cd_in = np.concatenate([self._conv_d, d])
            ce_in = np.concatenate([self._conv_e, e])
            start = self.n - self._conv_d.size  # absolute index of cd_in[0]
            w = self._w
            if cd_in.size >= w:
                cd = np.concatenate([[0.0], np.cumsum(cd_in * cd_in)])
                ce = np.concatenate([[0.0], np.cumsum(ce_in * ce_in)])
                pd = cd[w:] - cd[:-w]
                pe = np.maximum(ce[w:] - ce[:-w], 0.0)
                ok = np.flatnonzero((pd > _TINY) & (pd >= 100.0 * (pe + _TINY)))
                if ok.size:
                    self.convergence_s = float((start + ok[0] + w) / self.rate)
            keep = w - 1
            self._conv_d = cd_in[cd_in.size - keep :] if keep else np.zeros(0)
            self._conv_e = ce_in[ce_in.size - keep :] if keep else np.zeros(0)
        self._buf_d = np.concatenate([self._buf_d, d])
        self._buf_e = np.concatenate([self._buf_e, e])
        if self._buf_d.size >= _WELCH:
            step = _WELCH // 2
            k = (self._buf_d.size - _WELCH) // step + 1
            use = _WELCH + (k - 1) * step
            f, pd_ = welch(self._buf_d[:use], fs=self.rate, nperseg=_WELCH)
            _, pe_ = welch(self._buf_e[:use], fs=self.rate, nperseg=_WELCH)
            if self._psd_d is None or self._psd_e is None:
                self._freqs, self._psd_d, self._psd_e = f, pd_ * k, pe_ * k
            else:
                self._psd_d += pd_ * k
                self._psd_e += pe_ * k
            self._segments += k
            self._buf_d = self._buf_d[k * step :]
            self._buf_e = self._buf_e[k * step :]
        self.n += d.size

    def result(self) -> dict[str, Any]:
        """The metrics so far, with the keys of :func:`services.anc.dsp.metrics.summary`."""
        n = self.n
        if self._segments and self._freqs is not None and self._psd_d is not None and self._psd_e is not None:
            bands = m.bands_from_psd(
                self._freqs, self._psd_d / self._segments, self._psd_e / self._segments, self.rate
            )
        else:
            bands = m.octave_band_attenuation(self._buf_d, self._buf_e, self.rate)
        tail = max(1, min(n // 4, 2 * self.rate)) if n else 0
        conv = self.convergence_s
        return {
            "attenuation_db": round(_db(self.d2, self.e2), 2) if n else 0.0,
            "steady_state_attenuation_db": (
                round(m.attenuation_db(self._tail_d[-tail:], self._tail_e[-tail:]), 2) if tail else 0.0
            ),
            "octave_bands_db": bands,
            "convergence_time_ms": None if conv is None else round(conv * 1000, 2),
            "input_rms_db": round(10 * math.log10(self.d2 / n + _TINY), 2) if n else -200.0,
            "output_rms_db": round(10 * math.log10(self.e2 / n + _TINY), 2) if n else -200.0,
        }


def _db(a: float, b: float) -> float:
    return 10 * math.log10((a + _TINY) / (b + _TINY))


def rechunk(blocks: Iterator[np.ndarray], size: int) -> Iterator[np.ndarray]:
    """``(channels, n)`` blocks of any length -> blocks of exactly ``size`` samples (the last
    may be shorter)."""
    pending: list[np.ndarray] = []
    have = 0
    for block in blocks:
        pending.append(block)
        have += block.shape[1]
        if have < size:
            continue
        joined = np.concatenate(pending, axis=1)
        full = (joined.shape[1] // size) * size
        for i in range(0, full, size):
            yield joined[:, i : i + size]
        rest = joined[:, full:]
        pending, have = ([rest], rest.shape[1]) if rest.shape[1] else ([], 0)
    if have:
        yield np.concatenate(pending, axis=1)


def _pairs(
    primary: Path, reference: Path | None, rate: int, channels: int, size: int
) -> Iterator[tuple[NDArray[np.float64], NDArray[np.float64] | None]]:
    """``(d, x)`` blocks: from one file (stereo: 0 primary, 1 reference; mono for ``ale``) or two."""
    first = rechunk(audio.iter_frames(primary, rate), size)
    if reference is None:
        for block in first:
            if channels == 2 and block.shape[0] != 2:
                raise ValueError(f"the algorithm needs a stereo file, got {block.shape[0]} channel(s)")
            if channels == 1 and block.shape[0] != 1:
                raise ValueError("ale works on one channel; send a mono file")
            d = as_signal(block[0], "primary")
            yield d, as_signal(block[1], "reference") if channels == 2 else None
        return
    second = rechunk(audio.iter_frames(reference, rate, mono=True), size)
    for a in first:
        b = next(second, None)
        if b is None or b.shape[1] != a.shape[1]:
            raise ValueError("primary and reference lengths differ")
        yield (
            as_signal(a[0], "primary"),
            as_signal(b[0], "reference"),
        )
    if next(second, None) is not None:
        raise ValueError("primary and reference lengths differ")


def run(
    spec: engine.FilterSpec,
    primary: Path,
    reference: Path | None,
    rate: int,
    out_path: Path,
    progress: Callable[[int], None] | None = None,
    classify: Callable[[NDArray[np.float64]], Any] | None = None,
) -> dict[str, Any]:
    """Process one long recording in blocks of about a second; write the output WAV.

    Args:
        spec: validated parameters.
        primary: the input file (stereo: 0 primary, 1 reference; mono for ``ale``), or the
            primary microphone's mono file when ``reference`` is given.
        reference: the reference microphone's mono file, or ``None``.
        rate: the input's native sample rate (Hz); no resampling happens.
        out_path: where to write the mono 16-bit WAV.
        progress: called with the samples processed so far after every block.
        classify: called once at the end with the first :data:`CLASSIFY_S` s of the primary
            channel; its result is returned under ``"classification"``.

    Returns:
        ``{"metrics": ..., "samples": n, "classification": ...}``; ``metrics`` has the keys of
        :func:`services.anc.engine.process`.

    Raises:
        ValueError: wrong channel count, lengths differ, NaN/Inf samples, empty input.
        services.common.audio.AudioError: the input cannot be decoded (e.g. corrupt).
    """
    size = max(1, math.ceil(rate / spec.block_size)) * spec.block_size  # whole FDAF blocks
    flt: Any
    if spec.algorithm == "lms":  # its default step is scaled by the reference power: one pass first
        total, count = 0.0, 0
        for _d, x in _pairs(primary, reference, rate, spec.channels, size):
            assert x is not None
            total += float(np.dot(x, x))
            count += x.size
        flt = engine.build(spec, total / max(count, 1))
    else:
        flt = engine.build(spec)
    summary = RunningSummary(rate)
    head: list[NDArray[np.float64]] = []
    head_n = 0
    elapsed = 0.0
    with audio.pcm16_wav_writer(out_path, rate) as w:
        for d, x in _pairs(primary, reference, rate, spec.channels, size):
            started = time.perf_counter()
            e = flt.process(x, d) if x is not None else flt.process(d)
            elapsed += time.perf_counter() - started
            w.write(e)
            summary.add(d, e)
            if classify is not None and head_n < CLASSIFY_S * rate:
                head.append(d[: CLASSIFY_S * rate - head_n])
                head_n += head[-1].size
            if progress is not None:
                progress(summary.n)
    if not summary.n:
        raise ValueError("the recording has no samples")
    figures = summary.result()
    figures.update(
        processing_ms=round(elapsed * 1000, 3),
        realtime_factor=round((summary.n / rate) / max(elapsed, 1e-9), 2),
        resets=int(flt.resets),
        samples=int(summary.n),
    )
    classification = classify(np.concatenate(head)) if classify is not None and head else None
    return {"metrics": figures, "samples": summary.n, "classification": classification}
