"""Interview coach analyses (seed 001): questions, domain, communication, pace, pause, the
complete analysis and the session report; local or provider-backed.

Measurements (pace, pause) always come from word timestamps; judgments (questions,
domain, communication) come from the local rules below or from a provider.

- **Questions** (local): skills found in the resume (:data:`SKILLS` lexicon, aliases
  matched case-insensitively) ranked by the track's preferences (:data:`TRACKS`), one
  question per skill from a template, then the track's core questions, then one behavioural
  question. Difficulty from years of experience: < 2 easy, < 5 medium, else hard.
- **Domain**: the share of the question's expected concepts the answer covers; a concept is
  covered when any of its aliases occurs (word-stem match). ``score = 100 * covered / all``.
- **Communication**: ``score = 0.35 clarity + 0.25 structure + 0.20 vocabulary + 0.20 fluency``
  with clarity ``100 * (1 - ramp(mean sentence words, 20, 40))``, structure ``100 *
  ramp(discourse markers per 100 words, 0, 4)``, vocabulary the moving-average type-token
  ratio (MATTR, Covington & McFall 2010, window 50 words) mapped ``100 * ramp(mattr, 0.4,
  0.8)``, fluency ``100 * (1 - ramp(fillers per 100 words, 1, 8))``.
- **Pace**: ``wpm = words / ((last word end - first word start) / 60)``; bands slow < 110,
  ideal 110-160, fast > 160 wpm (conversational English is ~120-160 wpm); over time in
  windows of ``window_s`` (default 10 s) from the first word: words starting in the
  window / window length (the last window ends at the last word's end).
- **Pause**: a pause is a gap ``next.start - prev.end >= 0.25 s`` between consecutive words
  (the classic 250 ms silent-pause threshold, Goldman-Eisler 1968); Whisper's word timings
  tend to absorb silences into the neighbouring words, so counts are a lower bound;
  long pauses are ``>= 1.5 s``; ``speaking_ratio = sum(word durations) / (last end - first
  start)``; ``score = 100 - 15 * long pauses - 40 * ramp(pause ratio, 0.15, 0.5)`` (clipped).
- **Complete**: the requested analyses run concurrently (``asyncio.gather``), each under its
  own timeout; one failing or timing out leaves the others' results (partial result, its
  error listed).
- **Report**: per dimension, the mean of the attempts' scores; ``overall`` the mean of the
  dimensions; strengths >= 75, improvements < 60 with a tip each.
"""

from __future__ import annotations

import asyncio
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from statistics import mean
from typing import Any, Literal

from pydantic import BaseModel, Field

from services.analysis.providers import ProviderError, StructuredProvider
from services.analysis.text import detect_language, split_sentences, words
from services.common.analysis_results import (
    ANALYSIS_TYPES,
    AnalysisErrorInfo,
    CommunicationAnalysis,
    DomainAnalysis,
    InterviewRequest,
    PaceAnalysis,
    PaceWindow,
    Pause,
    PauseAnalysis,
)
from services.common.transcript import Transcript, Word

PAUSE_MIN_S = 0.25
LONG_PAUSE_S = 1.5
PACE_SLOW_WPM = 110.0
PACE_FAST_WPM = 160.0


def ramp(x: float, lo: float, hi: float) -> float:
    """``clip((x - lo) / (hi - lo), 0, 1)``."""
    return max(0.0, min(1.0, (x - lo) / (hi - lo)))


# --------------------------------------------------------------------------- knowledge

