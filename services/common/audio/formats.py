"""Audio formats: the accepted containers, the errors uploads get, and sniffing a file's
format from its first bytes (see :mod:`services.common.audio`)."""

from __future__ import annotations

import os
import struct
from typing import Any

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
