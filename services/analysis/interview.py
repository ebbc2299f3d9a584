"""Interview coach analyses (seed 001): questions, domain, communication, pace, pause and
the complete analysis; local or provider-backed. The session report is in
:mod:`services.analysis.interview_report`.

Measurements (pace, pause) are always local; judgments (questions, domain, communication)
come from the local rules or from a provider.

- **Questions** (local): the resume's skills normalised against the skills vocabulary
  (:mod:`services.analysis.skills`), questions from the documented bank
  (:mod:`services.analysis.question_bank`) with their key concepts and mixed difficulty;
  no known skill gives the track's generic questions.
- **Domain** and **communication**: :mod:`services.analysis.answer` (lemmatised key-concept
  coverage with synonyms; clarity, structure, vocabulary, fluency and quoted suggestions).
- **Pace**: ``wpm = words / ((last word end - first word start) / 60)``; bands slow < 110,
  ideal 110-160, fast > 160 wpm (conversational English is ~120-160 wpm); over time in
  windows of ``window_s`` (default 10 s) from the first word: words starting in the
  window / window length (the last window ends at the last word's end).
- **Pause**: from the recording's voice activity when the transcription stored it (Silero
  VAD, Silero Team 2021, as shipped by faster-whisper): a pause is a silence of at least
  0.25 s between speech intervals (the classic 250 ms silent-pause threshold,
  Goldman-Eisler 1968), ``speaking_ratio = speech time / (last speech end - first speech
  start)``. Without voice activity, pauses are gaps between consecutive words (a lower
  bound: Whisper's word timings absorb silences; on ``jfk.flac`` word gaps find 1 pause of
  0.48 s, VAD 3 pauses of 2.8 s). Long pauses are ``>= 1.5 s``; filled pauses ("um", "uh",
  "erm", "you know"...) are counted from the words. ``score = 100 - 15 * long pauses - 40 *
  ramp(pause time / span, 0.15, 0.5) - 5 * max(0, filled pauses - 2)`` (clipped to 0-100).
- **Complete**: the requested analyses run concurrently (``asyncio.gather``), each under its
  own timeout; one failing or timing out leaves the others' results (partial result, its
  error listed).
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from pydantic import BaseModel, Field

from services.analysis.answer import (
    CommunicationAnalysis,
    DomainAnalysis,
    Suggestion,
    analyze_communication,
    analyze_domain_concepts,
    ramp,
)
from services.analysis.providers import ProviderError, StructuredProvider
from services.analysis.question_bank import TRACKS, build_questions, concepts_for_question
from services.analysis.resume import parse_resume
from services.analysis.skills import normalise_skills
from services.analysis.text import detect_language, words
from services.common.analysis_results import (
    ANALYSIS_TYPES,
    AnalysisErrorInfo,
    InterviewRequest,
    KeyConcept,
    PaceAnalysis,
    PaceWindow,
    Pause,
    PauseAnalysis,
)
from services.common.transcript import SpeechInterval, Transcript, Word

__all__ = [
    "ANALYSIS_TYPES",
    "AnalysisErrorInfo",
    "AttemptInput",
    "CommunicationAnalysis",
    "CompleteAnalysis",
    "DomainAnalysis",
    "InterviewAnalyzer",
    "InterviewRequest",
    "KeyConcept",
    "LLMInterviewAnalyzer",
    "LocalInterviewAnalyzer",
    "PaceAnalysis",
    "PaceWindow",
    "PauseAnalysis",
    "Question",
    "QuestionSet",
    "Resume",
    "ResumeSkills",
    "SpeechInterval",
    "Suggestion",
    "TRACKS",
    "analyze_communication",
    "analyze_domain",
    "analyze_pace",
    "analyze_pause",
    "generate_questions",
]

PAUSE_MIN_S = 0.25
LONG_PAUSE_S = 1.5
PACE_SLOW_WPM = 110.0
PACE_FAST_WPM = 160.0


# --------------------------------------------------------------------------- models


class Resume(BaseModel):
    """A resume: its text and/or skills already extracted (seed 001 ``/api/extract-resume``)."""

    text: str = ""
    skills: list[str] = Field(default_factory=list)
    years_experience: float | None = None


class Question(BaseModel):
    """One interview question."""

    text: str
    topic: str
    category: Literal["technical", "behavioural"] = "technical"
    difficulty: Literal["easy", "medium", "hard"] = "medium"
    expected_concepts: list[str] = Field(default_factory=list)
    key_concepts: list[KeyConcept] = Field(
        default_factory=list, description="The key concepts with the synonyms a good answer may use."
    )


class QuestionSet(BaseModel):
    """Questions generated for one interview."""

    track: str
    skills: list[str]
    years_experience: float | None
    questions: list[Question]
    analyzer: str = "local"


class ResumeSkills(BaseModel):
    """Skills (canonical names) and years of experience found in a resume (seed 001
    ``/api/extract-resume``)."""

    skills: list[str]
    years_experience: float | None
    analyzer: str = "local"


class CompleteAnalysis(BaseModel):
    """The four analyses of one answer; missing ones are listed in ``errors`` (partial result)."""

    language: str
    results: dict[str, Any]
    errors: dict[str, AnalysisErrorInfo]
    metadata: dict[str, Any]


class AttemptInput(BaseModel):
    """One answered question for the session report (its complete analysis)."""

    question: str
    question_id: int | None = None
    analysis: CompleteAnalysis


# --------------------------------------------------------------------------- measurements


def _timed_words(transcript: Transcript) -> list[Word]:
    return sorted((w for w in transcript.words if w.word.strip() and w.end >= w.start), key=lambda w: w.start)


def _band(wpm: float) -> Literal["slow", "ideal", "fast"]:
    return "slow" if wpm < PACE_SLOW_WPM else "fast" if wpm > PACE_FAST_WPM else "ideal"


def analyze_pace(transcript: Transcript, window_s: float = 10.0) -> PaceAnalysis:
    """Pace from word timestamps (see the module docstring). No words: band ``unknown``, score 0."""
    ws = _timed_words(transcript)
    if not ws:
        return PaceAnalysis(
            words=0,
            speaking_span_s=0.0,
            wpm=0.0,
            band="unknown",
            over_time=[],
            score=0,
            feedback="No timed words: pace cannot be measured.",
        )
    first, last = ws[0].start, max(w.end for w in ws)
    span = max(last - first, 1e-6)
    wpm = len(ws) / (span / 60.0)
    windows: list[PaceWindow] = []
    t = first
    while t < last:
        end = min(t + window_s, last)
        count = sum(1 for w in ws if t <= w.start < end or (end == last and w.start == last))
        rate = count / ((end - t) / 60.0) if end > t else 0.0
        windows.append(
            PaceWindow(
                start=round(t, 3), end=round(end, 3), words=count, wpm=round(rate, 1), band=_band(rate)
            )
        )
        t += window_s
    band = _band(wpm)
    distance = 0.0 if band == "ideal" else (PACE_SLOW_WPM - wpm if band == "slow" else wpm - PACE_FAST_WPM)
    score = int(round(100 * (1 - ramp(distance, 0, 60))))
    feedback = {
        "slow": f"At {wpm:.0f} words per minute you speak slowly; aim for 110-160.",
        "fast": f"At {wpm:.0f} words per minute you speak fast; slow down to 110-160.",
        "ideal": f"At {wpm:.0f} words per minute your pace is in the ideal range.",
    }[band]
    return PaceAnalysis(
        words=len(ws),
        speaking_span_s=round(span, 3),
        wpm=round(wpm, 1),
        band=band,
        over_time=windows,
        score=score,
        feedback=feedback,
    )


FILLED_PAUSES = ("um", "umm", "uh", "uhm", "erm", "er", "hmm", "mm", "ah", "you know")


def filled_pauses(text: str) -> dict[str, int]:
    """Counts of filled pauses (``um``, ``uh``, ``erm``, ``hmm``, ``you know``...) in ``text``."""
    padded = " " + " ".join(w.lower() for w in words(text)) + " "
    counts = {f: padded.count(f" {f} ") for f in FILLED_PAUSES}
    return {k: v for k, v in counts.items() if v}


def _word_before(ws: list[Word], t: float) -> str:
    before = [w for w in ws if w.end <= t + 0.05]
    return before[-1].word.strip() if before else ""


def _pause_verdict(
    pauses: list[Pause], span: float, speech_s: float, filled: dict[str, int]
) -> tuple[int, str]:
    total = sum(p.duration for p in pauses)
    long = [p for p in pauses if p.duration >= LONG_PAUSE_S]
    n_filled = sum(filled.values())
    score = 100 - 15 * len(long) - 40 * ramp(total / span, 0.15, 0.5) - 5 * max(0, n_filled - 2)
    if long:
        plural = "s" if len(long) != 1 else ""
        feedback = f"{len(long)} long pause{plural} (>= {LONG_PAUSE_S:g} s); keep pauses short."
    else:
        feedback = f"{len(pauses)} short pause{'s' if len(pauses) != 1 else ''}; your delivery flows well."
    if n_filled > 2:
        feedback += f" {n_filled} filled pauses ({', '.join(filled)}): pause silently instead."
    return int(max(0, min(100, round(score)))), feedback


def analyze_pause(transcript: Transcript, speech: list[SpeechInterval] | None = None) -> PauseAnalysis:
    """Pauses of an answer (see the module docstring).

    With ``speech`` (voice activity intervals of the recording, seconds) a pause is a
    silence of at least :data:`PAUSE_MIN_S` between two speech intervals, and the speaking
    ratio is speech time over the span from the first speech to the last. Without it, pauses
    are the gaps between consecutive words (a lower bound: Whisper's word timings absorb
    silences). Filled pauses are counted from the words in both cases.
    """
    ws = _timed_words(transcript)
    filled = filled_pauses(transcript.text or " ".join(w.word for w in ws))
    intervals = sorted((i for i in speech or [] if i.end > i.start), key=lambda i: i.start)
    if intervals:
        span = max(intervals[-1].end - intervals[0].start, 1e-6)
        speaking = sum(i.end - i.start for i in intervals)
        pauses = [
            Pause(
                start=round(a.end, 3),
                end=round(b.start, 3),
                duration=round(b.start - a.end, 3),
                after_word=_word_before(ws, a.end),
            )
            for a, b in zip(intervals, intervals[1:], strict=False)
            if b.start - a.end >= PAUSE_MIN_S
        ]
        source: Literal["vad", "word_gaps"] = "vad"
    elif ws:
        span = max(max(w.end for w in ws) - ws[0].start, 1e-6)
        speaking = sum(w.end - w.start for w in ws)
        pauses = [
            Pause(
                start=round(a.end, 3),
                end=round(b.start, 3),
                duration=round(b.start - a.end, 3),
                after_word=a.word.strip(),
            )
            for a, b in zip(ws, ws[1:], strict=False)
            if b.start - a.end >= PAUSE_MIN_S
        ]
        source = "word_gaps"
    else:
        return PauseAnalysis(
            pause_count=0,
            total_pause_s=0.0,
            mean_pause_s=0.0,
            max_pause_s=0.0,
            long_pauses=[],
            pauses_per_minute=0.0,
            speaking_time_s=0.0,
            speaking_ratio=0.0,
            filled_pauses=sum(filled.values()),
            filled_pause_breakdown=filled,
            score=0,
            feedback="No timed words: pauses cannot be measured.",
        )
    total = sum(p.duration for p in pauses)
    score, feedback = _pause_verdict(pauses, span, speaking, filled)
    return PauseAnalysis(
        source=source,
        pause_count=len(pauses),
        pauses=pauses[:100],
        total_pause_s=round(total, 3),
        mean_pause_s=round(total / len(pauses), 3) if pauses else 0.0,
        max_pause_s=round(max((p.duration for p in pauses), default=0.0), 3),
        long_pauses=[p for p in pauses if p.duration >= LONG_PAUSE_S],
        pauses_per_minute=round(len(pauses) / (span / 60.0), 2),
        speaking_time_s=round(speaking, 3),
        speaking_ratio=round(min(1.0, speaking / span), 4),
        filled_pauses=sum(filled.values()),
        filled_pause_breakdown=filled,
        score=score,
        feedback=feedback,
    )


def resolve_concepts(
    question: str, expected: list[str] | None = None, key_concepts: list[KeyConcept] | None = None
) -> dict[str, tuple[str, ...]]:
    """Key concepts (name -> synonyms) a good answer to ``question`` holds: ``key_concepts``
    when given, else the bank's concepts of the question (restricted to ``expected`` when
    given), else ``expected`` with no synonyms, else the question's long words."""
    if key_concepts:
        return {k.name: tuple(k.synonyms) for k in key_concepts}
    bank = concepts_for_question(question)
    if expected:
        return {c: bank.get(c, ()) for c in expected}
    if bank:
        return bank
    return {w: () for w in dict.fromkeys(t.lower() for t in words(question) if len(t) > 6)}


