"""The one transcript model every engine returns and every analyzer reads.

Times are in seconds from the start of the audio. ``probability`` is the
engine's word confidence in [0, 1].
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class Word(BaseModel):
    """One recognised word with its timing (seconds) and confidence (0-1)."""

    word: str
    start: float = Field(ge=0)
    end: float = Field(ge=0)
    probability: float = Field(default=1.0, ge=0, le=1)


class Segment(BaseModel):
    """A stretch of speech: text, timing (seconds), optional speaker label and its words."""

    id: int
    start: float = Field(ge=0)
    end: float = Field(ge=0)
    text: str
    speaker: str | None = None
    words: list[Word] = Field(default_factory=list)


class SpeechInterval(BaseModel):
    """One stretch of speech found by voice activity detection (seconds)."""

    start: float = Field(ge=0)
    end: float = Field(ge=0)


class Transcript(BaseModel):
    """A whole transcript: language code, audio duration (s), full text and segments; ``speech``
    holds the recording's voice activity intervals when the caller asked for them."""

    language: str = "en"
    duration: float = Field(ge=0)
    text: str
    segments: list[Segment] = Field(default_factory=list)
    speech: list[SpeechInterval] | None = None

    @property
    def words(self) -> list[Word]:
        """All words of all segments, in time order."""
        return [w for s in self.segments for w in s.words]
