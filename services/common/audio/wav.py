"""File inspection before FFmpeg sees a file (WAV chunks, FLAC and MP3 headers) and WAV
writing (see :mod:`services.common.audio`)."""

from __future__ import annotations

import io
import os
import struct
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from services.common.audio.formats import (
    _HEAD_BYTES,
    _MAX_ID3_TAGS,
    _MAX_WAV_CHUNKS,
    CorruptAudio,
    EmptyAudio,
    StrPath,
    UnsupportedAudio,
    _id3_length,
    _mpeg_frame_length,
    _sniff_after_id3,
    _sniff_body,
)

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
