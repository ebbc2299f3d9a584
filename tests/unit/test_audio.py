"""Tests for services.common.audio with real files (fixtures and files encoded with PyAV)."""

from __future__ import annotations

import pickle
import shutil
import struct
import tracemalloc
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from services.common.audio import (
    AudioError,
    AudioInfo,
    CorruptAudio,
    EmptyAudio,
    UnsupportedAudio,
    decode,
    duration_s,
    iter_decode,
    probe,
    sniff_format,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
JFK = FIXTURES / "jfk.flac"
STEREO = FIXTURES / "stereo_diarization.wav"


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------


def sine(seconds: float, rate: int, channels: int = 1, freq: float = 440.0, amp: float = 0.5) -> np.ndarray:
    """(channels, n) float32 sine; channel c is at freq * (c + 1)."""
    t = np.arange(round(seconds * rate)) / rate
    return np.stack([amp * np.sin(2 * np.pi * freq * (c + 1) * t) for c in range(channels)]).astype(
        np.float32
    )


def encode(
    path: Path,
    container: str,
    codec: str,
    *,
    seconds: float = 1.0,
    rate: int = 16000,
    channels: int = 1,
    options: dict[str, str] | None = None,
) -> Path:
    """Encode a sine into ``path`` with PyAV."""
    layout = "mono" if channels == 1 else "stereo"
    signal = sine(seconds, rate, channels)
    with av.open(str(path), "w", format=container, options=options or {}) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        sample_format = stream.codec_context.codec.audio_formats[0].name
        frame = av.AudioFrame.from_ndarray(signal, format="fltp", layout=layout)
        frame.sample_rate = rate
        frame.pts = 0
        frame.time_base = Fraction(1, rate)
        resampler = av.AudioResampler(
            format=sample_format, layout=layout, rate=rate, frame_size=stream.codec_context.frame_size or 1024
        )
        for chunk in resampler.resample(frame) + resampler.resample(None):
            out.mux(stream.encode(chunk))
        out.mux(stream.encode(None))
    return path


def write_wav(path: Path, samples: np.ndarray, rate: int = 16000, data_size: int | None = None) -> Path:
    """Hand-written 16-bit PCM WAV; ``data_size`` overrides the header's data chunk size."""
    channels = samples.shape[0]
    pcm = (np.clip(samples.T, -1, 1) * 32767).astype("<i2").tobytes()
    size = len(pcm) if data_size is None else data_size
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * channels * 2, channels * 2, 16)
    header = b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
    path.write_bytes(header + b"data" + struct.pack("<I", size) + pcm)
    return path


def truncated_copy(source: Path, target: Path, length: int) -> Path:
    target.write_bytes(source.read_bytes()[:length])
    return target


# --------------------------------------------------------------------------------------
# sniff_format
# --------------------------------------------------------------------------------------

ENCODINGS = [
    ("wav", "wav", "pcm_s16le", "pcm_s16le", {}),
    ("flac", "flac", "flac", "flac", {}),
    ("ogg", "ogg", "libvorbis", "vorbis", {}),
    ("mp3", "mp3", "libmp3lame", "mp3", {}),
    ("m4a", "ipod", "aac", "aac", {"movflags": "faststart"}),
    ("webm", "webm", "libopus", "opus", {}),
    ("aiff", "aiff", "pcm_s16be", "pcm_s16be", {}),
]


@pytest.mark.parametrize(("expected", "container", "codec", "codec_name", "options"), ENCODINGS)
def test_encoded_files_are_sniffed_probed_and_decoded(
    tmp_path: Path, expected: str, container: str, codec: str, codec_name: str, options: dict[str, str]
) -> None:
    rate = 48000 if codec == "libopus" else 16000
    # A misleading extension: the content decides.
    path = encode(tmp_path / "upload.bin", container, codec, seconds=1.0, rate=rate, options=options)
    head = path.read_bytes()[:4096]
    assert sniff_format(head) == expected
    assert sniff_format(bytearray(head)) == expected

    info = probe(path)
    assert info.format == expected
    assert info.codec == codec_name
    assert info.sample_rate == rate
    assert info.channels == 1
    assert info.duration_s == pytest.approx(1.0, abs=0.08)

    audio = decode(str(path), sample_rate=8000)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert audio.shape[0] == pytest.approx(8000, abs=8000 * 0.08)
    assert np.abs(audio).max() <= 1.0
    # The 0.5-amplitude sine survives every codec.
    assert 0.3 < np.sqrt(np.mean(audio[2000:6000] ** 2)) < 0.4


