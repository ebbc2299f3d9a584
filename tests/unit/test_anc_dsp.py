"""The adaptive filter library: convergence, streaming equivalence, stability, validation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import lfilter

from services.anc import engine
from services.anc.config import load_anc_settings
from services.anc.dsp import ALE, FDAF, HAVE_PYFFTW, LMS, NLMS, FxNLMS, RealFFT
from services.anc.dsp import metrics as m

FS = 16000


def _system(n: int, seed: int = 0, colored: bool = False, taps: int = 64, noise_db: float = -60.0):
    """Reference x, desired d = h * x + v, and the true path h (system identification)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    if colored:
        x = lfilter([1.0], [1.0, -0.9], x)
        x /= x.std()
    h = rng.standard_normal(taps) * np.exp(-np.arange(taps) / (taps / 6))
    h /= np.linalg.norm(h)
    y = lfilter(h, [1.0], x)
    d = y + rng.standard_normal(n) * y.std() * 10 ** (noise_db / 20)
    return x, d, h


def _filters() -> dict[str, object]:
    return {
        "lms": LMS(128, mu=0.002),
        "nlms": NLMS(128, mu=0.5),
        "fdaf": FDAF(128, block_size=64, mu=0.5),
        "fdaf-unconstrained": FDAF(128, block_size=128, mu=0.3, constrained=False),
        "fdaf-numpy": FDAF(128, block_size=64, mu=0.5, use_pyfftw=False),
    }


@pytest.mark.parametrize("name", list(_filters()))
def test_filters_identify_an_unknown_path(name: str) -> None:
    x, d, h = _system(40000, seed=1)
    flt = _filters()[name]
    e = flt.process(x, d)  # type: ignore[attr-defined]
    tail = slice(-8000, None)
    assert m.attenuation_db(d[tail], e[tail]) > (30 if name == "lms" else 45)
    assert m.misalignment_db(flt.weights, h) < (-20 if name == "lms" else -35)  # type: ignore[attr-defined]
    assert np.isfinite(e).all()


def test_fdaf_converges_on_coloured_noise_within_100_ms() -> None:
    # The benchmark's conditions (48 kHz, 256-tap path, 512-tap filter, AR(1) rho 0.9), 2 s.
    x, d, _ = _system(96000, seed=2, colored=True, taps=256)
    e = FDAF(512, block_size=512, mu=0.5).process(x, d)
    t20 = m.convergence_time(d, e, 48000)
    assert t20 is not None and t20 <= 0.1
    assert m.attenuation_db(d[-48000:], e[-48000:]) > 55


@pytest.mark.parametrize("name", ["lms", "nlms", "fdaf", "fdaf-unconstrained", "fdaf-numpy", "fxnlms", "ale"])
def test_streaming_in_pieces_equals_all_at_once(name: str) -> None:
    x, d, _ = _system(9000, seed=3)

    def make() -> object:
        if name == "fxnlms":
            return FxNLMS(64, [0.0, 0.9, 0.1], mu=0.3)
        if name == "ale":
            return ALE(64, delay=8, mu=0.05)
        return _filters()[name]

    whole_f, piece_f = make(), make()
    if name == "ale":
        whole = whole_f.process(d)  # type: ignore[attr-defined]
    else:
        whole = whole_f.process(x, d)  # type: ignore[attr-defined]
    rng = np.random.default_rng(4)
    cuts = np.sort(rng.choice(np.arange(1, 9000), size=40, replace=False))
    if name == "fdaf-unconstrained":  # its circular part reaches ahead in a block: whole blocks
        cuts = np.unique(cuts // 128 * 128)[1:]
    parts = []
    for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, 9000], strict=True):
        if name == "ale":
            parts.append(piece_f.process(d[lo:hi]))  # type: ignore[attr-defined]
        else:
            parts.append(piece_f.process(x[lo:hi], d[lo:hi]))  # type: ignore[attr-defined]
    pieces = np.concatenate(parts)
    assert pieces.shape == whole.shape
    np.testing.assert_allclose(pieces, whole, rtol=0, atol=1e-9)
    if not name.startswith("fdaf"):
        assert np.array_equal(pieces, whole)  # sample filters: bit for bit


def test_pyfftw_and_numpy_backends_agree() -> None:
    assert HAVE_PYFFTW, "pyFFTW (the anc extra) must be installed for the test environment"
    x, d, _ = _system(5000, seed=5)
    a = FDAF(128, block_size=64, mu=0.5, use_pyfftw=True)
    b = FDAF(128, block_size=64, mu=0.5, use_pyfftw=False)
    assert a.backend == "pyfftw" and b.backend == "numpy"
    np.testing.assert_allclose(a.process(x, d), b.process(x, d), atol=1e-9)


def test_real_fft_plans_are_unnormalised_round_trips() -> None:
    fwd, inv = RealFFT(64), RealFFT(64, inverse=True)
    sig = np.random.default_rng(0).standard_normal(64)
    fwd.inp[:] = sig
    fwd.execute()
    np.testing.assert_allclose(fwd.out, np.fft.rfft(sig), atol=1e-10)
    inv.inp[:] = fwd.out
    inv.execute()
    np.testing.assert_allclose(inv.out, 64 * sig, atol=1e-9)


@pytest.mark.parametrize("flt", [LMS(32, mu=50.0), NLMS(32, mu=2.0, eps=1e-30), FDAF(32, 32, mu=2.0)])
def test_divergence_is_detected_and_output_stays_finite(flt: object) -> None:
    rng = np.random.default_rng(6)
    x = rng.standard_normal(20000) * 100.0
    d = lfilter([0.5, -0.3], [1.0], x)
    e = flt.process(x, d)  # type: ignore[attr-defined]
    assert np.isfinite(e).all()
    if isinstance(flt, LMS):
        assert flt.resets > 0


