"""The interview coach's routes (seed 001), all for a signed-in caller (``CurrentUser``); ids of
another user's records answer 404. Flows and decisions: :mod:`.service`; transcription:
:mod:`.consumers`; docs/interviews.md describes the API."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Path, Query, UploadFile
from fastapi.responses import Response

from services.gateway.deps import AnalysisClient, CurrentUser, DbSession, RuntimeDep
from services.gateway.products.interviews.consumers import InterviewsDep, file_meta
from services.gateway.products.interviews.schemas import (
    MAX_RESUME_BYTES,
    MAX_ROW_ID,
    TRACKS,
    AttemptIn,
    AttemptsOut,
    CommunicationOut,
    CompleteAnalysisIn,
    CompleteAnalysisOut,
    CompleteInterviewIn,
    CreateInterviewIn,
    DomainOut,
    FinalReportIn,
    FinalReportOut,
    GeneratedQuestionsOut,
    GenerateQuestionsIn,
    InterviewOut,
    InterviewPage,
    KnowledgeSetOut,
    PaceOut,
    PauseOut,
    ProgressOut,
    QuestionPage,
    ResumeOut,
    TrackOut,
    TracksOut,
    TranscriptionOut,
)
from services.gateway.products.interviews.service import InterviewService
from services.gateway.shared.errors import ApiError

router = APIRouter()

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing, invalid, expired or revoked access token"},
    404: {"description": "Not found, or another user's record"},
}

NEEDS_TRANSCRIPT: dict[int | str, dict[str, Any]] = {**ERRORS, 409: {"description": "Transcribe first"}}
"""Errors of the single analyses: those of every route, and 409 for an attempt not yet transcribed."""
Limit = Annotated[int, Query(ge=1, le=100, description="Items per page, 1-100 (422 outside).")]
Cursor = Annotated[int | None, Query(ge=1, le=MAX_ROW_ID, description="The last id of the previous page.")]
InterviewId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="An interview of the caller.")]


def _service(session: DbSession, user: CurrentUser, analysis: AnalysisClient) -> InterviewService:
    return InterviewService(session, user.id, analysis)


@router.post(
    "/api/extract-resume",
    response_model=ResumeOut,
    responses={**ERRORS, 413: {"description": "Over 5 MB"}, 422: {"description": "Not a readable resume"}},
)
async def extract_resume(
    session: DbSession,
    user: CurrentUser,
    analysis: AnalysisClient,
    file: Annotated[UploadFile, File(description="PDF (with a text layer), .docx or plain text; 5 MB.")],
) -> ResumeOut:
    """Extract the resume's text, skills, years of experience, education and roles; saved to the
    caller's profile (a new upload replaces the old one)."""
    try:
        data = await file.read(MAX_RESUME_BYTES + 1)
    finally:
        await file.close()
    if len(data) > MAX_RESUME_BYTES:
        raise ApiError(413, "File too large", "the resume is over 5 MB")
    return await _service(session, user, analysis).extract_resume(file.filename or "resume", data)


@router.get("/api/me/resume", response_model=ResumeOut, responses=ERRORS)
async def my_resume(session: DbSession, user: CurrentUser, analysis: AnalysisClient) -> ResumeOut:
    """The caller's resume metadata and fields (404 when none)."""
    return await _service(session, user, analysis).my_resume()


@router.get("/api/get_knowledgeset", response_model=KnowledgeSetOut, responses=ERRORS)
async def get_knowledgeset(
    session: DbSession, user: CurrentUser, analysis: AnalysisClient
) -> KnowledgeSetOut:
    """Normalised skills grouped by area, cached by user and resume content hash."""
    return await _service(session, user, analysis).knowledge_set()


@router.get("/api/interviews/tracks", response_model=TracksOut, responses=ERRORS)
async def tracks(user: CurrentUser) -> TracksOut:
    """The interview tracks."""
    return TracksOut(tracks=[TrackOut(id=k, title=v) for k, v in TRACKS.items()])


