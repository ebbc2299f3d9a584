"""Conversions of the interview coach between stored JSON, the analysis messages and the
response models (no I/O here, so it is tested without servers)."""

from __future__ import annotations

from typing import Any

from earshot.analysis.v1 import analysis_pb2 as pb
from google.protobuf import json_format
from google.protobuf.message import Message

from services.common.analysis_results import ANALYSIS_TYPES, AnalysisErrorInfo
from services.common.transcript import SpeechInterval, Transcript
from services.gateway.products.interviews.models import InterviewQuestion, QuestionAttempt
from services.gateway.products.interviews.schemas import AnalysisStatusOut, QuestionOut

__all__ = [
    "analysis_message",
    "complete_from_message",
    "key_concepts",
    "message_dict",
    "question_out",
    "stored_transcript",
]


def message_dict(message: Message) -> dict[str, Any]:
    """A message as a JSON dict with the proto field names (``analyzer``/``processing_s`` dropped)."""
    data = json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    data.pop("processing_s", None)
    return data


def key_concepts(question: InterviewQuestion) -> list[pb.KeyConcept]:
    """The question's key concepts as messages."""
    return [
        pb.KeyConcept(name=str(k.get("name", "")), synonyms=[str(s) for s in k.get("synonyms", [])])
        for k in question.key_concepts or []
        if k.get("name")
    ]


def question_out(question: InterviewQuestion, attempt_id: int | None) -> QuestionOut:
    """The response model of a stored question."""
    return QuestionOut(
        id=question.id,
        question_attempt_id=attempt_id,
        position=question.position,
        text=question.text,
        topic=question.topic,
        category=question.category,
        difficulty=question.difficulty,
        key_concepts=question.key_concepts or [],
    )


def stored_transcript(attempt: QuestionAttempt) -> Transcript | None:
    """The attempt's transcript with its voice activity, or None when not transcribed."""
    if not attempt.transcript:
        return None
    transcript = Transcript.model_validate(attempt.transcript)
    if attempt.speech:
        transcript.speech = [SpeechInterval.model_validate(i) for i in attempt.speech]
    return transcript


def complete_from_message(
    message: pb.InterviewAnalysis,
) -> tuple[dict[str, dict[str, Any]], dict[str, AnalysisStatusOut], dict[str, AnalysisErrorInfo]]:
    """``(results by type, status by type, errors by type)`` of a complete analysis."""
    results: dict[str, dict[str, Any]] = {
        kind: message_dict(getattr(message, kind)) for kind in ANALYSIS_TYPES if message.HasField(kind)
    }
    status: dict[str, AnalysisStatusOut] = {}
    errors: dict[str, AnalysisErrorInfo] = {}
    for s in message.statuses:
        failed = s.status == "failed"
        status[s.analysis_type] = AnalysisStatusOut(
            status="failed" if failed else "completed",
            error=(s.error or "analysis_failed") if failed else None,
            details=s.details if failed else None,
            time_ms=round(s.time_ms, 2),
        )
        if failed:
            errors[s.analysis_type] = AnalysisErrorInfo(error=s.error or "analysis_failed", details=s.details)
    return results, status, errors


def analysis_message(stored: dict[str, Any]) -> pb.InterviewAnalysis:
    """The ``InterviewAnalysis`` message of an attempt's ``analysis_json`` (for the session report)."""
    data: dict[str, Any] = {
        kind: stored[kind] for kind in ANALYSIS_TYPES if isinstance(stored.get(kind), dict)
    }
    message = json_format.ParseDict(
        {"language": stored.get("language", "und"), **data},
        pb.InterviewAnalysis(),
        ignore_unknown_fields=True,
    )
    errors: dict[str, Any] = stored.get("errors") or {}
    requested = [k for k in ANALYSIS_TYPES if k in data or k in errors]
    message.requested.extend(requested)
    message.completed.extend(k for k in requested if k in data)
    message.failed.extend(k for k in requested if k not in data)
    for kind in requested:
        error = errors.get(kind) or {}
        message.statuses.append(
            pb.AnalysisStatus(
                analysis_type=kind,
                status="completed" if kind in data else "failed",
                error=str(error.get("error", "")) if kind not in data else "",
                details=str(error.get("details", "")) if kind not in data else "",
            )
        )
    return message
