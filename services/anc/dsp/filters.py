"""Adaptive filters for noise cancellation: LMS, NLMS, FDAF, FxNLMS and ALE.

Every filter is *streaming*: its state (weights, input history, power estimates,
partly filled blocks) is carried across calls, a call may bring any number of
samples, and feeding a signal at once or in pieces gives the same output (up to
floating-point rounding of the FFT for :class:`FDAF`, below 1e-12 relative).

Conventions
-----------
* ``x`` is the *reference* signal (a microphone near the noise source) and ``d`` the
  *desired* / *primary* signal (the error microphone: wanted sound plus noise that is
  correlated with ``x``). Both are 1-D arrays of samples, same length, finite.
* The filter output ``y`` estimates the part of ``d`` predictable from ``x``; the
  returned *error* ``e = d - y`` is the cleaned signal (the residual noise plus
  whatever in ``d`` is uncorrelated with ``x``).
* ``taps`` (L) is the FIR length in samples, ``mu`` the step size (dimensionless).
* Samples are processed in float64; input may be any real dtype.

Stability
---------
Normalisations are regularised (``power + eps``). After every block (``FDAF``) or
every ``taps`` samples (sample filters) the filter checks that its output and weights
are finite and that the error energy has not grown ``divergence_ratio`` (100, i.e. 20 dB) times past the
desired signal's energy; if it has, the weights and power estimates are reset, the
block's output falls back to ``d`` and :attr:`AdaptiveFilter.resets` is incremented.
Output is never NaN or Inf. Non-finite *input* is rejected with ``ValueError``.

Sources
-------
* S. Haykin, *Adaptive Filter Theory*, 5th ed., Pearson 2014: LMS (ch. 6), NLMS
  (ch. 7), the adaptive line enhancer.
* J. J. Shynk, "Frequency-domain and multirate adaptive filtering", IEEE Signal
  Processing Magazine 9(1), 1992: overlap-save FDAF, constrained and unconstrained,
  per-bin step normalisation.
* S. M. Kuo and D. R. Morgan, *Active Noise Control Systems*, Wiley 1996: filtered-x
  LMS with a secondary-path model.
* B. Widrow et al., "Adaptive noise cancelling: principles and applications",
  Proc. IEEE 63(12), 1975: noise cancelling and the line enhancer.
"""

from __future__ import annotations

import abc
import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from services.anc.dsp._fft import RealFFT

try:  # in-place y += a*x without a temporary (BLAS daxpy)
    from scipy.linalg.blas import daxpy as _daxpy
except ImportError:  # pragma: no cover - scipy is part of the anc extra
    _daxpy = None

__all__ = [
    "ALE",
    "FDAF",
    "LMS",
    "MAX_TAPS",
    "NLMS",
    "AdaptiveFilter",
    "FxNLMS",
    "as_signal",
]

MAX_TAPS = 16384
"""Largest filter length accepted (samples)."""

Array = NDArray[np.float64]


def as_signal(values: ArrayLike, name: str) -> Array:
    """Validate a 1-D finite real signal and return it as contiguous float64.

    Raises
    ------
    ValueError
        Not 1-D, or containing NaN or Inf.
    """
    arr = np.ascontiguousarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (samples,), got shape {arr.shape}")
    if arr.size and not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or Inf samples")
    return arr


def _check_pair(x: ArrayLike, d: ArrayLike) -> tuple[Array, Array]:
    xs, ds = as_signal(x, "reference x"), as_signal(d, "desired d")
    if xs.shape != ds.shape:
        raise ValueError(f"reference and desired lengths differ: {xs.shape[0]} vs {ds.shape[0]} samples")
    return xs, ds


def _check_taps(taps: int) -> int:
    if isinstance(taps, bool) or not isinstance(taps, int | np.integer) or not 1 <= taps <= MAX_TAPS:
        raise ValueError(f"taps must be an integer in [1, {MAX_TAPS}], got {taps!r}")
    return int(taps)


def _check_positive(value: float, name: str, upper: float | None = None) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v) or v <= 0 or (upper is not None and v > upper):
        bound = f" and at most {upper:g}" if upper is not None else ""
        raise ValueError(f"{name} must be finite, positive{bound}; got {value!r}")
    return v


