"""Interview analyses with the local analyzer: questions from a resume, domain, communication,
pace, pause, the concurrent complete analysis with timeouts and partial results, the report."""

from __future__ import annotations

import asyncio

import pytest

from services.analysis.interview import (
    AttemptInput,
    CommunicationAnalysis,
    InterviewRequest,
    LocalInterviewAnalyzer,
    Resume,
    analyze_communication,
    analyze_domain,
    analyze_pace,
    analyze_pause,
    generate_questions,
    session_report,
)
from services.common.transcript import Segment, Transcript, Word


def timed(words_and_gaps: list[tuple[str, float]], word_s: float = 0.3) -> Transcript:
    """Words of ``word_s`` seconds, each followed by the given silence (seconds)."""
    t, words = 1.0, []
    for word, gap in words_and_gaps:
        words.append(Word(word=" " + word, start=t, end=t + word_s))
        t += word_s + gap
    text = " ".join(w for w, _ in words_and_gaps)
    return Transcript(
        duration=t + 1, text=text, segments=[Segment(id=0, start=1.0, end=t, text=text, words=words)]
    )


def test_questions_follow_resume_skills_and_track() -> None:
    resume = Resume(text="ML engineer, 6 years. Python, PyTorch, Docker and Kubernetes; some SQL.")
    qs = generate_questions(resume, "ml_engineering", count=5)
    assert qs.skills == ["Python", "SQL", "Machine Learning", "PyTorch", "Docker", "Kubernetes"]
    assert qs.years_experience == 6
    topics = [q.topic for q in qs.questions]
    assert topics[:3] == ["Python", "PyTorch", "Docker"]  # the track's preference order
    assert qs.questions[-1].category == "behavioural"
    assert all(q.difficulty == "hard" for q in qs.questions) and all(
        q.expected_concepts for q in qs.questions
    )
    ds = generate_questions(
        Resume(text="Junior analyst: statistics, pandas", years_experience=1), "data_science"
    )
    assert [q.topic for q in ds.questions][:2] == ["Statistics", "Pandas"] and ds.questions[
        0
    ].difficulty == "easy"
    with pytest.raises(ValueError, match="unknown track"):
        generate_questions(resume, "astrology")


def test_domain_coverage() -> None:
    q = "How do you detect and prevent overfitting?"
    good = analyze_domain(
        q, "I keep a holdout validation set, add dropout and L2 regularization, and get more data."
    )
    weak = analyze_domain(q, "I just train it longer until it works.")
    assert good.score == 100 and good.missing_concepts == []
    assert weak.score == 0 and set(weak.missing_concepts) == {"validation", "regularization", "more data"}
    custom = analyze_domain("Explain joins", "An inner join keeps matching rows.", ["joins", "indexes"])
    assert custom.covered_concepts == ["joins"] and custom.score == 50


def test_communication_penalises_fillers_and_rewards_structure() -> None:
    clear = analyze_communication(
        "First, I define the metric. Then I split the data, because leakage hurts. "
        "For example, I keep the last month as a test set. Finally, I compare against a baseline."
    )
    rambling = analyze_communication(
        "um so basically I uh you know kind of train the model and um like, it sort of works "
        "and uh basically you know that is um it"
    )
    assert clear.score > rambling.score + 25
    assert rambling.filler_words >= 9 and rambling.filler_breakdown["um"] == 3
    assert clear.structure == 100 and "filler" in rambling.feedback
    assert analyze_communication("").score == 0


