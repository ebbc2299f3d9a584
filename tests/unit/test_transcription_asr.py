"""ASR decoding choices of the local engine: Whisper's temperature fallback is on unless the
caller fixes a temperature, the model files are hash-checked, and background jobs are
routed by purpose."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from services.transcription import engine as e
from services.transcription import models
from services.transcription.config import load_transcription_settings
from services.transcription.service import background_model_name


class FakeModel:
    """Records the keyword arguments of ``transcribe`` and answers one segment."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.model = SimpleNamespace(is_multilingual=False)

    def transcribe(self, samples: np.ndarray, **kwargs: Any) -> tuple[Any, Any]:
        self.calls.append(kwargs)
        word = SimpleNamespace(word=" hello", start=0.1, end=0.5, probability=0.9)
        seg = SimpleNamespace(text=" hello", start=0.0, end=0.6, words=[word])
        return iter([seg]), SimpleNamespace(language="en")


def fake_engine() -> e.WhisperEngine:
    engine = object.__new__(e.WhisperEngine)
    engine.config = e.EngineConfig()
    engine._model = FakeModel()  # type: ignore[assignment]
    engine._lock = threading.Lock()
    engine.english_only = True
    engine.model_name = "fake"
    return engine


def test_temperature_fallback_is_on_by_default() -> None:
    engine = fake_engine()
    loud = np.sin(np.arange(16000) / 5).astype(np.float32) * 0.5
    engine.transcribe_samples(loud)
    call = engine._model.calls[-1]  # type: ignore[attr-defined]
    assert call["temperature"] == (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    assert call["compression_ratio_threshold"] == 2.4 and call["log_prob_threshold"] == -1.0
    engine.transcribe_samples(loud, temperature=0.3)  # the caller's choice is kept
    assert engine._model.calls[-1]["temperature"] == 0.3  # type: ignore[attr-defined]


def test_model_files_are_hash_checked(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"not the model")
    with pytest.raises(models.ModelError, match="SHA-256"):
        models.verify(tmp_path, {"model.bin": models.TINY_EN_SHA256["model.bin"]}, "test")
    with pytest.raises(models.ModelError, match="missing"):
        models.verify(tmp_path, {"config.json": "0" * 64}, "test")
    with pytest.raises(models.ModelError, match="CTranslate2"):
        models.whisper_folder(str(tmp_path / "nowhere"))


def test_whisper_base_is_joined_once_and_checked(tmp_path: Path) -> None:
    folder, name, checked = models.whisper_folder("base", tmp_path)
    assert name == "whisper-base" and checked
    assert models.sha256_file(folder / "model.bin") == models.BASE_SHA256["model.bin"]
    stamp = (folder / "model.bin").stat().st_mtime_ns
    assert models.whisper_folder("base", tmp_path)[0] == folder
    assert (folder / "model.bin").stat().st_mtime_ns == stamp  # not joined again
    with (folder / "model.bin").open("r+b") as fh:  # an altered file is rebuilt, not used
        fh.write(b"x")
    models.whisper_folder("base", tmp_path)
    assert models.sha256_file(folder / "model.bin") == models.BASE_SHA256["model.bin"]
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]  # no temporary left


def test_background_purposes_and_names() -> None:
    c = load_transcription_settings(background_purposes="meeting, memo")
    assert c.background("meeting") and c.background("memo")
    assert not c.background("temperature") and not c.background(None)
    assert c.background_model == "base" and c.background_beam_size == 5
    assert background_model_name("base") == "whisper-base"
    assert background_model_name("/models/large-v3/") == "large-v3"
