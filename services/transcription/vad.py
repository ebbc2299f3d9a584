"""Voice activity of a recording: speech intervals from the Silero VAD that faster-whisper
ships (Silero Team 2021, "Silero VAD: pre-trained enterprise-grade Voice Activity Detector",
ONNX model inside the ``faster-whisper`` package; no download).

Settings: speech probability threshold 0.5 (Silero's default), silences shorter than
:data:`MIN_SILENCE_MS` (200 ms) do not split speech, no padding around speech (padding would
hide short pauses). On ``tests/fixtures/jfk.flac`` this finds 3 pauses of 2.8 s in total,
where Whisper's word timestamps show one gap of 0.48 s.

The network runs once per recording (:func:`speech_probabilities`, 32 ms frames; the costly
part, about 8 ms per second of audio); every set of speech spans (the decoder's VAD filter,
the pause intervals, the silence check) is then read from the same probabilities by
:func:`speech_timestamps`, the post-processing of ``faster_whisper.vad.get_speech_timestamps``
(itself adapted from snakers4/silero-vad) without its model call.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from services.common import audio
from services.common.transcript import SpeechInterval

if TYPE_CHECKING:
    from faster_whisper.vad import VadOptions

SAMPLE_RATE = 16_000
MIN_SILENCE_MS = 200
FRAME = 512  # samples per Silero frame at 16 kHz (32 ms)


def pause_options() -> VadOptions:
    """The VAD settings of the pause intervals (module docstring)."""
    from faster_whisper.vad import VadOptions

    return VadOptions(threshold=0.5, min_silence_duration_ms=MIN_SILENCE_MS, speech_pad_ms=0)


def speech_probabilities(samples: np.ndarray) -> np.ndarray:
    """Silero VAD speech probability of each 32 ms frame of mono float32 16 kHz ``samples``.

    Args:
        samples: shape ``(n,)``.

    Returns:
        float32 array of shape ``(n // 512 + 1,)`` (the last frame zero-padded), as
        ``faster_whisper.vad.get_speech_timestamps`` computes them.
    """
    from faster_whisper.vad import get_vad_model

    samples = samples.astype(np.float32, copy=False)
    padded = np.pad(samples, (0, FRAME - samples.shape[0] % FRAME))
    return np.asarray(get_vad_model()(padded), dtype=np.float32).reshape(-1)


def speech_timestamps(probs: np.ndarray, n_samples: int, options: VadOptions) -> list[dict[str, int]]:
    """Speech spans ``[{"start": sample, "end": sample}, ...]`` from frame probabilities.

    The same result as ``faster_whisper.vad.get_speech_timestamps(samples, options)`` for the
    ``probs`` of :func:`speech_probabilities` (its code, minus the model call; hysteresis
    between ``threshold`` and ``neg_threshold``, minimum silence and speech, maximum
    speech length split at the last silence over 98 ms, padding).

    Args:
        probs: per-frame probabilities of ``n_samples`` samples.
        n_samples: length of the audio they were computed on.
    """
    sr = SAMPLE_RATE
    threshold = options.threshold
    neg_threshold = options.neg_threshold
    if neg_threshold is None:
        neg_threshold = max(threshold - 0.15, 0.01)
    min_speech_samples = sr * options.min_speech_duration_ms / 1000
    speech_pad_samples = sr * options.speech_pad_ms / 1000
    max_speech_samples = sr * options.max_speech_duration_s - FRAME - 2 * speech_pad_samples
    min_silence_samples = sr * options.min_silence_duration_ms / 1000
    min_silence_samples_at_max_speech = sr * 98 / 1000

    triggered = False
    speeches: list[dict[str, int]] = []
    current: dict[str, int] = {}
    temp_end = 0
    prev_end = next_start = 0
    for i, prob in enumerate(probs.tolist()):
        at = FRAME * i
        if prob >= threshold and temp_end:
            temp_end = 0
            if next_start < prev_end:
                next_start = at
        if prob >= threshold and not triggered:
            triggered = True
            current["start"] = at
            continue
        if triggered and at - current["start"] > max_speech_samples:
            if prev_end:
                current["end"] = prev_end
                speeches.append(current)
                current = {}
                if next_start < prev_end:
                    triggered = False
                else:
                    current["start"] = next_start
                prev_end = next_start = temp_end = 0
            else:
                current["end"] = at
                speeches.append(current)
                current = {}
                prev_end = next_start = temp_end = 0
                triggered = False
                continue
        if prob < neg_threshold and triggered:
            if not temp_end:
                temp_end = at
            if at - temp_end > min_silence_samples_at_max_speech:
                prev_end = temp_end
            if at - temp_end < min_silence_samples:
                continue
            current["end"] = temp_end
            if current["end"] - current["start"] > min_speech_samples:
                speeches.append(current)
            current = {}
            prev_end = next_start = temp_end = 0
            triggered = False
            continue
    if current and n_samples - current["start"] > min_speech_samples:
        current["end"] = n_samples
        speeches.append(current)

    for i, speech in enumerate(speeches):
        if i == 0:
            speech["start"] = int(max(0, speech["start"] - speech_pad_samples))
        if i != len(speeches) - 1:
            silence = speeches[i + 1]["start"] - speech["end"]
            if silence < 2 * speech_pad_samples:
                speech["end"] += int(silence // 2)
                speeches[i + 1]["start"] = int(max(0, speeches[i + 1]["start"] - silence // 2))
            else:
                speech["end"] = int(min(n_samples, speech["end"] + speech_pad_samples))
                speeches[i + 1]["start"] = int(max(0, speeches[i + 1]["start"] - speech_pad_samples))
        else:
            speech["end"] = int(min(n_samples, speech["end"] + speech_pad_samples))
    return speeches


def intervals_from_probabilities(
    probs: np.ndarray, n_samples: int, offset_s: float = 0.0
) -> list[SpeechInterval]:
    """Pause-analysis speech intervals (seconds, shifted by ``offset_s``) from the frame
    probabilities of :func:`speech_probabilities` over ``n_samples`` samples."""
    return [
        SpeechInterval(
            start=round(offset_s + s["start"] / SAMPLE_RATE, 3),
            end=round(offset_s + s["end"] / SAMPLE_RATE, 3),
        )
        for s in speech_timestamps(probs, n_samples, pause_options())
    ]


def speech_intervals(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> list[SpeechInterval]:
    """Speech intervals (seconds) of mono float32 ``samples`` at 16 kHz.

    Raises:
        ValueError: ``sample_rate`` is not 16000 (Silero's rate as faster-whisper runs it).
    """
    if sample_rate != SAMPLE_RATE:
        raise ValueError(f"voice activity detection needs {SAMPLE_RATE} Hz samples, not {sample_rate}")
    if samples.size == 0:
        return []
    return intervals_from_probabilities(speech_probabilities(samples), int(samples.shape[0]))


def file_speech_intervals(path: Path) -> list[SpeechInterval]:
    """Speech intervals (seconds) of an audio file (decoded to 16 kHz mono).

    Raises:
        services.common.audio.AudioError: the file is not usable audio.
    """
    return speech_intervals(audio.decode(path, SAMPLE_RATE), SAMPLE_RATE)