def analyze_domain(
    question: str,
    answer: str,
    expected: list[str] | None = None,
    key_concepts: list[KeyConcept] | None = None,
) -> DomainAnalysis:
    """Key-concept coverage of ``answer`` (:func:`services.analysis.answer.analyze_domain_concepts`).

    Raises:
        ValueError: no question and no concepts (nothing to measure coverage against).
    """
    concepts = resolve_concepts(question, expected, key_concepts)
    if not concepts:
        raise ValueError("domain analysis needs the question or its expected concepts")
    return analyze_domain_concepts(question, answer, concepts)


def extract_skills(resume: Resume) -> list[str]:
    """Canonical skill names from the resume's skills and text (the skills vocabulary)."""
    return normalise_skills(resume.text, "\n".join(resume.skills))


def years_of_experience(resume: Resume) -> float | None:
    """``years_experience`` or the years found by :func:`services.analysis.resume.parse_resume`."""
    if resume.years_experience is not None:
        return resume.years_experience
    return parse_resume(resume.text).years_experience if resume.text else None


def generate_questions(resume: Resume, track: str, count: int = 5, seed: int = 0) -> QuestionSet:
    """Local question generation from the question bank
    (:func:`services.analysis.question_bank.build_questions`); a resume with no known skills
    gets the track's generic questions.

    Raises:
        ValueError: unknown track.
    """
    skills = extract_skills(resume)
    years = years_of_experience(resume)
    chosen = build_questions(track, skills, years, count, seed)
    return QuestionSet(
        track=track,
        skills=skills,
        years_experience=years,
        questions=[
            Question(
                text=q.text,
                topic=q.topic,
                category=q.category,
                difficulty=q.difficulty,
                expected_concepts=list(q.concepts),
                key_concepts=[KeyConcept(name=k, synonyms=list(v)) for k, v in q.concepts.items()],
            )
            for q in chosen
        ],
    )


