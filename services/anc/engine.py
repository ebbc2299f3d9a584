"""From request parameters to a running filter: validation, defaults, metrics.

:func:`resolve` checks user parameters (``ValueError`` with the reason, which the
service returns as ``INVALID_ARGUMENT`` and the gateway as 400) and fills defaults
from :class:`services.anc.config.AncSettings`. :func:`process` runs a whole file,
:class:`StreamState` one live stream block by block.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from services.anc.config import ALGORITHMS, AncSettings
from services.anc.dsp import ALE, FDAF, LMS, MAX_TAPS, NLMS, FxNLMS, as_signal
from services.anc.dsp import metrics as m

__all__ = [
    "DEFAULT_SECONDARY_PATH",
    "FilterSpec",
    "StreamState",
    "build",
    "decode_pcm",
    "process",
    "resolve",
]

DEFAULT_SECONDARY_PATH: tuple[float, ...] = (0.0, 0.0, 0.8, 0.15, 0.05)
"""Secondary path (loudspeaker to error microphone) assumed for FxNLMS on recorded files:
a 2-sample delay with a little smearing. Offline, the acoustic sum is simulated through
it and the model equals it."""

TWO_CHANNEL = frozenset({"nlms", "fdaf", "fxnlms", "lms"})


@dataclass(frozen=True)
class FilterSpec:
    """Validated filter parameters.

    Attributes:
        algorithm: one of ``nlms, fdaf, fxnlms, lms, ale``.
        taps: filter length (samples).
        mu: step size.
        block_size: FDAF block (samples, power of two).
        delay: ALE delay (samples).
        constrained: FDAF gradient constraint.
    """

    algorithm: str
    taps: int
    mu: float
    block_size: int
    delay: int
    constrained: bool

    @property
    def channels(self) -> int:
        """Input channels the algorithm needs: 2 (primary + reference) or 1 (``ale``)."""
        return 1 if self.algorithm == "ale" else 2

    def as_dict(self) -> dict[str, Any]:
        """Plain dict of the parameters."""
        return asdict(self)


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an integer, got {value!r}") from None
    if not math.isfinite(f) or f != int(f):
        raise ValueError(f"{name} must be a finite integer, got {value!r}")
    return int(f)


def resolve(settings: AncSettings, **given: Any) -> FilterSpec:
    """Validate request parameters and fill the defaults.

    Args:
        settings: the service settings (defaults).
        given: ``algorithm``, ``taps``, ``mu``, ``block_size``, ``delay``,
            ``constrained``; ``None`` (or 0 / empty from protobuf) means default.

    Raises:
        ValueError: unknown algorithm; taps outside 1..16384; mu not finite or outside
            (0, 2] (LMS: any finite positive value); FDAF block size not a power of two
            or over 65536; delay outside 1..65536.
    """
    algorithm = (given.get("algorithm") or settings.default_algorithm).strip().lower()
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}; choose from {', '.join(ALGORITHMS)}")
    taps = given.get("taps")
    taps = settings.filter_taps if taps in (None, 0) else _int(taps, "taps")
    if not 1 <= taps <= MAX_TAPS:
        raise ValueError(f"taps must be between 1 and {MAX_TAPS}, got {taps}")
    mu_raw: Any = given.get("mu")
    if mu_raw is None or mu_raw == 0:
        mu = {"ale": 0.05, "fxnlms": 0.1}.get(algorithm, settings.mu)
    else:
        try:
            mu = float(mu_raw)
        except (TypeError, ValueError):
            raise ValueError(f"mu must be a number, got {mu_raw!r}") from None
        if not math.isfinite(mu) or mu <= 0:
            raise ValueError(f"mu must be finite and positive, got {mu_raw!r}")
        if algorithm != "lms" and mu > 2:
            raise ValueError(f"mu must be at most 2 for the normalised {algorithm} (stability), got {mu}")
    block = given.get("block_size")
    block = settings.block_size if block in (None, 0) else _int(block, "block_size")
    if block < 1 or block > 65536 or block & (block - 1):
        raise ValueError(f"block_size must be a power of two between 1 and 65536, got {block}")
    delay = given.get("delay")
    delay = 64 if delay in (None, 0) else _int(delay, "delay")
    if not 1 <= delay <= 65536:
        raise ValueError(f"delay must be between 1 and 65536 samples, got {delay}")
    constrained = not bool(given.get("unconstrained", False))
    if "constrained" in given and given["constrained"] is not None:
        constrained = bool(given["constrained"])
    return FilterSpec(algorithm, taps, mu, block, delay, constrained)


def build(spec: FilterSpec, reference_power: float | None = None) -> Any:
    """A new streaming filter for ``spec`` (every filter has ``process(x, d)``).

    For ``lms`` without an explicit step, ``mu`` is divided by ``taps * reference_power``
    so the default is stable whatever the input level.
    """
    if spec.algorithm == "nlms":
        return NLMS(spec.taps, spec.mu)
    if spec.algorithm == "fdaf":
        return FDAF(spec.taps, spec.block_size, spec.mu, constrained=spec.constrained)
    if spec.algorithm == "fxnlms":
        return FxNLMS(spec.taps, DEFAULT_SECONDARY_PATH, spec.mu)
    if spec.algorithm == "lms":
        mu = spec.mu / (spec.taps * max(reference_power or 1.0, 1e-8))
        return LMS(spec.taps, mu)
    return ALE(spec.taps, spec.delay, spec.mu)


def decode_pcm(data: bytes, name: str) -> NDArray[np.float64]:
    """float32 little-endian PCM bytes -> float64 samples.

    Raises:
        ValueError: byte count not a multiple of 4, or NaN / Inf samples.
    """
    if len(data) % 4:
        raise ValueError(f"{name}: {len(data)} bytes is not a whole number of float32 samples")
    return as_signal(np.frombuffer(data, dtype="<f4"), name)


def process(
    spec: FilterSpec, primary: NDArray[Any], reference: NDArray[Any] | None, sample_rate: int
) -> tuple[NDArray[np.float32], dict[str, Any]]:
    """Run one file through a new filter.

    Args:
        spec: validated parameters.
        primary: primary / error microphone samples ``(n,)`` (the only channel for ``ale``).
        reference: reference microphone samples ``(n,)``; ``None`` for ``ale``.
        sample_rate: Hz.

    Returns:
        ``(output float32 (n,), metrics)`` with the keys of
        :func:`services.anc.dsp.metrics.summary` plus ``processing_ms``,
        ``realtime_factor``, ``resets`` and ``samples``.

    Raises:
        ValueError: missing or extra reference for the algorithm, lengths differ, empty
            or non-finite input.
    """
    d = as_signal(primary, "primary")
    if not d.size:
        raise ValueError("the recording has no samples")
    if spec.channels == 2:
        if reference is None:
            raise ValueError(f"{spec.algorithm} needs a reference channel (stereo file or two files)")
        x = as_signal(reference, "reference")
        if x.shape != d.shape:
            raise ValueError(f"primary and reference lengths differ: {d.size} vs {x.size} samples")
    else:
        x = d
    flt = build(spec, float(np.mean(x * x)))
    started = time.perf_counter()
    e = flt.process(x, d) if spec.channels == 2 else flt.process(d)
    elapsed = time.perf_counter() - started
    out = np.clip(np.nan_to_num(e, nan=0.0, posinf=0.0, neginf=0.0), -1.0, 1.0).astype(np.float32)
    figures = m.summary(d, e, sample_rate)
    figures.update(
        processing_ms=round(elapsed * 1000, 3),
        realtime_factor=round((d.size / sample_rate) / max(elapsed, 1e-9), 2),
        resets=int(flt.resets),
        samples=int(d.size),
    )
    return out, figures


class StreamState:
    """One live stream: a filter plus running metrics.

    Args:
        spec: validated parameters.
        sample_rate: Hz.
    """

    def __init__(self, spec: FilterSpec, sample_rate: int) -> None:
        self.spec = spec
        self.sample_rate = sample_rate
        self.filter = build(spec, 0.1 if spec.algorithm == "lms" else None)
        self.blocks = 0
        self.samples = 0
        self.d2 = 0.0
        self.e2 = 0.0
        self.recent_d2 = 0.0
        self.recent_e2 = 0.0
        self.dsp_total_s = 0.0
        self.dsp_max_s = 0.0
        self.convergence_ms: float | None = None
        self.history = np.zeros(sample_rate, dtype=np.float64)  # last second of primary

    def block(
        self, primary: NDArray[np.float64], reference: NDArray[np.float64] | None
    ) -> tuple[NDArray[np.float32], float]:
        """Process one block; returns ``(output float32, dsp seconds)``.

        Raises:
            ValueError: missing reference, lengths differ, empty or non-finite input
                (the filter state is untouched).
        """
        if not primary.size:
            raise ValueError("empty audio block")
        if self.spec.channels == 2:
            if reference is None or not reference.size:
                raise ValueError(f"{self.spec.algorithm} needs primary and reference channels")
            if reference.shape != primary.shape:
                raise ValueError(f"channel lengths differ: {primary.size} vs {reference.size} samples")
        started = time.perf_counter()
        if self.spec.channels == 2:
            e = self.filter.process(reference, primary)
        else:
            e = self.filter.process(primary)
        dt = time.perf_counter() - started
        self.blocks += 1
        self.samples += primary.size
        d2, e2 = float(np.dot(primary, primary)), float(np.dot(e, e))
        self.d2 += d2
        self.e2 += e2
        self.recent_d2 += d2
        self.recent_e2 += e2
        self.dsp_total_s += dt
        self.dsp_max_s = max(self.dsp_max_s, dt)
        if self.convergence_ms is None and d2 > 1e-12 and d2 >= 100.0 * e2:
            self.convergence_ms = round(1000.0 * self.samples / self.sample_rate, 2)
        n = min(primary.size, self.history.size)
        self.history = np.roll(self.history, -n)
        self.history[-n:] = primary[-n:]
        return np.clip(e, -1.0, 1.0).astype(np.float32), dt

    def metrics(self) -> dict[str, Any]:
        """Running metrics; resets the "recent" window."""

        def db(a: float, b: float) -> float:
            return round(10 * math.log10((a + 1e-20) / (b + 1e-20)), 2)

        out = {
            "blocks": self.blocks,
            "samples": self.samples,
            "attenuation_db": db(self.d2, self.e2),
            "recent_attenuation_db": db(self.recent_d2, self.recent_e2),
            "convergence_time_ms": self.convergence_ms,
            "dsp_ms_mean": round(1000 * self.dsp_total_s / max(self.blocks, 1), 4),
            "dsp_ms_max": round(1000 * self.dsp_max_s, 4),
            "resets": int(self.filter.resets),
        }
        self.recent_d2 = self.recent_e2 = 0.0
        return out