@router.post(
    "/api/interviews/create",
    response_model=InterviewOut,
    responses={**ERRORS, 422: {"description": "Unknown track"}},
)
async def create_interview(
    body: CreateInterviewIn, session: DbSession, user: CurrentUser, analysis: AnalysisClient
) -> InterviewOut:
    """Create, or resume, the caller's active interview for ``track``."""
    return await _service(session, user, analysis).create(body.track)


@router.post(
    "/api/interviews/generate-questions",
    response_model=GeneratedQuestionsOut,
    responses={**ERRORS, 409: {"description": "Interview completed"}},
)
async def generate_questions(
    body: GenerateQuestionsIn, session: DbSession, user: CurrentUser, analysis: AnalysisClient
) -> GeneratedQuestionsOut:
    """Questions for the interview from the resume's skills and the track (generic questions
    for the track when there is no resume), persisted as question attempts; idempotent unless
    ``regenerate``."""
    return await _service(session, user, analysis).generate_questions(body)


@router.post(
    "/api/interviews/complete",
    response_model=InterviewOut,
    responses={**ERRORS, 409: {"description": "Already completed"}},
)
async def complete_interview(
    body: CompleteInterviewIn, session: DbSession, user: CurrentUser, analysis: AnalysisClient
) -> InterviewOut:
    """Complete an interview (409 when already completed)."""
    return await _service(session, user, analysis).complete(body.interview_id)


@router.get("/api/interviews", response_model=InterviewPage, responses=ERRORS)
async def list_interviews(
    session: DbSession, user: CurrentUser, analysis: AnalysisClient, limit: Limit = 20, cursor: Cursor = None
) -> InterviewPage:
    """The caller's interviews, newest first; ``cursor`` is the last id of the previous page."""
    return await _service(session, user, analysis).list_interviews(limit, cursor)


