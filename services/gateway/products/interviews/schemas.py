"""Request and response bodies of the interview coach (seed 001 field names: ``interviewId``
in camelCase where the seed uses it, snake_case elsewhere)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.common.analysis_results import (
    ANALYSIS_TYPES,
    AnalysisErrorInfo,
    CommunicationAnalysis,
    DomainAnalysis,
    KeyConcept,
    PaceAnalysis,
    PauseAnalysis,
)
from services.common.transcript import SpeechInterval

MAX_ROW_ID = 2**63 - 1
"""Largest record id (a 64-bit database integer): larger ids are refused (422), never sent to
the database (where they overflow)."""

RowId = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]
"""An interview, question or attempt id in a request body (1..2^63-1)."""

AnalysisKind = Literal["domain", "communication", "pace", "pause"]

MAX_RESUME_BYTES = 5 * 1024 * 1024
MAX_AUDIO_BYTES = 25 * 1024 * 1024
TRACKS: dict[str, str] = {
    "data_science": "Data science",
    "ml_engineering": "Machine learning engineering",
    "software_engineering": "Software engineering",
    "product_management": "Product management",
    "backend_engineering": "Backend engineering",
    "frontend_engineering": "Frontend engineering",
}
"""The tracks of ``GET /api/interviews/tracks`` (the analysis question bank has them all)."""

# --------------------------------------------------------------------------- resume


class ExperienceRange(BaseModel):
    """A date range of the experience section (``YYYY-MM``)."""

    start: str
    end: str
    months: int
    line: str


class ResumeOut(BaseModel):
    """The caller's resume: metadata and the extracted fields (seed: ``resume_text``, ``skills``,
    ``years_experience``)."""

    filename: str
    kind: Literal["pdf", "docx", "text"]
    size_bytes: int
    pages: int | None
    resume_text: str
    text_sha256: str
    skills: list[str]
    years_experience: float | None
    education: list[str]
    roles: list[str]
    experience: list[ExperienceRange]
    uploaded_at: datetime


class KnowledgeSetOut(BaseModel):
    """Normalised skills grouped by area; ``cached`` says whether it came from the cache."""

    skills: list[str]
    areas: dict[str, list[str]]
    resume_sha256: str
    cached: bool


# --------------------------------------------------------------------------- interviews


class TrackOut(BaseModel):
    """One interview track."""

    id: str
    title: str


class TracksOut(BaseModel):
    """Every track."""

    tracks: list[TrackOut]


class CreateInterviewIn(BaseModel):
    """``POST /api/interviews/create``."""

    model_config = ConfigDict(extra="forbid")

    track: str = Field(
        description="One of GET /api/interviews/tracks (422 otherwise).",
        json_schema_extra={"enum": list(TRACKS)},
    )


class InterviewOut(BaseModel):
    """One interview."""

    model_config = ConfigDict(populate_by_name=True)

    interview_id: int = Field(alias="interviewId")
    track: str
    status: Literal["active", "completed"]
    created_at: datetime
    completed_at: datetime | None = None
    question_count: int = 0
    resumed: bool = Field(False, description="True when an active interview for the track was resumed.")


class GenerateQuestionsIn(BaseModel):
    """``POST /api/interviews/generate-questions``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    interview_id: RowId | None = Field(
        None, alias="interviewId", description="Default: the caller's newest active interview."
    )
    count: int = Field(5, ge=1, le=20)
    regenerate: bool = Field(False, description="Replace existing questions (and their answers).")


class QuestionOut(BaseModel):
    """One question of an interview with the id of its attempt (for uploads)."""

    id: int
    question_attempt_id: int | None = None
    position: int
    text: str
    topic: str
    category: str
    difficulty: str
    key_concepts: list[KeyConcept]


class GeneratedQuestionsOut(BaseModel):
    """Questions of the interview; ``generated`` is False when existing ones were returned."""

    model_config = ConfigDict(populate_by_name=True)

    interview_id: int = Field(alias="interviewId")
    track: str
    generated: bool
    generic: bool = Field(description="True when no resume skills were known: generic track questions.")
    items: list[QuestionOut]