#: skill -> (aliases, concepts a good answer about it holds: concept -> aliases)
SKILLS: dict[str, tuple[tuple[str, ...], dict[str, tuple[str, ...]]]] = {
    "Python": (
        ("python",),
        {
            "data structures": ("list", "dict", "dictionary", "set", "tuple"),
            "generators": ("generator", "yield", "iterator"),
            "testing": ("test", "pytest", "unittest"),
        },
    ),
    "SQL": (
        ("sql", "postgresql", "mysql", "postgres"),
        {
            "joins": ("join",),
            "indexes": ("index", "indexes"),
            "aggregation": ("group by", "aggregate", "sum", "count"),
        },
    ),
    "Machine Learning": (
        ("machine learning", "ml"),
        {
            "overfitting": ("overfit", "overfitting", "regularization"),
            "validation": ("validation", "cross-validation", "holdout"),
            "features": ("feature", "features"),
        },
    ),
    "Deep Learning": (
        ("deep learning", "neural network", "neural networks"),
        {
            "backpropagation": ("backpropagation", "gradient"),
            "architectures": ("cnn", "transformer", "rnn", "layer"),
            "regularization": ("dropout", "regularization", "batch norm"),
        },
    ),
    "PyTorch": (
        ("pytorch", "torch"),
        {
            "tensors": ("tensor",),
            "autograd": ("autograd", "gradient", "backward"),
            "training loop": ("optimizer", "loss", "epoch"),
        },
    ),
    "TensorFlow": (("tensorflow", "keras"), {"graphs": ("graph",), "training": ("fit", "epoch", "loss")}),
    "Statistics": (
        ("statistics", "statistical"),
        {
            "hypothesis testing": ("hypothesis", "p-value", "significance"),
            "distributions": ("distribution", "normal", "variance"),
        },
    ),
    "Pandas": (
        ("pandas",),
        {"dataframes": ("dataframe", "column"), "cleaning": ("missing", "null", "clean")},
    ),
    "Docker": (
        ("docker", "container", "containers"),
        {"images": ("image", "dockerfile"), "isolation": ("isolation", "container")},
    ),
    "Kubernetes": (
        ("kubernetes", "k8s"),
        {"pods": ("pod", "pods"), "scaling": ("replica", "autoscal", "scale")},
    ),
    "MLOps": (
        ("mlops", "model deployment", "model serving"),
        {
            "monitoring": ("monitor", "drift"),
            "deployment": ("deploy", "serving", "endpoint"),
            "versioning": ("version", "registry"),
        },
    ),
    "AWS": (
        ("aws", "amazon web services", "s3", "ec2", "lambda"),
        {"services": ("s3", "ec2", "lambda", "iam")},
    ),
    "Spark": (
        ("spark", "pyspark"),
        {"partitions": ("partition",), "lazy evaluation": ("lazy", "action", "transformation")},
    ),
    "JavaScript": (
        ("javascript", "typescript", "node.js", "react"),
        {"async": ("promise", "async", "await"), "dom": ("dom", "component", "render")},
    ),
    "Java": (("java",), {"jvm": ("jvm", "garbage"), "oop": ("class", "interface", "inheritance")}),
    "NLP": (
        ("nlp", "natural language processing"),
        {"tokenization": ("token", "tokeniz"), "embeddings": ("embedding", "vector")},
    ),
}

#: track -> (preferred skills in order, core questions: (text, concepts -> aliases))
TRACKS: dict[str, tuple[tuple[str, ...], tuple[tuple[str, dict[str, tuple[str, ...]]], ...]]] = {
    "data_science": (
        ("Statistics", "Python", "Pandas", "SQL", "Machine Learning"),
        (
            (
                "How would you design an A/B test for a new product feature, and how do you decide it "
                "worked?",
                {
                    "hypothesis": ("hypothesis", "null"),
                    "sample size": ("sample size", "power"),
                    "significance": ("significance", "p-value", "confidence"),
                    "metric": ("metric", "conversion"),
                },
            ),
            (
                "How do you handle missing data and outliers before modelling?",
                {
                    "imputation": ("impute", "imputation", "mean", "median"),
                    "outliers": ("outlier",),
                    "bias": ("bias", "distribution"),
                },
            ),
        ),
    ),
    "ml_engineering": (
        ("Python", "PyTorch", "TensorFlow", "MLOps", "Docker", "Kubernetes", "Machine Learning"),
        (
            (
                "How would you take a trained model to production and keep it healthy?",
                {
                    "serving": ("serve", "serving", "endpoint", "api"),
                    "monitoring": ("monitor", "drift", "metrics"),
                    "versioning": ("version", "registry"),
                    "rollback": ("rollback", "canary", "shadow"),
                },
            ),
            (
                "How do you detect and prevent overfitting?",
                {
                    "validation": ("validation", "holdout", "cross"),
                    "regularization": ("regularization", "dropout", "l2"),
                    "more data": ("more data", "augmentation"),
                },
            ),
        ),
    ),
    "backend_engineering": (
        ("Python", "Java", "SQL", "Docker", "Kubernetes", "AWS"),
        (
            (
                "How would you design a rate limiter for a public API?",
                {
                    "algorithm": ("token bucket", "leaky bucket", "sliding window"),
                    "storage": ("redis", "memory", "counter"),
                    "headers": ("429", "retry-after", "header"),
                },
            ),
        ),
    ),
    "frontend_engineering": (
        ("JavaScript",),
        (
            (
                "How do you keep a large web application fast?",
                {
                    "bundle size": ("bundle", "split", "lazy"),
                    "rendering": ("render", "memo", "virtual"),
                    "caching": ("cache", "caching"),
                },
            ),
        ),
    ),
}