def test_sniff_known_magic_numbers() -> None:
    assert sniff_format(b"RIFF\x24\x00\x00\x00WAVEfmt ") == "wav"
    assert sniff_format(b"RF64\xff\xff\xff\xffWAVEds64") == "wav"
    assert sniff_format(b"fLaC\x00\x00\x00\x22") == "flac"
    assert sniff_format(b"OggS\x00\x02" + bytes(20)) == "ogg"
    assert sniff_format(b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81") == "webm"
    assert sniff_format(b"FORM\x00\x00\x10\x00AIFFCOMM") == "aiff"
    assert sniff_format(b"FORM\x00\x00\x10\x00AIFCFVER") == "aiff"
    for brand in (b"M4A ", b"mp42", b"isom", b"3gp5", b"dash"):
        assert sniff_format(b"\x00\x00\x00\x18ftyp" + brand + bytes(4) + b"isom") == "m4a", brand


def test_sniff_id3_tags() -> None:
    tag = b"ID3\x04\x00\x00" + bytes([0, 0, 0, 20]) + bytes(20)
    assert sniff_format(tag + b"fLaC\x00\x00\x00\x22") == "flac"
    assert sniff_format(tag) == "mp3"  # nothing visible after the tag
    assert sniff_format(tag[:10]) == "mp3"
    # MPEG-1 layer III, 128 kbit/s, 44.1 kHz: 417-byte frames, confirmed by the second header.
    frame = b"\xff\xfb\x90\x00" + bytes(413)
    assert sniff_format(tag + frame + frame) == "mp3"
    assert sniff_format(tag + b"this is not audio at all") is None


def test_sniff_mpeg_frame_sync() -> None:
    frame = b"\xff\xfb\x90\x00" + bytes(413)
    assert sniff_format(frame + frame) == "mp3"
    assert sniff_format(frame[:4]) == "mp3"  # next header not visible
    assert sniff_format(frame + b"garbage!") is None  # next header does not follow
    assert sniff_format(b"\xff\xf9\x50\x80\x02\x1f\xfc") is None  # ADTS AAC: layer bits 00
    assert sniff_format(b"\xff\xfb\xf0\x00") is None  # bitrate index 15
    assert sniff_format(b"\xff\xfb\x9c\x00") is None  # sample-rate index 3
    assert sniff_format(b"\xff\xeb\x90\x00") is None  # reserved MPEG version


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"RIFF",
        b"hello, this is a text file\n",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
        b"%PDF-1.7\n",
        b"RIFF\x24\x00\x00\x00AVI LIST",
        b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic",
        b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miafiso8",
        b"PK\x03\x04\x14\x00",
        bytes(64),
    ],
)
def test_sniff_rejects_non_audio(head: bytes) -> None:
    assert sniff_format(head) is None


def test_sniff_real_fixtures() -> None:
    assert sniff_format(JFK.read_bytes()[:64]) == "flac"
    assert sniff_format(STEREO.read_bytes()[:64]) == "wav"
    for png in ("coffee.png", "astronaut.png"):
        assert sniff_format((FIXTURES / png).read_bytes()[:4096]) is None


# --------------------------------------------------------------------------------------
# probe / duration_s / decode on the fixtures
# --------------------------------------------------------------------------------------


def test_probe_jfk() -> None:
    info = probe(JFK)
    assert isinstance(info, AudioInfo)
    assert info.format == "flac"
    assert info.codec == "flac"
    assert info.duration_s == pytest.approx(11.0, abs=0.05)
    assert info.sample_rate == 44100
    assert info.channels == 2
    assert probe(JFK, verify=False) == info
    assert duration_s(JFK) == pytest.approx(11.0, abs=0.05)
    assert duration_s(str(JFK), verify=False) == pytest.approx(11.0, abs=0.05)