class CompleteInterviewIn(BaseModel):
    """``POST /api/interviews/complete``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    interview_id: RowId = Field(alias="interviewId")


class InterviewPage(BaseModel):
    """``GET /api/interviews``: newest first."""

    items: list[InterviewOut]
    next_cursor: int | None
    limit: int


class QuestionPage(BaseModel):
    """``GET /api/interviews/{id}/questions``: oldest first."""

    model_config = ConfigDict(populate_by_name=True)

    interview_id: int = Field(alias="interviewId")
    items: list[QuestionOut]
    next_cursor: int | None
    limit: int


class AttemptOut(BaseModel):
    """A question attempt: ids for uploads, transcription and analysis state."""

    question_attempt_id: int
    question_id: int
    position: int
    question: str
    transcribed: bool
    transcript_text: str | None
    transcribed_at: datetime | None
    analyses: list[str] = Field(description="Analysis types stored in analysis_json.")
    analyzed_at: datetime | None


class AttemptsOut(BaseModel):
    """``GET /api/interviews/{id}/question-attempts``."""

    model_config = ConfigDict(populate_by_name=True)

    interview_id: int = Field(alias="interviewId")
    status: str
    items: list[AttemptOut]


# --------------------------------------------------------------------------- transcription


class WordOut(BaseModel):
    """One word with its timing (seconds)."""

    word: str
    start: float
    end: float
    probability: float


class FileMeta(BaseModel):
    """The uploaded file (never stored)."""

    filename: str
    content_type: str | None
    format: str
    size_bytes: int
    duration_s: float
    sample_rate: int | None = None
    channels: int | None = None


class TranscriptionOut(BaseModel):
    """``POST /api/transcribe-whisper``."""

    question_attempt_id: int
    text: str
    language: str
    duration: float
    words: list[WordOut]
    speech_intervals: list[SpeechInterval]
    file: FileMeta
    processing_time_s: float
    saved: bool = True


# --------------------------------------------------------------------------- analyses


class AttemptIn(BaseModel):
    """The body of the single analyses."""

    model_config = ConfigDict(extra="forbid")

    question_attempt_id: RowId


class CompleteAnalysisIn(BaseModel):
    """``POST /api/complete-analysis``."""

    model_config = ConfigDict(extra="forbid")

    question_attempt_id: RowId
    analysis_types: list[AnalysisKind] = Field(default_factory=lambda: list(ANALYSIS_TYPES), min_length=1)


class AnalysisStatusOut(BaseModel):
    """How one requested analysis went."""

    status: Literal["completed", "failed"]
    error: str | None = None
    details: str | None = None
    time_ms: float


class Performance(BaseModel):
    """Timing of a complete analysis (milliseconds): the whole route, the analysis call and
    each analysis inside it."""

    total_ms: float
    analysis_ms: float
    per_analysis_ms: dict[str, float]


class CompleteAnalysisOut(BaseModel):
    """The aggregate: the analyses that completed, per-analysis status, errors, metadata, timing."""

    question_attempt_id: int
    analysis_types: list[AnalysisKind]
    domain: DomainAnalysis | None = None
    communication: CommunicationAnalysis | None = None
    pace: PaceAnalysis | None = None
    pause: PauseAnalysis | None = None
    status: dict[str, AnalysisStatusOut]
    errors: dict[str, AnalysisErrorInfo]
    partial: bool
    metadata: dict[str, Any]
    performance: Performance
    saved: bool = True


class DomainOut(DomainAnalysis):
    """``POST /api/domain-base-analysis``."""

    question_attempt_id: int


class CommunicationOut(CommunicationAnalysis):
    """``POST /api/communication-based-analysis``."""

    question_attempt_id: int


class PaceOut(PaceAnalysis):
    """``POST /api/analyze-pace``."""

    question_attempt_id: int


class PauseOut(PauseAnalysis):
    """``POST /api/analyze-pause``."""

    question_attempt_id: int


# --------------------------------------------------------------------------- reports


class FinalReportIn(BaseModel):
    """``POST /api/final-report``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    interview_id: RowId = Field(alias="interviewId")


class FinalReportOut(BaseModel):
    """The stored session report of an interview."""

    model_config = ConfigDict(populate_by_name=True)

    interview_id: int = Field(alias="interviewId")
    track: str
    status: str
    report: dict[str, Any]
    updated_at: datetime


class ProgressPoint(BaseModel):
    """One reported interview in the caller's progress."""

    model_config = ConfigDict(populate_by_name=True)

    interview_id: int = Field(alias="interviewId")
    track: str
    completed_at: datetime | None
    overall_score: int | None
    dimension_scores: dict[str, int]


class ProgressOut(BaseModel):
    """``GET /api/progress``: scores over time (oldest first) and per dimension."""

    interviews: list[ProgressPoint]
    dimensions: dict[str, list[int]]
    trend: dict[str, int | None] = Field(
        description="Last minus first score per dimension (None: < 2 points)."
    )