# --------------------------------------------------------------------------- analyzers


class InterviewAnalyzer(ABC):
    """Interview analyses; pace and pause are always measured locally."""

    name: str = "abstract"

    def __init__(self, timeout_s: float = 10.0) -> None:
        self.timeout_s = timeout_s

    @abstractmethod
    async def questions(self, resume: Resume, track: str, count: int = 5, seed: int = 0) -> QuestionSet:
        """Questions for ``track`` from the resume's skills (``seed`` varies a regeneration)."""

    @abstractmethod
    async def domain(
        self, question: str, answer: str, concepts: dict[str, tuple[str, ...]]
    ) -> DomainAnalysis:
        """Coverage of the key concepts (name -> synonyms) by the answer."""

    @abstractmethod
    async def communication(self, answer: str, speaking_s: float | None = None) -> CommunicationAnalysis:
        """Communication quality of the answer (``speaking_s``: its speaking time, seconds)."""

    async def resume_skills(self, resume: Resume) -> ResumeSkills:
        """Skills normalised against the skills vocabulary and years from the resume (local)."""
        return ResumeSkills(
            skills=extract_skills(resume), years_experience=years_of_experience(resume), analyzer="local"
        )

    async def pace(self, transcript: Transcript, window_s: float) -> PaceAnalysis:
        """Pace from word timestamps."""
        return analyze_pace(transcript, window_s)

    async def pause(
        self, transcript: Transcript, speech: list[SpeechInterval] | None = None
    ) -> PauseAnalysis:
        """Pauses from voice activity intervals when given, else from word timestamps."""
        return analyze_pause(transcript, speech)

    async def complete(
        self, transcript: Transcript, request: InterviewRequest | None = None
    ) -> CompleteAnalysis:
        """Run the requested analyses concurrently, each under ``timeout_s``; partial on failure."""
        request = request or InterviewRequest()
        answer = transcript.text.strip() or " ".join(s.text for s in transcript.segments)
        language, _p = detect_language(answer)
        timed = _timed_words(transcript)
        speaking_s = (max(w.end for w in timed) - timed[0].start) if timed else None

        async def domain() -> DomainAnalysis:
            concepts = resolve_concepts(request.question, request.expected_concepts, request.key_concepts)
            return await self.domain(request.question, answer, concepts)

        jobs: dict[str, Callable[[], Awaitable[BaseModel]]] = {
            "domain": domain,
            "communication": lambda: self.communication(answer, speaking_s),
            "pace": lambda: self.pace(transcript, request.window_s),
            "pause": lambda: self.pause(transcript, transcript.speech),
        }
        requested = list(dict.fromkeys(request.analysis_types))
        timings: dict[str, float] = {}
        started = time.perf_counter()

        async def run(kind: str) -> BaseModel:
            t0 = time.perf_counter()
            try:
                async with asyncio.timeout(self.timeout_s):
                    return await jobs[kind]()
            finally:
                timings[kind] = round((time.perf_counter() - t0) * 1000, 2)

        outcomes = await asyncio.gather(*(run(k) for k in requested), return_exceptions=True)
        results: dict[str, Any] = {}
        errors: dict[str, AnalysisErrorInfo] = {}
        for kind, outcome in zip(requested, outcomes, strict=True):
            if isinstance(outcome, BaseModel):
                results[kind] = outcome.model_dump(mode="json")
            elif isinstance(outcome, TimeoutError):
                errors[kind] = AnalysisErrorInfo(
                    error="timeout", details=f"{kind} took over {self.timeout_s:g} s"
                )
            elif isinstance(outcome, ProviderError):
                errors[kind] = AnalysisErrorInfo(error=outcome.code, details=outcome.details)
            elif isinstance(outcome, Exception):
                errors[kind] = AnalysisErrorInfo(
                    error="analysis_failed", details=f"{type(outcome).__name__}: {outcome}"
                )
            else:
                raise outcome  # CancelledError and friends
        return CompleteAnalysis(
            language=language,
            results=results,
            errors=errors,
            metadata={
                "requested": requested,
                "completed": list(results),
                "failed": list(errors),
                "timings_ms": timings,
                "total_ms": round((time.perf_counter() - started) * 1000, 2),
                "analyzer": self.name,
                "pause_source": "vad" if transcript.speech else "word_gaps",
            },
        )


