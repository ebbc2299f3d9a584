"""Meeting analysis with the local analyzer on the reference transcript of weekly_sync (its
.stm), due-date resolution, template suggestion and shaping, and bad input."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from services.analysis.meeting import (
    DEFAULT_TEMPLATES,
    LocalMeetingAnalyzer,
    MeetingAnalysis,
    MeetingRequest,
    Template,
    resolve_due_date,
    suggest_template,
)
from services.common.transcript import Segment, Transcript

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MONDAY = date(2026, 11, 16)


def stm_transcript() -> Transcript:
    """weekly_sync's reference transcript: one segment per STM line, speaker-labelled."""
    segments = []
    for i, line in enumerate((FIXTURES / "weekly_sync.stm").read_text().splitlines()):
        _file, _channel, speaker, start, end, text = line.split(" ", 5)
        segments.append(Segment(id=i, start=float(start), end=float(end), text=text, speaker=speaker))
    return Transcript(duration=51.3, text=" ".join(s.text for s in segments), segments=segments)


def find(items: list, owner: str, *keywords: str):  # type: ignore[no-untyped-def]
    for item in items:
        task = item.task.lower()
        if item.assigned_to == owner and all(k in task for k in keywords):
            return item
    raise AssertionError(f"no action item for {owner} with {keywords}: {items}")


def check_weekly_sync(result: MeetingAnalysis) -> None:
    """The issue's quality bar for weekly_sync (shared with the embedded test on Whisper output)."""
    items = result.action_items
    assert find(items, "Carol", "draft", "proposal").due_date == "2026-11-19"  # Thursday
    bob = find(items, "Bob", "send", "release notes")
    assert bob.due_date is not None and bob.due_date < "2026-11-20"  # before Friday
    assert find(items, "Carol", "book", "room")
    interviews = find(items, "Alice", "schedule", "interviews")
    assert interviews.due_date is not None and "2026-11-23" <= interviews.due_date <= "2026-11-27"
    assert len(items) <= 6, items  # no flood of false positives
    summary = result.summary.lower()
    for topic in ("mobile release", "pricing", "hiring"):
        assert topic in summary, (topic, result.summary)


@pytest.fixture(scope="module")
def weekly() -> MeetingAnalysis:
    return LocalMeetingAnalyzer().run(stm_transcript(), MeetingRequest(meeting_date=MONDAY))


def test_weekly_sync_action_items_and_summary(weekly: MeetingAnalysis) -> None:
    check_weekly_sync(weekly)
    assert weekly.language == "en" and weekly.analyzer == "local"
    assert "weekly product sync" in weekly.title.lower()
    assert {"mobile release", "pricing change", "hiring"} <= set(weekly.keyphrases)
    assert 2 <= len(weekly.key_points) <= 5


def test_template_suggestion_has_seed_shape(weekly: MeetingAnalysis) -> None:
    suggestion = weekly.template_suggestion
    assert suggestion is not None
    assert suggestion.suggested_template_name == "Team Meeting"
    assert suggestion.suggested_template_id == DEFAULT_TEMPLATES[0].id
    assert 0.5 <= suggestion.confidence <= 0.95
    assert suggestion.alternative_templates and all(
        a.confidence < suggestion.confidence for a in suggestion.alternative_templates
    )
    sales = "We discussed the price, a discount on the contract and a demo for the customer budget."
    pick = suggest_template(sales, list(DEFAULT_TEMPLATES))
    assert pick.suggested_template_name == "Sales Call"
    assert "price" in pick.reason or "discount" in pick.reason


def test_template_prompts_shape_key_points_and_summary() -> None:
    template = Template(
        id="t-hiring",
        title="Hiring update",
        summary_prompt="Focus on hiring: candidates, interviews and the backend role.",
        key_points_prompt=["Candidates interviewed", "Release status"],
    )
    shaped = LocalMeetingAnalyzer().run(
        stm_transcript(), MeetingRequest(meeting_date=MONDAY, template=template)
    )
    assert shaped.template_id == "t-hiring"
    assert (
        shaped.key_points[0].startswith("Candidates interviewed: ")
        and "four candidates" in shaped.key_points[0]
    )
    assert shaped.key_points[1].startswith("Release status: ") and "release" in shaped.key_points[1].lower()
    assert "interviewed four candidates" in shaped.summary
    custom = suggest_template(stm_transcript().text, [*DEFAULT_TEMPLATES, template])
    assert custom.suggested_template_id in {template.id, DEFAULT_TEMPLATES[0].id}


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("by Thursday", date(2026, 11, 19)),
        ("before Friday", date(2026, 11, 20)),
        ("tomorrow morning", date(2026, 11, 17)),
        ("next week", date(2026, 11, 23)),
        ("end of the week", date(2026, 11, 20)),
        ("end of the month", date(2026, 11, 30)),
        ("on Monday", date(2026, 11, 23)),  # said on a Monday: the next one
        ("January 15", date(2027, 1, 15)),
        ("2026-12-01", date(2026, 12, 1)),
        ("soonish", None),
    ],
)
def test_due_dates_resolve_against_the_meeting_date(phrase: str, expected: date | None) -> None:
    assert resolve_due_date(phrase, MONDAY) == expected


def test_empty_transcript_gives_an_empty_analysis() -> None:
    empty = LocalMeetingAnalyzer().run(Transcript(duration=4.0, text="  ", segments=[]), MeetingRequest())
    assert empty.summary == "" and empty.action_items == [] and empty.key_points == []
    assert empty.language == "und"


def test_non_english_reports_language_and_still_runs() -> None:
    text = (
        "Buenos días a todos. Empezamos la reunión semanal del producto. La versión móvil va bien. "
        "Carol, por favor reserva las salas. El cambio de precios necesita más trabajo."
    )
    seg = Segment(id=0, start=0.0, end=12.0, text=text, speaker="Alice")
    result = LocalMeetingAnalyzer().run(
        Transcript(duration=12.0, text=text, segments=[seg]), MeetingRequest()
    )
    assert result.language == "es" and result.language_confidence > 0.9
    assert result.summary and result.keyphrases


def test_unlabelled_sentences_cut_by_the_recogniser_are_joined() -> None:
    parts = ["The pricing change needs work, so I will draft", "a proposal by Thursday."]
    segs = [Segment(id=i, start=i * 3.0, end=i * 3.0 + 3, text=t) for i, t in enumerate(parts)]
    result = LocalMeetingAnalyzer().run(
        Transcript(duration=6.0, text=" ".join(parts), segments=segs), MeetingRequest(meeting_date=MONDAY)
    )
    assert [(i.task, i.due_date) for i in result.action_items] == [("Draft a proposal", "2026-11-19")]
