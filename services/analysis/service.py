"""Analysis service: consumes analysis requests and publishes results; serves the typed gRPC
``earshot.analysis.v1.AnalysisService`` (one RPC per analysis).

Consumes ``earshot.analysis.requested.v2`` (and the deprecated ``v1``; group ``analysis``) for the kinds
``temperature``, ``meeting`` and ``interview``: reads the transcript JSON from storage
(for temperature also the recording's loudness dynamics when its key is given), runs
the kind's analyzer (:class:`services.analysis.engine.AnalysisEngine`, local or
provider-backed) and publishes ``earshot.analysis.completed.v2`` (the typed result inline: it
is small) or ``earshot.analysis.failed.v1`` (bad options, a failed provider). The local
analyzers are deterministic, so a redelivery recomputes the same result.

:class:`AnalysisServicer` serves synchronous callers: AnalyzeTemperature, AnalyzeMeeting,
AnalyzePace, AnalyzePause, AnalyzeCommunication, AnalyzeDomain, AnalyzeInterview (the complete
analysis), GenerateQuestions, ExtractResumeSkills, ExtractResume (a resume file),
BuildKnowledgeSet, BuildSessionReport, RenderSessionReport (Markdown, PDF), SuggestTemplate,
SuggestTitle and SuggestDescription, on the same analyzers (local, or provider-backed when a
provider is configured); messages are converted by :mod:`services.analysis.convert`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc
from earshot.analysis.v1 import analysis_pb2, analysis_pb2_grpc
from pydantic import ValidationError

from services.analysis.config import load_analysis_settings
from services.analysis.convert import (
    attempts_from_proto,
    extraction_to_proto,
    interview_to_proto,
    report_from_proto,
    resume_from_proto,
    template_from_proto,
    to_proto,
    transcript_from_proto,
)
from services.analysis.engine import AnalysisEngine
from services.analysis.interview import InterviewRequest, resolve_concepts
from services.analysis.interview_report import render_markdown, render_pdf
from services.analysis.meeting import MeetingRequest
from services.analysis.providers import ProviderError
from services.analysis.resume import ResumeError, extract_resume
from services.analysis.skills import knowledge_set
from services.analysis.temperature import (
    AudioDynamics,
    LLMTemperatureAnalyzer,
    LocalTemperatureAnalyzer,
    TemperatureAnalyzer,
    compute_audio_dynamics,
)
from services.common import audio, publishing, telemetry
from services.common.analysis_results import KeyConcept
from services.common.bus import Subscription
from services.common.events import (
    ANALYSIS_REQUESTED_TYPES,
    ANALYSIS_REQUESTS,
    AnalysisCompletedV2,
    AnalysisFailed,
    AnalysisRequestedV2,
    Envelope,
)
from services.common.logging import bind, get_logger, unbind
from services.common.rpc import GrpcServer, start_server
from services.common.runtime import Runtime
from services.common.storage import ObjectNotFound
from services.common.transcript import Transcript

log = get_logger("earshot.analysis")

GROUP = "analysis"
GRPC_SERVICE_NAME = "earshot.analysis.v1.AnalysisService"


def create_temperature_analyzer(name: str) -> TemperatureAnalyzer:
    """The temperature analyzer named by ``EARSHOT_TEMPERATURE_ANALYZER``
    (``local``, ``openai``, ``anthropic`` or ``gemini``; providers read their keys from the
    environment, see :mod:`services.analysis.config`).

    Raises:
        ValueError: for an unknown name.
        services.common.settings.ConfigurationError: the provider's API key is not set.
    """
    if name == "local":
        return LocalTemperatureAnalyzer()
    if name in ("openai", "anthropic", "gemini"):
        from services.analysis.providers import create_provider

        provider = create_provider(name, load_analysis_settings())
        assert provider is not None
        return LLMTemperatureAnalyzer(provider)
    raise ValueError(f"unknown temperature analyzer {name!r}")


def _grpc_code(exc: ProviderError) -> grpc.StatusCode:
    if exc.code == "timeout":
        return grpc.StatusCode.DEADLINE_EXCEEDED
    if exc.code in ("context_length_exceeded", "bad_request"):
        return grpc.StatusCode.INVALID_ARGUMENT
    if exc.code == "auth":
        return grpc.StatusCode.FAILED_PRECONDITION
    return grpc.StatusCode.UNAVAILABLE


T = TypeVar("T")


class AnalysisServicer(analysis_pb2_grpc.AnalysisServiceServicer):
    """``earshot.analysis.v1.AnalysisService``: one typed RPC per analysis on the service's engine.

    Errors: INVALID_ARGUMENT (missing or malformed input, bad options), NOT_FOUND (a
    ``transcript_key`` not in storage), DEADLINE_EXCEEDED (a provider or analysis timeout),
    UNAVAILABLE (provider outage after retries), FAILED_PRECONDITION (provider refused the key).
    """

    def __init__(self, service: AnalysisService) -> None:
        self.service = service

    @property
    def engine(self) -> AnalysisEngine:
        return self.service.engine

    async def _guard(self, context: grpc.aio.ServicerContext, call: Callable[[], Awaitable[T]]) -> T:
        """Run ``call``, turning analyzer errors into gRPC status codes with a readable detail."""
        try:
            return await call()
        except ObjectNotFound as exc:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no transcript at {exc}")
        except ProviderError as exc:
            log.warning("analysis.provider_failed", error=exc.code, details=exc.details)
            await context.abort(_grpc_code(exc), f"the analysis provider failed: {exc.code}: {exc.details}")
        except TimeoutError:
            await context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "the analysis took too long")
        except ValueError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, _first_line(exc))
        raise AssertionError("unreachable: context.abort raises")

    async def _transcript(self, source: analysis_pb2.TranscriptSource) -> Transcript:
        """The request's transcript, inline or from storage.

        Raises:
            ValueError: no transcript given, or one that does not match the schema.
            ObjectNotFound: ``transcript_key`` is not in storage.
        """
        which = source.WhichOneof("source")
        try:
            if which == "transcript":
                return transcript_from_proto(source.transcript)
            if which == "transcript_key":
                data = await self.service.runtime.storage.get(source.transcript_key)
                return Transcript.model_validate_json(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise ValueError(
                f"transcript does not match the schema: {exc.error_count()} errors, first: "
                f"{where + ': ' if where else ''}{err['msg']}"
            ) from None
        raise ValueError("input needs a transcript or a transcript_key")

    async def AnalyzeTemperature(  # noqa: N802 - gRPC method name
        self, request: analysis_pb2.TemperatureRequest, context: grpc.aio.ServicerContext
    ) -> analysis_pb2.TemperatureAnalysis:
        async def run() -> analysis_pb2.TemperatureAnalysis:
            started = time.perf_counter()
            transcript = await self._transcript(request.input)
            dynamics = await self.service._dynamics(request.audio_key or None)
            result = await self.engine.analyze_temperature(transcript, dynamics)
            return to_proto(result, analysis_pb2.TemperatureAnalysis, processing_s=_since(started))

        return await self._guard(context, run)

    async def AnalyzeMeeting(  # noqa: N802 - gRPC method name
        self, request: analysis_pb2.MeetingRequest, context: grpc.aio.ServicerContext
    ) -> analysis_pb2.MeetingAnalysis:
        async def run() -> analysis_pb2.MeetingAnalysis:
            started = time.perf_counter()
            transcript = await self._transcript(request.input)
            options = MeetingRequest.model_validate(
                {
                    "meeting_date": request.meeting_date or None,
                    "template": template_from_proto(request.template)
                    if request.HasField("template")
                    else None,
                    "templates": [template_from_proto(t) for t in request.templates] or None,
                }
            )
            result = await self.engine.meeting.analyze(transcript, options)
            return to_proto(result, analysis_pb2.MeetingAnalysis, processing_s=_since(started))

        return await self._guard(context, run)

    async def AnalyzePace(  # noqa: N802 - gRPC method name
        self, request: analysis_pb2.PaceRequest, context: grpc.aio.ServicerContext
    ) -> analysis_pb2.PaceAnalysis:
        async def run() -> analysis_pb2.PaceAnalysis:
            started = time.perf_counter()
            if request.window_s < 0:
                raise ValueError("window_s must be positive")
            transcript = await self._transcript(request.input)
            result = await self.engine.interview.pace(transcript, request.window_s or 10.0)
            return to_proto(result, analysis_pb2.PaceAnalysis, analyzer="local", processing_s=_since(started))

        return await self._guard(context, run)

    async def AnalyzePause(  # noqa: N802 - gRPC method name
        self, request: analysis_pb2.PauseRequest, context: grpc.aio.ServicerContext
    ) -> analysis_pb2.PauseAnalysis:
        async def run() -> analysis_pb2.PauseAnalysis:
            started = time.perf_counter()
            transcript = await self._transcript(request.input)
            result = await self.engine.interview.pause(transcript, transcript.speech)
            return to_proto(
                result, analysis_pb2.PauseAnalysis, analyzer="local", processing_s=_since(started)
            )

        return await self._guard(context, run)

    async def AnalyzeCommunication(  # noqa: N802 - gRPC method name
        self, request: analysis_pb2.CommunicationRequest, context: grpc.aio.ServicerContext
    ) -> analysis_pb2.CommunicationAnalysis:
        async def run() -> analysis_pb2.CommunicationAnalysis:
            started = time.perf_counter()
            transcript = await self._transcript(request.input)
            timed = [w for w in transcript.words if w.end >= w.start]
            speaking_s = (max(w.end for w in timed) - min(w.start for w in timed)) if timed else None
            result = await self.engine.interview.communication(_answer(transcript), speaking_s or None)
            return to_proto(
                result,
                analysis_pb2.CommunicationAnalysis,
                analyzer=self.engine.interview.name,
                processing_s=_since(started),
            )

        return await self._guard(context, run)

    async def AnalyzeDomain(  # noqa: N802 - gRPC method name
        self, request: analysis_pb2.DomainRequest, context: grpc.aio.ServicerContext
    ) -> analysis_pb2.DomainAnalysis:
        async def run() -> analysis_pb2.DomainAnalysis:
            started = time.perf_counter()
            answer = _answer(await self._transcript(request.input))
            concepts = resolve_concepts(
                request.question,
                list(request.expected_concepts),
                [KeyConcept(name=k.name, synonyms=list(k.synonyms)) for k in request.key_concepts],
            )
            result = await self.engine.interview.domain(request.question, answer, concepts)
            return to_proto(
                result,
                analysis_pb2.DomainAnalysis,
                analyzer=self.engine.interview.name,
                processing_s=_since(started),
            )

        return await self._guard(context, run)

    async def AnalyzeInterview(  # noqa: N802 - gRPC method name
        self, request: analysis_pb2.InterviewRequest, context: grpc.aio.ServicerContext
    ) -> analysis_pb2.InterviewAnalysis:
        async def run() -> analysis_pb2.InterviewAnalysis:
            started = time.perf_counter()
            options = InterviewRequest.model_validate(
                {
                    "question": request.question,
                    "expected_concepts": list(request.expected_concepts),
                    "key_concepts": [
                        {"name": k.name, "synonyms": list(k.synonyms)} for k in request.key_concepts
                    ],
                    "window_s": request.window_s or 10.0,
                    **({"analysis_types": list(request.analysis_types)} if request.analysis_types else {}),
                }
            )
            transcript = await self._transcript(request.input)
            complete = await self.engine.interview.complete(transcript, options)
            out = interview_to_proto(complete)
            out.processing_s = _since(started)
            return out

        return await self._guard(context, run)

    async def GenerateQuestions(  # noqa: N802 - gRPC method name
        self, request: analysis_pb2.GenerateQuestionsRequest, context: grpc.aio.ServicerContext
    ) -> analysis_pb2.QuestionSet:
        async def run() -> analysis_pb2.QuestionSet:
            started = time.perf_counter()
            count = request.count or 5
            if not 1 <= count <= 20:
                raise ValueError(f"count must be 1-20 (got {count})")
            result = await self.engine.interview.questions(
                resume_from_proto(request.resume), request.track, count, request.seed
            )
            return to_proto(result, analysis_pb2.QuestionSet, processing_s=_since(started))

        return await self._guard(context, run)

    async def ExtractResumeSkills(  # noqa: N802 - gRPC method name
        self, request: analysis_pb2.ResumeSkillsRequest, context: grpc.aio.ServicerContext
    ) -> analysis_pb2.ResumeSkills:
        async def run() -> analysis_pb2.ResumeSkills:
            started = time.perf_counter()
            resume = resume_from_proto(request.resume)
            if not resume.text.strip() and not resume.skills:
                raise ValueError("the resume has no text and no skills")
            result = await self.engine.interview.resume_skills(resume)
            return to_proto(result, analysis_pb2.ResumeSkills, processing_s=_since(started))

        return await self._guard(context, run)

    async def BuildSessionReport(  # noqa: N802 - gRPC method name
        self, request: analysis_pb2.SessionReportRequest, context: grpc.aio.ServicerContext
    ) -> analysis_pb2.SessionReport:
        async def run() -> analysis_pb2.SessionReport:
            started = time.perf_counter()
            report = await self.engine.session_report(attempts_from_proto(request))
            return to_proto(
                report, analysis_pb2.SessionReport, analyzer="local", processing_s=_since(started)
            )

        return await self._guard(context, run)

    async def RenderSessionReport(  # noqa: N802 - gRPC method name
        self, request: analysis_pb2.RenderReportRequest, context: grpc.aio.ServicerContext
    ) -> analysis_pb2.RenderedReport:
        async def run() -> analysis_pb2.RenderedReport:
            report = report_from_proto(request.report)
            title = request.title or "Interview report"
            if request.format == "md":
                return analysis_pb2.RenderedReport(
                    content=render_markdown(report, title).encode(), media_type="text/markdown; charset=utf-8"
                )
            if request.format == "pdf":
                content = await asyncio.to_thread(render_pdf, report, title)
                return analysis_pb2.RenderedReport(content=content, media_type="application/pdf")
            raise ValueError(f"unknown report format {request.format!r}; choose md or pdf")

        return await self._guard(context, run)

    async def ExtractResume(  # noqa: N802 - gRPC method name
        self, request: analysis_pb2.ResumeFile, context: grpc.aio.ServicerContext
    ) -> analysis_pb2.ResumeExtraction:
        async def run() -> analysis_pb2.ResumeExtraction:
            started = time.perf_counter()
            try:
                extraction = await asyncio.to_thread(extract_resume, request.data)
            except ResumeError as exc:
                raise ValueError(f"{exc.code}: {exc.details}") from None
            return extraction_to_proto(extraction, analyzer="local", processing_s=_since(started))

        return await self._guard(context, run)

    async def BuildKnowledgeSet(  # noqa: N802 - gRPC method name
        self, request: analysis_pb2.KnowledgeSetRequest, context: grpc.aio.ServicerContext
    ) -> analysis_pb2.KnowledgeSet:
        async def run() -> analysis_pb2.KnowledgeSet:
            started = time.perf_counter()
            areas = knowledge_set(list(request.skills))
            return analysis_pb2.KnowledgeSet(
                areas=[analysis_pb2.SkillArea(area=a, skills=s) for a, s in areas.items()],
                analyzer="local",
                processing_s=_since(started),
            )

        return await self._guard(context, run)

    async def SuggestTemplate(  # noqa: N802 - gRPC method name
        self, request: analysis_pb2.SuggestTemplateRequest, context: grpc.aio.ServicerContext
    ) -> analysis_pb2.TemplateSuggestion:
        async def run() -> analysis_pb2.TemplateSuggestion:
            started = time.perf_counter()
            transcript = await self._transcript(request.input)
            templates = [template_from_proto(t) for t in request.templates]
            suggestion = await self.engine.suggest_template(transcript, templates)
            return to_proto(
                suggestion,
                analysis_pb2.TemplateSuggestion,
                analyzer=self.engine.meeting.name,
                processing_s=_since(started),
            )

        return await self._guard(context, run)

    async def SuggestTitle(  # noqa: N802 - gRPC method name
        self, request: analysis_pb2.SuggestTitleRequest, context: grpc.aio.ServicerContext
    ) -> analysis_pb2.TitleSuggestion:
        async def run() -> analysis_pb2.TitleSuggestion:
            started = time.perf_counter()
            meeting = await self.engine.meeting.analyze(await self._transcript(request.input))
            return analysis_pb2.TitleSuggestion(
                suggested_title=meeting.title, analyzer=meeting.analyzer, processing_s=_since(started)
            )

        return await self._guard(context, run)

    async def SuggestDescription(  # noqa: N802 - gRPC method name
        self, request: analysis_pb2.SuggestDescriptionRequest, context: grpc.aio.ServicerContext
    ) -> analysis_pb2.DescriptionSuggestion:
        async def run() -> analysis_pb2.DescriptionSuggestion:
            started = time.perf_counter()
            meeting = await self.engine.meeting.analyze(await self._transcript(request.input))
            return analysis_pb2.DescriptionSuggestion(
                suggested_description=meeting.description,
                analyzer=meeting.analyzer,
                processing_s=_since(started),
            )

        return await self._guard(context, run)


def _since(started: float) -> float:
    return time.perf_counter() - started


def _answer(transcript: Transcript) -> str:
    return transcript.text.strip() or " ".join(s.text for s in transcript.segments)


def _first_line(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        return f"invalid options: {where}: {err['msg']}" if where else f"invalid options: {err['msg']}"
    return str(exc).splitlines()[0]


class AnalysisService:
    """The analysis capability service (see module docstring)."""

    name = "analysis"

    def __init__(self, engine: AnalysisEngine | None = None) -> None:
        self._sub: Subscription | None = None
        self._grpc: GrpcServer | None = None
        self._engine = engine
        self.runtime: Runtime
        self.engine: AnalysisEngine
        self.temperature: TemperatureAnalyzer

    async def start(self, runtime: Runtime) -> None:
        """Pick the analyzers, start gRPC ``AnalysisService`` and join the ``analysis`` group.

        Raises:
            services.common.settings.ConfigurationError: a chosen provider has no API key.
        """
        self.runtime = runtime
        self.engine = self._engine or AnalysisEngine(
            load_analysis_settings(), runtime.settings.temperature_analyzer
        )
        self.temperature = self.engine.temperature
        await asyncio.to_thread(self.engine.warm_up)
        s = runtime.settings
        self._grpc = await start_server(
            s.grpc_host,
            runtime.grpc_port(self.name),
            [
                lambda srv: analysis_pb2_grpc.add_AnalysisServiceServicer_to_server(
                    AnalysisServicer(self), srv
                )
            ],
            [GRPC_SERVICE_NAME],
        )
        runtime.grpc_targets[self.name] = f"{s.grpc_host}:{self._grpc.port}"
        await runtime.bus.ensure_topics([ANALYSIS_REQUESTS])
        self._sub = await runtime.bus.subscribe([ANALYSIS_REQUESTS], GROUP, self.handle)

    async def stop(self) -> None:
        """Leave the consumer group, stop gRPC gracefully, close provider clients."""
        if self._sub:
            await self._sub.close()
        if self._grpc:
            await self._grpc.stop()
        if self._engine is None and getattr(self, "engine", None) is not None:
            await self.engine.aclose()

    async def handle(self, envelope: Envelope) -> None:
        """Handle one analysis request (``requested.v2``, or a ``v1`` from an older producer).

        Options that do not match the kind's model answer ``analysis.failed`` (``bad_request``);
        an event that is not a request at all raises (the bus retries, then parks it).
        """
        if envelope.type not in ANALYSIS_REQUESTED_TYPES:
            return
        try:
            request = AnalysisRequestedV2.from_envelope(envelope)
        except ValidationError as exc:
            kind = envelope.data.get("kind", "temperature")
            if kind not in ("temperature", "meeting", "interview") or "transcript_key" not in envelope.data:
                raise
            await self._publish(
                AnalysisFailed(job_id=envelope.key, kind=kind, error="bad_request", details=_first_line(exc))
            )
            return
        bind(job_id=request.job_id)
        try:
            with telemetry.child_span("analysis.job", "earshot.analysis", kind=request.kind):
                await self._process(request)
        finally:
            unbind("job_id")

    async def _dynamics(self, audio_key: str | None) -> AudioDynamics | None:
        if not audio_key:
            return None
        with self.runtime.temp_dir("ana-") as tmp:
            path = tmp / "audio"
            try:
                await self.runtime.storage.get_to_file(audio_key, path)
                samples = await asyncio.to_thread(audio.decode, path)
            except (ObjectNotFound, audio.AudioError) as exc:
                log.info("analysis.no_audio_features", reason=str(exc))
                return None
        return await asyncio.to_thread(compute_audio_dynamics, samples, 16_000)

    async def _process(self, request: AnalysisRequestedV2) -> None:
        try:
            transcript = Transcript.model_validate_json(
                await self.runtime.storage.get(request.transcript_key)
            )
        except ObjectNotFound:
            await self._publish(
                AnalysisFailed(
                    job_id=request.job_id,
                    kind=request.kind,
                    error="transcript_missing",
                    details="the transcript is no longer in storage",
                )
            )
            return
        except ValidationError as exc:
            await self._publish(
                AnalysisFailed(
                    job_id=request.job_id,
                    kind=request.kind,
                    error="bad_transcript",
                    details=f"transcript does not match the schema: {exc.error_count()} errors",
                )
            )
            return
        dynamics = await self._dynamics(request.audio_key) if request.kind == "temperature" else None
        try:
            options = request.options.model_dump(mode="json")
            analyzer, result = await self.engine.analyze(request.kind, transcript, options, dynamics)
        except ProviderError as exc:
            log.warning("analysis.provider_failed", kind=request.kind, error=exc.code, details=exc.details)
            await self._publish(
                AnalysisFailed(
                    job_id=request.job_id,
                    kind=request.kind,
                    error=f"provider_{exc.code}",
                    details=f"the analysis provider failed: {exc.details}"[:500],
                )
            )
            return
        except ValueError as exc:
            await self._publish(
                AnalysisFailed(
                    job_id=request.job_id, kind=request.kind, error="bad_request", details=_first_line(exc)
                )
            )
            return
        log.info("analysis.done", kind=request.kind, analyzer=analyzer)
        await self._publish(
            AnalysisCompletedV2.model_validate(
                {"job_id": request.job_id, "kind": request.kind, "analyzer": analyzer, "result": result}
            )
        )

    async def _publish(self, payload: AnalysisCompletedV2 | AnalysisFailed) -> None:
        await publishing.publish(self.runtime, self.name, payload)