def test_pace_and_pause_from_word_timestamps() -> None:
    # 10 words, 0.3 s each, 0.1 s gaps except one 0.8 s and one 2.0 s pause
    gaps = [0.1, 0.1, 0.8, 0.1, 0.1, 2.0, 0.1, 0.1, 0.1, 0.0]
    t = timed([(f"w{i}", g) for i, g in enumerate(gaps)])
    span = 10 * 0.3 + sum(gaps[:-1])  # first start to last end
    pace = analyze_pace(t, window_s=2.0)
    assert pace.words == 10 and pace.wpm == pytest.approx(10 / (span / 60), abs=0.1)
    assert pace.speaking_span_s == pytest.approx(span)
    assert sum(w.words for w in pace.over_time) == 10 and pace.over_time[0].start == 1.0
    assert pace.band == "ideal" if 110 <= pace.wpm <= 160 else pace.band in ("slow", "fast")
    pause = analyze_pause(t)
    assert pause.pause_count == 2 and pause.total_pause_s == pytest.approx(2.8)
    assert [p.duration for p in pause.long_pauses] == [2.0] and pause.long_pauses[0].after_word == "w5"
    assert pause.speaking_ratio == pytest.approx(3.0 / span, abs=1e-3)
    fast = analyze_pace(timed([("x", 0.0)] * 40, word_s=0.2))
    assert fast.band == "fast" and fast.wpm == pytest.approx(300, abs=1)
    assert analyze_pace(Transcript(duration=1, text="")).band == "unknown"


async def test_complete_runs_concurrently_and_returns_partial_results() -> None:
    class Slow(LocalInterviewAnalyzer):
        async def communication(self, answer: str) -> CommunicationAnalysis:
            await asyncio.sleep(5)
            raise AssertionError("not reached")

        async def pause(self, transcript: Transcript):  # type: ignore[no-untyped-def]
            raise RuntimeError("disk on fire")

    t = timed([(w, 0.15) for w in "I use cross validation and dropout to avoid overfitting".split()])
    result = await Slow(timeout_s=0.2).complete(
        t, InterviewRequest(question="How do you detect and prevent overfitting?")
    )
    assert set(result.results) == {"domain", "pace"}
    assert result.errors["communication"].error == "timeout"
    assert (
        result.errors["pause"].error == "analysis_failed" and "disk on fire" in result.errors["pause"].details
    )
    assert result.metadata["requested"] == ["domain", "communication", "pace", "pause"]
    assert result.metadata["total_ms"] < 1000  # the slow one was cut at its timeout
    full = await LocalInterviewAnalyzer().complete(t, InterviewRequest(analysis_types=["pace", "pause"]))
    assert set(full.results) == {"pace", "pause"} and full.errors == {} and full.language == "en"


async def test_session_report_aggregates_attempts() -> None:
    analyzer = LocalInterviewAnalyzer()
    good = timed(
        [(w, 0.1) for w in "First I hold out validation data then I add dropout for example".split()]
    )
    bad = timed([(w, 2.5) for w in "um I uh do not know".split()])
    q = "How do you detect and prevent overfitting?"
    attempts = [
        AttemptInput(question=q, analysis=await analyzer.complete(good, InterviewRequest(question=q))),
        AttemptInput(question=q, analysis=await analyzer.complete(bad, InterviewRequest(question=q))),
    ]
    report = session_report(attempts)
    assert set(report.dimension_scores) == {"domain", "communication", "pace", "pause"}
    assert report.overall_score is not None and 0 <= report.overall_score <= 100
    assert report.per_question[1]["scores"]["pause"] < report.per_question[0]["scores"]["pause"]
    assert any(i.startswith("pause") for i in report.improvements) or report.dimension_scores["pause"] >= 60
    assert session_report([]).overall_score is None


async def test_empty_and_non_english_answers() -> None:
    q = InterviewRequest(question="How do you detect and prevent overfitting?")
    empty = await LocalInterviewAnalyzer().complete(Transcript(duration=2.0, text=""), q)
    assert empty.errors == {} and empty.results["pace"]["band"] == "unknown" and empty.language == "und"
    assert empty.results["domain"]["score"] == 0 and empty.results["communication"]["score"] == 0
    spanish = timed(
        [(w, 0.1) for w in "primero divido los datos y luego valido el modelo con cuidado".split()]
    )
    result = await LocalInterviewAnalyzer().complete(spanish, q)
    assert result.language == "es" and set(result.results) == {"domain", "communication", "pace", "pause"}
    no_question = await LocalInterviewAnalyzer().complete(spanish)
    assert set(no_question.results) == {"communication", "pace", "pause"}
    assert "needs the question" in no_question.errors["domain"].details
