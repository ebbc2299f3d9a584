"""Real FFT plans bound to their own aligned buffers (pyFFTW, numpy fallback).

At the sizes adaptive filters use (1024-2048 points) the per-call overhead of
``numpy.fft`` or of the ``pyfftw.interfaces`` wrappers (argument checks, plan look-up,
copies into aligned memory) costs more than the transform itself. A
:class:`RealFFT` therefore owns one input and one output array and a plan made
once; callers write into ``inp`` in place and call :meth:`RealFFT.execute`.

Both directions are *unnormalised* (FFTW's convention): ``inverse(forward(x)) == n * x``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

try:  # pragma: no cover - exercised when pyFFTW is installed (the anc extra)
    import pyfftw

    HAVE_PYFFTW = True
except ImportError:  # pragma: no cover - the numpy fallback
    pyfftw = None
    HAVE_PYFFTW = False

__all__ = ["HAVE_PYFFTW", "RealFFT", "fft_backend"]


def _threads() -> int:
    """FFTW threads per plan: ``ANC_FFT_THREADS`` (default 1; a plan of 1-2 k points
    gains nothing from more threads)."""
    try:
        return max(1, int(os.environ.get("ANC_FFT_THREADS", "1")))
    except ValueError:
        return 1


def fft_backend(use_pyfftw: bool | None = None) -> str:
    """Name of the FFT backend a new plan would use: ``"pyfftw"`` or ``"numpy"``."""
    if use_pyfftw is None:
        use_pyfftw = HAVE_PYFFTW
    return "pyfftw" if (use_pyfftw and HAVE_PYFFTW) else "numpy"


class RealFFT:
    """One real-input FFT of ``n`` points in one direction, with its own buffers.

    Parameters
    ----------
    n : int
        Transform length in samples (any positive size; powers of two and small
        multiples of them are fastest).
    inverse : bool
        False: ``inp`` is real ``(n,)``, ``out`` is complex ``(n // 2 + 1,)``.
        True: ``inp`` is complex ``(n // 2 + 1,)``, ``out`` is real ``(n,)``
        (``inp`` may be overwritten by the transform).
    use_pyfftw : bool or None
        Force a backend; ``None`` picks pyFFTW when it is installed.

    Notes
    -----
    Plans use ``FFTW_MEASURE`` (made once per filter; wisdom is reused for later
    plans of the same size in the process).
    """

    def __init__(self, n: int, inverse: bool = False, use_pyfftw: bool | None = None) -> None:
        if n < 2:
            raise ValueError(f"FFT length must be >= 2, got {n}")
        self.n = n
        self.inverse = inverse
        self.backend = fft_backend(use_pyfftw)
        bins = n // 2 + 1
        self._plan: Any = None
        if self.backend == "pyfftw":
            real = pyfftw.empty_aligned(n, dtype="float64")
            cplx = pyfftw.empty_aligned(bins, dtype="complex128")
            if inverse:
                self._plan = pyfftw.FFTW(
                    cplx, real, direction="FFTW_BACKWARD", flags=("FFTW_MEASURE",), threads=_threads()
                )
                self.inp, self.out = cplx, real
            else:
                self._plan = pyfftw.FFTW(
                    real, cplx, direction="FFTW_FORWARD", flags=("FFTW_MEASURE",), threads=_threads()
                )
                self.inp, self.out = real, cplx
            self.inp[:] = 0
            self.out[:] = 0
            self.execute = self._plan.execute
        else:
            if inverse:
                self.inp = np.zeros(bins, dtype=np.complex128)
                self.out = np.zeros(n, dtype=np.float64)
            else:
                self.inp = np.zeros(n, dtype=np.float64)
                self.out = np.zeros(bins, dtype=np.complex128)
            self.execute = self._execute_numpy

    def _execute_numpy(self) -> None:
        if self.inverse:
            np.fft.irfft(self.inp, n=self.n, norm="forward", out=self.out)
        else:
            np.fft.rfft(self.inp, norm="backward", out=self.out)
