"""Two channels (stereo, or seed 003's two-file "dual audio"): the speaker is the channel.

Each channel is transcribed alone and labelled ``SPEAKER_00`` (left / first file),
``SPEAKER_01`` (right / second file); :func:`merge_channels` drops a word as cross-talk when
another channel is more than ``BLEED_DB`` louder over that word *and* carries the same
signal (normalised cross-correlation at least ``BLEED_CORRELATION`` within ``BLEED_LAG_S``
of lag): the other speaker's voice leaking into this microphone. Two different voices
talking at once are not correlated, so both are kept. Single-channel diarization is
:mod:`services.transcription.diarization`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from services.common.transcript import Segment, Transcript
from services.transcription.diarization import SAMPLE_RATE, speaker_label

BLEED_DB = 6.0
BLEED_CORRELATION = 0.5
BLEED_LAG_S = 0.02


def channels_differ(channels: np.ndarray, threshold: float = 0.98) -> bool:
    """False when every channel is (nearly) the same signal, i.e. mono saved as stereo.

    Args:
        channels: ``(c, n)`` float32.
    """
    if channels.ndim != 2 or channels.shape[0] < 2:
        return False
    ref = channels[0] - channels[0].mean()
    for other in channels[1:]:
        o = other - other.mean()
        denom = float(np.sqrt((ref**2).sum() * (o**2).sum()))
        if denom < 1e-9 or float((ref * o).sum()) / denom < threshold:
            return True
    return False


def _is_bleed(index: int, spans: Sequence[np.ndarray]) -> bool:
    """True when channel ``index``'s audio over a word is another channel's voice leaking in:
    another channel is ``BLEED_DB`` louder *and* carries the same signal (normalised
    cross-correlation >= ``BLEED_CORRELATION`` within +-``BLEED_LAG_S``)."""
    from scipy.signal import correlate

    own = spans[index].astype(np.float64)
    own_level = float(np.sqrt(np.mean(own**2))) + 1e-9 if own.size else 1e-9
    lag = int(BLEED_LAG_S * SAMPLE_RATE)
    for j, other in enumerate(spans):
        if j == index or other.size != own.size or own.size < 2 * lag + 1:
            continue
        other = other.astype(np.float64)
        level = float(np.sqrt(np.mean(other**2))) + 1e-9
        if 20 * np.log10(level / own_level) <= BLEED_DB:
            continue
        xc = correlate(own - own.mean(), other - other.mean(), mode="full", method="fft")
        mid = own.size - 1
        denom = float(np.sqrt(((own - own.mean()) ** 2).sum() * ((other - other.mean()) ** 2).sum())) + 1e-12
        if float(np.abs(xc[mid - lag : mid + lag + 1]).max()) / denom >= BLEED_CORRELATION:
            return True
    return False


def merge_channels(
    transcripts: Sequence[Transcript], channels: Sequence[np.ndarray] | None = None
) -> Transcript:
    """Merge per-channel transcripts into one, speaker = channel (``SPEAKER_00`` = first).

    Args:
        transcripts: one transcript per channel / file, same time base.
        channels: the channels' samples (16 kHz mono each) for the cross-talk check;
            None keeps every word.

    Returns:
        One transcript, segments in time order, each labelled with its channel's speaker.
    """
    rate = SAMPLE_RATE
    segments: list[Segment] = []
    for index, tr in enumerate(transcripts):
        for seg in tr.segments:
            words = seg.words
            if channels is not None and len(channels) > 1 and words:
                kept = []
                for w in words:
                    a, b = int(w.start * rate), max(int(w.end * rate), int(w.start * rate) + 1)
                    if not _is_bleed(index, [ch[a:b] for ch in channels]):
                        kept.append(w)
                if not kept:
                    continue
                if len(kept) != len(words):
                    seg = seg.model_copy(
                        update={
                            "words": kept,
                            "text": " ".join(w.word for w in kept),
                            "start": kept[0].start,
                            "end": kept[-1].end,
                        }
                    )
            segments.append(seg.model_copy(update={"speaker": speaker_label(index)}))
    segments.sort(key=lambda s: (s.start, s.end))
    segments = [s.model_copy(update={"id": i}) for i, s in enumerate(segments)]
    first = transcripts[0] if transcripts else Transcript(duration=0, text="")
    return Transcript(
        language=first.language,
        duration=max((t.duration for t in transcripts), default=0.0),
        text=" ".join(s.text for s in segments).strip(),
        segments=segments,
    )
