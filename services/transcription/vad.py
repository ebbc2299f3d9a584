"""Voice activity of a recording: speech intervals from the Silero VAD that faster-whisper
ships (Silero Team 2021, "Silero VAD: pre-trained enterprise-grade Voice Activity Detector",
ONNX model inside the ``faster-whisper`` package; no download).

Settings: speech probability threshold 0.5 (Silero's default), silences shorter than
:data:`MIN_SILENCE_MS` (200 ms) do not split speech, no padding around speech (padding would
hide short pauses). On ``tests/fixtures/jfk.flac`` this finds 3 pauses of 2.8 s in total,
where Whisper's word timestamps show one gap of 0.48 s.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from services.common import audio
from services.common.transcript import SpeechInterval

SAMPLE_RATE = 16_000
MIN_SILENCE_MS = 200


def speech_intervals(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> list[SpeechInterval]:
    """Speech intervals (seconds) of mono float32 ``samples`` at 16 kHz.

    Raises:
        ValueError: ``sample_rate`` is not 16000 (Silero's rate as faster-whisper runs it).
    """
    if sample_rate != SAMPLE_RATE:
        raise ValueError(f"voice activity detection needs {SAMPLE_RATE} Hz samples, not {sample_rate}")
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    if samples.size == 0:
        return []
    stamps = get_speech_timestamps(
        samples.astype(np.float32, copy=False),
        VadOptions(threshold=0.5, min_silence_duration_ms=MIN_SILENCE_MS, speech_pad_ms=0),
    )
    return [
        SpeechInterval(start=round(s["start"] / SAMPLE_RATE, 3), end=round(s["end"] / SAMPLE_RATE, 3))
        for s in stamps
    ]


def file_speech_intervals(path: Path) -> list[SpeechInterval]:
    """Speech intervals (seconds) of an audio file (decoded to 16 kHz mono).

    Raises:
        services.common.audio.AudioError: the file is not usable audio.
    """
    return speech_intervals(audio.decode(path, SAMPLE_RATE), SAMPLE_RATE)
