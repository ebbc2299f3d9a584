"""Decoding through FFmpeg (PyAV): probing, resampling and the public decode functions
(see :mod:`services.common.audio`)."""

from __future__ import annotations

import math
import operator
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import av
import av.error
import numpy as np

from services.common.audio.formats import (
    _DEMUXERS,
    _LABELS,
    _PREALLOC_MARGIN_S,
    _PREALLOC_MAX_VALUES,
    _SHORTFALL_MIN_S,
    _SHORTFALL_RATIO,
    MIN_SAMPLE_RATE,
    AudioError,
    AudioTooLong,
    CorruptAudio,
    EmptyAudio,
    StrPath,
    UnsupportedAudio,
)
from services.common.audio.wav import (
    _inspect,
)

# --------------------------------------------------------------------------------------
# FFmpeg access
# --------------------------------------------------------------------------------------

_UNSUPPORTED_ERRORS: tuple[type[BaseException], ...] = (
    av.error.DecoderNotFoundError,
    av.error.DemuxerNotFoundError,
    av.error.PatchWelcomeError,
    av.error.NotImplementedError,
    av.error.ExperimentalError,
)


def _ffmpeg_reason(exc: BaseException) -> str:
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return reason.rstrip(".")


def _map_error(exc: BaseException, fmt: str, stage: str) -> AudioError:
    """Translate a PyAV exception raised during ``stage`` into an AudioError."""
    label = _LABELS[fmt]
    reason = _ffmpeg_reason(exc)
    if isinstance(exc, _UNSUPPORTED_ERRORS):
        return UnsupportedAudio(
            f"The {label} file uses a feature or codec that cannot be decoded ({reason})."
        )
    return CorruptAudio(f"The {label} file is damaged or truncated: {stage} failed ({reason}).")