class AdaptiveFilter(abc.ABC):
    """Common interface of the adaptive filters.

    Attributes
    ----------
    taps : int
        Filter length L in samples.
    mu : float
        Step size.
    resets : int
        How many times divergence was detected and the filter reset.
    samples : int
        Samples processed since creation.
    """

    taps: int
    mu: float
    divergence_ratio = 100.0
    """Error energy over desired energy (per check) above which the filter counts as
    diverged: 100 = the output 20 dB louder than the input."""

    def __init__(self) -> None:
        self.resets = 0
        self.samples = 0

    @property
    @abc.abstractmethod
    def weights(self) -> Array:
        """Current FIR weights, shape ``(taps,)``; ``weights[i]`` multiplies ``x[n - i]``."""

    @abc.abstractmethod
    def reset(self) -> None:
        """Forget everything learnt (weights, power estimates); keep the input history."""

    @abc.abstractmethod
    def process(self, x: ArrayLike, d: ArrayLike) -> Array:
        """Filter one piece of the stream.

        Parameters
        ----------
        x : array_like, shape (n,)
            Reference samples.
        d : array_like, shape (n,)
            Desired (primary) samples.

        Returns
        -------
        ndarray, shape (n,), float64
            The error signal ``e = d - y``, the cleaned output.

        Raises
        ------
        ValueError
            Shapes differ, not 1-D, or NaN/Inf samples.
        """


class _SampleFilter(AdaptiveFilter):
    """Sample-by-sample transversal filter with a doubled circular delay line.

    Writing each new sample at ``pos`` and ``pos + L`` keeps ``buf[pos:pos + L]`` a
    contiguous view of the last L samples, newest first, without shifting memory.
    """

    normalised = False

    def __init__(self, taps: int = 512, mu: float = 0.5, eps: float = 1e-6) -> None:
        super().__init__()
        self.taps = _check_taps(taps)
        self.mu = _check_positive(mu, "mu", 2.0 if self.normalised else None)
        self.eps = _check_positive(eps, "eps")
        self._w = np.zeros(self.taps)
        self._buf = np.zeros(2 * self.taps)
        self._pos = 0
        self._energy = 0.0

    @property
    def weights(self) -> Array:
        return self._w.copy()

    def reset(self) -> None:
        self._w[:] = 0.0

    def process(self, x: ArrayLike, d: ArrayLike) -> Array:
        with np.errstate(over="ignore", invalid="ignore"):
            return self._process(x, d)

    def _process(self, x: ArrayLike, d: ArrayLike) -> Array:
        xs, ds = _check_pair(x, d)
        out = np.empty_like(ds)
        L = self.taps
        w, buf = self._w, self._buf
        mu, eps, norm = self.mu, self.eps, self.normalised
        pos, energy = self._pos, self._energy
        dot = np.dot
        axpy = _daxpy
        check_every = max(L, 256)
        block_start = 0
        # Checks happen at absolute sample counts, so chunking never changes the output.
        phase = self.samples % check_every
        for n in range(xs.shape[0]):
            xn = float(xs[n])
            pos = pos - 1 if pos else L - 1
            old = buf[pos]
            buf[pos] = xn
            buf[pos + L] = xn
            u = buf[pos : pos + L]
            e = float(ds[n]) - float(dot(w, u))
            out[n] = e
            if norm:
                energy += xn * xn - old * old
                step = mu * e / (eps + (energy if energy > 0.0 else 0.0))
            else:
                step = mu * e
            if axpy is not None:
                axpy(u, w, a=step)
            else:  # pragma: no cover
                w += step * u
            if (phase + n + 1) % check_every == 0:
                energy = float(dot(u, u))  # drop accumulated rounding
                self._guard(out, ds, block_start, n + 1)
                block_start = n + 1
        if block_start < xs.shape[0]:
            self._guard(out, ds, block_start, xs.shape[0])
        self._pos, self._energy = pos, energy
        self.samples += xs.shape[0]
        return out

    def _guard(self, out: Array, d: Array, start: int, stop: int) -> None:
        seg = out[start:stop]
        e2 = float(np.dot(seg, seg))
        d2 = float(np.dot(d[start:stop], d[start:stop]))
        if not (math.isfinite(e2) and np.isfinite(self._w).all()) or e2 > self.divergence_ratio * (
            d2 + 1e-12 * (stop - start)
        ):
            self.reset()
            self.resets += 1
            out[start:stop] = d[start:stop]