BEHAVIOURAL = (
    "Tell me about a time you disagreed with a teammate about a technical decision. What happened?",
    {
        "situation": ("situation", "project", "when"),
        "action": ("i decided", "i proposed", "i suggested", "i did"),
        "result": ("result", "outcome", "learned"),
    },
)

FILLERS = (
    "um",
    "uh",
    "erm",
    "hmm",
    "you know",
    "i mean",
    "basically",
    "actually",
    "sort of",
    "kind of",
    "literally",
    "like",
)
MARKERS = (
    "first",
    "firstly",
    "second",
    "secondly",
    "then",
    "next",
    "finally",
    "because",
    "therefore",
    "however",
    "for example",
    "for instance",
    "in summary",
    "to summarize",
    "so that",
    "as a result",
)


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _contains(text_lower: str, stems: set[str], alias: str) -> bool:
    alias = alias.lower()
    if " " in alias or "-" in alias or not alias.isalpha():
        return alias in text_lower
    return _stem(alias) in stems or any(s.startswith(alias) for s in stems if len(alias) >= 6)


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
    """One answered question for the session report."""

    question: str
    analysis: CompleteAnalysis


class SessionReport(BaseModel):
    """Seed 001 ``/api/final-report``: the interview session as a whole."""

    overall_score: int | None
    dimension_scores: dict[str, int]
    strengths: list[str]
    improvements: list[str]
    per_question: list[dict[str, Any]]
    summary: str


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


def analyze_pause(transcript: Transcript) -> PauseAnalysis:
    """Pauses from gaps between consecutive words (see the module docstring)."""
    ws = _timed_words(transcript)
    if not ws:
        return PauseAnalysis(
            pause_count=0,
            total_pause_s=0.0,
            mean_pause_s=0.0,
            max_pause_s=0.0,
            long_pauses=[],
            pauses_per_minute=0.0,
            speaking_time_s=0.0,
            speaking_ratio=0.0,
            score=0,
            feedback="No timed words: pauses cannot be measured.",
        )
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
    span = max(max(w.end for w in ws) - ws[0].start, 1e-6)
    speaking = sum(w.end - w.start for w in ws)
    total = sum(p.duration for p in pauses)
    long = [p for p in pauses if p.duration >= LONG_PAUSE_S]
    score = int(max(0, min(100, round(100 - 15 * len(long) - 40 * ramp(total / span, 0.15, 0.5)))))
    feedback = (
        f"{len(long)} long pause{'s' if len(long) != 1 else ''} (>= {LONG_PAUSE_S:g} s); keep pauses short."
        if long
        else f"{len(pauses)} short pauses; your delivery flows well."
    )
    return PauseAnalysis(
        pause_count=len(pauses),
        total_pause_s=round(total, 3),
        mean_pause_s=round(total / len(pauses), 3) if pauses else 0.0,
        max_pause_s=round(max((p.duration for p in pauses), default=0.0), 3),
        long_pauses=long,
        pauses_per_minute=round(len(pauses) / (span / 60.0), 2),
        speaking_time_s=round(speaking, 3),
        speaking_ratio=round(min(1.0, speaking / span), 4),
        score=score,
        feedback=feedback,
    )