class _Source:
    """An opened, validated audio file: the container, its audio stream and checks.

    Use as a context manager; :meth:`frames` decodes native frames and runs the
    end-of-stream truncation checks.
    """

    def __init__(self, path: StrPath) -> None:
        self.header = _inspect(path)
        self.label = _LABELS[self.header.format]
        self._decoded: dict[int, int] = {}
        try:
            self.container: Any = av.open(
                self.header.path,
                mode="r",
                format=_DEMUXERS[self.header.format],
                options={"protocol_whitelist": "file"},
                metadata_errors="replace",
            )
        except av.FFmpegError as exc:
            raise _map_error(exc, self.header.format, "reading the container") from exc
        try:
            self.stream = self._audio_stream()
            if self.stream.codec_context is None:  # FFmpeg has no decoder for this codec
                raise UnsupportedAudio(f"The {self.label} file uses an audio codec that cannot be decoded.")
            rate = int(self.stream.codec_context.sample_rate or 0)
            if 0 < rate < MIN_SAMPLE_RATE:
                raise UnsupportedAudio(
                    f"The {self.label} file declares a sample rate of {rate} Hz; "
                    f"the minimum is {MIN_SAMPLE_RATE} Hz."
                )
            self.declared_s = self._declared_duration()
        except BaseException:
            self.container.close()
            raise

    def __enter__(self) -> _Source:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.container.close()
        except av.FFmpegError:  # pragma: no cover - closing a read container does not fail
            pass

    def _audio_stream(self) -> Any:
        streams = self.container.streams.audio
        if not streams:
            raise EmptyAudio(f"The {self.label} file contains no audio stream.")
        try:
            stream = self.container.streams.best("audio")
        except (av.FFmpegError, AttributeError):  # pragma: no cover - older PyAV
            stream = None
        return stream if stream is not None else streams[0]

    def _declared_duration(self) -> float | None:
        """Duration stated by the container headers (s), or None when there is none.

        The container-wide duration is used only when the audio stream is the sole
        stream: with video it is the longest stream's, not the audio's.
        """
        stream = self.stream
        if stream.duration is not None and stream.duration > 0 and stream.time_base:
            return float(stream.duration * stream.time_base)
        container = self.container
        if len(container.streams) == 1 and container.duration is not None and container.duration > 0:
            return container.duration / av.time_base
        return None

    @property
    def decoded_s(self) -> float:
        """Seconds of audio decoded so far by :meth:`frames`."""
        return sum(count / rate for rate, count in self._decoded.items())

    @property
    def codec(self) -> str:
        """FFmpeg name of the stream's codec (``"unknown"`` when FFmpeg has no decoder)."""
        try:
            codec = self.stream.codec_context.codec
        except (av.FFmpegError, AttributeError):  # pragma: no cover - no decoder for the stream
            return "unknown"
        return getattr(codec, "canonical_name", None) or codec.name

    def frames(self, max_duration_s: float | None = None) -> Iterator[Any]:
        """Decode the audio stream, yielding native ``av.AudioFrame`` objects.

        Raises CorruptAudio on decoder/demuxer errors or when the decoded length falls
        short of what the headers promise, EmptyAudio when no samples come out,
        AudioTooLong as soon as more than ``max_duration_s`` seconds are decoded.
        """
        counts = self._decoded  # samples per channel, by sample rate
        stream = self.stream
        align = self.header.wav_block_align if self.codec.startswith("pcm_") else 0
        try:
            for packet in self.container.demux(stream):
                if align > 1 and packet.size % align:
                    # A WAV cut inside its last sample frame (tolerated, see the module
                    # docstring): drop the partial frame instead of failing the packet.
                    packet = _trim_packet(packet, packet.size - packet.size % align)
                    if packet is None:
                        continue
                for frame in stream.decode(packet):
                    if not frame.samples or not frame.sample_rate:
                        continue
                    counts[frame.sample_rate] = counts.get(frame.sample_rate, 0) + frame.samples
                    if max_duration_s is not None and self.decoded_s > max_duration_s:
                        raise AudioTooLong.over(self.label, self.decoded_s, max_duration_s, decoded=True)
                    yield frame
        except _UNSUPPORTED_ERRORS as exc:
            raise _map_error(exc, self.header.format, "decoding") from exc
        except av.FFmpegError as exc:
            raise CorruptAudio(
                f"The {self.label} file is damaged or truncated: decoding failed after "
                f"{self.decoded_s:.2f} s of audio ({_ffmpeg_reason(exc)})."
            ) from exc
        samples = sum(counts.values())
        seconds = self.decoded_s
        if samples == 0:
            raise EmptyAudio(f"The {self.label} file contains no audio samples.")
        total = self.header.flac_total_samples
        if total is not None and samples < total:
            raise CorruptAudio(
                f"The FLAC file is truncated: decoded {samples} of the {total} samples "
                "declared in its STREAMINFO header."
            )
        declared = self.declared_s
        if self.header.trust_declared_duration and declared is not None:
            if declared - seconds > max(_SHORTFALL_MIN_S, _SHORTFALL_RATIO * declared):
                raise CorruptAudio(
                    f"The {self.label} file is truncated: its header declares {declared:.2f} s "
                    f"of audio but only {seconds:.2f} s could be decoded."
                )


def _trim_packet(packet: Any, size: int) -> Any:
    """A copy of ``packet`` holding only its first ``size`` bytes (None when empty)."""
    if size <= 0:
        return None
    trimmed = av.Packet(bytes(packet)[:size])
    trimmed.pts = packet.pts
    trimmed.dts = packet.dts
    trimmed.time_base = packet.time_base
    return trimmed


# --------------------------------------------------------------------------------------
# Resampling
# --------------------------------------------------------------------------------------


def _check_rate(sample_rate: int) -> int:
    rate = operator.index(sample_rate)
    if rate <= 0:
        raise ValueError(f"sample_rate must be a positive integer, got {sample_rate!r}")
    return rate