def test_silence_in_silence_out() -> None:
    z = np.zeros(5000)
    for flt in (NLMS(64), FDAF(64, 64), LMS(64, 0.01), FxNLMS(16)):
        assert np.array_equal(flt.process(z, z), z)


def test_fxnlms_cancels_tonal_and_broadband_noise_through_a_secondary_path() -> None:
    rng = np.random.default_rng(7)
    n = 4 * FS
    t = np.arange(n) / FS
    x = np.sin(2 * np.pi * 150 * t) + 0.5 * np.sin(2 * np.pi * 420 * t) + 0.3 * rng.standard_normal(n)
    primary = np.array([0.0, 0.0, 0.0, 0.0, 0.9, 0.4, -0.2, 0.1])
    secondary = np.array([0.0, 0.8, 0.3, -0.1])
    d = lfilter(primary, [1.0], x)
    f = FxNLMS(64, secondary_path_model=secondary, mu=0.2, secondary_path=secondary)
    e = f.process(x, d)
    assert m.attenuation_db(d[-FS:], e[-FS:]) > 25


def test_ale_removes_mains_hum_and_keeps_broadband_sound() -> None:
    rng = np.random.default_rng(8)
    n = 4 * FS
    t = np.arange(n) / FS
    hum = sum(0.5 / k * np.sin(2 * np.pi * 50 * k * t) for k in (1, 2, 3))
    broadband = 0.05 * rng.standard_normal(n)
    e = ALE(256, delay=32, mu=0.05).process(hum + broadband)
    residual_hum = e[-FS:] - broadband[-FS:]
    assert m.attenuation_db(hum[-FS:], residual_hum) > 15  # hum removed
    assert abs(m.attenuation_db(broadband[-FS:], e[-FS:])) < 2  # broadband kept


@pytest.mark.parametrize(
    "make",
    [
        lambda: NLMS(0),
        lambda: NLMS(16385),
        lambda: NLMS(16, mu=float("nan")),
        lambda: NLMS(16, mu=3.0),
        lambda: FDAF(16, block_size=1000),
        lambda: FDAF(16, block_size=64, mu=float("inf")),
        lambda: FDAF(16, block_size=64, forgetting=1.0),
        lambda: ALE(16, delay=0),
        lambda: FxNLMS(16, secondary_path_model=[float("nan")]),
    ],
)
def test_invalid_parameters_raise(make: object) -> None:
    with pytest.raises(ValueError):
        make()  # type: ignore[operator]


def test_invalid_signals_raise_and_leave_state_untouched() -> None:
    f = NLMS(16)
    with pytest.raises(ValueError, match="NaN or Inf"):
        f.process([0.0, np.nan], [0.0, 0.0])
    with pytest.raises(ValueError, match="lengths differ"):
        f.process(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="1-D"):
        f.process(np.zeros((2, 2)), np.zeros((2, 2)))
    assert f.samples == 0


def test_metrics_figures() -> None:
    d = np.ones(1000)
    assert m.attenuation_db(d, 0.1 * d) == pytest.approx(20.0)
    rng = np.random.default_rng(9)
    noise = rng.standard_normal(FS)
    e = noise.copy()
    e[FS // 2 :] *= 0.01  # 40 dB quieter after 0.5 s
    t = m.convergence_time(noise, e, FS)
    assert t is not None and 0.5 <= t <= 0.52
    assert m.convergence_time(noise, noise, FS) is None
    bands = m.octave_band_attenuation(noise, 0.1 * noise, FS)
    assert set(bands) >= {"125", "1000", "4000"} and "16000" not in bands
    assert all(v == pytest.approx(20.0, abs=0.01) for v in bands.values())
    assert m.misalignment_db([1.0, 0.0], [1.0, 0.0]) < -150
    s = m.summary(noise, e, FS)
    assert s["convergence_time_ms"] == pytest.approx(t * 1000, abs=0.01)


def test_resolve_fills_defaults_and_rejects_bad_parameters() -> None:
    s = load_anc_settings()
    spec = engine.resolve(s)
    assert (spec.algorithm, spec.taps, spec.block_size) == (s.default_algorithm, 512, 1024)
    assert engine.resolve(s, algorithm="FDAF", block_size=256).block_size == 256
    for bad in (
        {"algorithm": "wiener"},
        {"taps": 16385},
        {"taps": 2.5},
        {"mu": float("nan")},
        {"mu": -1},
        {"mu": 2.5},
        {"algorithm": "fdaf", "block_size": 1000},
        {"delay": 70000},
    ):
        with pytest.raises(ValueError):
            engine.resolve(s, **bad)
    assert engine.resolve(s, algorithm="lms", mu=10.0).mu == 10.0  # LMS step is not normalised


def test_settings_follow_the_seed_names(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.common.settings import ConfigurationError

    monkeypatch.setenv("ANC_FILTER_TAPS", "256")
    monkeypatch.setenv("ANC_DEFAULT_ALGORITHM", "fdaf")
    s = load_anc_settings()
    assert (s.filter_taps, s.default_algorithm) == (256, "fdaf")
    monkeypatch.setenv("ANC_BLOCK_SIZE", "1000")
    with pytest.raises(ConfigurationError, match="ANC_BLOCK_SIZE"):
        load_anc_settings()
