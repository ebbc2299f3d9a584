"""Audio decoding and validation for uploaded files.

Every upload goes through this module before anything else touches it:

* :func:`sniff_format` identifies the real container from its first bytes (magic
  numbers), never from the file name.
* :func:`probe` validates a file and describes it (:class:`AudioInfo`); by default it
  decodes the whole stream once, so truncated or damaged files are rejected up front.
* :func:`decode` returns the whole signal as float32 samples in [-1, 1] at the
  requested rate; :func:`iter_decode` yields it in fixed-size chunks with flat memory.
* :func:`duration_s` is a shortcut for ``probe(path).duration_s``.

Supported containers (the canonical names used throughout): ``wav`` (also RF64/BW64,
RIFX), ``flac``, ``ogg`` (Vorbis, Opus, FLAC), ``mp3``, ``m4a`` (the MP4/ISO-BMFF
family: M4A, MP4, 3GP, QuickTime with an ``ftyp`` box), ``webm`` (WebM and Matroska)
and ``aiff`` (AIFF/AIFF-C). Anything else is :class:`UnsupportedAudio`, even if FFmpeg
could read it: the demuxer is always forced to the sniffed container.

Failures are reported with one exception family, :class:`AudioError` (a
``ValueError``), with a machine ``code`` and a human ``details`` sentence. PyAV /
FFmpeg exceptions never escape: they are mapped to

* :class:`UnsupportedAudio` (``unsupported_audio``): not audio, unknown container or
  a codec FFmpeg cannot decode;
* :class:`CorruptAudio` (``corrupt_audio``): truncated or undecodable data;
* :class:`EmptyAudio` (``empty_audio``): zero bytes, no audio stream, or no samples.

Problems with the path itself (missing file, permission denied, a directory) are
*not* audio problems and surface as the usual :class:`OSError` subclasses.

Truncation checks (decoder errors alone miss a file cut on a frame boundary):

* WAV: the ``data`` chunk size in the header must not exceed the bytes actually
  present by more than one sample frame (``block_align`` bytes); a file cut by
  more is CorruptAudio even though its remaining samples would play. Within that
  tolerance a trailing partial sample frame of PCM is dropped silently. A header
  size of 0 or 0xFFFFFFFF means "unknown / still streaming" and is not checked.
  This check reads the header only, so it also applies to ``probe(verify=False)``.
* FLAC: the number of decoded samples must reach the total announced in STREAMINFO
  (when it is not 0, i.e. unknown).
* Every other container whose header states a duration (MP4 ``moov``, AIFF
  ``COMM``, Matroska ``Duration``, the last Ogg granule, an MP3 Xing/Info/VBRI
  header): decoding must reach it within ``max(0.5 s, 2 %)``. MP3 files without a
  VBR header are not checked, because FFmpeg only estimates their duration from the
  bitrate. An Ogg file cut on a page boundary cannot be detected (FFmpeg takes its
  duration from the last page present).
* Any decoder or demuxer error while decoding is treated as corruption.

Decoding: libswresample (``av.AudioResampler``) converts to planar float32 at the
requested rate; mono output is the mean of the channels (no +3 dB pan law, so no
clipping of correlated stereo); the result is clipped to [-1, 1] because resampling
and lossy decoders can overshoot full scale.
"""

from __future__ import annotations

import io
import math
import operator
import os
import struct
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

import av
import av.error
import numpy as np

__all__ = [
    "AudioError",
    "AudioInfo",
    "AudioTooLong",
    "CorruptAudio",
    "MIN_SAMPLE_RATE",
    "EmptyAudio",
    "SUPPORTED_FORMATS",
    "UnsupportedAudio",
    "decode",
    "duration_s",
    "iter_decode",
    "iter_frames",
    "pcm16",
    "pcm16_wav_writer",
    "probe",
    "sniff_format",
    "wav_bytes",
    "wav_float_samples_finite",
]

StrPath = str | os.PathLike[str]

