"""Conversation temperature: how heated a recorded conversation is, on a 1-100 scale.

The public contract (``POST /analyze-audio``) returns ``temperature`` (1-100),
``confidence`` (0-1) and ``analysis_summary``; :class:`TemperatureResult` also carries
``drivers`` (each component's contribution, in temperature points), ``components``
(each component's 0..1 value) and ``features`` (the raw measurements behind them).

Analyzers implement :class:`TemperatureAnalyzer`. :class:`LocalTemperatureAnalyzer` is the
offline default: deterministic, no network, no model beyond the VADER lexicon, and every
point of its score can be traced to a measured feature. Provider-backed analyzers
(OpenAI, Anthropic, Gemini) implement the same interface.

Scoring formula of the local analyzer
=====================================

Six components are measured and each mapped to 0..1 with a linear ramp
``ramp(x, lo, hi) = clip((x - lo) / (hi - lo), 0, 1)`` (below ``lo`` = no heat, at or
above ``hi`` = full heat):

====================  ======  ===============================================================
component             weight  measurement and mapping
====================  ======  ===============================================================
hostility             0.25    VADER sentiment (Hutto & Gilbert 2014, "VADER: A Parsimonious
                              Rule-based Model for Sentiment Analysis of Social Media Text",
                              ICWSM; the ``vaderSentiment`` package and its bundled lexicon)
                              per sentence. ``0.5 * ramp(mean negativity, 0.02, 0.30)
                              + 0.5 * ramp(share of hostile sentences, 0.05, 0.40)``, where
                              negativity = ``max(0, -compound)``, a sentence is hostile when
                              ``compound <= -0.3`` (a segment without sentence punctuation
                              counts as one sentence), and both averages weight sentences by
                              their number of words.
conflict_language     0.20    :data:`CONFLICT_LEXICON` (insults, accusations such as "you
                              always"/"you never", dismissals, imperatives like "shut up",
                              "how dare", mild profanity): summed weights of matches per 100
                              words; ``ramp(density, 1, 10)``.
emphasis_cues         0.10    from the audio and the words, never from punctuation or letter
                              case (the recogniser may not write them): ``0.35 *
                              ramp(energy bursts, 0.02, 0.15) + 0.35 * ramp(pitch spread,
                              6, 14 semitones) + 0.30 * ramp(repeats per 100 words, 0.5, 4)``;
                              bursts = share of voiced frames >= 10 dB over the median,
                              pitch spread = p90 - p10 of frame F0 (see
                              :func:`compute_audio_dynamics`). Without audio only repeats.
speech_rate           0.10    words per minute of speaking time (word durations plus gaps
                              shorter than 0.5 s) from word timestamps (segment times if there
                              are none); ``ramp(wpm, 150, 230)``: ~150 wpm is conversational
                              and neutral, 230 wpm and above is rushed.
turn_taking           0.15    only from diarized speaker changes (>= 2 labelled speakers,
                              else left out: a monologue has no turn-taking): ``0.6 *
                              ramp(quick share, 0.1, 0.6) + 0.4 * ramp(speaker changes per
                              minute, 6, 24)``; quick share = share of speaker changes whose
                              gap is < 150 ms or negative (interruption).
loudness              0.20    relative dynamics only, so gain does not matter (-20..+6 dB
                              moves the temperature by <= 3 points, tested):
                              ``0.50 * ramp(p95 - median level, 6, 14 dB) + 0.30 *
                              ramp(loud fraction, 0.25, 0.55) + 0.20 * ramp(dynamic range,
                              15, 35)`` over 50 ms frames (:class:`AudioDynamics`).
====================  ======  ===============================================================

A component that cannot be measured (no audio, no word timings, a single segment...)
is left out and the remaining weights are renormalised to sum to 1. Then::

    heat        = sum(weight_i * component_i) / sum(weight_i)      (available components)
    temperature = round(1 + 99 * heat)                             (1..100)
    drivers[i]  = 99 * weight_i * component_i / sum(weight_i)      (points; 1 + sum = temperature)

Levels: <= 20 "Calm", <= 40 "Mildly heated", <= 60 "Moderately heated", <= 80 "Heated",
above "Very heated". A friendly chat scores well under 30; a fast, loud argument full of
insults scores over 70.

Confidence (0..1) is ``0.05 + 0.90 * L * A * C * D`` with ``L = 1 - exp(-words / 40)``
(more words, more evidence), ``A = 0.55 + 0.45 * (1 - 2 * weighted std of the
components)`` (components agreeing), ``C = 0.6 + 0.4 * available weight`` (coverage) and
``D = min(1, 0.4 + 0.6 * duration / 15 s)`` (very short audio is less telling). With no
words the temperature comes from loudness alone and confidence is at most 0.15 (0 when
there is no audio either).

Summary: ``"<Level> conversation (<t>/100), driven by <up to 3 components whose value is
>= 0.4, largest contribution first>. Topics: <topics>."``: every driver named is a key of
``components`` with a value >= 0.4 (tested claim by claim). Topics are at most 3 words the
recogniser was confident about (word probability >= 0.7), said at least twice and part of
a YAKE keyphrase, after removing :data:`STOPWORDS`, :data:`NON_TOPICS`, conflict-lexicon
words and VADER words with ``|valence| >= 1`` (sentiment, not subject matter); ties are
broken by first appearance and a plural is folded into its singular when both occur.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from services.analysis.dynamics import AudioDynamics, compute_audio_dynamics
from services.common.analysis_results import TemperatureResult
from services.common.transcript import Segment, Transcript

__all__ = [
    "CONFLICT_LEXICON",
    "STOPWORDS",
    "WEIGHTS",
    "AudioDynamics",
    "LLMTemperatureAnalyzer",
    "LocalTemperatureAnalyzer",
    "TemperatureAnalyzer",
    "TemperatureAnswer",
    "TemperatureResult",
    "compute_audio_dynamics",
    "level_for",
]

# --------------------------------------------------------------------------- analyzers


class TemperatureAnalyzer(ABC):
    """Scores how heated a conversation is from its transcript and (optionally) its loudness."""

    name: str = "abstract"

    @abstractmethod
    async def analyze(self, transcript: Transcript, audio: AudioDynamics | None = None) -> TemperatureResult:
        """Return the temperature of ``transcript``; ``audio`` adds loudness evidence."""


#: Component weights (sum to 1). See the module docstring for each mapping.
WEIGHTS: dict[str, float] = {
    "hostility": 0.25,
    "conflict_language": 0.20,
    "emphasis_cues": 0.10,
    "speech_rate": 0.10,
    "turn_taking": 0.15,
    "loudness": 0.20,
}

#: Plain-words names of the components, for the summary.
DRIVER_PHRASES: dict[str, str] = {
    "hostility": "hostile language",
    "conflict_language": "accusatory words",
    "emphasis_cues": "emphatic delivery",
    "speech_rate": "fast speech",
    "turn_taking": "rapid turn-taking",
    "loudness": "loud peaks above the speaking level",
}

#: Conflict markers -> weight (how strongly one occurrence signals a heated exchange).
#: Matched case-insensitively on whole words; a trailing plural "s"/"es" is allowed.
#: 3 = insult or aggressive command, 2 = accusation or dismissal, 1 = weak cue on its own.
CONFLICT_LEXICON: dict[str, float] = {
    # insults
    "idiot": 3.0,
    "stupid": 3.0,
    "moron": 3.0,
    "dumb": 2.5,
    "liar": 3.0,
    "loser": 3.0,
    "pathetic": 3.0,
    "useless": 2.5,
    "incompetent": 2.5,
    "selfish": 2.5,
    "lazy": 2.0,
    "jerk": 3.0,
    "coward": 2.5,
    "disgusting": 2.5,
    "clown": 2.0,
    # aggressive commands / imperatives
    "shut up": 3.0,
    "how dare": 3.0,
    "don't you dare": 3.0,
    "get out": 2.5,
    "back off": 2.5,
    "leave me alone": 2.5,
    "listen to me": 2.0,
    "stop interrupting": 2.5,
    "let me finish": 2.0,
    "don't talk to me": 2.5,
    "stop it": 1.5,
    "screw you": 3.0,
    # accusations
    "you always": 2.0,
    "you never": 2.0,
    "your fault": 2.5,
    "you lied": 3.0,
    "you're lying": 3.0,
    "you are lying": 3.0,
    "lied": 2.0,
    "blame": 1.5,
    "you don't care": 2.5,
    "you don't listen": 2.5,
    "what is wrong with you": 3.0,
    "what's wrong with you": 3.0,
    # dismissals, exasperation
    "ridiculous": 2.0,
    "absurd": 2.0,
    "nonsense": 2.0,
    "unbelievable": 1.5,
    "are you kidding": 2.0,
    "give me a break": 2.0,
    "sick of": 2.5,
    "fed up": 2.5,
    "had enough": 2.0,
    "i don't care": 2.0,
    "whatever": 1.0,
    "excuse": 1.0,
    "hate": 2.5,
    # profanity-lite
    "damn": 1.5,
    "hell": 1.5,
    "crap": 1.5,
    "bloody": 1.5,
    "pissed": 2.0,
    "bullshit": 3.0,
    "shit": 2.5,
    "fuck": 3.0,
    "fucking": 3.0,
}

#: Function words and conversational fillers left out of the topics.
STOPWORDS: frozenset[str] = frozenset(
    """
    a about above after again against all almost also although always am among an and any anybody
    anyone anything anyway are aren't around as at away back be because been before being below
    between both but by can can't cannot could couldn't did didn't do does doesn't doing don't done
    down during each either else enough even ever every everybody everyone everything few for from
    further get gets getting go goes going gone gonna got gotta had hadn't has hasn't have haven't
    having he he'd he'll he's her here here's hers herself him himself his how how's however i i'd
    i'll i'm i've if in into is isn't it it's its itself just know let let's like look lot lots made
    make many may maybe me mean might mine more most much must mustn't my myself need never next no
    nor not nothing now of off often oh ok okay on once one only or other others ought our ours
    ourselves out over own please pretty quite rather really right said same say says see seem
    shall shan't she she'd she'll she's should shouldn't since so some somebody someone something
    sometimes still such sure take tell than thank thanks that that's the their theirs them
    themselves then there there's these they they'd they'll they're they've thing things think
    this those though through thus till to today told too toward towards two um uh under until up
    upon us very via want wanna was wasn't way we we'd we'll we're we've well went were weren't what
    what's whatever when when's where where's whether which while who who's whom whose why why's
    will with within without won't would wouldn't yeah yes yet you you'd you'll you're you've your
    yours yourself yourselves hi hello hey bye come came along actually basically literally kind
    sort stuff three first second another anyone's every said saying tried try trying use used
    """.split()
)

_WORD_RE = re.compile(r"[A-Za-z][A-Za-z'’]*")
_SENTENCE_RE = re.compile(r"[^.!?]+[.!?]*")
_CAPS_ALLOWED = frozenset({"I", "OK", "TV", "US", "USA", "UK", "EU", "AI", "CEO", "ID", "PM", "AM", "UN"})
PAUSE_SECONDS = 0.5
QUICK_GAP_SECONDS = 0.15
#: Words recognised with a lower probability never become topics.
TOPIC_MIN_PROBABILITY = 0.7
KEYPHRASES = 15
#: Frequent words that are not subjects: verbs, adjectives and vague nouns.
NON_TOPICS: frozenset[str] = frozenset(
    """
    new old good bad great big small little long short high low thinking think thought feel
    feeling going doing getting making saying talking looking working asked ask asking told
    men man people guy guys time times day days year years week weeks bit part place
    """.split()
)
HOSTILE_COMPOUND = -0.3


def ramp(x: float, lo: float, hi: float) -> float:
    """``clip((x - lo) / (hi - lo), 0, 1)``: 0 at or below ``lo``, 1 at or above ``hi``."""
    if hi == lo:
        return 1.0 if x >= hi else 0.0
    return float(min(1.0, max(0.0, (x - lo) / (hi - lo))))


def level_for(temperature: int) -> str:
    """The plain-words level of a 1-100 temperature."""
    if temperature <= 20:
        return "Calm"
    if temperature <= 40:
        return "Mildly heated"
    if temperature <= 60:
        return "Moderately heated"
    if temperature <= 80:
        return "Heated"
    return "Very heated"


@lru_cache(maxsize=1)
def _vader() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


@lru_cache(maxsize=1)
def _conflict_patterns() -> tuple[tuple[str, float, re.Pattern[str]], ...]:
    out = []
    for phrase, weight in CONFLICT_LEXICON.items():
        body = r"\s+".join(re.escape(part) for part in phrase.split())
        out.append((phrase, weight, re.compile(rf"(?<![\w']){body}(?:s|es)?(?![\w'])")))
    return tuple(out)


@lru_cache(maxsize=1)
def _conflict_words() -> frozenset[str]:
    return frozenset(w for phrase in CONFLICT_LEXICON for w in phrase.split())


def _normalise(text: str) -> str:
    return text.replace("’", "'").replace("‘", "'")


def _tokens(text: str) -> list[str]:
    return [m.group(0).replace("’", "'") for m in _WORD_RE.finditer(text)]


def _confident_tokens(segments: list[Segment]) -> list[str] | None:
    """Tokens of the words recognised with probability >= ``TOPIC_MIN_PROBABILITY``; None
    when the transcript has no word timings (then every token counts)."""
    words = [w for s in segments for w in s.words]
    if not words:
        return None
    return [t for w in words if w.probability >= TOPIC_MIN_PROBABILITY for t in _tokens(_normalise(w.word))]


@lru_cache(maxsize=64)
def _keyphrase_words(text: str) -> frozenset[str]:
    """Lower-cased words of the top YAKE keyphrases (1-2 words) of ``text``."""
    import yake

    if not text.strip():
        return frozenset()
    extractor = yake.KeywordExtractor(lan="en", n=2, top=KEYPHRASES, dedup_lim=0.9)
    return frozenset(w.lower() for phrase, _score in extractor.extract_keywords(text) for w in phrase.split())


@dataclass
class _Component:
    value: float
    features: dict[str, float]


class LocalTemperatureAnalyzer(TemperatureAnalyzer):
    """Deterministic, explainable, offline temperature scoring (see the module docstring)."""

    name = "local"

    async def analyze(self, transcript: Transcript, audio: AudioDynamics | None = None) -> TemperatureResult:
        """Score ``transcript`` (and ``audio`` loudness when given). Never raises on empty input."""
        return self.score(transcript, audio)

    # -- synchronous core -----------------------------------------------------------------

    def score(self, transcript: Transcript, audio: AudioDynamics | None = None) -> TemperatureResult:
        """Synchronous form of :meth:`analyze`."""
        segments = [s for s in transcript.segments if s.text.strip() or s.words]
        text = " ".join(s.text.strip() for s in segments) if segments else transcript.text
        text = _normalise(text)
        tokens = _tokens(text)
        if not tokens:  # fall back to word objects when segments carry no text
            tokens = _tokens(_normalise(" ".join(w.word for w in transcript.words)))
            text = " ".join(tokens)
        n_words = len(tokens)
        duration = transcript.duration or (audio.duration_s if audio else 0.0)

        comps: dict[str, _Component] = {}
        if audio is not None and audio.has_voice:
            comps["loudness"] = self._loudness(audio)
        if n_words == 0:
            return self._no_speech(comps, audio)

        sentences = self._sentences(segments, text)
        comps["hostility"] = self._hostility(sentences)
        comps["conflict_language"] = self._conflict(text, n_words)
        comps["emphasis_cues"] = self._cues(tokens, audio)
        rate = self._speech_rate(segments)
        if rate is not None:
            comps["speech_rate"] = rate
        turns = self._turn_taking(segments)
        if turns is not None:
            comps["turn_taking"] = turns

        temperature, heat, drivers, values, coverage = self._combine(comps)
        confidence = self._confidence(n_words, values, coverage, duration)
        features = {k: round(v, 4) for c in comps.values() for k, v in c.features.items()}
        features["words"] = float(n_words)
        features["heat"] = round(heat, 4)
        summary = self._summary(temperature, values, drivers, tokens, _confident_tokens(segments))
        return TemperatureResult(
            temperature=temperature,
            confidence=confidence,
            analysis_summary=summary,
            drivers=drivers,
            components={k: round(v, 4) for k, v in values.items()},
            features=features,
            analyzer=self.name,
        )

    # -- combination ----------------------------------------------------------------------

    @staticmethod
    def _combine(
        comps: dict[str, _Component],
    ) -> tuple[int, float, dict[str, float], dict[str, float], float]:
        names = [n for n in WEIGHTS if n in comps]
        coverage = sum(WEIGHTS[n] for n in names)
        if not names:
            return 1, 0.0, {}, {}, 0.0
        values = {n: comps[n].value for n in names}
        heat = sum(WEIGHTS[n] * values[n] for n in names) / coverage
        drivers = {n: round(99.0 * WEIGHTS[n] * values[n] / coverage, 2) for n in names}
        temperature = int(min(100, max(1, round(1 + 99 * heat))))
        return temperature, heat, drivers, values, coverage

    @staticmethod
    def _confidence(n_words: int, values: dict[str, float], coverage: float, duration: float) -> float:
        if not values:
            return 0.0
        w = np.array([WEIGHTS[n] for n in values])
        v = np.array(list(values.values()))
        mean = float(np.sum(w * v) / np.sum(w))
        std = float(np.sqrt(np.sum(w * (v - mean) ** 2) / np.sum(w)))
        length = 1.0 - math.exp(-n_words / 40.0)
        agreement = 0.55 + 0.45 * max(0.0, 1.0 - 2.0 * std)
        cover = 0.6 + 0.4 * coverage
        short = min(1.0, 0.4 + 0.6 * duration / 15.0) if duration > 0 else 0.4
        return round(min(1.0, 0.05 + 0.90 * length * agreement * cover * short), 3)

    def _no_speech(self, comps: dict[str, _Component], audio: AudioDynamics | None) -> TemperatureResult:
        if "loudness" in comps:
            loud = comps["loudness"]
            temperature = int(min(100, max(1, round(1 + 99 * loud.value))))
            confidence = round(0.05 + 0.10 * min(1.0, (audio.duration_s if audio else 0.0) / 15.0), 3)
            summary = (
                f"No speech was detected; the temperature ({temperature}/100) reflects "
                f"audio loudness only ({level_for(temperature).lower()})."
            )
            return TemperatureResult(
                temperature=temperature,
                confidence=confidence,
                analysis_summary=summary,
                drivers={"loudness": round(99 * loud.value, 2)},
                components={"loudness": round(loud.value, 4)},
                features={**{k: round(v, 4) for k, v in loud.features.items()}, "words": 0.0},
                analyzer=self.name,
            )
        features = {"words": 0.0}
        if audio is not None:
            features["audio_duration_s"] = round(audio.duration_s, 3)
        return TemperatureResult(
            temperature=1,
            confidence=0.0,
            analysis_summary="No speech was detected, so the conversation temperature could not be assessed.",
            features=features,
            analyzer=self.name,
        )

    # -- components -----------------------------------------------------------------------

    @staticmethod
    def _sentences(segments: list[Segment], text: str) -> list[str]:
        sources = [_normalise(s.text) for s in segments if s.text.strip()] or [text]
        out: list[str] = []
        for src in sources:
            out.extend(m.group(0).strip() for m in _SENTENCE_RE.finditer(src) if _WORD_RE.search(m.group(0)))
        return out

    @staticmethod
    def _hostility(sentences: list[str]) -> _Component:
        vader = _vader()
        total = neg_sum = hostile_words = 0.0
        for sentence in sentences:
            words = len(_tokens(sentence))
            compound = vader.polarity_scores(sentence)["compound"]
            total += words
            neg_sum += words * max(0.0, -compound)
            if compound <= HOSTILE_COMPOUND:
                hostile_words += words
        mean_neg = neg_sum / total if total else 0.0
        share = hostile_words / total if total else 0.0
        value = 0.5 * ramp(mean_neg, 0.02, 0.30) + 0.5 * ramp(share, 0.05, 0.40)
        return _Component(value, {"vader_mean_negativity": mean_neg, "hostile_sentence_share": share})

    @staticmethod
    def _conflict(text: str, n_words: int) -> _Component:
        lowered = text.lower()
        total = 0.0
        hits = 0
        for _phrase, weight, pattern in _conflict_patterns():
            count = len(pattern.findall(lowered))
            hits += count
            total += weight * count
        density = 100.0 * total / max(n_words, 1)
        return _Component(
            ramp(density, 1.0, 10.0), {"conflict_per_100_words": density, "conflict_matches": float(hits)}
        )

    @staticmethod
    def _cues(tokens: list[str], audio: AudioDynamics | None) -> _Component:
        """Emphasis from the audio (energy bursts, pitch excursions) and repeated words;
        never from punctuation or letter case, which the recogniser may not write."""
        terms: list[tuple[float, float]] = []
        feats: dict[str, float] = {}
        if audio is not None and audio.has_voice:
            feats["energy_burst_fraction"] = audio.energy_burst_fraction
            terms.append((0.35, ramp(audio.energy_burst_fraction, 0.02, 0.15)))
            if audio.pitch_frames >= 10:
                feats["pitch_spread_semitones"] = audio.pitch_spread_semitones
                terms.append((0.35, ramp(audio.pitch_spread_semitones, 6.0, 14.0)))
        lowered = [t.lower() for t in tokens]
        repeats = sum(1 for a, b in zip(lowered, lowered[1:], strict=False) if a == b)
        per100 = 100.0 * repeats / max(len(tokens), 1)
        feats["repeats_per_100_words"] = per100
        terms.append((0.30, ramp(per100, 0.5, 4.0)))
        value = sum(w * v for w, v in terms) / sum(w for w, _ in terms)
        return _Component(value, feats)

    @staticmethod
    def _speech_rate(segments: list[Segment]) -> _Component | None:
        words = sorted((w for s in segments for w in s.words), key=lambda w: (w.start, w.end))
        if len(words) >= 5:
            speaking = sum(max(0.0, w.end - w.start) for w in words)
            speaking += sum(
                gap
                for a, b in zip(words, words[1:], strict=False)
                if 0.0 < (gap := b.start - a.end) < PAUSE_SECONDS
            )
            n = len(words)
        else:
            timed = [s for s in segments if s.end > s.start and s.text.strip()]
            speaking = sum(s.end - s.start for s in timed)
            n = sum(len(_tokens(s.text)) for s in timed)
        if n < 5 or speaking < 2.0:
            return None
        wpm = 60.0 * n / speaking
        return _Component(ramp(wpm, 150.0, 230.0), {"words_per_minute": wpm})

    @staticmethod
    def _turn_taking(segments: list[Segment]) -> _Component | None:
        """Only from speaker changes of a diarized transcript: None (left out) unless at
        least two speakers are labelled, so a monologue never shows turn-taking."""
        timed = sorted((s for s in segments if s.end >= s.start), key=lambda s: (s.start, s.end))
        speakers = {s.speaker for s in timed if s.speaker}
        if len(timed) < 2 or len(speakers) < 2 or not all(s.speaker for s in timed):
            return None
        changes = [(a, b) for a, b in zip(timed, timed[1:], strict=False) if a.speaker != b.speaker]
        span = timed[-1].end - timed[0].start
        if not changes or span <= 0:
            return None
        gaps = np.array([b.start - a.end for a, b in changes], dtype=np.float64)
        quick = float(np.mean(gaps < QUICK_GAP_SECONDS))
        overlap = float(np.mean(gaps < 0.0))
        per_min = len(changes) / (span / 60.0)
        value = 0.6 * ramp(quick, 0.1, 0.6) + 0.4 * ramp(per_min, 6.0, 24.0)
        return _Component(
            value,
            {"quick_turn_share": quick, "overlap_share": overlap, "speaker_changes_per_minute": per_min},
        )

    @staticmethod
    def _loudness(audio: AudioDynamics) -> _Component:
        value = (
            0.50 * ramp(audio.peak_over_median_db, 6.0, 14.0)
            + 0.30 * ramp(audio.loud_fraction, 0.25, 0.55)
            + 0.20 * ramp(audio.dynamic_range_db, 15.0, 35.0)
        )
        return _Component(
            value,
            {
                "peak_over_median_db": audio.peak_over_median_db,
                "loudness_median_dbfs": audio.loudness_db,
                "loudness_p95_dbfs": audio.loudness_p95_db,
                "loud_fraction": audio.loud_fraction,
                "dynamic_range_db": audio.dynamic_range_db,
                "peak_dbfs": audio.peak_dbfs,
            },
        )

    # -- summary --------------------------------------------------------------------------

    @staticmethod
    def _topics(tokens: list[str], limit: int = 3) -> list[str]:
        """Up to ``limit`` topic words: content words (not :data:`STOPWORDS`, not
        :data:`NON_TOPICS`, not conflict or sentiment words) said at least twice, that
        also occur in a YAKE keyphrase of the text (Campos et al. 2020, "YAKE! Keyword
        extraction from single documents using multiple local features"); most frequent
        first. ``tokens`` are the words the recogniser was confident about."""
        lexicon = _vader().lexicon
        conflict = _conflict_words()
        counts: Counter[str] = Counter()
        first: dict[str, int] = {}
        for i, token in enumerate(tokens):
            t = token.lower().strip("'")
            if t.endswith("'s"):
                t = t[:-2]
            if (
                len(t) < 3
                or t in STOPWORDS
                or t in NON_TOPICS
                or t in conflict
                or abs(lexicon.get(t, 0.0)) >= 1.0
            ):
                continue
            counts[t] += 1
            first.setdefault(t, i)
        for word in list(counts):  # fold plurals into singulars seen in the same text
            for singular in (word[:-1], word[:-2]) if word.endswith("s") else ():
                if singular in counts and singular != word:
                    counts[singular] += counts.pop(word)
                    break
        keyphrase_words = _keyphrase_words(" ".join(tokens))
        ranked = sorted(
            (w for w in counts if counts[w] >= 2 and (w in keyphrase_words or w + "s" in keyphrase_words)),
            key=lambda w: (-counts[w], first[w]),
        )
        return ranked[:limit]

    def _summary(
        self,
        temperature: int,
        values: dict[str, float],
        drivers: dict[str, float],
        tokens: list[str],
        confident: list[str] | None = None,
    ) -> str:
        level = level_for(temperature)
        main = [n for n in sorted(drivers, key=lambda n: (-drivers[n], n)) if values[n] >= 0.4][:3]
        if main:
            phrases = [DRIVER_PHRASES[n] for n in main]
            joined = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]
            if level == "Calm":
                head = f"{level} conversation ({temperature}/100), few signs of conflict apart from {joined}."
            else:
                head = f"{level} conversation ({temperature}/100), driven by {joined}."
        else:
            head = f"{level} conversation ({temperature}/100) with no strong signs of conflict."
        topics = self._topics(confident if confident is not None else tokens)
        return f"{head} Topics: {', '.join(topics)}." if topics else head


# --------------------------------------------------------------------------- provider-backed


class TemperatureAnswer(BaseModel):
    """What a provider is asked for (seed 000: a 1-100 score, a confidence and a summary)."""

    temperature: int = Field(ge=1, le=100)
    confidence: float = Field(ge=0.0, le=1.0)
    analysis_summary: str
    drivers: list[str] = Field(description="Short names of what made it heated, most important first.")


TEMPERATURE_INSTRUCTIONS = (
    "You rate how heated a recorded conversation is. Each input line is 'Speaker: what they said'. "
    "Return temperature as an integer from 1 (calm, friendly) to 100 (a furious argument with insults and "
    "shouting), your confidence from 0 to 1, a one or two sentence analysis_summary naming the level, what "
    "drives it and the topics, and the drivers. Rate tone and conflict, not the subject matter."
)


class LLMTemperatureAnalyzer(TemperatureAnalyzer):
    """Seed 000's provider-backed scoring: the transcript (and loudness figures) sent to an LLM.

    A transcript over the provider's context window is scored per chunk and combined as the
    word-weighted mean of the chunks' temperatures and confidences; the summary is the hottest
    chunk's. With no words there is nothing to ask: the local analyzer's loudness-only result
    is returned (its ``analyzer`` stays ``local``).
    """

    def __init__(self, provider: Any) -> None:
        """``provider``: a :class:`services.analysis.providers.StructuredProvider`."""
        self.provider = provider
        self.name = provider.name

    async def analyze(self, transcript: Transcript, audio: AudioDynamics | None = None) -> TemperatureResult:
        """Ask the provider.

        Raises:
            services.analysis.providers.ProviderError: when the provider fails for good.
        """
        from services.analysis.providers import estimate_tokens
        from services.analysis.text import chunk_lines, transcript_lines

        lines = transcript_lines(transcript)
        n_words = len(_tokens(" ".join(lines)))
        if n_words == 0:
            return LocalTemperatureAnalyzer().score(transcript, audio)
        context = ""
        if audio is not None and audio.has_voice:
            context = (
                f"Loudness: 95th percentile {audio.loudness_p95_db:.1f} dBFS, "
                f"loud fraction {audio.loud_fraction:.2f}, "
                f"dynamic range {audio.dynamic_range_db:.1f} dB.\n"
            )
        budget = self.provider.input_budget_tokens - estimate_tokens(TEMPERATURE_INSTRUCTIONS + context)
        chunks = chunk_lines(lines, max(16, budget))
        scored: list[tuple[int, TemperatureAnswer]] = []
        for chunk in chunks:
            generation = await self.provider.generate(
                TEMPERATURE_INSTRUCTIONS, context + chunk, TemperatureAnswer
            )
            scored.append((max(1, len(_tokens(chunk))), generation.value))
        total = sum(n for n, _ in scored)
        temperature = int(round(sum(n * a.temperature for n, a in scored) / total))
        confidence = sum(n * a.confidence for n, a in scored) / total
        hottest = max(scored, key=lambda s: s[1].temperature)[1]
        return TemperatureResult(
            temperature=max(1, min(100, temperature)),
            confidence=round(confidence, 3),
            analysis_summary=hottest.analysis_summary,
            drivers={d: 0.0 for d in hottest.drivers[:5]},
            components={},
            features={"words": float(n_words), "chunks": float(len(chunks))},
            analyzer=self.name,
        )
