"""earshot.analysis.completed.v2: a typed result per kind; v1 events stay readable."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.analysis.config import load_analysis_settings
from services.analysis.engine import AnalysisEngine, transcript_from_text
from services.common.analysis_results import InterviewResult, MeetingAnalysis, TemperatureResult
from services.common.events import (
    ANALYSIS_COMPLETED_TYPES,
    AnalysisCompleted,
    AnalysisCompletedV2,
    Envelope,
)
from tests.unit.test_analysis_meeting import stm_transcript

ANSWER = "First, I validate on held-out data. Then I add dropout, for example, and finally more data."


@pytest.fixture(scope="module")
def engine() -> AnalysisEngine:
    return AnalysisEngine(load_analysis_settings(provider="local"))


@pytest.mark.parametrize(
    ("kind", "options", "model"),
    [
        ("temperature", {}, TemperatureResult),
        ("meeting", {"meeting_date": "2026-11-16"}, MeetingAnalysis),
        ("interview", {"question": "How do you avoid overfitting?"}, InterviewResult),
    ],
)
async def test_every_kind_travels_typed_and_comes_back_equal(
    engine: AnalysisEngine, kind: str, options: dict, model: type
) -> None:
    transcript = stm_transcript() if kind == "meeting" else transcript_from_text(ANSWER)
    analyzer, result = await engine.analyze(kind, transcript, options)
    event = AnalysisCompletedV2.model_validate(
        {"job_id": "j1", "kind": kind, "analyzer": analyzer, "result": result}
    )
    assert isinstance(event.result, model)
    # through a binary-mode CloudEvent and back
    envelope = Envelope.from_message(Envelope.of(event, "/tests").to_message())
    assert envelope.type == "earshot.analysis.completed.v2" == ANALYSIS_COMPLETED_TYPES[0]
    again = AnalysisCompletedV2.from_envelope(envelope)
    assert again == event and type(again.result) is model


async def test_interview_result_is_typed_with_missing_analyses_as_none(engine: AnalysisEngine) -> None:
    _, result = await engine.analyze(
        "interview", transcript_from_text(ANSWER), {"analysis_types": ["communication"]}
    )
    event = AnalysisCompletedV2.model_validate(
        {"job_id": "j", "kind": "interview", "analyzer": "local", "result": result}
    )
    assert isinstance(event.result, InterviewResult)
    assert event.result.results.communication is not None and event.result.results.communication.score > 0
    assert event.result.results.pace is None and event.result.metadata.requested == ["communication"]


def test_a_v1_event_is_still_accepted() -> None:
    v1 = AnalysisCompleted(
        job_id="old",
        kind="temperature",
        analyzer="local",
        result={"temperature": 72, "confidence": 0.8, "analysis_summary": "Heated.", "language": "en"},
    )
    typed = AnalysisCompletedV2.from_envelope(Envelope.of(v1, "/old-analysis"))
    assert isinstance(typed.result, TemperatureResult)
    assert (typed.job_id, typed.result.temperature, typed.result.language) == ("old", 72, "en")
    assert "earshot.analysis.completed.v1" in ANALYSIS_COMPLETED_TYPES


def test_a_result_that_does_not_match_its_kind_is_refused() -> None:
    with pytest.raises(ValidationError):
        AnalysisCompletedV2.model_validate(
            {"job_id": "j", "kind": "meeting", "analyzer": "local", "result": {"temperature": 50}}
        )
    temp = TemperatureResult(temperature=50, confidence=0.5, analysis_summary="x")
    with pytest.raises(ValidationError, match="meeting result must be a MeetingAnalysis"):
        AnalysisCompletedV2(job_id="j", kind="meeting", analyzer="local", result=temp)
    bad_v1 = AnalysisCompleted(job_id="j", kind="temperature", analyzer="local", result={"temperature": 500})
    with pytest.raises(ValueError):
        AnalysisCompletedV2.from_envelope(Envelope.of(bad_v1, "/old"))
    with pytest.raises(ValueError, match="not an analysis completion"):
        AnalysisCompletedV2.from_envelope(
            Envelope(type="earshot.analysis.failed.v1", source="/x", key="j", data={})
        )


# --------------------------------------------------------------------------- requested.v2


def test_request_options_are_typed_by_kind() -> None:
    from datetime import date

    from services.common.analysis_results import InterviewRequest, MeetingRequest, TemperatureRequest
    from services.common.events import ANALYSIS_REQUESTED_TYPES, AnalysisRequested, AnalysisRequestedV2

    meeting = AnalysisRequestedV2.model_validate(
        {
            "job_id": "m",
            "kind": "meeting",
            "transcript_key": "t.json",
            "options": {"meeting_date": "2026-11-16"},
        }
    )
    assert isinstance(meeting.options, MeetingRequest) and meeting.options.meeting_date == date(2026, 11, 16)
    plain = AnalysisRequestedV2(job_id="t", transcript_key="t.json")
    assert plain.kind == "temperature" and isinstance(plain.options, TemperatureRequest)
    interview = AnalysisRequestedV2(job_id="i", kind="interview", transcript_key="t.json")
    assert isinstance(interview.options, InterviewRequest) and len(interview.options.analysis_types) == 4
    # through a CloudEvent and back, and from a v1 event
    again = AnalysisRequestedV2.from_envelope(Envelope.from_message(Envelope.of(meeting, "/t").to_message()))
    assert again == meeting and ANALYSIS_REQUESTED_TYPES[0] == "earshot.analysis.requested.v2"
    v1 = AnalysisRequested(
        job_id="o",
        kind="interview",
        transcript_key="t.json",
        options={"analysis_types": ["pace"], "window_s": 5},
    )
    upgraded = AnalysisRequestedV2.from_envelope(Envelope.of(v1, "/old"))
    assert isinstance(upgraded.options, InterviewRequest) and upgraded.options.analysis_types == ["pace"]
    with pytest.raises(ValidationError):
        AnalysisRequestedV2.model_validate(
            {"job_id": "b", "kind": "interview", "transcript_key": "k", "options": {"window_s": -1}}
        )
    with pytest.raises(ValidationError, match="meeting options must be a MeetingRequest"):
        AnalysisRequestedV2(job_id="x", kind="meeting", transcript_key="k", options=InterviewRequest())