class _Resampler:
    """libswresample (via ``av.AudioResampler``) to planar float32 at a fixed rate.

    Rebuilds itself when the input format, layout or rate changes mid-stream (chained
    Ogg, some MP4 edits), which a single ``AudioResampler`` refuses. When ``mono`` is
    set, channels are averaged after resampling; otherwise the output keeps the layout
    of the first frame.
    """

    def __init__(self, rate: int, mono: bool) -> None:
        self.rate = rate
        self.mono = mono
        self.layout: str | None = None
        self._resampler: Any = None
        self._signature: tuple[str, str, int] | None = None

    def push(self, frame: Any) -> Iterator[np.ndarray]:
        """Resample one native frame; yields float32 blocks of shape (channels, n)."""
        signature = (frame.format.name, frame.layout.name, frame.sample_rate)
        if signature != self._signature:
            yield from self.flush()
            if self.layout is None and not self.mono:
                self.layout = frame.layout.name
            self._resampler = av.AudioResampler(format="fltp", layout=self.layout, rate=self.rate)
            self._signature = signature
        for out in self._resampler.resample(frame):
            yield from self._convert(out)

    def flush(self) -> Iterator[np.ndarray]:
        """Drain samples buffered inside libswresample."""
        if self._resampler is None:
            return
        resampler, self._resampler, self._signature = self._resampler, None, None
        for out in resampler.resample(None):
            yield from self._convert(out)

    def _convert(self, out: Any) -> Iterator[np.ndarray]:
        if out is None or not out.samples:
            return
        block = out.to_ndarray()
        if block.dtype != np.float32:  # pragma: no cover - fltp always gives float32
            block = block.astype(np.float32)
        if self.mono and block.shape[0] > 1:
            block = block.mean(axis=0, dtype=np.float32, keepdims=True)
        np.clip(block, -1.0, 1.0, out=block)
        yield block


def _blocks(source: _Source, rate: int, mono: bool) -> Iterator[np.ndarray]:
    """Resampled float32 blocks (channels, n) of the whole stream of ``source``."""
    resampler = _Resampler(rate, mono)
    try:
        for frame in source.frames():
            yield from resampler.push(frame)
        yield from resampler.flush()
    except av.FFmpegError as exc:  # raised by the resampling filter graph
        raise CorruptAudio(
            f"The {source.label} file could not be resampled to {rate} Hz ({_ffmpeg_reason(exc)})."
        ) from exc