class LocalInterviewAnalyzer(InterviewAnalyzer):
    """Deterministic, offline interview analyses (see the module docstring)."""

    name = "local"

    async def questions(self, resume: Resume, track: str, count: int = 5, seed: int = 0) -> QuestionSet:
        return generate_questions(resume, track, count, seed)

    async def domain(
        self, question: str, answer: str, concepts: dict[str, tuple[str, ...]]
    ) -> DomainAnalysis:
        return analyze_domain_concepts(question, answer, concepts)

    async def communication(self, answer: str, speaking_s: float | None = None) -> CommunicationAnalysis:
        return analyze_communication(answer, speaking_s)


class _LLMQuestion(BaseModel):
    text: str
    topic: str
    category: Literal["technical", "behavioural"]
    difficulty: Literal["easy", "medium", "hard"]
    expected_concepts: list[str]


class QuestionsAnswer(BaseModel):
    """Provider schema for question generation."""

    questions: list[_LLMQuestion]


class DomainAnswer(BaseModel):
    """Provider schema for the domain analysis."""

    score: int = Field(ge=0, le=100)
    covered_concepts: list[str]
    missing_concepts: list[str]
    feedback: str


class CommunicationAnswer(BaseModel):
    """Provider schema for the communication analysis."""

    score: int = Field(ge=0, le=100)
    clarity: int = Field(ge=0, le=100)
    structure: int = Field(ge=0, le=100)
    vocabulary: int = Field(ge=0, le=100)
    filler_words: int = Field(ge=0)
    feedback: str