def _concepts_for(question: str, expected: list[str]) -> dict[str, tuple[str, ...]]:
    """Concepts (with aliases) a good answer to ``question`` holds."""
    known: dict[str, tuple[str, ...]] = {}
    for _track, (_pref, core) in TRACKS.items():
        for text, concepts in core:
            if text == question:
                known.update(concepts)
    if BEHAVIOURAL[0] == question:
        known.update(BEHAVIOURAL[1])
    lowered = question.lower()
    for _skill, (aliases, concepts) in SKILLS.items():
        if any(re.search(rf"\b{re.escape(a)}\b", lowered) for a in aliases):
            known.update(concepts)
    if expected:
        return {c: known.get(c, (c,)) for c in expected}
    return known


def analyze_domain(question: str, answer: str, expected: list[str] | None = None) -> DomainAnalysis:
    """Concept coverage of ``answer`` (see the module docstring).

    Raises:
        ValueError: no question and no expected concepts (nothing to measure coverage against).
    """
    concepts = _concepts_for(question, list(expected or []))
    if not concepts:
        concepts = {w: (w,) for w in dict.fromkeys(t.lower() for t in words(question) if len(t) > 6)}
    if not concepts:
        raise ValueError("domain analysis needs the question or its expected concepts")
    lowered = " ".join(t.lower() for t in words(answer))
    stems = {_stem(t) for t in lowered.split()}
    covered = [c for c, aliases in concepts.items() if any(_contains(lowered, stems, a) for a in aliases)]
    missing = [c for c in concepts if c not in covered]
    score = round(100 * len(covered) / len(concepts)) if concepts else 0
    feedback = f"Covered {len(covered)} of {len(concepts)} key concepts" + (
        f"; also discuss {', '.join(missing[:3])}." if missing else "."
    )
    return DomainAnalysis(score=score, covered_concepts=covered, missing_concepts=missing, feedback=feedback)


def _mattr(tokens: list[str], window: int = 50) -> float:
    if not tokens:
        return 0.0
    if len(tokens) <= window:
        return len(set(tokens)) / len(tokens)
    return mean(len(set(tokens[i : i + window])) / window for i in range(len(tokens) - window + 1))


def analyze_communication(answer: str) -> CommunicationAnalysis:
    """Clarity, structure, vocabulary and fluency (see the module docstring)."""
    tokens = [t.lower() for t in words(answer)]
    if not tokens:
        return CommunicationAnalysis(
            score=0, clarity=0, structure=0, vocabulary=0, filler_words=0, feedback="No answer to assess."
        )
    padded = " " + " ".join(tokens) + " "
    breakdown = {f: padded.count(f" {f} ") for f in FILLERS}
    breakdown["like"] = len(re.findall(r"(?:^|[,.]\s*)like\b|\blike,", answer.lower()))
    breakdown = {k: v for k, v in breakdown.items() if v}
    fillers = sum(breakdown.values())
    sentences = split_sentences(answer) or [answer]
    mean_len = len(tokens) / len(sentences)
    per100 = 100.0 / len(tokens)
    clarity = 100 * (1 - ramp(mean_len, 20, 40))
    structure = 100 * ramp(sum(padded.count(f" {m} ") for m in MARKERS) * per100, 0, 4)
    vocabulary = 100 * ramp(_mattr(tokens), 0.4, 0.8)
    fluency = 100 * (1 - ramp(fillers * per100, 1, 8))
    score = 0.35 * clarity + 0.25 * structure + 0.20 * vocabulary + 0.20 * fluency
    tips = []
    if fillers * per100 > 2:
        tips.append(
            f"cut filler words ({fillers}: {', '.join(sorted(breakdown, key=lambda k: -breakdown[k])[:3])})"
        )
    if mean_len > 25:
        tips.append("use shorter sentences")
    if structure < 50:
        tips.append("signpost your answer (first, then, for example, finally)")
    return CommunicationAnalysis(
        score=round(score),
        clarity=round(clarity),
        structure=round(structure),
        vocabulary=round(vocabulary),
        filler_words=fillers,
        filler_breakdown=breakdown,
        mean_sentence_words=round(mean_len, 1),
        feedback=("Try to " + "; ".join(tips) + ".") if tips else "Clear, well structured answer.",
    )


