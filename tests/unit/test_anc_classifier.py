"""The noise classifier: the committed skops model loads, is accurate on fresh data, flags emergencies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from services.anc import noise
from services.common import audio

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return audio.decode(FIXTURES / "weekly_sync.wav", sample_rate=noise.FEATURE_RATE).astype(np.float64)


@pytest.fixture(scope="module")
def model() -> object:
    return noise.load_model()


def test_model_file_is_small_skops_with_only_trusted_types() -> None:
    import skops.io as sio

    assert noise.MODEL_PATH.suffix == ".skops" and noise.MODEL_PATH.stat().st_size < 200_000
    untrusted = sio.get_untrusted_types(file=noise.MODEL_PATH)
    assert set(untrusted) <= set(noise.TRUSTED_TYPES)


def test_accuracy_on_a_freshly_generated_held_out_set(model: object, speech: np.ndarray) -> None:
    from sklearn.metrics import accuracy_score, confusion_matrix

    x, y = noise.synthesise(12, seed=424242, speech=speech)  # seeds never used in training
    pred = model.predict(x)  # type: ignore[attr-defined]
    acc = accuracy_score(y, pred)
    cm = confusion_matrix(y, pred, labels=list(noise.CLASSES))
    assert acc >= 0.95, f"accuracy {acc:.3f}\n{cm}"
    assert set(model.classes_) == set(noise.CLASSES)  # type: ignore[attr-defined]


def test_corpus_is_reproducible(speech: np.ndarray) -> None:
    a = noise.synthesise(1, seed=5, speech=speech)
    b = noise.synthesise(1, seed=5, speech=speech)
    c = noise.synthesise(1, seed=6, speech=speech)
    assert np.array_equal(a[0], b[0]) and list(a[1]) == list(b[1])
    assert not np.array_equal(a[0], c[0])


def _siren(rate: int, seconds: float = 3.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    f = 950 + 350 * np.sin(2 * np.pi * 0.4 * t)
    return 0.3 * np.sin(2 * np.pi * np.cumsum(f) / rate)


def test_emergency_thresholds_and_unknown(model: object) -> None:
    siren = _siren(48000)
    on = noise.NoiseClassifier(model, 0.7, True, 0.85).classify(siren, 48000)
    assert on.top_class == "siren" and on.label == "siren" and on.emergency
    off = noise.NoiseClassifier(model, 0.7, False, 0.85).classify(siren, 48000)
    assert off.label == "siren" and not off.emergency
    strict = noise.NoiseClassifier(model, 1.0, True, 1.0).classify(siren, 48000)
    assert strict.label == "unknown" and strict.top_class == "siren" and not strict.emergency
    hum = 0.2 * np.sin(2 * np.pi * 60 * np.arange(48000) / 48000)
    r = noise.NoiseClassifier(model).classify(
        hum + 0.2 * np.sin(2 * np.pi * 180 * np.arange(48000) / 48000), 48000
    )
    assert r.label == "hum" and not r.emergency


def test_classify_rejects_bad_samples(model: object) -> None:
    clf = noise.NoiseClassifier(model)
    with pytest.raises(ValueError):
        clf.classify(np.array([0.1, np.nan]), 16000)
    with pytest.raises(ValueError):
        clf.classify(np.array([]), 16000)
