"""Earshot's adaptive filtering library (importable on its own: numpy, optional pyFFTW).

* :class:`LMS`, :class:`NLMS`: sample-by-sample reference implementations.
* :class:`FDAF`: frequency-domain block adaptive filter (overlap-save, constrained or
  unconstrained, per-bin normalised step) on pyFFTW plans made once per filter.
* :class:`FxNLMS`: filtered-x NLMS with a secondary-path model (feedforward ANC).
* :class:`ALE`: adaptive line enhancer (delayed-input NLMS) for periodic noise.
* :mod:`services.anc.dsp.metrics`: attenuation (dB, overall and per octave band),
  convergence time, misalignment.

All filters stream: state is carried across calls of any length. See
:mod:`services.anc.dsp.filters` for conventions and sources.
"""

from services.anc.dsp._fft import HAVE_PYFFTW, RealFFT, fft_backend
from services.anc.dsp.filters import ALE, FDAF, LMS, MAX_TAPS, NLMS, AdaptiveFilter, FxNLMS, as_signal

__all__ = [
    "ALE",
    "FDAF",
    "HAVE_PYFFTW",
    "LMS",
    "MAX_TAPS",
    "NLMS",
    "AdaptiveFilter",
    "FxNLMS",
    "RealFFT",
    "as_signal",
    "fft_backend",
]