def extract_skills(resume: Resume) -> list[str]:
    """Canonical skill names from the resume's skills and text (lexicon match)."""
    text = (
        " "
        + " ".join(
            t.lower().strip(".-")
            for t in re.findall(r"[A-Za-z0-9.+#-]+", " ".join([resume.text, *resume.skills]))
        )
        + " "
    )
    found = [name for name, (aliases, _c) in SKILLS.items() if any(f" {a} " in text for a in aliases)]
    return found


def years_of_experience(resume: Resume) -> float | None:
    """``years_experience`` or the largest "N years" in the text."""
    if resume.years_experience is not None:
        return resume.years_experience
    found = [float(m) for m in re.findall(r"(\d+(?:\.\d+)?)\+?\s*(?:years|yrs)", resume.text, re.I)]
    return max(found) if found else None


def generate_questions(resume: Resume, track: str, count: int = 5) -> QuestionSet:
    """Local question generation (see the module docstring).

    Raises:
        ValueError: unknown track.
    """
    if track not in TRACKS:
        raise ValueError(f"unknown track {track!r}; choose from {', '.join(TRACKS)}")
    preferred, core = TRACKS[track]
    skills = extract_skills(resume)
    years = years_of_experience(resume)
    difficulty: Literal["easy", "medium", "hard"] = (
        "medium" if years is None else "easy" if years < 2 else "medium" if years < 5 else "hard"
    )
    ranked = sorted(
        skills, key=lambda s: (preferred.index(s) if s in preferred else len(preferred), skills.index(s))
    )
    questions: list[Question] = []
    templates = (
        "Walk me through a project where you used {skill}. What was hard, and how did you solve it?",
        "How would you explain the key ideas of {skill} to a new teammate, and where do they go wrong?",
    )
    for i, skill in enumerate(ranked[: max(0, count - 2)]):
        questions.append(
            Question(
                text=templates[i % 2].format(skill=skill),
                topic=skill,
                difficulty=difficulty,
                expected_concepts=list(SKILLS[skill][1]),
            )
        )
    for text, concepts in core:
        if len(questions) >= count - 1:
            break
        questions.append(
            Question(text=text, topic=track, difficulty=difficulty, expected_concepts=list(concepts))
        )
    questions.append(
        Question(
            text=BEHAVIOURAL[0],
            topic="teamwork",
            category="behavioural",
            difficulty=difficulty,
            expected_concepts=list(BEHAVIOURAL[1]),
        )
    )
    return QuestionSet(track=track, skills=skills, years_experience=years, questions=questions[:count])


def session_report(attempts: list[AttemptInput]) -> SessionReport:
    """The session report (see the module docstring)."""
    dims: dict[str, list[float]] = {t: [] for t in ANALYSIS_TYPES}
    per_question = []
    for a in attempts:
        scores = {
            t: float(r["score"])
            for t, r in a.analysis.results.items()
            if isinstance(r, dict) and "score" in r
        }
        for t, v in scores.items():
            dims.setdefault(t, []).append(v)
        per_question.append(
            {
                "question": a.question,
                "scores": {t: round(v) for t, v in scores.items()},
                "missing": sorted(a.analysis.errors),
            }
        )
    dimension_scores = {t: round(mean(v)) for t, v in dims.items() if v}
    overall = round(mean(dimension_scores.values())) if dimension_scores else None
    tips = {
        "domain": "cover the core concepts of each question explicitly",
        "communication": "structure answers and cut filler words",
        "pace": "keep your pace between 110 and 160 words per minute",
        "pause": "avoid long silences; pause briefly between ideas",
    }
    strengths = [t for t, v in dimension_scores.items() if v >= 75]
    improvements = [f"{t}: {tips.get(t, 'practise')}" for t, v in dimension_scores.items() if v < 60]
    summary = (
        f"{len(attempts)} answer{'s' if len(attempts) != 1 else ''} analysed; overall {overall}/100."
        if overall is not None
        else "No analysed answers."
    )
    if strengths:
        summary += f" Strong: {', '.join(strengths)}."
    if improvements:
        summary += f" Work on: {', '.join(i.split(':')[0] for i in improvements)}."
    return SessionReport(
        overall_score=overall,
        dimension_scores=dimension_scores,
        strengths=strengths,
        improvements=improvements,
        per_question=per_question,
        summary=summary,
    )


