"""The typed gRPC messages carry every field of the analyzers' models (nothing dropped on the way),
and the conversions keep values: transcripts in, results out, the complete analysis both ways."""

from __future__ import annotations

import pytest
from earshot.analysis.v1 import analysis_pb2 as pb
from google.protobuf.message import Message
from pydantic import BaseModel

from services.analysis.convert import (
    interview_from_proto,
    interview_to_proto,
    resume_from_proto,
    to_proto,
    transcript_from_proto,
)
from services.analysis.interview import (
    CompleteAnalysis,
    LocalInterviewAnalyzer,
    Question,
    QuestionSet,
    ResumeSkills,
)
from services.analysis.interview_report import DeliveryTrend, QuestionScore, SessionReport, WorkItem
from services.analysis.resume import ExperienceRange, ResumeExtraction
from services.common.analysis_results import (
    ActionItem,
    AlternativeTemplate,
    CommunicationAnalysis,
    DomainAnalysis,
    KeyConcept,
    MeetingAnalysis,
    PaceAnalysis,
    PaceWindow,
    Pause,
    PauseAnalysis,
    Suggestion,
    TemperatureResult,
    TemplateSuggestion,
)
from services.common.transcript import Segment, Transcript, Word

PAIRS: list[tuple[type[BaseModel], type[Message]]] = [
    (TemperatureResult, pb.TemperatureAnalysis),
    (MeetingAnalysis, pb.MeetingAnalysis),
    (ActionItem, pb.ActionItem),
    (TemplateSuggestion, pb.TemplateSuggestion),
    (AlternativeTemplate, pb.AlternativeTemplate),
    (PaceAnalysis, pb.PaceAnalysis),
    (PaceWindow, pb.PaceWindow),
    (PauseAnalysis, pb.PauseAnalysis),
    (Pause, pb.Pause),
    (CommunicationAnalysis, pb.CommunicationAnalysis),
    (DomainAnalysis, pb.DomainAnalysis),
    (QuestionSet, pb.QuestionSet),
    (Question, pb.Question),
    (ResumeSkills, pb.ResumeSkills),
    (Suggestion, pb.Suggestion),
    (KeyConcept, pb.KeyConcept),
    (ResumeExtraction, pb.ResumeExtraction),
    (ExperienceRange, pb.ExperienceRange),
    (QuestionScore, pb.QuestionScores),
    (WorkItem, pb.WorkItem),
    (DeliveryTrend, pb.DeliveryTrend),
    (Word, pb.Word),
    (Segment, pb.Segment),
]


@pytest.mark.parametrize(("model", "message"), PAIRS, ids=lambda p: getattr(p, "__name__", str(p)))
def test_every_model_field_has_a_message_field(model: type[BaseModel], message: type[Message]) -> None:
    missing = set(model.model_fields) - set(message.DESCRIPTOR.fields_by_name)
    assert not missing, f"{message.DESCRIPTOR.name} lacks {sorted(missing)} of {model.__name__}"


def test_session_report_fields() -> None:
    fields = set(pb.SessionReport.DESCRIPTOR.fields_by_name)
    assert set(SessionReport.model_fields) <= fields


def test_transcript_from_words_segments_or_text() -> None:
    words = [
        pb.Word(word="hi", start=0.5, end=0.9, probability=0.8),
        pb.Word(word="there", start=1.0, end=1.4),
    ]
    from_words = transcript_from_proto(pb.Transcript(words=words))
    assert from_words.text == "hi there" and from_words.duration == 1.4 and from_words.language == "und"
    assert [w.probability for w in from_words.words] == [0.8, 1.0]
    segs = transcript_from_proto(
        pb.Transcript(
            language="en",
            segments=[pb.Segment(id=3, start=0, end=2, text="Hello.", speaker="Ann", words=words)],
        )
    )
    assert segs.segments[0].speaker == "Ann" and segs.text == "Hello." and segs.segments[0].id == 3
    unnamed = transcript_from_proto(pb.Transcript(segments=[pb.Segment(text="x", end=1)]))
    assert unnamed.segments[0].speaker is None
    text = transcript_from_proto(pb.Transcript(text="just words", duration=4))
    assert text.segments[0].text == "just words" and text.words == []
    assert transcript_from_proto(pb.Transcript()).segments == []
    with pytest.raises(ValueError):
        transcript_from_proto(pb.Transcript(words=[pb.Word(word="x", start=-1, end=0)]))


def test_optional_fields_stay_unset_for_none() -> None:
    item = to_proto(ActionItem(task="Ship it", assigned_to=None, due_date="2026-11-20"), pb.ActionItem)
    assert not item.HasField("assigned_to") and item.due_date == "2026-11-20"
    resume = resume_from_proto(pb.Resume(text="x"))
    assert resume.years_experience is None
    assert resume_from_proto(pb.Resume(years_experience=0)).years_experience == 0


async def test_complete_analysis_round_trips() -> None:
    words = [
        Word(word=w, start=i * 0.5, end=i * 0.5 + 0.3) for i, w in enumerate("first I use dropout".split())
    ]
    transcript = Transcript(
        duration=2,
        text="first I use dropout",
        segments=[Segment(id=0, start=0, end=2, text="x", words=words)],
    )
    complete = await LocalInterviewAnalyzer().complete(transcript)  # no question: domain fails
    assert set(complete.errors) == {"domain"}
    message = interview_to_proto(complete)
    assert [s.analysis_type for s in message.statuses] == ["domain", "communication", "pace", "pause"]
    assert [s.status for s in message.statuses] == ["failed", "completed", "completed", "completed"]
    assert message.statuses[0].error == "analysis_failed" and "question" in message.statuses[0].details
    assert not message.HasField("domain") and message.pace.words == 4
    back = interview_from_proto(message)
    assert isinstance(back, CompleteAnalysis)
    assert set(back.results) == set(complete.results) and set(back.errors) == {"domain"}
    assert back.results["pace"] == complete.results["pace"]
    assert back.results["communication"]["score"] == complete.results["communication"]["score"]