def test_decode_jfk_shape_dtype_range_and_rate() -> None:
    audio = decode(JFK)
    assert audio.dtype == np.float32
    assert audio.ndim == 1
    assert audio.flags["C_CONTIGUOUS"]
    assert abs(audio.shape[0] - 11.0 * 16000) <= 160
    assert np.abs(audio).max() <= 1.0
    assert np.sqrt(np.mean(audio**2)) > 0.01  # speech, not silence

    audio_8k = decode(str(JFK), sample_rate=8000)
    assert abs(audio_8k.shape[0] - 11.0 * 8000) <= 80
    # Same content at half the rate: the envelopes match.
    env_16k = np.abs(audio[: 16000 * 10]).reshape(-1, 1600).mean(axis=1)
    env_8k = np.abs(audio_8k[: 8000 * 10]).reshape(-1, 800).mean(axis=1)
    assert np.corrcoef(env_16k, env_8k)[0, 1] > 0.95


def test_decode_stereo_keeps_channels() -> None:
    info = probe(STEREO)
    assert (info.format, info.codec, info.channels, info.sample_rate) == ("wav", "pcm_s16le", 2, 16000)
    assert info.duration_s == pytest.approx(5.0, abs=0.01)

    stereo = decode(STEREO, mono=False)
    assert stereo.shape == (2, 80000)
    assert stereo.dtype == np.float32
    assert stereo.flags["C_CONTIGUOUS"]
    assert np.abs(stereo).max() <= 1.0
    # One speaker per channel: the two channels are clearly different signals.
    assert np.abs(stereo[0] - stereo[1]).mean() > 0.01
    assert abs(np.corrcoef(stereo[0], stereo[1])[0, 1]) < 0.5

    mono = decode(STEREO)
    assert mono.shape == (80000,)
    np.testing.assert_allclose(mono, stereo.mean(axis=0), atol=1e-6)

    # Resampled stereo (preallocation trimmed in place) still has both channels in order.
    stereo_8k = decode(STEREO, sample_rate=8000, mono=False)
    assert stereo_8k.shape == (2, 40000)
    assert stereo_8k.flags["C_CONTIGUOUS"]
    for channel in range(2):
        env_full = np.abs(stereo[channel]).reshape(-1, 1600).mean(axis=1)
        env_half = np.abs(stereo_8k[channel]).reshape(-1, 800).mean(axis=1)
        assert np.corrcoef(env_full, env_half)[0, 1] > 0.95


def test_decode_matches_source_samples_for_pcm(tmp_path: Path) -> None:
    signal = sine(0.5, 16000, channels=2)
    path = write_wav(tmp_path / "exact.wav", signal)
    out = decode(path, sample_rate=16000, mono=False)
    np.testing.assert_allclose(out, signal, atol=2 / 32768)  # 16-bit quantisation


def test_decode_clips_to_unit_range(tmp_path: Path) -> None:
    # Full-scale square wave: resampling rings past +-1 and must be clipped.
    square = np.sign(sine(1.0, 44100, amp=1.0, freq=1000.0))
    path = write_wav(tmp_path / "square.wav", square, rate=44100)
    out = decode(path, sample_rate=16000)
    assert np.abs(out).max() <= 1.0
    assert np.abs(out).max() > 0.99


def test_decode_rejects_bad_sample_rate() -> None:
    with pytest.raises(ValueError):
        decode(JFK, sample_rate=0)
    with pytest.raises(TypeError):
        decode(JFK, sample_rate=16000.5)  # type: ignore[arg-type]