class LMS(_SampleFilter):
    """Least-mean-squares transversal filter (Widrow-Hoff), sample by sample.

    ``y[n] = w . u[n]``, ``e[n] = d[n] - y[n]``, ``w += mu * e[n] * u[n]`` with
    ``u[n] = (x[n], x[n-1], ..., x[n-L+1])`` (Haykin, ch. 6).

    Parameters
    ----------
    taps : int
        Filter length L in samples, 1..16384.
    mu : float
        Step size (> 0); stable for ``mu < 2 / (L * power(x))``.
    eps : float
        Unused by LMS (kept for a uniform signature).

    Raises
    ------
    ValueError
        Invalid ``taps`` or non-finite / non-positive ``mu``.
    """

    normalised = False

    def __init__(self, taps: int = 512, mu: float = 0.001, eps: float = 1e-6) -> None:
        super().__init__(taps, mu, eps)


class NLMS(_SampleFilter):
    """Normalised LMS, sample by sample (Haykin, ch. 7).

    ``w += mu * e[n] * u[n] / (eps + ||u[n]||^2)``. The input energy is updated
    recursively (one add and one subtract per sample) and recomputed every L samples.

    Parameters
    ----------
    taps : int
        Filter length L in samples, 1..16384.
    mu : float
        Normalised step size, ``0 < mu <= 2`` (fastest convergence at 1).
    eps : float
        Regulariser added to the input energy (squared amplitude units).

    Raises
    ------
    ValueError
        Invalid ``taps``, ``mu`` outside (0, 2] or ``eps`` not positive.
    """

    normalised = True

    def __init__(self, taps: int = 512, mu: float = 0.5, eps: float = 1e-6) -> None:
        super().__init__(taps, mu, eps)


