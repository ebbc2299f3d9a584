"""The interview coach's flows (seed 001) on one request's session, for one caller.

Every record is the caller's: another user's id is "not found" (404), never 403. Writes run
in one transaction each, committed after every remote call they need has answered (no
transaction is held open across a remote call), so a failed analysis or transcription
stores nothing half way: an error before the commit leaves the request's session to be
rolled back when it closes.

Decisions (docs/interviews.md):

- *Questions with no resume*: generic questions for the track (its preferred skills and core
  questions), answered with ``generic: true``; a resume is not required.
- *Regenerate*: replaces the interview's questions, their attempts (transcripts, analyses)
  and its report; without ``regenerate`` an interview that has questions returns them.
- *Completed interviews*: read-only; transcribing an attempt of one answers 409, as does
  completing it again. Analyses and reports stay available.
- *Knowledge set cache*: a table keyed by ``(user_id, resume SHA-256)``; a new resume deletes
  the user's rows, so the cache survives restarts and is never stale.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from earshot.analysis.v1 import analysis_pb2 as pb
from google.protobuf import json_format
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.analysis_results import ANALYSIS_TYPES
from services.common.db import utcnow
from services.common.transcript import Transcript
from services.gateway.clients.analysis import AnalysisClient, transcript_source
from services.gateway.products.interviews.logic import (
    analysis_message,
    complete_from_message,
    key_concepts,
    message_dict,
    question_out,
    stored_transcript,
)
from services.gateway.products.interviews.models import Interview, InterviewQuestion, QuestionAttempt
from services.gateway.products.interviews.repository import InterviewRepository
from services.gateway.products.interviews.schemas import (
    TRACKS,
    AttemptOut,
    AttemptsOut,
    CompleteAnalysisOut,
    FileMeta,
    FinalReportOut,
    GeneratedQuestionsOut,
    GenerateQuestionsIn,
    InterviewOut,
    InterviewPage,
    KnowledgeSetOut,
    Performance,
    ProgressOut,
    ProgressPoint,
    QuestionPage,
    ResumeOut,
    TranscriptionOut,
    WordOut,
)
from services.gateway.shared.errors import ApiError

__all__ = ["InterviewService", "not_found"]

RESUME_ERRORS = {
    "empty_file": "Empty file",
    "too_large": "File too large",
    "unsupported_type": "Unsupported file type",
    "encrypted_pdf": "Encrypted PDF",
    "no_text_layer": "No text layer",
    "corrupt_file": "Unreadable file",
}


def not_found(what: str, ident: int) -> ApiError:
    """404 for a record that does not exist or is not the caller's."""
    return ApiError(404, "Not found", f"no {what} {ident}")


