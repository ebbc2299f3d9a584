"""The typed options and results of the analyses, shared by the analysis service (which produces them), the
event payloads (``earshot.analysis.completed.v2``) and the gateway (which reads them).

They mirror the seeds' JSON: seed 000 (temperature), seed 001 (interview coach: pace, pause,
communication, domain, the complete analysis), seed 003 (meetings: summary, key points,
action items ``{task, assigned_to, due_date}``, template suggestion). The algorithms that
fill them are documented in ``services/analysis/{temperature,meeting,interview}.py``.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field

AnalysisType = Literal["domain", "communication", "pace", "pause"]
ANALYSIS_TYPES: tuple[AnalysisType, ...] = ("domain", "communication", "pace", "pause")

# --------------------------------------------------------------------------- temperature (seed 000)


class TemperatureResult(BaseModel):
    """The outcome of one analysis. The gateway returns the first three fields (+ a timestamp)."""

    temperature: int = Field(ge=1, le=100, description="How heated the conversation is, 1 (calm) to 100.")
    confidence: float = Field(ge=0.0, le=1.0, description="How much evidence backs the temperature.")
    analysis_summary: str = Field(description="One or two sentences: level, main drivers, topics.")
    drivers: dict[str, float] = Field(
        default_factory=dict,
        description="Each component's contribution in temperature points (1 + sum = temperature).",
    )
    components: dict[str, float] = Field(
        default_factory=dict, description="Each available component's value, 0..1."
    )
    features: dict[str, float] = Field(
        default_factory=dict, description="Raw measurements (wpm, dBFS, densities...)."
    )
    language: str = Field(default="und", description="ISO 639-1 code detected from the text ('und': none).")
    analyzer: str = Field(default="local", description="Name of the analyzer that produced the result.")


# --------------------------------------------------------------------------- meeting (seed 003)


class ActionItem(BaseModel):
    """One task from the meeting (seed 003 shape)."""

    task: str = Field(description="What is to be done, imperative.")
    assigned_to: str | None = Field(description="Owner's name; null when nobody was named.")
    due_date: str | None = Field(description="ISO date (YYYY-MM-DD) resolved against the meeting date.")


class AlternativeTemplate(BaseModel):
    """A runner-up template."""

    template_id: str
    template_name: str
    confidence: float = Field(ge=0, le=1)


class TemplateSuggestion(BaseModel):
    """Seed 003's template suggestion response."""

    suggested_template_id: str
    suggested_template_name: str
    confidence: float = Field(ge=0, le=1)
    reason: str
    alternative_templates: list[AlternativeTemplate] = Field(default_factory=list)


class SpeakerName(BaseModel):
    """The name chosen for one diarization label (services.analysis.speakers)."""

    label: str = Field(description="Diarization label, e.g. SPEAKER_00.")
    name: str = Field(description="Participant name, or 'Speaker N' when unknown.")
    confidence: float = Field(ge=0, le=1, description="Votes for this name / all votes for the label.")
    evidence: list[str] = Field(default_factory=list, description="The cues that named it.")


class MeetingAnalysis(BaseModel):
    """Everything the meeting product shows about one recording."""

    language: str = Field(description="ISO 639-1 code detected from the text ('und' for none).")
    language_confidence: float = 0.0
    title: str
    description: str
    summary: str
    key_points: list[str]
    keyphrases: list[str] = Field(default_factory=list)
    action_items: list[ActionItem]
    template_suggestion: TemplateSuggestion | None = None
    template_id: str | None = Field(None, description="The template that shaped the summary, if any.")
    meeting_date: str = Field(description="ISO date due dates were resolved against.")
    chunks: int = Field(1, description="How many parts the transcript was analysed in.")
    analyzer: str = "local"
    speaker_names: list[SpeakerName] = Field(
        default_factory=list, description="Name chosen for each diarization label (analysis.speakers)."
    )
    analytics: dict[str, Any] = Field(
        default_factory=dict, description="Talk time, turns, interruptions... (speakers.meeting_analytics)."
    )


# --------------------------------------------------------------------------- interview (seed 001)


class KeyConcept(BaseModel):
    """A key concept a good answer covers, with the synonyms that also count."""

    name: str
    synonyms: list[str] = Field(default_factory=list)


class DomainAnalysis(BaseModel):
    """Coverage of the key concepts a good answer holds (0-100): covered, touched (half credit)
    and missed concepts, the answer's relevance to the question (0-1) and, per covered concept,
    the words that showed it."""

    score: int = Field(ge=0, le=100)
    covered_concepts: list[str]
    missing_concepts: list[str]
    partially_covered: list[str] = Field(default_factory=list)
    relevance: float = Field(0.0, ge=0, le=1)
    evidence: dict[str, str] = Field(default_factory=dict)
    feedback: str