class FDAF(AdaptiveFilter):
    """Frequency-domain block adaptive filter (overlap-save), per-bin normalised step.

    The block of B new reference samples and the L previous ones form an FFT frame of
    ``M = L + B`` points; the last B samples of the circular convolution
    ``IFFT(X * W)`` are the filter output (overlap-save). The error block, padded with
    L zeros in front, gives ``E``; the gradient ``conj(X) * E`` is normalised per bin
    by a smoothed power estimate ``P_k = lam * P_k + (1 - lam) * |X_k|^2``. The
    *constrained* filter projects the gradient onto the first L time-domain taps (two
    extra FFTs; the result is the exact block-LMS solution), the *unconstrained* one
    skips that projection (Shynk 1992, sections on "constrained" and
    "unconstrained" FDAF).

    Every FFT is a pyFFTW plan made once for this filter and run on its own aligned
    buffers (:class:`services.anc.dsp._fft.RealFFT`); per-bin updates are vectorised
    numpy operations writing into preallocated arrays. Weights stay constant within a
    block, so a partly filled block is output at once (no latency) and the weight
    update happens when it completes: output is identical for any chunking. (The
    *unconstrained* filter's circular part reaches ahead within a block, so there the
    identity holds for chunks of whole blocks; partial blocks are output with the
    block's future samples taken as zero.)

    Parameters
    ----------
    taps : int
        Filter length L in samples, 1..16384.
    block_size : int
        Block length B in samples, a power of two (default 1024).
    mu : float
        Step size, ``0 < mu <= 2`` (per bin, after normalisation).
    constrained : bool
        Apply the gradient constraint (default True).
    forgetting : float
        Power-estimate smoothing ``lam`` in [0, 1).
    eps : float
        Regulariser added to each bin's power, relative to ``M`` (squared amplitude).
    use_pyfftw : bool or None
        Force the FFT backend; ``None`` uses pyFFTW when installed.

    Raises
    ------
    ValueError
        Invalid taps, block size not a power of two, mu outside (0, 2], forgetting
        outside [0, 1) or eps not positive.
    """

    def __init__(
        self,
        taps: int = 512,
        block_size: int = 1024,
        mu: float = 0.5,
        constrained: bool = True,
        forgetting: float = 0.8,
        eps: float = 1e-8,
        use_pyfftw: bool | None = None,
    ) -> None:
        super().__init__()
        self.taps = L = _check_taps(taps)
        if (
            isinstance(block_size, bool)
            or not isinstance(block_size, int | np.integer)
            or block_size < 1
            or block_size > 1 << 20
            or block_size & (block_size - 1)
        ):
            raise ValueError(f"block_size must be a power of two (1 .. 2**20), got {block_size!r}")
        self.block_size = B = int(block_size)
        self.mu = _check_positive(mu, "mu", 2.0)
        lam = float(forgetting)
        if not (math.isfinite(lam) and 0.0 <= lam < 1.0):
            raise ValueError(f"forgetting must be in [0, 1), got {forgetting!r}")
        self.forgetting = lam
        self.eps = _check_positive(eps, "eps")
        self.constrained = bool(constrained)
        self.fft_size = M = L + B
        self._K = K = M // 2 + 1
        self._fx = RealFFT(M, use_pyfftw=use_pyfftw)  # x frame -> X
        self._iy = RealFFT(M, inverse=True, use_pyfftw=use_pyfftw)  # X W -> y
        self._fe = RealFFT(M, use_pyfftw=use_pyfftw)  # [0, e] -> E
        self.backend = self._fx.backend
        if self.constrained:
            self._ig = RealFFT(M, inverse=True, use_pyfftw=use_pyfftw)  # gradient -> time
            self._fg = RealFFT(M, use_pyfftw=use_pyfftw)  # first L taps -> frequency
        # Weights scaled by 1/M so the unnormalised inverse FFT gives y directly.
        self._W = np.zeros(K, dtype=np.complex128)
        self._P = np.zeros(K)
        self._abs2 = np.empty(K)
        self._g = np.empty(K)
        self._G = np.empty(K, dtype=np.complex128)
        self._primed = False
        self._fill = 0  # samples of the current block received so far
        self._d = np.zeros(B)  # desired samples of the current partial block
        self._eps_abs = self.eps * M
        # Unconstrained: dW = mu/M conj(X)E/P; constrained adds a 1/M from the inverse FFT.
        self._scale = self.mu / M if not self.constrained else self.mu / (M * M)

    @property
    def weights(self) -> Array:
        """Time-domain weights, shape ``(taps,)`` (the first L taps of ``IFFT(W)``)."""
        W = self._W * self.fft_size
        w = np.fft.irfft(W, n=self.fft_size)
        return np.asarray(w[: self.taps], dtype=np.float64)

    def reset(self) -> None:
        self._W[:] = 0
        self._P[:] = 0
        self._primed = False

    def process(self, x: ArrayLike, d: ArrayLike) -> Array:
        xs, ds = _check_pair(x, d)
        n = xs.shape[0]
        out = np.empty(n)
        L, B = self.taps, self.block_size
        frame = self._fx.inp
        i = 0
        # Finish a partly filled block first.
        if self._fill and n:
            k = self._fill
            m = min(B - k, n)
            frame[L + k : L + k + m] = xs[:m]
            self._d[k : k + m] = ds[:m]
            if k + m == B:
                self._blocks(self._d, k, 1, out[:m])
                self._fill = 0
            else:
                self._partial(k, m, out[:m])
                self._fill = k + m
            i = m
        # Whole blocks straight from the caller's arrays.
        full = (n - i) // B
        if full:
            self._run(xs[i : i + full * B], ds[i : i + full * B], out[i : i + full * B], full)
            i += full * B
        # Keep the tail as a partial block, output at once with the current weights.
        if i < n:
            m = n - i
            frame[L : L + m] = xs[i:]
            self._d[:m] = ds[i:]
            self._partial(0, m, out[i:])
            self._fill = m
        self.samples += n
        return out

    def _partial(self, k: int, m: int, dst: Array) -> None:
        """Output for samples ``k .. k+m`` of an incomplete block with the current weights."""
        L, M = self.taps, self.fft_size
        frame = self._fx.inp.copy()
        frame[L + k + m :] = 0.0  # future samples do not affect earlier outputs
        y = np.fft.irfft(np.fft.rfft(frame) * self._W, n=M, norm="forward")
        e = self._d[k : k + m] - y[L + k : L + k + m]
        self._fe.inp[L + k : L + k + m] = e
        dst[:] = e

    def _blocks(self, d_all: Array, k: int, count: int, out: Array) -> None:
        """Completion of the pending block (its reference is already in the frame)."""
        self._run(None, d_all, out, count, first=k)

    def _run(self, xs: Array | None, ds: Array, out: Array, count: int, first: int = 0) -> None:
        """Adapt over ``count`` whole blocks.

        ``xs``/``ds``/``out`` hold ``count * B`` samples (``xs is None``: the reference
        of the single pending block is already in the frame, and ``out`` only receives
        its samples from ``first`` on).
        """
        L, B = self.taps, self.block_size
        fx, iy, fe = self._fx, self._iy, self._fe
        fx_exec, iy_exec, fe_exec = fx.execute, iy.execute, fe.execute
        frame, X, iy_in, y_all, e_frame, E = fx.inp, fx.out, iy.inp, iy.out, fe.inp, fe.out
        x_new = frame[L:]
        e = e_frame[L:]
        y = y_all[L:]
        history, tail = frame[:L], frame[B:]
        W, P, abs2, g = self._W, self._P, self._abs2, self._g
        lam = self.forgetting
        eps = self._eps_abs / (1.0 - lam)
        scale = self._scale / (1.0 - lam)
        ratio = self.divergence_ratio
        constrained = self.constrained
        if constrained:
            G = self._ig.inp
            ig_exec, ig_out = self._ig.execute, self._ig.out
            fg_exec, fg_in_taps, fg_out = self._fg.execute, self._fg.inp[:L], self._fg.out
            ig_taps = ig_out[:L]
        else:
            G = self._G
        multiply, subtract, dot, conjugate, divide, add = (
            np.multiply,
            np.subtract,
            np.dot,
            np.conjugate,
            np.divide,
            np.add,
        )
        square, absolute = np.square, np.absolute
        d2_all = np.add.reduceat(ds * ds, np.arange(0, count * B, B)) if xs is not None else None
        for b in range(count):
            lo = b * B
            if xs is not None:
                x_new[:] = xs[lo : lo + B]
                d = ds[lo : lo + B]
                d2 = float(d2_all[b])  # type: ignore[index]
            else:
                d = ds
                d2 = float(dot(d, d))
            fx_exec()
            multiply(X, W, out=iy_in)
            iy_exec()
            if first:
                subtract(d[first:], y[first:], out=e[first:])
            else:
                subtract(d, y, out=e)
            e2 = float(dot(e, e))
            if e2 != e2 or e2 > ratio * (d2 + 1e-12 * B) or e2 == math.inf:
                self.reset()
                self.resets += 1
                e[:] = d
            else:
                fe_exec()
                square(absolute(X, out=abs2), out=abs2)  # |X_k|^2 (einsum is 4x slower here)
                if self._primed:
                    # Q = P / (1 - lam) obeys Q <- lam Q + |X|^2 (one op fewer per block).
                    P *= lam
                    P += abs2
                else:
                    multiply(abs2, 1.0 / (1.0 - lam), out=P)
                    self._primed = True
                add(P, eps, out=g)
                divide(scale, g, out=g)
                conjugate(X, out=G)
                G *= E
                G *= g
                if constrained:
                    ig_exec()
                    fg_in_taps[:] = ig_taps
                    fg_exec()
                    W += fg_out
                else:
                    W += G
            if xs is not None:
                out[lo : lo + B] = e
            else:
                out[:] = e[first:]
            history[:] = tail  # the last L reference samples become the history

    def process_blocks(self, x: ArrayLike, d: ArrayLike) -> Array:
        """Same as :meth:`process` (kept for symmetry with block-oriented callers)."""
        return self.process(x, d)


