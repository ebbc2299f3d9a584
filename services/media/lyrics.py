"""Lyrics and a music prompt for a photo.

Two writers with one interface (:class:`Lyricist`):

* :class:`LocalLyricist` (default, offline, deterministic): builds a title, a
  4-line verse in couplets (AABB) and a 4-line chorus (ABAB, the title as its hook)
  from the photo's mood and content words, using small rhyme families per mood.
  The music prompt (genre, tempo, key, instruments) comes from a mood table.
* :class:`ClaudeLyricist`: Claude through the official ``anthropic`` SDK, with
  the photo as a base64 image block, asked for one JSON object. Used when
  ``CLAUDE_API_KEY`` / ``ANTHROPIC_API_KEY`` is set.
"""

from __future__ import annotations

import base64
import io
import json
import re
from typing import Any, Protocol

from PIL import Image
from pydantic import BaseModel, Field, ValidationError, field_validator

from services.media.photo import MOODS, PhotoAnalysis

__all__ = [
    "RHYME_FAMILIES",
    "ClaudeLyricist",
    "LocalLyricist",
    "Lyricist",
    "LyricsError",
    "MusicPrompt",
    "SongText",
    "music_prompt_for",
]

NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


class LyricsError(RuntimeError):
    """The lyrics step failed. ``code`` is a short machine code, the message is safe to show."""

    def __init__(self, code: str, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


class MusicPrompt(BaseModel):
    """What the soundtrack should sound like.

    Attributes:
        genre: e.g. ``"dream pop"``.
        tempo_bpm: beats per minute, 50-180.
        key: tonic and mode, e.g. ``"A minor"``.
        instruments: 2-6 instrument names.
    """

    genre: str = Field(min_length=1, max_length=80)
    tempo_bpm: int = Field(ge=50, le=180)
    key: str = Field(pattern=r"^(C|C#|Db|D|D#|Eb|E|F|F#|Gb|G|G#|Ab|A|A#|Bb|B) (major|minor)$")
    instruments: list[str] = Field(min_length=1, max_length=8)

    @property
    def tonic(self) -> int:
        """Semitone of the tonic, 0 (C) to 11."""
        name = self.key.split()[0]
        flats = {"Db": "C#", "D#": "Eb", "Gb": "F#", "G#": "Ab", "A#": "Bb"}
        return NOTE_NAMES.index(flats.get(name, name))

    @property
    def minor(self) -> bool:
        """Whether the key is minor."""
        return self.key.endswith("minor")

    def describe(self) -> str:
        """One line for a music model: ``"dream pop, 96 BPM, A minor, pad, bass, drums"``."""
        return f"{self.genre}, {self.tempo_bpm} BPM, {self.key}, {', '.join(self.instruments)}"


class SongText(BaseModel):
    """Lyrics and music prompt for one photo.

    Attributes:
        title: song title.
        mood: one of :data:`services.media.photo.MOODS`.
        lyrics: the song text with ``[Verse]`` / ``[Chorus]`` section headings.
        lines: the sung lines in order (no headings), for captions.
        music: the music prompt.
        engine: ``local`` or ``claude``.
    """

    title: str = Field(min_length=1, max_length=120)
    mood: str
    lyrics: str = Field(min_length=1, max_length=4000)
    lines: list[str]
    music: MusicPrompt
    engine: str

    @field_validator("mood")
    @classmethod
    def _known_mood(cls, value: str) -> str:
        value = value.strip().lower()
        return value if value in MOODS else "dreamy"


class Lyricist(Protocol):
    """Writes a :class:`SongText` for a photo."""

    name: str

    async def write(self, analysis: PhotoAnalysis, image: Image.Image) -> SongText:
        """Write lyrics and a music prompt.

        Raises:
            LyricsError: the writer failed (provider error, unusable reply).
        """
        ...


# --- music prompts per mood ------------------------------------------------------------------
_MOOD_MUSIC: dict[str, tuple[str, tuple[int, int], bool, tuple[str, ...]]] = {
    # mood: (genre, tempo range, minor?, instruments)
    "energetic": ("upbeat synth-pop", (120, 130), False, ("punchy drums", "synth bass", "pluck lead", "pad")),
    "joyful": ("sunny indie pop", (106, 118), False, ("drums", "round bass", "bell arpeggio", "string pad")),
    "serene": ("ambient folk", (72, 84), False, ("brushed drums", "soft bass", "glass arpeggio", "airy pad")),
    "nostalgic": ("lo-fi chillhop", (84, 94), False, ("dusty drums", "warm bass", "electric piano", "pad")),
    "melancholic": (
        "lo-fi ballad",
        (66, 78),
        True,
        ("soft drums", "sub bass", "piano arpeggio", "string pad"),
    ),
    "mysterious": (
        "cinematic electronica",
        (86, 98),
        True,
        ("deep drums", "pulse bass", "arpeggiator", "pad"),
    ),
    "dreamy": ("dream pop", (92, 104), False, ("drums", "bass", "shimmer arpeggio", "wide pad")),
}
_MAJOR_TONICS = ("C", "D", "E", "F", "G", "A", "Bb")
_MINOR_TONICS = ("A", "D", "E", "C", "G", "F#", "B")


def music_prompt_for(analysis: PhotoAnalysis) -> MusicPrompt:
    """The music prompt the mood table gives for a photo (deterministic by its seed)."""
    genre, (low, high), minor, instruments = _MOOD_MUSIC.get(analysis.mood, _MOOD_MUSIC["dreamy"])
    seed = analysis.seed
    energy = (analysis.contrast + analysis.saturation) / 2
    tempo = int(round(low + (high - low) * energy))
    tonics = _MINOR_TONICS if minor else _MAJOR_TONICS
    tonic = tonics[(seed >> 7) % len(tonics)]
    return MusicPrompt(
        genre=genre,
        tempo_bpm=tempo,
        key=f"{tonic} {'minor' if minor else 'major'}",
        instruments=list(instruments),
    )


# --- local writer --------------------------------------------------------------------------
RHYME_FAMILIES: dict[str, tuple[str, ...]] = {
    "light": (
        "we are dancing in the light",
        "everything is burning bright",
        "we were ready for the flight",
        "holding on with all our might",
        "the whole world feels right tonight",
    ),
    "sky": (
        "we are learning how to fly",
        "the hours drifting by",
        "painted on an open sky",
        "we never say goodbye",
        "our hearts are riding high",
    ),
    "day": (
        "we will find a way",
        "I am here to stay",
        "chasing the gray away",
        "the colours of the day",
        "the music starts to play",
    ),
    "glow": (
        "we let the river flow",
        "soft and warm and slow",
        "a place that we both know",
        "the embers start to glow",
        "the lights are down below",
    ),
    "heart": (
        "a brand new start",
        "a picture and a work of art",
        "the beating of my heart",
        "we were never far apart",
        "a song to play its part",
    ),
    "rain": (
        "we're walking down the lane",
        "the echo of the rain",
        "the memory will remain",
        "I'd live it all again",
        "a whisper through the pane",
    ),
    "fire": (
        "we are climbing ever higher",
        "a spark of old desire",
        "the singing of a choir",
        "a heart that won't retire",
        "the warmth of a quiet fire",
    ),
    "sea": (
        "the wind is setting us free",
        "the way it used to be",
        "the world in front of me",
        "a secret by the sea",
        "as far as eyes can see",
    ),
}
"""Rhyme family -> line endings (clauses after a comma) that end on a rhyme of the family."""

_MOOD_FAMILIES: dict[str, tuple[str, ...]] = {
    "energetic": ("light", "fire", "sky", "day"),
    "joyful": ("day", "light", "sky", "heart"),
    "serene": ("sea", "glow", "sky", "day"),
    "nostalgic": ("heart", "glow", "rain", "day"),
    "melancholic": ("rain", "glow", "heart", "sea"),
    "mysterious": ("glow", "fire", "rain", "sea"),
    "dreamy": ("sky", "glow", "sea", "light"),
}
_OPENINGS: tuple[str, ...] = (
    "Under the {w}",
    "Through the {w}",
    "Beside the {w}",
    "Carried by the {w}",
    "Out of the {w}",
    "Into the {w}",
    "Close to the {w}",
    "Born from the {w}",
)
_MOOD_WORDS: dict[str, tuple[str, ...]] = {
    "energetic": ("electric", "wild"),
    "joyful": ("golden", "bright"),
    "serene": ("quiet", "gentle"),
    "nostalgic": ("faded", "old"),
    "melancholic": ("lonely", "blue"),
    "mysterious": ("hidden", "secret"),
    "dreamy": ("drifting", "floating"),
}


class LocalLyricist:
    """Offline rhymed lyrics from mood and content words (see module docstring). Deterministic."""

    name = "local"

    def compose(self, analysis: PhotoAnalysis) -> SongText:
        """Write the song text synchronously (pure function of the analysis)."""
        seed = analysis.seed
        words = analysis.content_words or ["light"]
        families = _MOOD_FAMILIES.get(analysis.mood, _MOOD_FAMILIES["dreamy"])
        fam_a = families[seed % len(families)]
        fam_b = families[(seed // 7 + 1) % len(families)]
        if fam_b == fam_a:
            fam_b = families[(families.index(fam_a) + 1) % len(families)]
        adjective = _MOOD_WORDS.get(analysis.mood, ("drifting",))[seed % 2]

        def opening(i: int) -> str:
            word = words[(i + seed) % len(words)]
            return _OPENINGS[(seed // 3 + i * 5) % len(_OPENINGS)].format(
                w=f"{adjective} {word}" if i % 3 == 0 else word
            )

        def ending(family: str, i: int) -> str:
            options = RHYME_FAMILIES[family]
            return options[(seed // 11 + i) % len(options)]

        verse = [
            f"{opening(0)}, {ending(fam_a, 0)}",
            f"{opening(1)}, {ending(fam_a, 1)}",
            f"{opening(2)}, {ending(fam_b, 0)}",
            f"{opening(3)}, {ending(fam_b, 1)}",
        ]
        hook_word = words[0].capitalize()
        title = f"{adjective.capitalize()} {hook_word}"
        chorus = [
            f"Oh, {title.lower()}, {ending(fam_a, 2)}",
            f"Stay with me, {ending(fam_b, 2)}",
            f"Oh, {title.lower()}, {ending(fam_a, 3)}",
            f"Sing with me, {ending(fam_b, 3)}",
        ]
        lyrics = "[Verse]\n" + "\n".join(verse) + "\n\n[Chorus]\n" + "\n".join(chorus)
        return SongText(
            title=title,
            mood=analysis.mood,
            lyrics=lyrics,
            lines=verse + chorus,
            music=music_prompt_for(analysis),
            engine=self.name,
        )

    async def write(self, analysis: PhotoAnalysis, image: Image.Image) -> SongText:
        """See :class:`Lyricist`; never raises."""
        return self.compose(analysis)


# --- Claude ---------------------------------------------------------------------------------
_CLAUDE_PROMPT = """You write a short song for a 30-second music video made from this photo.
Measured from the pixels: mood {mood}, brightness {brightness:.2f}, warmth {warmth:+.2f},
dominant colours {colours}. Look at the photo itself for its content.

Answer with one JSON object only, no prose, with these keys:
"title": a song title (at most 6 words),
"mood": one of {moods},
"lyrics": exactly 8 lines: a [Verse] of 4 rhymed lines and a [Chorus] of 4 lines, with those headings,
"music": {{"genre": str, "tempo_bpm": int 60-160, "key": like "A minor" or "D major",
           "instruments": [str, ...]}}
"""


def _jpeg_b64(image: Image.Image, long_side: int = 1568) -> str:
    copy = image.copy()
    copy.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    copy.convert("RGB").save(buf, "JPEG", quality=85)
    return base64.b64encode(buf.getvalue()).decode()


def _json_object(text: str) -> dict[str, Any]:
    match = re.search(r"\{.*\}", text, re.S)
    if not match:
        raise ValueError("no JSON object in the reply")
    value = json.loads(match.group(0))
    if not isinstance(value, dict):
        raise ValueError("the reply is not a JSON object")
    return value


class ClaudeLyricist:
    """Lyrics from Claude (Anthropic Messages API through the ``anthropic`` SDK), photo included.

    Args:
        api_key: the Anthropic API key.
        model: model name, e.g. ``claude-sonnet-4-5``.
        base_url: API base URL (``None`` = the SDK's default); tests point it at a fake.
        timeout_s: per-request timeout, seconds.
        max_retries: SDK retries on 408/409/429/5xx and connection errors (exponential backoff).
    """

    name = "claude"

    def __init__(
        self,
        api_key: str,
        model: str,
        base_url: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 2,
    ) -> None:
        import anthropic

        self.model = model
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=max_retries
        )

    async def write(self, analysis: PhotoAnalysis, image: Image.Image) -> SongText:
        """See :class:`Lyricist`.

        Raises:
            LyricsError: ``lyrics_provider_failed`` (API error after retries) or
                ``lyrics_bad_reply`` (the reply is not the JSON asked for).
        """
        import anthropic

        colours = ", ".join(str(c["name"]) for c in analysis.dominant_colors[:3])
        prompt = _CLAUDE_PROMPT.format(
            mood=analysis.mood,
            brightness=analysis.brightness,
            warmth=analysis.warmth,
            colours=colours,
            moods=", ".join(MOODS),
        )
        try:
            message = await self._client.messages.create(
                model=self.model,
                max_tokens=1024,
                messages=[
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "image",
                                "source": {
                                    "type": "base64",
                                    "media_type": "image/jpeg",
                                    "data": _jpeg_b64(image),
                                },
                            },
                            {"type": "text", "text": prompt},
                        ],
                    }
                ],
            )
        except anthropic.APIStatusError as exc:
            raise LyricsError(
                "lyrics_provider_failed", f"Claude answered HTTP {exc.status_code}: {_short(exc.message)}"
            ) from exc
        except anthropic.APIError as exc:
            raise LyricsError(
                "lyrics_provider_failed", f"Claude could not be reached: {_short(str(exc))}"
            ) from exc
        text = "".join(getattr(block, "text", "") for block in message.content)
        try:
            data = _json_object(text)
            lyrics = str(data["lyrics"]).strip()
            lines = [
                ln.strip() for ln in lyrics.splitlines() if ln.strip() and not ln.strip().startswith("[")
            ]
            music = dict(data["music"])
            music["tempo_bpm"] = int(min(160, max(60, int(music.get("tempo_bpm", 96)))))
            return SongText(
                title=str(data["title"]).strip()[:120],
                mood=str(data.get("mood") or analysis.mood),
                lyrics=lyrics,
                lines=lines,
                music=MusicPrompt.model_validate(music),
                engine=self.name,
            )
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            raise LyricsError(
                "lyrics_bad_reply", f"Claude's reply was not the JSON asked for: {_short(str(exc))}"
            ) from exc


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