class InterviewService:
    """The interview coach for one caller.

    Args:
        session: the request's database session (transactions are opened here).
        user_id: the caller.
        analysis: the analysis service's client.
    """

    def __init__(self, session: AsyncSession, user_id: str, analysis: AnalysisClient) -> None:
        self.session = session
        self.user_id = user_id
        self.repo = InterviewRepository(session, user_id)
        self.analysis = analysis

    # ---------------------------------------------------------------- resume

    async def extract_resume(self, filename: str, data: bytes) -> ResumeOut:
        """Extract and store the caller's resume (replacing the old one).

        Raises:
            ApiError: 413 over 5 MB; 422 empty, unsupported (an image), encrypted, no text
                layer, unreadable (nothing is stored).
        """
        try:
            extraction = await self.analysis.extract_resume(pb.ResumeFile(data=data))
        except ApiError as exc:
            if exc.status != 422:
                raise
            code, _, details = exc.details.partition(": ")
            status = 413 if code == "too_large" else 422
            raise ApiError(
                status, RESUME_ERRORS.get(code, "Invalid resume"), details or exc.details
            ) from None
        row = await self.repo.save_resume(
            filename=(filename or "resume")[:255],
            kind=extraction.kind,
            size_bytes=len(data),
            pages=extraction.pages if extraction.HasField("pages") else None,
            text=extraction.text,
            text_sha256=extraction.text_sha256,
            skills=list(extraction.skills),
            years_experience=extraction.years_experience if extraction.HasField("years_experience") else None,
            education=list(extraction.education),
            roles=list(extraction.roles),
            experience=[message_dict(e) for e in extraction.experience],
        )
        await self.repo.cache_knowledge(
            extraction.text_sha256, {a.area: list(a.skills) for a in extraction.knowledge_set}
        )
        await self.session.commit()
        return _resume_out(row)

    async def my_resume(self) -> ResumeOut:
        """The caller's resume. Raises: ApiError 404 when none was uploaded."""
        row = await self.repo.resume()
        if row is None:
            raise ApiError(404, "Not found", "no resume uploaded yet: POST /api/extract-resume first")
        return _resume_out(row)

    async def knowledge_set(self) -> KnowledgeSetOut:
        """Skills by area, from the cache keyed by the resume's content hash (filled on a miss).

        Raises:
            ApiError: 404 when no resume was uploaded.
        """
        row = await self.repo.resume()
        if row is None:
            raise ApiError(404, "Not found", "no resume uploaded yet: POST /api/extract-resume first")
        areas = await self.repo.cached_knowledge(row.text_sha256)
        cached = areas is not None
        if areas is None:
            reply = await self.analysis.knowledge_set(pb.KnowledgeSetRequest(skills=list(row.skills)))
            areas = {a.area: list(a.skills) for a in reply.areas}
            await self.repo.cache_knowledge(row.text_sha256, areas)
            await self.session.commit()
        return KnowledgeSetOut(
            skills=list(row.skills), areas=areas, resume_sha256=row.text_sha256, cached=cached
        )

    # ---------------------------------------------------------------- interviews

    async def create(self, track: str) -> InterviewOut:
        """The caller's active interview for ``track``, or a new one.

        Raises:
            ApiError: 422 for an unknown track.
        """
        if track not in TRACKS:
            raise ApiError(422, "Unknown track", f"track {track!r} is not one of: {', '.join(TRACKS)}")
        row, created = await self.repo.active_or_new(track)  # one interview even when calls race
        count = (await self.repo.question_counts([row.id])).get(row.id, 0)
        await self.session.commit()
        return _interview_out(row, count, resumed=not created)

    async def _interview(self, interview_id: int) -> Interview:
        row = await self.repo.interview(interview_id)
        if row is None:
            raise not_found("interview", interview_id)
        return row

    async def generate_questions(self, body: GenerateQuestionsIn) -> GeneratedQuestionsOut:
        """Questions for the interview (see the module docstring for no resume and regenerate).

        Raises:
            ApiError: 404 another user's or unknown interview, or no active interview; 409 a
                completed interview; 422/503 from the analysis service.
        """
        if body.interview_id is None:
            interview = await self.repo.active_interview()
            if interview is None:
                raise ApiError(404, "Not found", "no active interview: POST /api/interviews/create first")
        else:
            interview = await self._interview(body.interview_id)
        if interview.status == "completed":
            raise ApiError(409, "Interview completed", f"interview {interview.id} is completed")
        existing, _ = await self.repo.questions(interview.id)
        resume = await self.repo.resume()
        if existing and not body.regenerate:
            await self.session.commit()  # end the read before the remote call
            return await self._questions_out(
                interview, generated=False, generic=not (resume and resume.skills)
            )
        seed = interview.question_seed + (1 if existing else 0)
        request = pb.GenerateQuestionsRequest(
            resume=pb.Resume(text=resume.text, skills=list(resume.skills)) if resume else pb.Resume(),
            track=interview.track,
            count=body.count,
            seed=seed,
        )
        if resume is not None and resume.years_experience is not None:
            request.resume.years_experience = resume.years_experience
        await self.session.commit()  # no transaction stays open across the remote call
        reply = await self.analysis.questions(request)
        interview = await self._interview(interview.id)
        interview.question_seed = seed
        await self.repo.replace_questions(
            interview,
            [
                {
                    "text": q.text,
                    "topic": q.topic[:64],
                    "category": q.category or "technical",
                    "difficulty": q.difficulty or "medium",
                    "key_concepts": [{"name": k.name, "synonyms": list(k.synonyms)} for k in q.key_concepts]
                    or [{"name": c, "synonyms": []} for c in q.expected_concepts],
                }
                for q in reply.questions
            ],
        )
        await self.session.commit()
        return await self._questions_out(interview, generated=True, generic=not reply.skills)

    async def _questions_out(
        self, interview: Interview, *, generated: bool, generic: bool
    ) -> GeneratedQuestionsOut:
        pairs = await self.repo.attempts(interview.id)
        return GeneratedQuestionsOut(
            interview_id=interview.id,
            track=interview.track,
            generated=generated,
            generic=generic,
            items=[question_out(q, a.id) for a, q in pairs],
        )

    async def complete(self, interview_id: int) -> InterviewOut:
        """Complete an interview. Raises: ApiError 404; 409 when already completed."""
        row = await self._interview(interview_id)
        if row.status == "completed":
            raise ApiError(409, "Already completed", f"interview {interview_id} is already completed")
        row.status = "completed"
        row.completed_at = utcnow()
        count = (await self.repo.question_counts([row.id])).get(row.id, 0)
        await self.session.commit()
        return _interview_out(row, count)

    async def list_interviews(self, limit: int, cursor: int | None) -> InterviewPage:
        """The caller's interviews, newest first."""
        rows, next_cursor = await self.repo.interviews(limit, cursor)
        counts = await self.repo.question_counts([r.id for r in rows])
        return InterviewPage(
            items=[_interview_out(r, counts.get(r.id, 0)) for r in rows], next_cursor=next_cursor, limit=limit
        )

    async def list_questions(self, interview_id: int, limit: int, cursor: int | None) -> QuestionPage:
        """An interview's questions, oldest first. Raises: ApiError 404."""
        await self._interview(interview_id)
        rows, next_cursor = await self.repo.questions(interview_id, limit, cursor)
        attempt_ids = {q.id: a.id for a, q in await self.repo.attempts(interview_id)}
        return QuestionPage(
            interview_id=interview_id,
            items=[question_out(q, attempt_ids.get(q.id)) for q in rows],
            next_cursor=next_cursor,
            limit=limit,
        )

    async def attempts(self, interview_id: int) -> AttemptsOut:
        """The interview's attempts with their transcription and analysis state. Raises: 404."""
        interview = await self._interview(interview_id)
        items = [
            AttemptOut(
                question_attempt_id=a.id,
                question_id=q.id,
                position=q.position,
                question=q.text,
                transcribed=a.transcript is not None,
                transcript_text=(a.transcript or {}).get("text"),
                transcribed_at=a.transcribed_at,
                analyses=[k for k in ANALYSIS_TYPES if k in (a.analysis_json or {})],
                analyzed_at=a.analyzed_at,
            )
            for a, q in await self.repo.attempts(interview_id)
        ]
        return AttemptsOut(interview_id=interview.id, status=interview.status, items=items)

    # ---------------------------------------------------------------- answers

    async def attempt_for_upload(self, attempt_id: int) -> QuestionAttempt:
        """The caller's attempt, checked before the audio is read. Raises: 404; 409 completed."""
        found = await self.repo.attempt(attempt_id)
        if found is None:
            raise not_found("question attempt", attempt_id)
        attempt, _question, interview = found
        if interview.status == "completed":
            raise ApiError(
                409, "Interview completed", f"interview {interview.id} is completed: no new answers"
            )
        await self.session.commit()  # end the read before the remote call
        return attempt

    async def save_transcript(
        self, attempt_id: int, transcript: Transcript, meta: FileMeta, processing_s: float
    ) -> TranscriptionOut:
        """Store the transcript and voice activity on the attempt (clears older analyses).

        Raises:
            ApiError: 404 (the attempt went away); 409 (its interview was completed meanwhile).
        """
        speech = [i.model_dump() for i in transcript.speech or []]
        body = transcript.model_copy(update={"speech": None}).model_dump(mode="json", exclude={"speech"})
        found = await self.repo.attempt(attempt_id)
        if found is None:
            raise not_found("question attempt", attempt_id)
        attempt, _question, interview = found
        if interview.status == "completed":
            raise ApiError(409, "Interview completed", f"interview {interview.id} is completed")
        attempt.transcript = body
        attempt.speech = speech
        attempt.audio_meta = meta.model_dump()
        attempt.analysis_json = None
        attempt.analyzed_at = None
        attempt.transcribed_at = utcnow()
        await self.session.commit()
        return TranscriptionOut(
            question_attempt_id=attempt_id,
            text=transcript.text,
            language=transcript.language,
            duration=transcript.duration,
            words=[
                WordOut(word=w.word.strip(), start=w.start, end=w.end, probability=w.probability)
                for w in transcript.words
            ],
            speech_intervals=transcript.speech or [],
            file=meta,
            processing_time_s=round(processing_s, 3),
        )

    async def _transcribed(self, attempt_id: int) -> tuple[QuestionAttempt, InterviewQuestion, Transcript]:
        found = await self.repo.attempt(attempt_id)
        if found is None:
            raise not_found("question attempt", attempt_id)
        attempt, question, _interview = found
        transcript = stored_transcript(attempt)
        if transcript is None:
            raise ApiError(
                409,
                "Transcribe first",
                f"question attempt {attempt_id} has no transcript: POST /api/transcribe-whisper",
            )
        await self.session.commit()  # end the read before the remote call
        return attempt, question, transcript

    async def _store_analyses(self, attempt_id: int, update: dict[str, Any]) -> None:
        found = await self.repo.attempt(attempt_id)
        if found is None:
            raise not_found("question attempt", attempt_id)
        attempt = found[0]
        merged = dict(attempt.analysis_json or {})
        errors = dict(merged.get("errors") or {})
        for kind in ANALYSIS_TYPES:
            if kind in update:
                errors.pop(kind, None)
        errors.update(update.pop("errors", {}))
        merged.update(update)
        merged["errors"] = errors
        attempt.analysis_json = merged
        attempt.analyzed_at = utcnow()
        await self.session.commit()

    async def complete_analysis(self, attempt_id: int, kinds: list[str]) -> CompleteAnalysisOut:
        """The chosen analyses concurrently (in the analysis service), persisted in ``analysis_json``.

        Raises:
            ApiError: 404; 409 no transcript; 422/503/504 from the analysis service.
        """
        started = time.perf_counter()
        _attempt, question, transcript = await self._transcribed(attempt_id)
        kinds = list(dict.fromkeys(kinds))
        t0 = time.perf_counter()
        reply = await self.analysis.interview(
            pb.InterviewRequest(
                input=transcript_source(transcript),
                question=question.text,
                key_concepts=key_concepts(question),
                analysis_types=kinds,
            )
        )
        analysis_ms = (time.perf_counter() - t0) * 1000
        results, status, errors = complete_from_message(reply)
        metadata = {
            "language": reply.language,
            "analyzer": reply.analyzer,
            "requested": list(reply.requested),
            "completed": list(reply.completed),
            "failed": list(reply.failed),
            "question_id": question.id,
            "question": question.text,
            "pause_source": "vad" if transcript.speech else "word_gaps",
        }
        per = {k: s.time_ms for k, s in status.items()}
        await self._store_analyses(
            attempt_id,
            {
                **results,
                "language": reply.language,
                "errors": {k: e.model_dump() for k, e in errors.items()},
                "metadata": metadata,
                "performance": {"analysis_ms": round(analysis_ms, 2), "per_analysis_ms": per},
            },
        )
        return CompleteAnalysisOut(
            question_attempt_id=attempt_id,
            analysis_types=kinds,  # type: ignore[arg-type]
            status=status,
            errors=errors,
            partial=bool(errors),
            metadata=metadata,
            performance=Performance(
                total_ms=round((time.perf_counter() - started) * 1000, 2),
                analysis_ms=round(analysis_ms, 2),
                per_analysis_ms=per,
            ),
            **results,
        )

    async def single(self, attempt_id: int, kind: str) -> dict[str, Any]:
        """One analysis alone, persisted like the complete one. Raises: as :meth:`complete_analysis`."""
        _attempt, question, transcript = await self._transcribed(attempt_id)
        source = transcript_source(transcript)
        calls: dict[str, Callable[[], Awaitable[Any]]] = {
            "domain": lambda: self.analysis.domain(
                pb.DomainRequest(input=source, question=question.text, key_concepts=key_concepts(question))
            ),
            "communication": lambda: self.analysis.communication(pb.CommunicationRequest(input=source)),
            "pace": lambda: self.analysis.pace(pb.PaceRequest(input=source)),
            "pause": lambda: self.analysis.pause(pb.PauseRequest(input=source)),
        }
        result = message_dict(await calls[kind]())
        await self._store_analyses(attempt_id, {kind: result, "language": transcript.language})
        return {**result, "question_attempt_id": attempt_id}

    # ---------------------------------------------------------------- reports

    async def final_report(self, interview_id: int) -> FinalReportOut:
        """Build and upsert the interview's session report. Raises: ApiError 404; 503/504."""
        interview = await self._interview(interview_id)
        pairs = await self.repo.attempts(interview_id)
        request = pb.SessionReportRequest(
            attempts=[
                pb.SessionReportRequest.Attempt(
                    question=q.text, question_id=q.id, analysis=analysis_message(a.analysis_json)
                )
                for a, q in pairs
                if a.analysis_json
            ]
        )
        await self.session.commit()  # end the read before the remote call
        reply = await self.analysis.session_report(request)
        report = message_dict(reply)
        report.pop("analyzer", None)
        report["questions_total"] = len(pairs)
        overall = reply.overall_score if reply.HasField("overall_score") else None
        await self.repo.upsert_report(interview_id, report, overall)
        await self.session.commit()
        return await self.stored_report(interview_id, interview)

    async def stored_report(self, interview_id: int, interview: Interview | None = None) -> FinalReportOut:
        """The stored report. Raises: ApiError 404 (no interview, or no report yet)."""
        interview = interview or await self._interview(interview_id)
        row = await self.repo.report(interview_id)
        if row is None:
            raise ApiError(
                404, "Not found", f"no report for interview {interview_id} yet: POST /api/final-report"
            )
        return FinalReportOut(
            interview_id=interview_id,
            track=interview.track,
            status=interview.status,
            report=row.report,
            updated_at=row.updated_at,
        )

    async def rendered_report(self, interview_id: int, fmt: str) -> tuple[bytes, str]:
        """The stored report as Markdown or PDF: ``(content, media type)``. Raises: 404."""
        stored = await self.stored_report(interview_id)
        message = json_format.ParseDict(
            {k: v for k, v in stored.report.items() if k != "questions_total"},
            pb.SessionReport(),
            ignore_unknown_fields=True,
        )
        title = f"Interview report: {TRACKS.get(stored.track, stored.track)} (interview {interview_id})"
        reply = await self.analysis.render_report(
            pb.RenderReportRequest(report=message, format=fmt, title=title)
        )
        return reply.content, reply.media_type

    async def progress(self) -> ProgressOut:
        """Scores of the caller's completed, reported interviews over time (oldest first)."""
        points = [
            ProgressPoint(
                interview_id=i.id,
                track=i.track,
                completed_at=i.completed_at,
                overall_score=r.overall_score,
                dimension_scores={k: int(v) for k, v in (r.report.get("dimension_scores") or {}).items()},
            )
            for i, r in await self.repo.reports()
            if i.status == "completed"
        ]
        dims: dict[str, list[int]] = {k: [] for k in ANALYSIS_TYPES}
        for p in points:
            for k, v in p.dimension_scores.items():
                dims.setdefault(k, []).append(v)
        trend = {k: (v[-1] - v[0]) if len(v) >= 2 else None for k, v in dims.items()}
        return ProgressOut(interviews=points, dimensions=dims, trend=trend)


def _interview_out(row: Interview, count: int, resumed: bool = False) -> InterviewOut:
    return InterviewOut(
        interview_id=row.id,
        track=row.track,
        status=row.status,  # type: ignore[arg-type]
        created_at=row.created_at,
        completed_at=row.completed_at,
        question_count=count,
        resumed=resumed,
    )


def _resume_out(row: Any) -> ResumeOut:
    return ResumeOut(
        filename=row.filename,
        kind=row.kind,
        size_bytes=row.size_bytes,
        pages=row.pages,
        resume_text=row.text,
        text_sha256=row.text_sha256,
        skills=list(row.skills or []),
        years_experience=row.years_experience,
        education=list(row.education or []),
        roles=list(row.roles or []),
        experience=list(row.experience or []),
        uploaded_at=row.updated_at,
    )