class FxNLMS(AdaptiveFilter):
    """Filtered-x NLMS for feedforward active noise control (Kuo and Morgan 1996).

    The control filter ``w`` turns the reference ``x`` into the loudspeaker signal
    ``y``; it reaches the error microphone through the secondary path ``s``, so the
    residual is ``e[n] = d[n] - (s * y)[n]``. The update uses the reference filtered by
    the secondary-path *model* ``s_hat``: ``x'[n] = (s_hat * x)[n]``,
    ``w += mu * e[n] * u'[n] / (eps + ||u'[n]||^2)``.

    Offline (files, streams) the acoustic sum is simulated with ``secondary_path``
    (default: the model itself, i.e. a perfect model).

    Parameters
    ----------
    taps : int
        Control filter length L in samples.
    secondary_path_model : array_like, shape (S,)
        FIR model ``s_hat`` of the secondary path (default ``[1.0]``: no path).
    mu : float
        Normalised step, ``0 < mu <= 2``.
    eps : float
        Regulariser of the filtered-reference energy.
    secondary_path : array_like or None
        The true path used to simulate the acoustic sum (default ``s_hat``).

    Raises
    ------
    ValueError
        Invalid taps, mu, eps, or a path that is empty, not 1-D or non-finite.
    """

    def __init__(
        self,
        taps: int = 512,
        secondary_path_model: ArrayLike | None = None,
        mu: float = 0.5,
        eps: float = 1e-6,
        secondary_path: ArrayLike | None = None,
    ) -> None:
        super().__init__()
        self.taps = _check_taps(taps)
        self.mu = _check_positive(mu, "mu", 2.0)
        self.eps = _check_positive(eps, "eps")
        s_hat = as_signal([1.0] if secondary_path_model is None else secondary_path_model, "secondary path")
        s_true = s_hat if secondary_path is None else as_signal(secondary_path, "secondary path")
        if not s_hat.size or not s_true.size:
            raise ValueError("secondary paths need at least one tap")
        self.s_hat = s_hat[::-1].copy()  # reversed for dot with a newest-last history
        self.s_true = s_true[::-1].copy()
        self._w = np.zeros(self.taps)
        self._xh = np.zeros(s_hat.size)  # last S_hat reference samples, newest last
        self._yh = np.zeros(s_true.size)  # last S control outputs, newest last
        self._ubuf = np.zeros(2 * self.taps)  # filtered reference delay line (doubled)
        self._xbuf = np.zeros(2 * self.taps)  # reference delay line (doubled)
        self._pos = 0

    @property
    def weights(self) -> Array:
        return self._w.copy()

    def reset(self) -> None:
        self._w[:] = 0.0

    def process(self, x: ArrayLike, d: ArrayLike) -> Array:
        xs, ds = _check_pair(x, d)
        n_total = xs.shape[0]
        out = np.empty(n_total)
        L = self.taps
        w, ub, xb, xh, yh = self._w, self._ubuf, self._xbuf, self._xh, self._yh
        s_hat, s_true = self.s_hat, self.s_true
        mu, eps = self.mu, self.eps
        pos = self._pos
        dot = np.dot
        check_every = max(L, 256)
        start = 0
        phase = self.samples % check_every
        for n in range(n_total):
            xn = float(xs[n])
            xh[:-1] = xh[1:]
            xh[-1] = xn
            fx = float(dot(s_hat, xh))
            pos = pos - 1 if pos else L - 1
            xb[pos] = xb[pos + L] = xn
            ub[pos] = ub[pos + L] = fx
            u = xb[pos : pos + L]
            uf = ub[pos : pos + L]
            yh[:-1] = yh[1:]
            yh[-1] = float(dot(w, u))
            e = float(ds[n]) - float(dot(s_true, yh))
            out[n] = e
            step = mu * e / (eps + float(dot(uf, uf)))
            if _daxpy is not None:
                _daxpy(uf, w, a=step)
            else:  # pragma: no cover
                w += step * uf
            if (phase + n + 1) % check_every == 0:
                self._guard(out, ds, start, n + 1)
                start = n + 1
        if start < n_total:
            self._guard(out, ds, start, n_total)
        self._pos = pos
        self.samples += n_total
        return out

    def _guard(self, out: Array, d: Array, start: int, stop: int) -> None:
        seg = out[start:stop]
        e2 = float(np.dot(seg, seg))
        d2 = float(np.dot(d[start:stop], d[start:stop]))
        if not (math.isfinite(e2) and np.isfinite(self._w).all()) or e2 > self.divergence_ratio * (
            d2 + 1e-12 * (stop - start)
        ):
            self.reset()
            self._yh[:] = 0.0
            self.resets += 1
            out[start:stop] = d[start:stop]