#: Lowest native sample rate accepted (Hz): a header claiming less (e.g. a 3 KB WAV "at 1 Hz",
#: lasting an hour) would make every resampling to 16 kHz allocate and compute for nothing.
MIN_SAMPLE_RATE = 1000

#: Canonical container names :func:`sniff_format` can return.
SUPPORTED_FORMATS: tuple[str, ...] = ("wav", "flac", "ogg", "mp3", "m4a", "webm", "aiff")

# Canonical name -> FFmpeg demuxer forced when opening the file.
_DEMUXERS: dict[str, str] = {
    "wav": "wav",
    "flac": "flac",
    "ogg": "ogg",
    "mp3": "mp3",
    "m4a": "mov",
    "webm": "matroska",
    "aiff": "aiff",
}

_LABELS: dict[str, str] = {
    "wav": "WAV",
    "flac": "FLAC",
    "ogg": "Ogg",
    "mp3": "MP3",
    "m4a": "MP4/M4A",
    "webm": "WebM/Matroska",
    "aiff": "AIFF",
}

_HEAD_BYTES = 64 * 1024  # read for sniffing and header checks
_MAX_ID3_TAGS = 8  # consecutive ID3v2 tags skipped before giving up
_MAX_WAV_CHUNKS = 1024  # RIFF chunks walked looking for "data"

# Declared-duration check for containers other than WAV/FLAC: decoding may fall short of
# the header's duration by at most max(_SHORTFALL_MIN_S, _SHORTFALL_RATIO * declared).
_SHORTFALL_MIN_S = 0.5
_SHORTFALL_RATIO = 0.02

# decode() preallocates its output from the declared duration, capped to this many
# float32 values (1 GiB); past that, or without a declared duration, it grows the buffer.
_PREALLOC_MAX_VALUES = 1 << 28
_PREALLOC_MARGIN_S = 0.25


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------


class AudioError(ValueError):
    """An uploaded file cannot be used as audio.

    Attributes:
        code: short machine-readable reason (``"unsupported_audio"``,
            ``"corrupt_audio"``, ``"empty_audio"``); suitable for API error bodies.
        details: one human-readable sentence explaining what is wrong; also ``str(exc)``.
    """

    code: str = "audio_error"

    def __init__(self, details: str, *, code: str | None = None) -> None:
        super().__init__(details)
        self.details = details
        if code is not None:
            self.code = code

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep ``code`` across pickling (e.g. when raised in a worker process).
        return (_rebuild_error, (type(self), self.details, self.code))


def _rebuild_error(cls: type[AudioError], details: str, code: str) -> AudioError:
    return cls(details, code=code)


class UnsupportedAudio(AudioError):
    """The file is not audio, or its container or codec is not supported."""

    code = "unsupported_audio"


class CorruptAudio(AudioError):
    """The file is a supported format but truncated or undecodable."""

    code = "corrupt_audio"


class EmptyAudio(AudioError):
    """The file has zero bytes, no audio stream, or an audio stream without samples."""

    code = "empty_audio"


class AudioTooLong(AudioError):
    """The recording lasts longer than the caller's limit (``max_duration_s`` of :func:`probe`).

    Raised as soon as the declared duration or the audio decoded so far passes the limit,
    so a small file holding hours of silence is refused after decoding the limit, not all of it.

    Attributes:
        duration_s: the declared duration, or the seconds decoded when the limit was passed.
        limit_s: the limit (s).
    """

    code = "audio_too_long"
    duration_s: float = 0.0
    limit_s: float = 0.0

    @classmethod
    def over(cls, label: str, duration_s: float, limit_s: float, *, decoded: bool) -> AudioTooLong:
        """The error for ``duration_s`` over ``limit_s`` (``decoded``: counted while decoding)."""
        what = f"more than {duration_s:.1f} s decoded" if decoded else f"{duration_s:.1f} s declared"
        exc = cls(f"The {label} recording is too long ({what}); the maximum is {limit_s:g} s.")
        exc.duration_s, exc.limit_s = duration_s, limit_s
        return exc