class _Accumulator:
    """Growable (channels, n) float32 buffer that is trimmed in place at the end.

    Preallocated from the declared duration, so the peak memory of :func:`decode` is
    the output plus a small margin instead of twice the output (list + concatenate).
    """

    def __init__(self, channels: int, capacity: int) -> None:
        self._buf = np.empty((channels, max(capacity, 1)), dtype=np.float32)
        self._n = 0

    def append(self, block: np.ndarray) -> None:
        channels, count = block.shape
        needed = self._n + count
        if needed > self._buf.shape[1]:
            grown = np.empty((channels, max(needed, self._buf.shape[1] * 3 // 2)), dtype=np.float32)
            grown[:, : self._n] = self._buf[:, : self._n]
            self._buf = grown
        self._buf[:, self._n : needed] = block
        self._n = needed

    def result(self) -> np.ndarray:
        """The filled part as a C-contiguous (channels, n) array; the buffer is consumed."""
        buf, n = self._buf, self._n
        self._buf = np.empty((0, 0), dtype=np.float32)
        channels, capacity = buf.shape
        if capacity != n:
            flat = buf.reshape(-1)
            for c in range(1, channels):  # compact rows to the front, in place
                flat[c * n : (c + 1) * n] = flat[c * capacity : c * capacity + n]
            del flat
            # No views of ``buf`` exist any more, so shrinking in place is safe.
            buf.resize((channels, n), refcheck=False)
        return buf


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AudioInfo:
    """Description of a validated audio file.

    Attributes:
        format: sniffed container, one of :data:`SUPPORTED_FORMATS`.
        codec: FFmpeg codec name of the audio stream (``"flac"``, ``"pcm_s16le"``,
            ``"mp3"``, ``"aac"``, ``"opus"``, ``"vorbis"``...).
        duration_s: duration in seconds.
        sample_rate: native sample rate in Hz.
        channels: native channel count.
    """

    format: str
    codec: str
    duration_s: float
    sample_rate: int
    channels: int


def probe(path: StrPath, *, verify: bool = True, max_duration_s: float | None = None) -> AudioInfo:
    """Validate an audio file and describe it.

    With ``verify=True`` (the default) the audio stream is decoded once, without
    resampling, and ``duration_s`` is the exact decoded length; this catches
    truncated or damaged files (see the module docstring for the checks). With
    ``verify=False`` only the headers are read and ``duration_s`` is the duration the
    container declares, falling back to decoding when it declares none (e.g. WebM
    from browser recorders).

    Args:
        path: file path (``str`` or ``os.PathLike``).
        verify: decode the whole stream to validate it.
        max_duration_s: refuse a recording longer than this (s): its declared duration
            is checked first, then decoding stops as soon as the decoded audio passes it
            (a header may understate the length; the decoded stream decides).

    Returns:
        An :class:`AudioInfo` with the sniffed format, codec, duration (s), native
        sample rate (Hz) and channel count.

    Raises:
        EmptyAudio: zero bytes, no audio stream, or no decodable samples.
        UnsupportedAudio: unrecognised content (text, images, unknown containers) or an
            undecodable codec.
        CorruptAudio: truncated or damaged data.
        AudioTooLong: longer than ``max_duration_s`` (declared or decoded).
        OSError: the path cannot be opened (missing, permission, directory).
    """
    with _Source(path) as source:
        declared = source.declared_s
        if max_duration_s is not None and declared is not None and declared > max_duration_s:
            raise AudioTooLong.over(source.label, declared, max_duration_s, decoded=False)
        context = source.stream.codec_context
        sample_rate = int(context.sample_rate or 0)
        channels = int(context.channels or 0)
        duration: float | None = None if verify else source.declared_s
        if duration is None:
            for frame in source.frames(max_duration_s):
                if not sample_rate:
                    sample_rate = frame.sample_rate
                if not channels:
                    channels = frame.layout.nb_channels
            duration = source.decoded_s
        return AudioInfo(
            format=source.header.format,
            codec=source.codec,
            duration_s=duration,
            sample_rate=sample_rate,
            channels=channels,
        )


def duration_s(path: StrPath, *, verify: bool = True) -> float:
    """Duration of an audio file in seconds: ``probe(path, verify=verify).duration_s``.

    Raises the same exceptions as :func:`probe`.
    """
    return probe(path, verify=verify).duration_s


def decode(path: StrPath, sample_rate: int = 16000, mono: bool = True) -> np.ndarray:
    """Decode a whole audio file to float32 samples.

    Samples are resampled with libswresample (``av.AudioResampler``) and clipped to
    [-1.0, 1.0]. For ``mono=True`` the channels are averaged (after resampling); for
    ``mono=False`` the channel layout of the file is kept.

    Memory: the output is preallocated from the declared duration and trimmed in
    place, so the peak is about the output array plus one decoded frame (files that
    declare no duration grow the buffer by 1.5x steps instead).

    Args:
        path: file path (``str`` or ``os.PathLike``).
        sample_rate: output rate in Hz (positive integer).
        mono: downmix to one channel.

    Returns:
        ``np.ndarray`` of dtype float32, shape ``(n,)`` when ``mono`` is true, else
        ``(channels, n)``; ``n`` is about ``duration_s * sample_rate``.

    Raises:
        EmptyAudio, UnsupportedAudio, CorruptAudio: as for :func:`probe`; the file is
            always fully validated.
        OSError: the path cannot be opened.
        ValueError: ``sample_rate`` is not a positive integer.
    """
    rate = _check_rate(sample_rate)
    with _Source(path) as source:
        channels = 1 if mono else max(int(source.stream.codec_context.channels or 0), 1)
        estimate = 0
        if source.declared_s is not None and math.isfinite(source.declared_s):
            estimate = math.ceil((source.declared_s + _PREALLOC_MARGIN_S) * rate)
        capacity = min(estimate, _PREALLOC_MAX_VALUES // channels) or rate * 10
        accumulator: _Accumulator | None = None
        for block in _blocks(source, rate, mono):
            if accumulator is None:
                accumulator = _Accumulator(block.shape[0], capacity)
            accumulator.append(block)
    if accumulator is None:  # pragma: no cover - frames() raises EmptyAudio first
        raise EmptyAudio("The file contains no audio samples.")
    out = accumulator.result()
    return out[0] if mono else out


def iter_decode(path: StrPath, sample_rate: int = 16000, chunk_s: float = 30.0) -> Iterator[np.ndarray]:
    """Decode an audio file lazily, in mono chunks of ``chunk_s`` seconds.

    Chunks are produced exactly like :func:`decode` with ``mono=True`` (so their
    concatenation equals it), each of ``round(chunk_s * sample_rate)`` samples except
    possibly the last, shorter one. Memory stays flat: one chunk plus one frame.

    The file is opened and its headers are checked on the first ``next()``;
    corruption found later while decoding (e.g. a truncated FLAC) is raised after the
    chunks decoded so far have been yielded, so consumers must be ready to discard
    partial results.

    Args:
        path: file path (``str`` or ``os.PathLike``).
        sample_rate: output rate in Hz (positive integer).
        chunk_s: chunk length in seconds (positive, finite).

    Yields:
        float32 ``np.ndarray`` of shape ``(n,)`` with values in [-1.0, 1.0].

    Raises:
        EmptyAudio, UnsupportedAudio, CorruptAudio: as for :func:`probe`.
        OSError: the path cannot be opened.
        ValueError: invalid ``sample_rate`` or ``chunk_s`` (raised on the first ``next()``).
    """
    rate = _check_rate(sample_rate)
    try:
        seconds = float(chunk_s)
    except (TypeError, ValueError):
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"chunk_s must be a positive number of seconds, got {chunk_s!r}")
    size = max(1, round(seconds * rate))
    with _Source(path) as source:
        chunk = np.empty(size, dtype=np.float32)
        filled = 0
        for block in _blocks(source, rate, mono=True):
            samples = block[0]
            start = 0
            while start < samples.shape[0]:
                take = min(size - filled, samples.shape[0] - start)
                chunk[filled : filled + take] = samples[start : start + take]
                filled += take
                start += take
                if filled == size:
                    yield chunk
                    chunk = np.empty(size, dtype=np.float32)
                    filled = 0
        if filled:
            yield chunk[:filled].copy()


def iter_frames(path: StrPath, sample_rate: int, *, mono: bool = False) -> Iterator[np.ndarray]:
    """Decode an audio file lazily, keeping its channels, in the decoder's own blocks.

    Like :func:`decode` with ``mono=False`` (their concatenation along axis 1 equals it),
    but memory stays flat: one decoded frame at a time. Corruption found while decoding
    is raised after the blocks decoded so far have been yielded.

    Args:
        path: file path (``str`` or ``os.PathLike``).
        sample_rate: output rate in Hz (positive integer).
        mono: downmix to one channel.

    Yields:
        float32 ``np.ndarray`` of shape ``(channels, n)`` with values in [-1.0, 1.0].

    Raises:
        EmptyAudio, UnsupportedAudio, CorruptAudio: as for :func:`probe`.
        OSError: the path cannot be opened.
        ValueError: ``sample_rate`` is not a positive integer.
    """
    rate = _check_rate(sample_rate)
    with _Source(path) as source:
        yield from _blocks(source, rate, mono)