def test_decode_memory_is_output_plus_a_frame(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "long.wav", sine(60.0, 16000, channels=2))
    tracemalloc.start()
    try:
        out = decode(path, sample_rate=16000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert out.shape == (960000,)
    # A list of chunks + concatenate would peak at 2x the output.
    assert peak < out.nbytes * 1.4, (peak, out.nbytes)


# --------------------------------------------------------------------------------------
# iter_decode
# --------------------------------------------------------------------------------------


def test_iter_decode_chunks_concatenate_to_decode() -> None:
    chunks = list(iter_decode(JFK, sample_rate=16000, chunk_s=2.0))
    assert len(chunks) == 6
    assert all(c.dtype == np.float32 and c.ndim == 1 for c in chunks)
    assert [c.shape[0] for c in chunks[:-1]] == [32000] * 5
    assert 0 < chunks[-1].shape[0] <= 32000
    np.testing.assert_array_equal(np.concatenate(chunks), decode(JFK, sample_rate=16000))


def test_iter_decode_stereo_and_odd_chunk_size() -> None:
    chunks = list(iter_decode(STEREO, sample_rate=8000, chunk_s=0.77))
    assert {c.shape[0] for c in chunks[:-1]} == {6160}
    np.testing.assert_array_equal(np.concatenate(chunks), decode(STEREO, sample_rate=8000))


def test_iter_decode_is_lazy_and_validates_arguments(tmp_path: Path) -> None:
    generator = iter_decode(tmp_path / "missing.wav")  # nothing happens until next()
    with pytest.raises(FileNotFoundError):
        next(generator)
    with pytest.raises(ValueError):
        next(iter_decode(JFK, chunk_s=0))
    with pytest.raises(ValueError):
        next(iter_decode(JFK, chunk_s=float("nan")))


def test_iter_decode_raises_on_truncated_flac(tmp_path: Path) -> None:
    path = truncated_copy(JFK, tmp_path / "cut.flac", int(JFK.stat().st_size * 0.4))
    with pytest.raises(CorruptAudio):
        for _ in iter_decode(path, chunk_s=1.0):
            pass


# --------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------


def test_error_hierarchy_and_attributes() -> None:
    for cls, code in (
        (UnsupportedAudio, "unsupported_audio"),
        (CorruptAudio, "corrupt_audio"),
        (EmptyAudio, "empty_audio"),
    ):
        err = cls("something is wrong.")
        assert isinstance(err, AudioError) and isinstance(err, ValueError)
        assert err.code == code
        assert err.details == str(err) == "something is wrong."
        clone = pickle.loads(pickle.dumps(err))
        assert type(clone) is cls and clone.code == code and clone.details == err.details
    assert CorruptAudio("x", code="truncated").code == "truncated"


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    for call in (probe, decode, duration_s, lambda p: next(iter_decode(p))):
        with pytest.raises(EmptyAudio) as info:
            call(path)
        assert info.value.code == "empty_audio"
        assert "empty" in info.value.details


def test_wav_without_samples_is_empty(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "silent.wav", np.zeros((1, 0), dtype=np.float32))
    with pytest.raises(EmptyAudio):
        probe(path)
    with pytest.raises(EmptyAudio):
        decode(path)


def test_text_named_wav_is_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("Meeting notes: ship the release on Friday.\n" * 50)
    with pytest.raises(UnsupportedAudio) as info:
        probe(path)
    assert info.value.code == "unsupported_audio"
    assert info.value.details
    with pytest.raises(UnsupportedAudio):
        decode(path)


def test_image_is_unsupported(tmp_path: Path) -> None:
    png = FIXTURES / "coffee.png"
    path = tmp_path / "photo.mp3"
    shutil.copyfile(png, path)
    with pytest.raises(UnsupportedAudio):
        probe(path)


def test_container_without_audio_stream_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "video.mp4"
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(5):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 40, dtype=np.uint8), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    assert sniff_format(path.read_bytes()[:64]) == "m4a"
    with pytest.raises(EmptyAudio) as info:
        probe(path)
    assert "no audio stream" in info.value.details


def test_truncated_flac_is_corrupt(tmp_path: Path) -> None:
    path = truncated_copy(JFK, tmp_path / "cut.flac", int(JFK.stat().st_size * 0.4))
    assert sniff_format(path.read_bytes()[:64]) == "flac"
    with pytest.raises(CorruptAudio) as info:
        probe(path)
    assert info.value.code == "corrupt_audio"
    assert "FLAC" in info.value.details
    with pytest.raises(CorruptAudio):
        decode(path)
    with pytest.raises(CorruptAudio):
        duration_s(path)