# --------------------------------------------------------------------------- analyzers


class InterviewAnalyzer(ABC):
    """Interview analyses; pace and pause are always measured locally."""

    name: str = "abstract"

    def __init__(self, timeout_s: float = 10.0) -> None:
        self.timeout_s = timeout_s

    @abstractmethod
    async def questions(self, resume: Resume, track: str, count: int = 5) -> QuestionSet:
        """Questions for ``track`` from the resume's skills."""

    @abstractmethod
    async def domain(self, question: str, answer: str, expected: list[str]) -> DomainAnalysis:
        """Concept coverage of the answer."""

    @abstractmethod
    async def communication(self, answer: str) -> CommunicationAnalysis:
        """Communication quality of the answer."""

    async def resume_skills(self, resume: Resume) -> ResumeSkills:
        """Skills from the :data:`SKILLS` lexicon and the largest "N years" (local, deterministic)."""
        return ResumeSkills(
            skills=extract_skills(resume), years_experience=years_of_experience(resume), analyzer="local"
        )

    async def pace(self, transcript: Transcript, window_s: float) -> PaceAnalysis:
        """Pace from word timestamps."""
        return analyze_pace(transcript, window_s)

    async def pause(self, transcript: Transcript) -> PauseAnalysis:
        """Pauses from word timestamps."""
        return analyze_pause(transcript)

    async def complete(
        self, transcript: Transcript, request: InterviewRequest | None = None
    ) -> CompleteAnalysis:
        """Run the requested analyses concurrently, each under ``timeout_s``; partial on failure."""
        request = request or InterviewRequest()
        answer = transcript.text.strip() or " ".join(s.text for s in transcript.segments)
        language, _p = detect_language(answer)
        jobs: dict[str, Callable[[], Awaitable[BaseModel]]] = {
            "domain": lambda: self.domain(request.question, answer, request.expected_concepts),
            "communication": lambda: self.communication(answer),
            "pace": lambda: self.pace(transcript, request.window_s),
            "pause": lambda: self.pause(transcript),
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
            },
        )


class LocalInterviewAnalyzer(InterviewAnalyzer):
    """Deterministic, offline interview analyses (see the module docstring)."""

    name = "local"

    async def questions(self, resume: Resume, track: str, count: int = 5) -> QuestionSet:
        return generate_questions(resume, track, count)

    async def domain(self, question: str, answer: str, expected: list[str]) -> DomainAnalysis:
        return analyze_domain(question, answer, expected)

    async def communication(self, answer: str) -> CommunicationAnalysis:
        return analyze_communication(answer)


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

    async def questions(self, resume: Resume, track: str, count: int = 5) -> QuestionSet:
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
            "candidate's skills, the last one behavioural, each with the concepts a good answer holds.",
            prompt,
            QuestionsAnswer,
        )
        questions = [Question(**q.model_dump()) for q in answer.value.questions[:count]]
        return QuestionSet(
            track=track, skills=skills, years_experience=years, questions=questions, analyzer=self.name
        )

    async def domain(self, question: str, answer: str, expected: list[str]) -> DomainAnalysis:
        concepts = expected or list(_concepts_for(question, []))
        prompt = (
            f"QUESTION: {question}\n" + "".join(f"- concept: {c}\n" for c in concepts) + f"ANSWER: {answer}"
        )
        result = await self.provider.generate(
            "Judge which of the listed concepts the candidate's answer covers; score 0-100 for domain "
            "knowledge.",
            prompt,
            DomainAnswer,
        )
        return DomainAnalysis(**result.value.model_dump())

    async def communication(self, answer: str) -> CommunicationAnalysis:
        local = analyze_communication(answer)
        result = await self.provider.generate(
            "Rate the clarity, structure and vocabulary (0-100 each) of this spoken interview answer, "
            "count its "
            "filler words, give an overall score and one sentence of feedback.",
            f"ANSWER: {answer}",
            CommunicationAnswer,
        )
        return CommunicationAnalysis(
            **result.value.model_dump(),
            filler_breakdown=local.filler_breakdown,
            mean_sentence_words=local.mean_sentence_words,
        )

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
