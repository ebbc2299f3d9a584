"""Plain-text, SubRip (SRT) and WebVTT renderings of a :class:`~services.common.transcript.Transcript`.

SRT: numbered cues, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``, a blank line between cues.
WebVTT: the ``WEBVTT`` header, ``HH:MM:SS.mmm`` times (W3C WebVTT, section 4). When a
segment has a speaker, the cue text is prefixed with it (``[SPEAKER_00] ...`` in SRT,
a voice span ``<v SPEAKER_00>...`` in WebVTT).
"""

from __future__ import annotations

from services.common.transcript import Transcript


def _clock(seconds: float, separator: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, ms = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{ms:03d}"


def to_text(transcript: Transcript, *, speakers: bool = False) -> str:
    """The transcript text; with ``speakers``, one ``SPEAKER: text`` line per segment."""
    if not speakers or not any(s.speaker for s in transcript.segments):
        return transcript.text
    return "\n".join(f"{s.speaker or 'UNKNOWN'}: {s.text}" for s in transcript.segments)


def to_srt(transcript: Transcript) -> str:
    """SubRip subtitles, one cue per segment (empty string for an empty transcript)."""
    cues = []
    for n, s in enumerate(transcript.segments, start=1):
        text = f"[{s.speaker}] {s.text}" if s.speaker else s.text
        cues.append(f"{n}\n{_clock(s.start, ',')} --> {_clock(s.end, ',')}\n{text}\n")
    return "\n".join(cues)


def to_vtt(transcript: Transcript) -> str:
    """WebVTT subtitles, one cue per segment (just the header for an empty transcript)."""
    cues = ["WEBVTT\n"]
    for s in transcript.segments:
        text = f"<v {s.speaker}>{s.text}" if s.speaker else s.text
        cues.append(f"{_clock(s.start, '.')} --> {_clock(s.end, '.')}\n{text}\n")
    return "\n".join(cues)
