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

from services.common.audio.decoding import (
    AudioInfo,
    _Source,
    decode,
    duration_s,
    iter_decode,
    iter_frames,
    probe,
)
from services.common.audio.formats import (
    MIN_SAMPLE_RATE,
    SUPPORTED_FORMATS,
    AudioError,
    AudioTooLong,
    CorruptAudio,
    EmptyAudio,
    StrPath,
    UnsupportedAudio,
    sniff_format,
)
from services.common.audio.wav import (
    pcm16,
    pcm16_wav_writer,
    wav_bytes,
    wav_float_samples_finite,
)

__all__ = [
    "StrPath",
    "_Source",
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
