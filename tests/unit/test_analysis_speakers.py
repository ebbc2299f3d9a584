"""Speaker naming (self-introductions, addresses, thanks, participants, elimination) and
talk-time analytics, on weekly_sync's reference transcript with diarization-style labels."""

from __future__ import annotations

from datetime import date

from services.analysis.meeting import LocalMeetingAnalyzer, MeetingRequest
from services.analysis.speakers import meeting_analytics, name_speakers
from services.common.transcript import Segment, Transcript
from tests.unit.test_analysis_meeting import MONDAY, check_weekly_sync, stm_transcript


def diarized_weekly() -> Transcript:
    """weekly_sync's STM with its names replaced by SPEAKER_NN labels (as diarization gives)."""
    t = stm_transcript()
    labels = {"Alice": "SPEAKER_00", "Bob": "SPEAKER_01", "Carol": "SPEAKER_02"}
    segs = [s.model_copy(update={"speaker": labels[s.speaker or ""]}) for s in t.segments]
    return t.model_copy(update={"segments": segs})


def by_label(names: list) -> dict[str, str]:  # type: ignore[type-arg]
    return {n.label: n.name for n in names}


def test_weekly_sync_names_from_thanks_address_and_elimination() -> None:
    names = name_speakers(diarized_weekly(), ["Alice", "Bob", "Carol"])
    assert by_label(names) == {"SPEAKER_00": "Alice", "SPEAKER_01": "Bob", "SPEAKER_02": "Carol"}
    carol = next(n for n in names if n.name == "Carol")
    assert carol.confidence == 0.5 and carol.evidence == ["the only participant left"]
    assert all(n.confidence >= 0.5 for n in names)


def test_without_participants_unknown_speakers_are_numbered() -> None:
    names = by_label(name_speakers(diarized_weekly(), None))
    # Alice is thanked, Bob addressed and answers; nobody names the third voice
    assert names == {"SPEAKER_00": "Alice", "SPEAKER_01": "Bob", "SPEAKER_02": "Speaker 1"}


def seg(i: int, speaker: str, text: str, start: float, end: float) -> Segment:
    return Segment(id=i, start=start, end=end, text=text, speaker=speaker)


def test_self_introductions_win_over_addresses() -> None:
    t = Transcript(
        duration=30,
        text="",
        segments=[
            seg(0, "SPEAKER_00", "Hi, this is Diane from finance.", 0, 4),
            seg(1, "SPEAKER_01", "Thanks. I'm Sheila. Marcus, please share the numbers.", 4, 10),
            seg(2, "SPEAKER_02", "Sure, here they are.", 10, 14),
            seg(3, "SPEAKER_03", "Okay.", 14, 15),
        ],
    )
    names = by_label(name_speakers(t))
    assert names == {
        "SPEAKER_00": "Diane",
        "SPEAKER_01": "Sheila",
        "SPEAKER_02": "Marcus",
        "SPEAKER_03": "Speaker 1",
    }


def test_participants_filter_and_spelling() -> None:
    t = Transcript(
        duration=10,
        text="",
        segments=[
            seg(0, "SPEAKER_00", "I'm Shiela, and Good is the word.", 0, 4),
            seg(1, "SPEAKER_01", "Hello.", 4, 6),
        ],
    )
    names = by_label(name_speakers(t, ["Sheila Grant", "Tom"]))
    assert names == {"SPEAKER_00": "Sheila Grant", "SPEAKER_01": "Tom"}


def test_analytics_talk_time_turns_interruptions_questions() -> None:
    t = Transcript(
        duration=20,
        text="",
        segments=[
            seg(0, "Ann", "Shall we start? I have two things.", 0, 6),
            seg(1, "Ben", "Yes, go ahead.", 5, 8),  # starts before Ann ended: interruption
            seg(2, "Ann", "First the budget, second the hiring plan for next quarter.", 9, 15),
        ],
    )
    a = meeting_analytics(t)
    assert a["turns"] == 3 and a["interruptions"] == 1 and a["questions"] == 1
    ann = next(s for s in a["speakers"] if s["speaker"] == "Ann")
    ben = next(s for s in a["speakers"] if s["speaker"] == "Ben")
    assert ann["talk_time_s"] == 12 and ben["talk_time_s"] == 3 and ben["interruptions"] == 1
    assert ann["talk_share"] == 0.8 and ann["turns"] == 2 and ann["questions"] == 1
    assert ann["words_per_minute"] == round(ann["words"] / 12 * 60, 1)
    assert a["longest_monologue"] == {"speaker": "Ann", "duration_s": 6.0}
    assert a["speech_s"] == 14 and a["silence_ratio"] == 0.3


def test_analysis_names_speakers_before_finding_owners() -> None:
    result = LocalMeetingAnalyzer().run(
        diarized_weekly(), MeetingRequest(meeting_date=MONDAY, participants=["Alice", "Bob", "Carol"])
    )
    check_weekly_sync(result)
    assert {n.name for n in result.speaker_names} == {"Alice", "Bob", "Carol"}
    assert {s["speaker"] for s in result.analytics["speakers"]} == {"Alice", "Bob", "Carol"}
    assert result.meeting_date == date(2026, 11, 16).isoformat()


def test_an_address_after_an_interjection_counts() -> None:
    t = Transcript(
        duration=10,
        text="",
        segments=[
            seg(0, "SPEAKER_00", "Great, Bob, can you send the notes?", 0, 4),
            seg(1, "SPEAKER_01", "Yes, I will.", 4, 6),
            seg(2, "SPEAKER_00", "Fine. Good work, Monday is fine.", 6, 9),
        ],
    )
    assert by_label(name_speakers(t, ["Alice", "Bob"])) == {"SPEAKER_00": "Alice", "SPEAKER_01": "Bob"}
    assert by_label(name_speakers(t)) == {"SPEAKER_00": "Speaker 1", "SPEAKER_01": "Bob"}
