"""The analysis engine: one entry point for every kind, used by the event consumer, the gRPC
server, the CLI and the benchmark.

Kinds and their options (validated with pydantic; a bad option raises ``ValueError``):

- ``temperature``: no options; TemperatureResult (with ``language``).
- ``meeting``: :class:`~services.analysis.meeting.MeetingRequest`; MeetingAnalysis.
- ``interview``: :class:`~services.analysis.interview.InterviewRequest`; CompleteAnalysis.
- ``interview_questions``: ``{resume: Resume, track, count}``; QuestionSet.
- ``interview_report``: ``{attempts: [AttemptInput]}``; SessionReport.
- ``template_suggestion``: ``{templates: [Template]}`` (default: the built-ins); TemplateSuggestion.

The provider for meeting and interview analyses is ``EARSHOT_ANALYSIS_PROVIDER``; for
temperature it is ``EARSHOT_TEMPERATURE_ANALYZER`` (both ``local`` by default).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from services.analysis.config import AnalysisSettings
from services.analysis.interview import (
    AttemptInput,
    InterviewAnalyzer,
    InterviewRequest,
    LLMInterviewAnalyzer,
    LocalInterviewAnalyzer,
    Resume,
)
from services.analysis.interview_report import SessionReport, session_report
from services.analysis.meeting import (
    DEFAULT_TEMPLATES,
    LLMMeetingAnalyzer,
    LocalMeetingAnalyzer,
    MeetingAnalyzer,
    MeetingRequest,
    Template,
    TemplateSuggestion,
    suggest_template,
)
from services.analysis.providers import StructuredProvider, create_provider
from services.analysis.temperature import (
    AudioDynamics,
    LLMTemperatureAnalyzer,
    LocalTemperatureAnalyzer,
    TemperatureAnalyzer,
    TemperatureResult,
)
from services.analysis.text import detect_language
from services.common.transcript import Segment, Transcript

KINDS = (
    "temperature",
    "meeting",
    "interview",
    "interview_questions",
    "interview_report",
    "template_suggestion",
)
#: Kinds that analyse a transcript (the others take their input from the options).
TRANSCRIPT_KINDS = ("temperature", "meeting", "interview", "template_suggestion")


class QuestionsOptions(BaseModel):
    """Options of ``interview_questions``."""

    resume: Resume
    track: str
    count: int = Field(5, ge=1, le=20)


class ReportOptions(BaseModel):
    """Options of ``interview_report``."""

    attempts: list[AttemptInput]


class SuggestionOptions(BaseModel):
    """Options of ``template_suggestion``."""

    templates: list[Template] | None = None


def transcript_from_text(text: str) -> Transcript:
    """A one-segment transcript (no timings) from plain text."""
    return Transcript(
        language="und",
        duration=0.0,
        text=text,
        segments=[Segment(id=0, start=0.0, end=0.0, text=text)] if text.strip() else [],
    )


class AnalysisEngine:
    """Analyzers for every kind, local or provider-backed, created once and shared.

    Args:
        settings: the analysis settings (provider, keys, limits).
        temperature_provider: ``local``, ``openai``, ``anthropic`` or ``gemini``.

    Raises:
        services.common.settings.ConfigurationError: a chosen provider has no API key.
    """

    def __init__(self, settings: AnalysisSettings, temperature_provider: str = "local") -> None:
        self.settings = settings
        self._providers: list[StructuredProvider] = []
        provider = self._provider(settings.provider)
        temp = provider if temperature_provider == settings.provider else self._provider(temperature_provider)
        self.temperature: TemperatureAnalyzer = (
            LLMTemperatureAnalyzer(temp) if temp else LocalTemperatureAnalyzer()
        )
        self.meeting: MeetingAnalyzer = LLMMeetingAnalyzer(provider) if provider else LocalMeetingAnalyzer()
        self.interview: InterviewAnalyzer = (
            LLMInterviewAnalyzer(provider, settings.interview_analysis_timeout_s)
            if provider
            else LocalInterviewAnalyzer(settings.interview_analysis_timeout_s)
        )

    def _provider(self, name: str) -> StructuredProvider | None:
        provider = create_provider(name, self.settings)
        if provider is not None:
            self._providers.append(provider)
        return provider

    async def aclose(self) -> None:
        """Close the providers' HTTP clients."""
        for provider in self._providers:
            await provider.aclose()

    def warm_up(self) -> None:
        """Load the lazily imported libraries and models (YAKE, dateparser, language id) once."""
        text = "Let's start. Bob, can you send the notes by Friday? I will draft the plan tomorrow."
        LocalMeetingAnalyzer().run(transcript_from_text(text), MeetingRequest())
        detect_language(text)

    def analyzer_name(self, kind: str) -> str:
        """Name of the analyzer that handles ``kind``."""
        if kind == "temperature":
            return self.temperature.name
        if kind in ("meeting", "template_suggestion"):
            return self.meeting.name
        if kind == "interview_report":
            return "local"
        return self.interview.name

    async def analyze(
        self,
        kind: str,
        transcript: Transcript | None,
        options: dict[str, Any] | None = None,
        audio: AudioDynamics | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """Run one analysis; returns ``(analyzer name, result as a JSON-able dict)``.

        Raises:
            ValueError: unknown kind, missing transcript, or options not matching the kind's model
                (pydantic's ``ValidationError`` is a ``ValueError``).
            services.analysis.providers.ProviderError: the provider failed for good.
        """
        options = options or {}
        if kind not in KINDS:
            raise ValueError(f"unknown analysis kind {kind!r}; choose from {', '.join(KINDS)}")
        if kind in TRANSCRIPT_KINDS and transcript is None:
            raise ValueError(f"kind {kind!r} needs a transcript")
        if kind == "temperature":
            assert transcript is not None
            temperature = await self.analyze_temperature(transcript, audio)
            return temperature.analyzer, temperature.model_dump(mode="json")
        if kind == "meeting":
            assert transcript is not None
            meeting = await self.meeting.analyze(transcript, MeetingRequest.model_validate(options))
            return meeting.analyzer, meeting.model_dump(mode="json")
        if kind == "interview":
            assert transcript is not None
            complete = await self.interview.complete(transcript, InterviewRequest.model_validate(options))
            return self.interview.name, complete.model_dump(mode="json")
        if kind == "interview_questions":
            q = QuestionsOptions.model_validate(options)
            questions = await self.interview.questions(q.resume, q.track, q.count)
            return questions.analyzer, questions.model_dump(mode="json")
        if kind == "interview_report":
            report = session_report(ReportOptions.model_validate(options).attempts)
            return "local", report.model_dump(mode="json")
        assert transcript is not None
        templates = SuggestionOptions.model_validate(options).templates
        suggestion = await self.suggest_template(transcript, templates)
        return self.meeting.name, suggestion.model_dump(mode="json")

    # --- typed entry points (the gRPC servicer) ----------------------------------------------
    async def analyze_temperature(
        self, transcript: Transcript, audio: AudioDynamics | None = None
    ) -> TemperatureResult:
        """Temperature of ``transcript`` (plus loudness when ``audio`` is given), with its language.

        Raises:
            services.analysis.providers.ProviderError: the provider failed for good.
        """
        temperature = await self.temperature.analyze(transcript, audio)
        return temperature.model_copy(update={"language": detect_language(transcript.text)[0]})

    async def suggest_template(
        self, transcript: Transcript, templates: list[Template] | None = None
    ) -> TemplateSuggestion:
        """The template (of ``templates``, default the built-ins) that fits ``transcript``.

        Raises:
            ValueError: an empty template list.
            services.analysis.providers.ProviderError: the provider failed for good.
        """
        candidates = list(templates or DEFAULT_TEMPLATES)
        if isinstance(self.meeting, LLMMeetingAnalyzer):
            return await self.meeting.suggest(transcript.text, candidates)
        return suggest_template(transcript.text, candidates)

    async def session_report(self, attempts: list[AttemptInput]) -> SessionReport:
        """The interview session report (local: a deterministic aggregate of the attempts' scores)."""
        return session_report(attempts)