class ALE:
    """Adaptive line enhancer: delayed-input linear prediction (Widrow 1975; Haykin).

    The filter predicts ``s[n]`` from ``s[n - delay], ..., s[n - delay - L + 1]``.
    Periodic components (mains hum and its harmonics, engine tones) stay correlated
    across the delay and are predicted; broadband sound (speech, music) is not. The
    prediction ``y`` is the enhanced *tone*; the error ``e = s - y`` is the signal with
    the periodic noise removed, which :meth:`process` returns.

    Parameters
    ----------
    taps : int
        Predictor length L in samples.
    delay : int
        Decorrelation delay in samples (>= 1), longer than the correlation time of the
        broadband part (a few ms of speech).
    mu : float
        Normalised step, ``0 < mu <= 2``.
    method : {"nlms", "fdaf"}
        Sample-by-sample NLMS (default) or the block FDAF (much faster on long files).
    block_size : int
        FDAF block length (power of two) when ``method="fdaf"``.

    Raises
    ------
    ValueError
        Invalid taps, delay, mu or method.
    """

    def __init__(
        self,
        taps: int = 256,
        delay: int = 64,
        mu: float = 0.05,
        method: str = "nlms",
        block_size: int = 1024,
    ) -> None:
        if isinstance(delay, bool) or not isinstance(delay, int | np.integer) or not 1 <= delay <= 1 << 16:
            raise ValueError(f"delay must be an integer in [1, 65536] samples, got {delay!r}")
        self.delay = int(delay)
        self.inner: Any
        if method == "nlms":
            self.inner = NLMS(taps, mu)
        elif method == "fdaf":
            self.inner = FDAF(taps, block_size=block_size, mu=mu)
        else:
            raise ValueError(f"method must be 'nlms' or 'fdaf', got {method!r}")
        self.taps = self.inner.taps
        self.mu = self.inner.mu
        self._history = np.zeros(self.delay)

    @property
    def resets(self) -> int:
        """Divergence resets of the inner predictor."""
        return int(self.inner.resets)

    @property
    def weights(self) -> Array:
        """Predictor weights, shape ``(taps,)``."""
        return np.asarray(self.inner.weights)

    def reset(self) -> None:
        """Forget the predictor's weights."""
        self.inner.reset()

    def process(self, s: ArrayLike, d: ArrayLike | None = None) -> Array:
        """Remove periodic noise from one piece of a single-channel stream.

        Parameters
        ----------
        s : array_like, shape (n,)
            Signal samples.
        d : ignored
            Accepted so every filter takes ``(x, d)``; must be ``None`` or equal ``s``.

        Returns
        -------
        ndarray, shape (n,)
            ``s`` minus its predictable (periodic) part.
        """
        sig = as_signal(s, "signal")
        joined = np.concatenate([self._history, sig])
        delayed = joined[: sig.shape[0]]
        self._history = joined[sig.shape[0] :].copy()
        out: Array = self.inner.process(delayed, sig)
        return out

    def enhance(self, s: ArrayLike) -> tuple[Array, Array]:
        """Like :meth:`process` but return ``(tone, residual)``: the prediction and the error."""
        sig = as_signal(s, "signal")
        e = self.process(sig)
        return sig - e, e
