"""The long-audio path of the local engine with small windows, so a window boundary falls
inside speech: the utterance is carried over (no word lost or doubled), times stay in
order and absolute, progress rises to the end, and diarization works across windows."""

from __future__ import annotations

import asyncio
import copy
import io
import wave
from pathlib import Path

import numpy as np
import pytest

from services.common import audio
from services.transcription.engine import TranscribeOptions, WhisperEngine
from tests.conftest import FIXTURES, JFK, JFK_REFERENCE, Embedded
from tests.embedded.test_transcription_quality import wer


def _write(path: Path, samples: np.ndarray) -> None:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    path.write_bytes(buf.getvalue())


async def test_window_boundary_inside_speech(embedded: Embedded, tmp_path: Path) -> None:
    shared: WhisperEngine = embedded.platform.services["transcription"].engine
    engine = copy.copy(shared)  # same model and lock, smaller windows
    engine.long_audio_s, engine.window_s = 30.0, 60.0
    weekly = audio.decode(FIXTURES / "weekly_sync.wav")
    samples = np.concatenate([audio.decode(JFK), np.zeros(16000 * 10, np.float32), weekly])
    path = tmp_path / "long.wav"
    _write(path, samples)
    seen: list[float] = []
    transcript = await asyncio.to_thread(
        engine.transcribe_file, path, TranscribeOptions(diarize=True), lambda done, total: seen.append(done)
    )
    reference = (
        JFK_REFERENCE
        + " "
        + " ".join(line.split(" ", 5)[5] for line in (FIXTURES / "weekly_sync.stm").read_text().splitlines())
    )
    assert wer(reference, transcript.text) <= 0.30, transcript.text
    assert transcript.duration == len(samples) / 16000
    words = transcript.words
    assert [w.start for w in words] == sorted(w.start for w in words)
    assert words[-1].end <= transcript.duration + 0.01 and words[-1].start > 60
    # the window cut (60 s) lies inside weekly_sync's speech: that stretch must be present
    around = [w for w in words if 55 <= w.start <= 65]
    assert len(around) >= 10, [(w.word, w.start) for w in around]
    assert seen == sorted(seen) and len(seen) >= 2 and seen[-1] == pytest.approx(transcript.duration)
    assert len({s.speaker for s in transcript.segments}) >= 3


def _lines(name: str) -> str:
    return " ".join(
        line.split(": ", 1)[1] for line in (FIXTURES / name).read_text().splitlines() if ": " in line
    )


async def test_long_path_deletes_no_words(embedded: Embedded, tmp_path: Path) -> None:
    """113 s assembled from the shared files: the windowed long path is no worse than the
    whole-file sequential decoder (the batched pipeline it used deleted whole sentences)."""
    engine: WhisperEngine = embedded.platform.services["transcription"].engine
    stm = " ".join(line.split(" ", 5)[5] for line in (FIXTURES / "weekly_sync.stm").read_text().splitlines())
    parts = [
        (audio.decode(FIXTURES / "weekly_sync.wav"), stm),
        (audio.decode(FIXTURES / "calm_conversation.flac"), _lines("calm_conversation.txt")),
        (audio.decode(FIXTURES / "heated_conversation.flac"), _lines("heated_conversation.txt")),
        (audio.decode(JFK), JFK_REFERENCE),
    ]
    gap = np.zeros(16000, np.float32)
    samples = np.concatenate([np.concatenate([p, gap]) for p, _ in parts])
    reference = " ".join(r for _, r in parts)
    path = tmp_path / "long.wav"
    _write(path, samples)
    long = await asyncio.to_thread(engine.transcribe_file, path, TranscribeOptions())
    assert long.duration > engine.long_audio_s  # the long path was taken
    sequential = await asyncio.to_thread(engine.transcribe_samples, samples)
    assert wer(reference, long.text) <= wer(reference, sequential.text), (long.text, sequential.text)
    assert "any plans for the weekend" in long.text.lower()  # the sentence the old path deleted
