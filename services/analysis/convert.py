"""Conversions between the ``earshot.analysis.v1`` messages and the analyzers' pydantic models.

Field names are the same on both sides (the seeds' JSON names), so results go through
``google.protobuf.json_format`` on their ``model_dump``; the few differences are handled here:
``None`` becomes an unset ``optional`` field, a speaker ``""`` becomes ``None``, a transcript
with words but no segments becomes one segment, and the complete interview analysis gets one
:class:`AnalysisStatus` per requested analysis.
"""

from __future__ import annotations

from typing import Any, TypeVar

from earshot.analysis.v1 import analysis_pb2
from google.protobuf import json_format
from google.protobuf.message import Message
from pydantic import BaseModel

from services.analysis.interview import AttemptInput, CompleteAnalysis, Resume
from services.analysis.interview_report import SessionReport
from services.analysis.meeting import Template
from services.analysis.resume import ResumeExtraction
from services.common.analysis_results import ANALYSIS_TYPES, AnalysisErrorInfo
from services.common.transcript import Segment, SpeechInterval, Transcript, Word

M = TypeVar("M", bound=Message)


def transcript_from_proto(message: analysis_pb2.Transcript) -> Transcript:
    """The pydantic transcript of an inline ``Transcript`` message.

    ``segments`` win; else ``words`` make one segment; else ``text`` is one segment without
    timings; the text is the segments' text joined when ``text`` is empty.

    Raises:
        ValueError: a time or probability out of range (pydantic's ``ValidationError``).
    """

    def word(w: analysis_pb2.Word) -> Word:
        return Word(
            word=w.word, start=w.start, end=w.end, probability=w.probability if w.probability else 1.0
        )

    segments = [
        Segment(
            id=s.id or i,
            start=s.start,
            end=s.end,
            text=s.text,
            speaker=s.speaker or None,
            words=[word(w) for w in s.words],
        )
        for i, s in enumerate(message.segments)
    ]
    if not segments and message.words:
        ws = [word(w) for w in message.words]
        segments = [
            Segment(
                id=0,
                start=min(w.start for w in ws),
                end=max(w.end for w in ws),
                text=message.text or " ".join(w.word.strip() for w in ws),
                words=ws,
            )
        ]
    elif not segments and message.text.strip():
        segments = [Segment(id=0, start=0.0, end=message.duration, text=message.text)]
    text = message.text or " ".join(s.text.strip() for s in segments)
    duration = message.duration or max((s.end for s in segments), default=0.0)
    speech = [SpeechInterval(start=i.start, end=i.end) for i in message.speech] or None
    return Transcript(
        language=message.language or "und", duration=duration, text=text, segments=segments, speech=speech
    )


def template_from_proto(message: analysis_pb2.Template) -> Template:
    """A :class:`~services.analysis.meeting.Template` from its message.

    Raises:
        ValueError: a template without id or title.
    """
    if not message.id or not message.title:
        raise ValueError("a template needs an id and a title")
    return Template(
        id=message.id,
        title=message.title,
        description=message.description,
        summary_prompt=message.summary_prompt,
        key_points_prompt=list(message.key_points_prompt),
        keywords=list(message.keywords),
    )


def resume_from_proto(message: analysis_pb2.Resume) -> Resume:
    """A :class:`~services.analysis.interview.Resume` from its message (unset years: ``None``)."""
    return Resume(
        text=message.text,
        skills=list(message.skills),
        years_experience=message.years_experience if message.HasField("years_experience") else None,
    )


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def to_proto(model: BaseModel | dict[str, Any], message: type[M], **extra: Any) -> M:
    """``message`` filled from a pydantic model (or its JSON dict) plus ``extra`` fields.

    ``None`` leaves a field unset; fields the message does not have are ignored.
    """
    data = model.model_dump(mode="json") if isinstance(model, BaseModel) else dict(model)
    data.update(extra)
    return json_format.ParseDict(_drop_none(data), message(), ignore_unknown_fields=True)


def interview_to_proto(complete: CompleteAnalysis) -> analysis_pb2.InterviewAnalysis:
    """The typed complete analysis: one field per completed analysis, one status per requested one."""
    meta = complete.metadata
    timings: dict[str, float] = meta.get("timings_ms", {})
    requested: list[str] = list(meta.get("requested", []))
    out = to_proto(
        {
            "language": complete.language,
            **{kind: result for kind, result in complete.results.items() if kind in ANALYSIS_TYPES},
            "requested": requested,
            "completed": list(meta.get("completed", [])),
            "failed": list(meta.get("failed", [])),
            "total_ms": meta.get("total_ms", 0.0),
            "analyzer": meta.get("analyzer", "local"),
        },
        analysis_pb2.InterviewAnalysis,
    )
    for kind in requested:
        error = complete.errors.get(kind)
        out.statuses.append(
            analysis_pb2.AnalysisStatus(
                analysis_type=kind,
                status="failed" if error else "completed",
                error=error.error if error else "",
                details=error.details if error else "",
                time_ms=float(timings.get(kind, 0.0)),
            )
        )
    return out


def interview_from_proto(message: analysis_pb2.InterviewAnalysis) -> CompleteAnalysis:
    """Back from the message to the analyzer's :class:`CompleteAnalysis` (for the session report)."""
    results = {}
    for kind in ANALYSIS_TYPES:
        if message.HasField(kind):
            result = json_format.MessageToDict(
                getattr(message, kind),
                preserving_proto_field_name=True,
                always_print_fields_with_no_presence=True,
            )
            for envelope_field in ("analyzer", "processing_s"):  # the top-level message's, not the analysis'
                result.pop(envelope_field, None)
            results[kind] = result
    errors = {
        s.analysis_type: AnalysisErrorInfo(error=s.error or "analysis_failed", details=s.details)
        for s in message.statuses
        if s.status == "failed"
    }
    return CompleteAnalysis(
        language=message.language or "und",
        results=results,
        errors=errors,
        metadata={
            "requested": list(message.requested),
            "completed": list(message.completed),
            "failed": list(message.failed),
            "timings_ms": {s.analysis_type: s.time_ms for s in message.statuses},
            "total_ms": message.total_ms,
            "analyzer": message.analyzer,
        },
    )


def attempts_from_proto(message: analysis_pb2.SessionReportRequest) -> list[AttemptInput]:
    """The session report's attempts as the analyzer's :class:`AttemptInput` list."""
    return [
        AttemptInput(
            question=a.question,
            question_id=a.question_id if a.HasField("question_id") else None,
            analysis=interview_from_proto(a.analysis),
        )
        for a in message.attempts
    ]


def report_from_proto(message: analysis_pb2.SessionReport) -> SessionReport:
    """The :class:`SessionReport` of its message (for rendering)."""
    data = json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    for key in ("analyzer", "processing_s"):
        data.pop(key, None)
    for q in data.get("per_question", []):
        q.pop("missing", None)
        if "question_id" in q:
            q["question_id"] = int(q["question_id"])
    return SessionReport.model_validate(data)


def extraction_to_proto(extraction: ResumeExtraction, **extra: Any) -> analysis_pb2.ResumeExtraction:
    """The ``ResumeExtraction`` message (the knowledge set as a list of areas)."""
    data = extraction.model_dump(mode="json")
    data["knowledge_set"] = [{"area": a, "skills": s} for a, s in extraction.knowledge_set.items()]
    return to_proto(data, analysis_pb2.ResumeExtraction, **extra)
