"""Typed client of ``earshot.analysis.v1.AnalysisService`` for the gateway's products.

One async method per RPC, taking and returning the generated messages
(``earshot.analysis.v1.analysis_pb2``); :func:`transcript_source` builds the input from a
:class:`services.common.transcript.Transcript` (or a stored transcript's key). The channel is
opened once by the gateway at start and closed at stop; every call carries the caller's
trace context and a deadline.

gRPC errors become the gateway's :class:`ApiError` (JSON ``{error, details, timestamp}``):

==================== ====== ==============================================================
gRPC status          HTTP   meaning
==================== ====== ==============================================================
INVALID_ARGUMENT     422    the input cannot be analysed (details say why)
NOT_FOUND            404    the stored transcript is gone
DEADLINE_EXCEEDED    504    the analysis (or its provider) took too long
UNAVAILABLE          503    the analysis service or its provider is down (``Retry-After``)
FAILED_PRECONDITION  503    the provider refused the configured key (an operator must act)
anything else        502    the analysis service failed
==================== ====== ==============================================================
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
from earshot.analysis.v1 import analysis_pb2 as pb
from earshot.analysis.v1 import analysis_pb2_grpc
from google.protobuf.message import Message

from services.common import rpc
from services.common.logging import get_logger
from services.common.transcript import Transcript
from services.gateway.clients.errors import api_error
from services.gateway.shared.errors import ApiError

log = get_logger("earshot.gateway.analysis")

R = TypeVar("R", bound=Message)

_OVERRIDES: dict[grpc.StatusCode, tuple[int, str]] = {
    grpc.StatusCode.INVALID_ARGUMENT: (422, "Invalid analysis input"),
    grpc.StatusCode.DEADLINE_EXCEEDED: (504, "Analysis timed out"),
    grpc.StatusCode.UNAVAILABLE: (503, "Analysis unavailable"),
    grpc.StatusCode.FAILED_PRECONDITION: (503, "Analysis unavailable"),
}


def analysis_error(exc: grpc.aio.AioRpcError) -> ApiError:
    """The gateway error for a failed analysis RPC (see the module table), through the
    gateway's one map (:func:`services.gateway.clients.errors.api_error`)."""
    error = api_error(exc, "analysis service", overrides=_OVERRIDES, hide_unavailable_details=False)
    if exc.code() == grpc.StatusCode.FAILED_PRECONDITION:
        log.error("analysis.misconfigured", details=error.details)
        error.details = "the analysis provider is not usable right now; an operator has been told"
    elif error.status == 502:
        error.error = "Analysis failed"
    return error


def transcript_message(transcript: Transcript) -> pb.Transcript:
    """The ``Transcript`` message of a transcript (segments with speakers and word timings)."""
    return pb.Transcript(
        language=transcript.language,
        duration=transcript.duration,
        text=transcript.text,
        segments=[
            pb.Segment(
                id=s.id,
                start=s.start,
                end=s.end,
                text=s.text,
                speaker=s.speaker or "",
                words=[
                    pb.Word(word=w.word, start=w.start, end=w.end, probability=w.probability) for w in s.words
                ],
            )
            for s in transcript.segments
        ],
        speech=[pb.SpeechInterval(start=i.start, end=i.end) for i in transcript.speech or []],
    )


def transcript_source(
    transcript: Transcript | pb.Transcript | None = None, *, key: str | None = None
) -> pb.TranscriptSource:
    """The ``input`` of a request: an inline transcript, or the storage key of a transcript JSON.

    Raises:
        ValueError: neither or both given.
    """
    if (transcript is None) == (key is None):
        raise ValueError("give a transcript or a key, not both")
    if transcript is None:
        return pb.TranscriptSource(transcript_key=key)
    message = transcript if isinstance(transcript, pb.Transcript) else transcript_message(transcript)
    return pb.TranscriptSource(transcript=message)