# --------------------------------------------------------------------------------------
# Sniffing
# --------------------------------------------------------------------------------------

# MPEG audio bitrates in kbit/s, indexed by [version is MPEG-1][layer (1..3)][index].
_MPEG_BITRATES: dict[tuple[bool, int], tuple[int, ...]] = {
    (True, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MPEG_RATES = (44100, 48000, 32000)

# ISO-BMFF brands of audio/video files (prefixes and exact brands) and of still images.
_MP4_BRAND_PREFIXES = (b"M4A", b"M4B", b"M4P", b"M4V", b"mp4", b"iso", b"3gp", b"3g2", b"3ge", b"3gg", b"3gs")
_MP4_BRANDS = frozenset({b"avc1", b"dash", b"MSNV", b"F4A ", b"F4B ", b"F4V ", b"qt  ", b"mmp4", b"kddi"})
_IMAGE_BRANDS = frozenset(
    {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis", b"jpeg"}
)


def _mpeg_frame_length(header: bytes) -> int | None:
    """Byte length of the MPEG audio frame starting with ``header`` (4 bytes).

    Returns None when the bytes are not a valid MPEG-1/2/2.5 layer I/II/III frame
    header, and 0 for a valid "free format" header (length not computable).
    """
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return None
    version = (header[1] >> 3) & 0x3  # 0: MPEG-2.5, 1: reserved, 2: MPEG-2, 3: MPEG-1
    layer_bits = (header[1] >> 1) & 0x3  # 0: reserved (ADTS AAC uses it), 1: III, 2: II, 3: I
    bitrate_index = header[2] >> 4
    rate_index = (header[2] >> 2) & 0x3
    if version == 1 or layer_bits == 0 or bitrate_index == 0xF or rate_index == 3 or header[3] & 0x3 == 2:
        return None
    layer = 4 - layer_bits
    mpeg1 = version == 3
    rate = _MPEG_RATES[rate_index] >> {3: 0, 2: 1, 0: 2}[version]
    bitrate = _MPEG_BITRATES[(mpeg1, layer)][bitrate_index] * 1000
    if bitrate == 0:
        return 0
    padding = (header[2] >> 1) & 0x1
    if layer == 1:
        return (12 * bitrate // rate + padding) * 4
    if layer == 3 and not mpeg1:
        return 72 * bitrate // rate + padding
    return 144 * bitrate // rate + padding


def _looks_like_mpeg_audio(buf: bytes) -> bool:
    """True when ``buf`` starts with an MPEG audio frame (confirmed by the next one if visible)."""
    length = _mpeg_frame_length(buf[:4])
    if length is None:
        return False
    if length == 0 or len(buf) < length + 4:
        return True  # free format, or the next frame is beyond what we were given
    following = buf[length : length + 4]
    # The next header must be valid and agree on version and layer.
    return _mpeg_frame_length(following) is not None and (following[1] & 0x1E) == (buf[1] & 0x1E)


def _id3_length(buf: bytes) -> int:
    """Total length of the ID3v2 tag at the start of ``buf``, or 0 if there is none."""
    if len(buf) < 10 or buf[:3] != b"ID3" or buf[3] == 0xFF or buf[4] == 0xFF:
        return 0
    size_bytes = buf[6:10]
    if any(b & 0x80 for b in size_bytes):
        return 0
    size = (size_bytes[0] << 21) | (size_bytes[1] << 14) | (size_bytes[2] << 7) | size_bytes[3]
    footer = 10 if buf[5] & 0x10 else 0
    return 10 + size + footer


def _mp4_brands(head: bytes) -> list[bytes]:
    box_size = struct.unpack(">I", head[:4])[0]
    end = min(len(head), box_size if box_size >= 16 else 16)
    return [head[8:12]] + [head[i : i + 4] for i in range(16, end - 3, 4)]


def _is_mp4_audio_brand(brand: bytes) -> bool:
    return brand in _MP4_BRANDS or brand.startswith(_MP4_BRAND_PREFIXES)


def _sniff_body(head: bytes) -> str | None:
    """Identify a container from bytes that do not start with an ID3 tag."""
    if len(head) >= 12 and head[:4] in (b"RIFF", b"RIFX", b"RF64", b"BW64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if len(head) >= 12 and head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brands = _mp4_brands(head)
        if brands[0] not in _IMAGE_BRANDS and any(_is_mp4_audio_brand(b) for b in brands):
            return "m4a"
        return None
    if _looks_like_mpeg_audio(head):
        return "mp3"
    return None


def _sniff_after_id3(body: bytes) -> str | None:
    """Identify what follows one or more ID3v2 tags (``body`` starts right after them)."""
    body = body.lstrip(b"\x00")  # some taggers pad beyond the declared tag size
    if not body:
        return "mp3"  # nothing visible past the tag: ID3v2 almost always fronts MP3
    found = _sniff_body(body)
    if found is not None:
        return found
    # MP3 decoders resynchronise past junk; accept a confirmed frame in the first 4 KiB.
    window = body[:4096]
    start = window.find(b"\xff")
    while start != -1:
        if _looks_like_mpeg_audio(body[start:]):
            return "mp3"
        start = window.find(b"\xff", start + 1)
    return None


def sniff_format(head: bytes) -> str | None:
    """Identify the audio container from the first bytes of a file.

    The decision uses magic numbers only (never the file name): ``RIFF....WAVE``
    (also ``RIFX``, ``RF64``, ``BW64``) is ``"wav"``, ``fLaC`` is ``"flac"`` (also
    behind an ID3v2 tag), ``OggS`` is ``"ogg"``, an ID3v2 tag or an MPEG audio frame
    header (sync ``0xFFE``, valid version, layer, bitrate and rate; confirmed by the
    following frame header when ``head`` is long enough) is ``"mp3"``, an ``ftyp`` box
    at offset 4 with an MP4-family brand (``M4A``, ``mp4*``, ``isom``, ``3gp*``, ...)
    is ``"m4a"``, the EBML magic ``1A 45 DF A3`` is ``"webm"`` (WebM or Matroska) and
    ``FORM....AIFF``/``AIFC`` is ``"aiff"``. ADTS AAC, HEIF/AVIF images and everything
    else give None.

    Args:
        head: the first bytes of the file (``bytes``, ``bytearray`` or ``memoryview``);
            a few KiB are plenty, 12 bytes are the useful minimum. Large ID3 tags may
            hide what follows them, in which case ``"mp3"`` is assumed.

    Returns:
        One of :data:`SUPPORTED_FORMATS`, or None when the content is not recognised.
        Never raises for any byte string.
    """
    buf = bytes(head)
    offset = 0
    for _ in range(_MAX_ID3_TAGS):
        length = _id3_length(buf[offset:])
        if not length:
            break
        offset += length
    if offset:
        return _sniff_after_id3(buf[offset:])
    return _sniff_body(buf)


# --------------------------------------------------------------------------------------
# File inspection (before FFmpeg sees the file)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Header:
    """What the raw bytes tell us about a file."""

    path: str
    format: str
    size: int
    flac_total_samples: int | None  # STREAMINFO total, None if absent or unknown (0)
    wav_block_align: int  # bytes per WAV sample frame, 0 when not a WAV / unknown
    trust_declared_duration: bool  # whether FFmpeg's declared duration is header-based


def _read_at(f: IO[bytes], offset: int, size: int) -> bytes:
    f.seek(offset)
    return f.read(size)


def _wav_chunks(f: IO[bytes], file_size: int, endian: str) -> Iterator[tuple[bytes, int, int]]:
    """Walk the RIFF chunks of a WAV file after its 12-byte header (at most ``_MAX_WAV_CHUNKS``).

    Yields:
        ``(chunk id, declared size in bytes, offset of the chunk body)``.
    """
    pos = 12
    for _ in range(_MAX_WAV_CHUNKS):
        if pos + 8 > file_size:
            return
        chunk = _read_at(f, pos, 8)
        if len(chunk) < 8:
            return
        (chunk_size,) = struct.unpack(endian + "I", chunk[4:8])
        yield chunk[:4], chunk_size, pos + 8
        pos = pos + 8 + chunk_size + (chunk_size & 1)


def _wav_data_check(f: IO[bytes], head: bytes, file_size: int) -> int:
    """Raise CorruptAudio when the WAV ``data`` chunk claims more bytes than the file holds.

    Returns the ``block_align`` of the ``fmt`` chunk (bytes per sample frame), 0 if unknown.
    """
    magic = head[:4]
    endian = ">" if magic == b"RIFX" else "<"
    rf64 = magic in (b"RF64", b"BW64")
    ds64_data_size: int | None = None
    block_align = 0
    for chunk_id, chunk_size, body in _wav_chunks(f, file_size, endian):
        if chunk_id == b"ds64" and rf64:
            ds64 = _read_at(f, body, 16)
            if len(ds64) == 16:
                ds64_data_size = struct.unpack("<Q", ds64[8:16])[0]
        elif chunk_id == b"fmt ":
            fmt = _read_at(f, body, 16)
            if len(fmt) >= 14:
                (block_align,) = struct.unpack(endian + "H", fmt[12:14])
        elif chunk_id == b"data":
            declared = chunk_size
            if rf64 and chunk_size == 0xFFFFFFFF:
                if ds64_data_size is None:
                    return block_align
                declared = ds64_data_size
            elif declared in (0, 0xFFFFFFFF):
                return block_align  # written by a streaming encoder: size unknown
            present = file_size - body
            if declared - present > max(block_align, 1):
                raise CorruptAudio(
                    f"The WAV file is truncated: the header declares {declared} bytes of audio "
                    f"but only {max(present, 0)} are present."
                )
            return block_align
    # No data chunk found: FFmpeg will report the file as unreadable.
    return block_align


def wav_float_samples_finite(path: StrPath) -> bool:
    """Whether an IEEE-float WAV file holds only finite samples (no NaN, no Inf).

    Decoding clips Inf to full scale, so NaN/Inf must be caught on the raw samples. Files
    that are not little-endian RIFF/RF64 WAV, or hold integer PCM, are always finite (True).
    Reads the ``data`` chunk in 1 MiB steps (flat memory).
    """
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
            return True
        dtype: str | None = None
        for chunk_id, chunk_size, body in _wav_chunks(f, size, "<"):
            if chunk_id == b"fmt ":
                fmt = _read_at(f, body, min(chunk_size, 40))
                if len(fmt) < 16:
                    return True
                tag, _, _, _, _, bits = struct.unpack("<HHIIHH", fmt[:16])
                if tag == 0xFFFE and len(fmt) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the sub-format's first 2 bytes
                    tag = struct.unpack("<H", fmt[24:26])[0]
                if tag != 3:
                    return True
                dtype = "<f4" if bits == 32 else "<f8"
            elif chunk_id == b"data" and dtype is not None:
                itemsize = np.dtype(dtype).itemsize
                f.seek(body)
                while chunk := f.read(1 << 20):
                    usable = len(chunk) - len(chunk) % itemsize
                    if not np.isfinite(np.frombuffer(chunk[:usable], dtype=dtype)).all():
                        return False
                return True
    return True


def pcm16(samples: np.ndarray) -> bytes:
    """Float samples in [-1, 1] (clipped; NaN/Inf become 0) as 16-bit little-endian PCM bytes."""
    clean = np.nan_to_num(np.asarray(samples, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    return bytes(np.round(np.clip(clean, -1.0, 1.0) * 32767.0).astype("<i2").tobytes())


@contextmanager
def pcm16_wav_writer(target: StrPath | IO[bytes], sample_rate: int, channels: int = 1) -> Iterator[Any]:
    """Open a 16-bit PCM WAV for writing; yields a writer whose ``write(samples)`` appends float
    samples in [-1, 1] (interleaved when ``channels`` > 1), so long outputs stream to disk.

    Args:
        target: a path or a binary file object.
        sample_rate: Hz.
        channels: 1 or 2.
    """

    class _Writer:
        def __init__(self, w: wave.Wave_write) -> None:
            self._w = w

        def write(self, samples: np.ndarray) -> None:
            self._w.writeframes(pcm16(samples))

    handle = wave.open(target if not isinstance(target, str | os.PathLike) else str(target), "wb")
    try:
        handle.setnchannels(channels)
        handle.setsampwidth(2)
        handle.setframerate(sample_rate)
        yield _Writer(handle)
    finally:
        handle.close()


def wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    """A whole mono 16-bit PCM WAV file of float samples in [-1, 1], in memory."""
    buf = io.BytesIO()
    with pcm16_wav_writer(buf, sample_rate) as w:
        w.write(samples)
    return buf.getvalue()


def _flac_total_samples(body: bytes) -> int | None:
    """STREAMINFO total sample count of a FLAC stream starting at ``body`` (``fLaC``...)."""
    # fLaC, block header (1 byte last-flag/type, 3 bytes length), then STREAMINFO (34 bytes).
    if len(body) < 8 + 18 or body[:4] != b"fLaC" or body[4] & 0x7F != 0:
        return None
    # STREAMINFO bytes 10..17: rate(20) channels-1(3) bps-1(5) total samples(36).
    packed = int.from_bytes(body[8 + 10 : 8 + 18], "big")
    total = packed & ((1 << 36) - 1)
    return total or None


def _has_mp3_vbr_header(body: bytes) -> bool:
    """True when the first MPEG frame carries a Xing, Info or VBRI header (exact duration)."""
    body = body.lstrip(b"\x00")
    start = body.find(b"\xff")
    if start == -1:
        return False
    length = _mpeg_frame_length(body[start : start + 4]) or 0
    frame = body[start : start + (length if length >= 40 else 1024)]
    return any(tag in frame for tag in (b"Xing", b"Info", b"VBRI"))


def _inspect(path: StrPath) -> _Header:
    """Stat, sniff and header-check ``path``; raises AudioError or OSError."""
    fs_path = os.path.abspath(os.fsdecode(path))  # absolute: FFmpeg never sees "proto:" names
    with open(fs_path, "rb") as f:
        file_size = os.fstat(f.fileno()).st_size
        if file_size == 0:
            raise EmptyAudio("The file is empty (0 bytes).")
        head = f.read(_HEAD_BYTES)
        # Skip ID3v2 tags (possibly larger than the head, e.g. with cover art).
        offset = 0
        body = head
        for _ in range(_MAX_ID3_TAGS):
            length = _id3_length(body)
            if not length:
                break
            offset += length
            body = _read_at(f, offset, _HEAD_BYTES)
        fmt = _sniff_after_id3(body) if offset else _sniff_body(body)
        if fmt is None:
            raise UnsupportedAudio(
                "The file is not a supported audio format (expected WAV, FLAC, Ogg, MP3, "
                "M4A/MP4, WebM/Matroska or AIFF); its content was not recognised."
            )
        block_align = 0
        if fmt == "wav" and offset == 0:
            block_align = _wav_data_check(f, head, file_size)
    flac_total = None
    if fmt == "flac":
        flac_total = _flac_total_samples(body.lstrip(b"\x00") if offset else body)
    return _Header(
        path=fs_path,
        format=fmt,
        size=file_size,
        flac_total_samples=flac_total,
        wav_block_align=block_align,
        trust_declared_duration=fmt != "mp3" or _has_mp3_vbr_header(body),
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