class SkillsAnswer(BaseModel):
    """Provider schema for resume skills."""

    skills: list[str]
    years_experience: float | None


class LLMInterviewAnalyzer(InterviewAnalyzer):
    """Provider-backed questions, domain and communication analyses."""

    def __init__(self, provider: StructuredProvider, timeout_s: float = 60.0) -> None:
        super().__init__(timeout_s)
        self.provider = provider
        self.name = provider.name

    async def questions(self, resume: Resume, track: str, count: int = 5, seed: int = 0) -> QuestionSet:
        """Raises: ValueError for an unknown track; ProviderError when the provider fails."""
        if track not in TRACKS:
            raise ValueError(f"unknown track {track!r}; choose from {', '.join(TRACKS)}")
        skills = extract_skills(resume) or list(resume.skills)
        years = years_of_experience(resume)
        prompt = (
            f"Track: {track}\nYears of experience: {years if years is not None else 'unknown'}\n"
            + "".join(f"- skill: {s}\n" for s in skills)
            + f"Resume:\n{resume.text[:6000]}"
        )
        answer = await self.provider.generate(
            f"You are an interviewer for the {track} track. Write {count} interview questions tailored to "
            "the "
            "candidate's skills (or generic questions for the track when none are listed), with mixed "
            "difficulty, the last one behavioural, each with the key concepts a good answer covers."
            + (f" Variation {seed}: avoid the most obvious questions." if seed else ""),
            prompt,
            QuestionsAnswer,
        )
        questions = [
            Question(**q.model_dump(), key_concepts=[KeyConcept(name=c) for c in q.expected_concepts])
            for q in answer.value.questions[:count]
        ]
        return QuestionSet(
            track=track, skills=skills, years_experience=years, questions=questions, analyzer=self.name
        )

    async def domain(
        self, question: str, answer: str, concepts: dict[str, tuple[str, ...]]
    ) -> DomainAnalysis:
        prompt = (
            f"QUESTION: {question}\n"
            + "".join(
                f"- concept: {c}\n" + (f"  synonyms: {', '.join(syn)}\n" if syn else "")
                for c, syn in concepts.items()
            )
            + f"ANSWER: {answer}"
        )
        result = await self.provider.generate(
            "Judge which of the listed key concepts the candidate's answer covers, in any wording; score "
            "0-100 for domain knowledge (an on-topic answer is never 0).",
            prompt,
            DomainAnswer,
        )
        return DomainAnalysis(**result.value.model_dump())

    async def communication(self, answer: str, speaking_s: float | None = None) -> CommunicationAnalysis:
        local = analyze_communication(answer, speaking_s)
        result = await self.provider.generate(
            "Rate the clarity, structure and vocabulary (0-100 each) of this spoken interview answer, "
            "count its "
            "filler words, give an overall score and one sentence of feedback.",
            f"ANSWER: {answer}",
            CommunicationAnswer,
        )
        return local.model_copy(update=result.value.model_dump())

    async def resume_skills(self, resume: Resume) -> ResumeSkills:
        """Ask the provider for the skills; lexicon skills it missed are added (never fewer than local).

        Raises:
            services.analysis.providers.ProviderError: when the provider fails for good.
        """
        answer = await self.provider.generate(
            "List the technical skills in this resume as short canonical names (e.g. Python, SQL, "
            "PyTorch), most prominent first, and the candidate's total years of professional "
            "experience (null when not stated).",
            f"Resume:\n{resume.text[:12000]}\nListed skills: {', '.join(resume.skills)}",
            SkillsAnswer,
        )
        skills = list(dict.fromkeys([*answer.value.skills, *extract_skills(resume)]))
        years = resume.years_experience
        if years is None:
            years = answer.value.years_experience
        if years is None:
            years = years_of_experience(resume)
        return ResumeSkills(skills=skills, years_experience=years, analyzer=self.name)