class AnalysisClient:
    """The analysis service's RPCs as typed async methods.

    Args:
        channel: an open ``grpc.aio`` channel to the analysis service (owned by the caller).
        timeout_s: deadline of each call, seconds (a meeting analysis by a provider can take
            tens of seconds).

    Every method raises :class:`ApiError` when the call fails (see the module table).
    """

    def __init__(self, channel: grpc.aio.Channel, timeout_s: float = 120.0) -> None:
        self._stub: Any = analysis_pb2_grpc.AnalysisServiceStub(channel)
        self.timeout_s = timeout_s

    async def _call(self, method: Callable[..., Awaitable[R]], request: Message) -> R:
        try:
            return await method(request, timeout=self.timeout_s, metadata=rpc.call_metadata())
        except grpc.aio.AioRpcError as exc:
            raise analysis_error(exc) from None

    async def temperature(self, request: pb.TemperatureRequest) -> pb.TemperatureAnalysis:
        """Conversation temperature (seed 000)."""
        return await self._call(self._stub.AnalyzeTemperature, request)

    async def meeting(self, request: pb.MeetingRequest) -> pb.MeetingAnalysis:
        """Summary, key points, action items, title, description, template suggestion (seed 003)."""
        return await self._call(self._stub.AnalyzeMeeting, request)

    async def pace(self, request: pb.PaceRequest) -> pb.PaceAnalysis:
        """Speaking pace from word timings (seed 001)."""
        return await self._call(self._stub.AnalyzePace, request)

    async def pause(self, request: pb.PauseRequest) -> pb.PauseAnalysis:
        """Pauses from word timings (seed 001)."""
        return await self._call(self._stub.AnalyzePause, request)

    async def communication(self, request: pb.CommunicationRequest) -> pb.CommunicationAnalysis:
        """Communication quality of an answer (seed 001)."""
        return await self._call(self._stub.AnalyzeCommunication, request)

    async def domain(self, request: pb.DomainRequest) -> pb.DomainAnalysis:
        """Concept coverage of an answer (seed 001)."""
        return await self._call(self._stub.AnalyzeDomain, request)

    async def interview(self, request: pb.InterviewRequest) -> pb.InterviewAnalysis:
        """The complete analysis of an answer: the chosen subset concurrently, partial on failure."""
        return await self._call(self._stub.AnalyzeInterview, request)

    async def questions(self, request: pb.GenerateQuestionsRequest) -> pb.QuestionSet:
        """Interview questions for a track from a resume (seed 001)."""
        return await self._call(self._stub.GenerateQuestions, request)

    async def resume_skills(self, request: pb.ResumeSkillsRequest) -> pb.ResumeSkills:
        """Skills and years of experience in a resume (seed 001)."""
        return await self._call(self._stub.ExtractResumeSkills, request)

    async def session_report(self, request: pb.SessionReportRequest) -> pb.SessionReport:
        """The interview session report over analysed answers (seed 001)."""
        return await self._call(self._stub.BuildSessionReport, request)

    async def render_report(self, request: pb.RenderReportRequest) -> pb.RenderedReport:
        """A session report as Markdown or PDF (seed 001, beyond the seed)."""
        return await self._call(self._stub.RenderSessionReport, request)

    async def extract_resume(self, request: pb.ResumeFile) -> pb.ResumeExtraction:
        """Text, skills, years, education, roles and knowledge set of a resume file (seed 001)."""
        return await self._call(self._stub.ExtractResume, request)

    async def knowledge_set(self, request: pb.KnowledgeSetRequest) -> pb.KnowledgeSet:
        """Skills grouped by area (seed 001 /api/get_knowledgeset)."""
        return await self._call(self._stub.BuildKnowledgeSet, request)

    async def suggest_template(self, request: pb.SuggestTemplateRequest) -> pb.TemplateSuggestion:
        """The template that fits a transcript (seed 003)."""
        return await self._call(self._stub.SuggestTemplate, request)

    async def suggest_title(self, request: pb.SuggestTitleRequest) -> pb.TitleSuggestion:
        """A meeting title (seed 003)."""
        return await self._call(self._stub.SuggestTitle, request)

    async def suggest_description(self, request: pb.SuggestDescriptionRequest) -> pb.DescriptionSuggestion:
        """A one-sentence meeting description (seed 003)."""
        return await self._call(self._stub.SuggestDescription, request)