@router.get("/api/interviews/{interview_id}/questions", response_model=QuestionPage, responses=ERRORS)
async def list_questions(
    interview_id: InterviewId,
    session: DbSession,
    user: CurrentUser,
    analysis: AnalysisClient,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> QuestionPage:
    """An interview's questions, oldest first."""
    return await _service(session, user, analysis).list_questions(interview_id, limit, cursor)


@router.get("/api/interviews/{interview_id}/question-attempts", response_model=AttemptsOut, responses=ERRORS)
async def question_attempts(
    interview_id: InterviewId, session: DbSession, user: CurrentUser, analysis: AnalysisClient
) -> AttemptsOut:
    """The interview's question attempts (ids for uploads) with their transcription and analysis state."""
    return await _service(session, user, analysis).attempts(interview_id)


@router.post(
    "/api/transcribe-whisper",
    response_model=TranscriptionOut,
    responses={
        **ERRORS,
        400: {"description": "Not usable audio"},
        409: {"description": "The attempt's interview is completed"},
        413: {"description": "Over 25 MB"},
    },
)
async def transcribe_whisper(
    session: DbSession,
    user: CurrentUser,
    analysis: AnalysisClient,
    product: InterviewsDep,
    runtime: RuntimeDep,
    file: Annotated[UploadFile, File(description="The answer: wav, mp3, m4a, flac, webm (sniffed); 25 MB.")],
    question_attempt_id: Annotated[
        int, Form(ge=1, le=MAX_ROW_ID, description="An attempt of the caller's active interview.")
    ],
    language: Annotated[str, Form(description="ISO 639-1 code of the answer.")] = "en",
) -> TranscriptionOut:
    """Transcribe an answer with word timestamps and voice activity, and store the transcript
    (never the audio) on the attempt; temp files are removed on every path."""
    import time

    service = _service(session, user, analysis)
    try:
        await service.attempt_for_upload(question_attempt_id)
        with runtime.temp_dir("interview-") as tmp:
            received = await product.receive(file, tmp)
            started = time.perf_counter()
            transcript = await product.transcribe(received, language.strip().lower() or "en")
            elapsed = time.perf_counter() - started
        meta = file_meta(file, received)
    finally:
        await file.close()
    return await service.save_transcript(question_attempt_id, transcript, meta, elapsed)


@router.post(
    "/api/complete-analysis",
    response_model=CompleteAnalysisOut,
    responses={
        **ERRORS,
        409: {"description": "Transcribe first"},
        422: {"description": "Unknown analysis type"},
    },
)
async def complete_analysis(
    body: CompleteAnalysisIn, session: DbSession, user: CurrentUser, analysis: AnalysisClient
) -> CompleteAnalysisOut:
    """The chosen analyses concurrently with per-analysis timeouts; partial results when one
    fails; persisted in the attempt's ``analysis_json``."""
    return await _service(session, user, analysis).complete_analysis(
        body.question_attempt_id, list(body.analysis_types)
    )


@router.post(
    "/api/domain-base-analysis",
    response_model=DomainOut,
    responses=NEEDS_TRANSCRIPT,
)
async def domain_analysis(
    body: AttemptIn, session: DbSession, user: CurrentUser, analysis: AnalysisClient
) -> DomainOut:
    """Domain knowledge: the question's key concepts covered, touched and missed."""
    return DomainOut.model_validate(
        await _service(session, user, analysis).single(body.question_attempt_id, "domain")
    )


@router.post(
    "/api/communication-based-analysis",
    response_model=CommunicationOut,
    responses=NEEDS_TRANSCRIPT,
)
async def communication_analysis(
    body: AttemptIn, session: DbSession, user: CurrentUser, analysis: AnalysisClient
) -> CommunicationOut:
    """Communication: structure, clarity, fillers, vocabulary and suggestions quoting the answer."""
    result = await _service(session, user, analysis).single(body.question_attempt_id, "communication")
    return CommunicationOut.model_validate(result)


@router.post(
    "/api/analyze-pace",
    response_model=PaceOut,
    responses=NEEDS_TRANSCRIPT,
)
async def pace_analysis(
    body: AttemptIn, session: DbSession, user: CurrentUser, analysis: AnalysisClient
) -> PaceOut:
    """Speaking pace from word timestamps, overall and over time."""
    return PaceOut.model_validate(
        await _service(session, user, analysis).single(body.question_attempt_id, "pace")
    )


@router.post(
    "/api/analyze-pause",
    response_model=PauseOut,
    responses=NEEDS_TRANSCRIPT,
)
async def pause_analysis(
    body: AttemptIn, session: DbSession, user: CurrentUser, analysis: AnalysisClient
) -> PauseOut:
    """Pauses from the recording's voice activity, filled pauses and the speaking ratio."""
    return PauseOut.model_validate(
        await _service(session, user, analysis).single(body.question_attempt_id, "pause")
    )


@router.post("/api/final-report", response_model=FinalReportOut, responses=ERRORS)
async def final_report(
    body: FinalReportIn, session: DbSession, user: CurrentUser, analysis: AnalysisClient
) -> FinalReportOut:
    """Build the session report and store it (one row per interview, atomic upsert)."""
    return await _service(session, user, analysis).final_report(body.interview_id)


@router.get(
    "/api/final-report/{interview_id}",
    response_model=FinalReportOut,
    responses={
        **ERRORS,
        200: {
            "content": {"text/markdown": {}, "application/pdf": {}},
            "description": "JSON (default), Markdown or PDF",
        },
    },
)
async def get_final_report(
    interview_id: InterviewId,
    session: DbSession,
    user: CurrentUser,
    analysis: AnalysisClient,
    format: Annotated[Literal["json", "md", "pdf"], Query(description="json, md or pdf.")] = "json",  # noqa: A002
) -> FinalReportOut | Response:
    """The stored report as JSON, Markdown or PDF (404 before ``POST /api/final-report``)."""
    service = _service(session, user, analysis)
    if format == "json":
        return await service.stored_report(interview_id)
    content, media_type = await service.rendered_report(interview_id, format)
    name = f"interview-{interview_id}-report.{format}"
    return Response(
        content, media_type=media_type, headers={"Content-Disposition": f'inline; filename="{name}"'}
    )


@router.get("/api/progress", response_model=ProgressOut, responses=ERRORS)
async def progress(session: DbSession, user: CurrentUser, analysis: AnalysisClient) -> ProgressOut:
    """The caller's scores across completed, reported interviews, per dimension over time."""
    return await _service(session, user, analysis).progress()