def test_flac_cut_on_a_frame_boundary_is_corrupt(tmp_path: Path) -> None:
    # No decoder error here: only the STREAMINFO total sample count reveals the truncation.
    with av.open(str(JFK)) as container:
        positions = [
            p.pos for p in container.demux(container.streams.audio[0]) if p.pos is not None and p.size
        ]
    cut = positions[len(positions) // 2]
    path = truncated_copy(JFK, tmp_path / "half.flac", cut)
    with pytest.raises(CorruptAudio) as info:
        probe(path)
    assert "STREAMINFO" in info.value.details


def test_flac_behind_id3_tag(tmp_path: Path) -> None:
    tag = b"ID3\x03\x00\x00" + bytes([0, 0, 1, 0]) + bytes(128)
    path = tmp_path / "tagged.flac"
    path.write_bytes(tag + JFK.read_bytes())
    info = probe(path)
    assert info.format == "flac"
    assert info.duration_s == pytest.approx(11.0, abs=0.05)
    cut = truncated_copy(path, tmp_path / "tagged_cut.flac", len(tag) + int(JFK.stat().st_size * 0.4))
    with pytest.raises(CorruptAudio):
        probe(cut)


def test_flac_behind_a_tag_larger_than_the_sniffed_head(tmp_path: Path) -> None:
    # 200 KiB of "cover art": the head alone cannot see past it, probe() seeks.
    size = 200 * 1024
    syncsafe = bytes([(size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F])
    path = tmp_path / "big_tag.flac"
    path.write_bytes(b"ID3\x04\x00\x00" + syncsafe + bytes(size) + JFK.read_bytes())
    assert sniff_format(path.read_bytes()[:4096]) == "mp3"  # best guess from the head only
    info = probe(path)
    assert info.format == "flac"
    assert info.duration_s == pytest.approx(11.0, abs=0.05)


def test_truncated_wav_is_corrupt(tmp_path: Path) -> None:
    data = STEREO.read_bytes()
    # 40 % of the file, cut on a sample-frame boundary: decodes cleanly, but the
    # header's data size disagrees with the file size.
    cut = 44 + ((int(len(data) * 0.4) - 44) // 4) * 4
    path = truncated_copy(STEREO, tmp_path / "cut.wav", cut)
    with pytest.raises(CorruptAudio) as info:
        probe(path)
    assert "header declares" in info.value.details
    with pytest.raises(CorruptAudio):
        decode(path)
    # Even verify=False catches it: the check reads the header only.
    with pytest.raises(CorruptAudio):
        probe(path, verify=False)
    # Cut mid-frame too.
    with pytest.raises(CorruptAudio):
        probe(truncated_copy(STEREO, tmp_path / "odd.wav", int(len(data) * 0.4) | 1))


def test_wav_missing_less_than_one_frame_is_accepted(tmp_path: Path) -> None:
    data = STEREO.read_bytes()
    path = truncated_copy(STEREO, tmp_path / "short.wav", len(data) - 3)  # frame = 4 bytes
    info = probe(path)
    assert info.duration_s == pytest.approx(5.0, abs=0.001)
    assert decode(path, mono=False).shape[1] in (79999, 80000)


def test_streamed_wav_with_unknown_size_is_accepted(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "stream.wav", sine(1.0, 16000), data_size=0xFFFFFFFF)
    assert probe(path).duration_s == pytest.approx(1.0, abs=0.01)
    assert decode(path).shape == (16000,)


def test_wav_header_without_data_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "header_only.wav"
    path.write_bytes(STEREO.read_bytes()[:30])
    with pytest.raises(CorruptAudio):
        probe(path)


@pytest.mark.parametrize(
    ("container", "codec", "options"),
    [
        ("mp3", "libmp3lame", {}),  # Info header gives the exact duration
        ("ipod", "aac", {"movflags": "faststart"}),  # moov first, mdat cut
        ("mp4", "aac", {}),  # moov last: cannot even be opened
        ("ogg", "libvorbis", {}),
        ("webm", "libopus", {}),  # Matroska Duration element
        ("aiff", "pcm_s16be", {}),
    ],
)
def test_truncated_compressed_files_are_corrupt(
    tmp_path: Path, container: str, codec: str, options: dict[str, str]
) -> None:
    rate = 48000 if codec == "libopus" else 16000
    full = encode(tmp_path / "full", container, codec, seconds=3.0, rate=rate, options=options)
    assert probe(full).duration_s == pytest.approx(3.0, abs=0.1)
    cut = truncated_copy(full, tmp_path / "cut", int(full.stat().st_size * 0.4))
    with pytest.raises(CorruptAudio):
        probe(cut)
    with pytest.raises(CorruptAudio):
        decode(cut)


def test_garbage_after_valid_magic_is_corrupt(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for magic in (b"fLaC", b"OggS", b"\x1a\x45\xdf\xa3", b"\x00\x00\x00\x18ftypM4A \x00\x00\x00\x00"):
        path = tmp_path / "garbage"
        path.write_bytes(magic + rng.integers(0, 256, 4000, dtype=np.uint8).tobytes())
        with pytest.raises(AudioError) as info:
            decode(path)
        assert isinstance(info.value, CorruptAudio | EmptyAudio), magic


def test_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        probe(tmp_path / "nope.flac")
    with pytest.raises(IsADirectoryError):
        probe(tmp_path)