class Suggestion(BaseModel):
    """One concrete suggestion: the issue, a quote from the answer and what to do."""

    issue: str
    quote: str
    tip: str


class CommunicationAnalysis(BaseModel):
    """Clarity, structure, vocabulary and fluency of an answer (0-100 each), with the hedges,
    signposts, conclusion and fillers found and two or three suggestions quoting the answer."""

    score: int = Field(ge=0, le=100)
    clarity: int = Field(ge=0, le=100)
    structure: int = Field(ge=0, le=100)
    vocabulary: int = Field(ge=0, le=100)
    filler_words: int = Field(ge=0)
    filler_breakdown: dict[str, int] = Field(default_factory=dict)
    fillers_per_minute: float | None = None
    hedges: dict[str, int] = Field(default_factory=dict)
    signposts: list[str] = Field(default_factory=list)
    has_conclusion: bool = False
    mean_sentence_words: float = 0.0
    longest_sentence_words: int = 0
    suggestions: list[Suggestion] = Field(default_factory=list)
    feedback: str


class PaceWindow(BaseModel):
    """Pace in one time window (seconds from the start of the audio)."""

    start: float
    end: float
    words: int
    wpm: float
    band: Literal["slow", "ideal", "fast"]


class PaceAnalysis(BaseModel):
    """Speaking rate from word timestamps."""

    words: int
    speaking_span_s: float
    wpm: float
    band: Literal["slow", "ideal", "fast", "unknown"]
    over_time: list[PaceWindow]
    score: int = Field(ge=0, le=100)
    feedback: str


class Pause(BaseModel):
    """One silence (seconds from the start of the audio) and the word before it."""

    start: float
    end: float
    duration: float
    after_word: str


class PauseAnalysis(BaseModel):
    """Pauses from voice activity (``source="vad"``) or from gaps between words, with the
    filled pauses ("um", "uh", "you know") counted from the words."""

    source: Literal["vad", "word_gaps"] = "word_gaps"
    pause_count: int
    pauses: list[Pause] = Field(default_factory=list)
    total_pause_s: float
    mean_pause_s: float
    max_pause_s: float
    long_pauses: list[Pause]
    pauses_per_minute: float
    speaking_time_s: float
    speaking_ratio: float
    filled_pauses: int = 0
    filled_pause_breakdown: dict[str, int] = Field(default_factory=dict)
    score: int = Field(ge=0, le=100)
    feedback: str


class AnalysisErrorInfo(BaseModel):
    """Why one analysis of a complete analysis is missing."""

    error: str
    details: str


class InterviewResults(BaseModel):
    """The analyses of one answer that completed (the others are ``None``)."""

    domain: DomainAnalysis | None = None
    communication: CommunicationAnalysis | None = None
    pace: PaceAnalysis | None = None
    pause: PauseAnalysis | None = None


class InterviewMetadata(BaseModel):
    """What was asked and how long each analysis took (milliseconds)."""

    requested: list[str] = Field(default_factory=list)
    completed: list[str] = Field(default_factory=list)
    failed: list[str] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)
    total_ms: float = 0.0
    analyzer: str = "local"


class InterviewResult(BaseModel):
    """The complete analysis of one answer, typed (the JSON of ``CompleteAnalysis`` validates into it):
    a failed or timed-out analysis is ``None`` in ``results`` and listed in ``errors``."""

    language: str
    results: InterviewResults
    errors: dict[str, AnalysisErrorInfo] = Field(default_factory=dict)
    metadata: InterviewMetadata = Field(default_factory=InterviewMetadata)


# --------------------------------------------------------------------------- options (requests)


class TemperatureRequest(BaseModel):
    """Options of a temperature analysis (none today; the recording comes as ``audio_key``)."""


class Template(BaseModel):
    """A summarisation template (seed 003 ``templates`` table)."""

    id: str
    title: str
    description: str = ""
    summary_prompt: str = ""
    key_points_prompt: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list, description="Optional hints for the suggestion.")


class MeetingRequest(BaseModel):
    """Options of one meeting analysis."""

    meeting_date: date | None = None
    template: Template | None = None
    templates: list[Template] | None = Field(None, description="Candidates for the suggestion.")
    participants: list[str] = Field(
        default_factory=list, description="Names the user listed; hints for speaker naming."
    )


class InterviewRequest(BaseModel):
    """Inputs of an answer analysis; ``key_concepts`` (with synonyms) win over ``expected_concepts``."""

    question: str = ""
    expected_concepts: list[str] = Field(default_factory=list)
    key_concepts: list[KeyConcept] = Field(
        default_factory=list, description="Key concepts with synonyms (from the question bank or the LLM)."
    )
    analysis_types: list[AnalysisType] = Field(default_factory=lambda: list(ANALYSIS_TYPES))
    window_s: float = Field(10.0, gt=0)
