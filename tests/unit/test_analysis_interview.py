"""Interview analyses with the local analyzer: questions from a resume, domain, communication,
pace, pause, the concurrent complete analysis with timeouts and partial results, the report."""

from __future__ import annotations

import asyncio

import pytest

from services.analysis.interview import (
    AttemptInput,
    CommunicationAnalysis,
    InterviewRequest,
    KeyConcept,
    LocalInterviewAnalyzer,
    Resume,
    analyze_communication,
    analyze_domain,
    analyze_pace,
    analyze_pause,
    generate_questions,
)
from services.analysis.interview_report import session_report
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
    assert topics[3] == "ml_engineering" and qs.questions[-1].category == "behavioural"
    assert all(
        q.key_concepts and q.expected_concepts == [k.name for k in q.key_concepts] for q in qs.questions
    )
    assert len({q.difficulty for q in qs.questions}) >= 2  # difficulty mixed
    again = generate_questions(resume, "ml_engineering", count=5, seed=1)
    assert [q.text for q in again.questions] != [q.text for q in qs.questions]
    junior = generate_questions(
        Resume(text="Junior analyst: statistics, pandas", years_experience=1), "data_science"
    )
    assert [q.topic for q in junior.questions][:2] == ["Statistics", "Pandas"]
    assert junior.questions[0].difficulty == "easy"
    with pytest.raises(ValueError, match="unknown track"):
        generate_questions(resume, "astrology")


@pytest.mark.parametrize(
    "track", ["data_science", "ml_engineering", "software_engineering", "product_management"]
)
def test_every_track_has_generic_questions_without_a_resume(track: str) -> None:
    qs = generate_questions(Resume(), track, count=6)
    assert len(qs.questions) == 6 and qs.skills == []
    assert len({q.text for q in qs.questions}) == 6
    assert qs.questions[-1].category == "behavioural"
    assert all(q.key_concepts for q in qs.questions)


def test_domain_coverage_with_lemmas_and_synonyms() -> None:
    q = "How do you detect and prevent overfitting?"
    good = analyze_domain(
        q,
        "I detect overfitting with a holdout validation set, prevent it with dropout and L2 "
        "regularization, more data, and early stopping.",
    )
    weak = analyze_domain(q, "I just train it longer until it works.")
    assert good.score == 100 and good.missing_concepts == []
    assert weak.score == 0
    assert set(weak.missing_concepts) == {"validation", "regularization", "more data", "simpler model"}
    # on topic, none of the exact words: not 0, and the paraphrased concepts are found
    paraphrase = analyze_domain(
        q,
        "When a model memorizes the training examples it generalizes badly, so I compare its error "
        "on data it never saw and penalize large weights.",
    )
    assert paraphrase.score > 30
    assert {"validation", "regularization"} <= set(paraphrase.covered_concepts)
    # lemmatisation: "indexes"/"indexing" meet "index"
    custom = analyze_domain(
        "Explain joins",
        "Inner joins keep matching rows; indexing helps.",
        key_concepts=[KeyConcept(name="joins"), KeyConcept(name="index")],
    )
    assert custom.covered_concepts == ["joins", "index"]
    listed = analyze_domain("Explain joins", "An inner join keeps matching rows.", ["joins", "indexes"])
    assert listed.covered_concepts == ["joins"] and listed.missing_concepts == ["indexes"]
    assert 0 < listed.score < 100


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
    assert clear.structure >= 70 and "filler" in rambling.feedback
    assert clear.signposts and not clear.has_conclusion
    concluded = analyze_communication(
        "First, I define the metric. Then I split the data. So, in short, I measure before I model."
    )
    assert concluded.has_conclusion and concluded.structure == 100
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
        async def communication(self, answer: str, speaking_s: float | None = None) -> CommunicationAnalysis:
            await asyncio.sleep(5)
            raise AssertionError("not reached")

        async def pause(self, transcript: Transcript, speech=None):  # type: ignore[no-untyped-def]
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
    assert report.per_question[1].scores["pause"] < report.per_question[0].scores["pause"]
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


def test_communication_suggestions_quote_the_answer() -> None:
    answer = (
        "I think maybe we should um retrain the model. Um, the thing is that the data changes every "
        "week and the features that we computed last month with the old pipeline and the old joins do "
        "not match what the service sees now in production. Um, it works."
    )
    result = analyze_communication(answer, speaking_s=30.0)
    assert 2 <= len(result.suggestions) <= 3
    issues = {s.issue for s in result.suggestions}
    assert {"filler words", "long sentence", "hedging"} == issues
    for s in result.suggestions:
        assert s.quote.rstrip("…").split()[0] in answer and s.tip
    long = next(s for s in result.suggestions if s.issue == "long sentence")
    assert long.quote.startswith("Um, the thing is") and result.longest_sentence_words > 25
    assert result.hedges == {"i think": 1, "maybe": 1}
    assert result.fillers_per_minute == pytest.approx(3 / 0.5)


def test_pause_from_voice_activity_and_filled_pauses() -> None:
    from services.analysis.interview import SpeechInterval

    t = timed([(w, 0.1) for w in "so um I would uh split the data you know first".split()])
    gaps_only = analyze_pause(t)
    assert gaps_only.source == "word_gaps" and gaps_only.pause_count == 0
    speech = [
        SpeechInterval(start=1.0, end=2.0),
        SpeechInterval(start=3.2, end=4.0),
        SpeechInterval(start=4.3, end=5.0),
    ]
    vad = analyze_pause(t, speech)
    assert vad.source == "vad" and vad.pause_count == 2
    assert [p.duration for p in vad.pauses] == [1.2, 0.3] and vad.total_pause_s == pytest.approx(1.5)
    assert vad.speaking_ratio == pytest.approx(2.5 / 4.0) and vad.max_pause_s == 1.2
    assert vad.filled_pauses == 3 and vad.filled_pause_breakdown == {"um": 1, "uh": 1, "you know": 1}
    assert vad.pauses[0].after_word  # the word before the silence


async def test_complete_uses_key_concepts_and_voice_activity() -> None:
    from services.analysis.interview import SpeechInterval

    t = timed([(w, 0.1) for w in "inner joins keep matching rows and indexing makes them fast".split()])
    t.speech = [SpeechInterval(start=1.0, end=2.5), SpeechInterval(start=3.0, end=5.3)]
    result = await LocalInterviewAnalyzer().complete(
        t,
        InterviewRequest(
            question="Explain joins",
            key_concepts=[
                KeyConcept(name="joins", synonyms=["join"]),
                KeyConcept(name="indexes", synonyms=["index"]),
                KeyConcept(name="query plan", synonyms=["explain"]),
            ],
        ),
    )
    assert result.results["domain"]["covered_concepts"] == ["joins", "indexes"]
    assert result.results["pause"]["source"] == "vad" and result.results["pause"]["pause_count"] == 1
    assert result.metadata["pause_source"] == "vad"


async def test_report_quotes_answers_and_renders_md_json_pdf() -> None:
    from services.analysis.interview_report import render_markdown, render_pdf

    analyzer = LocalInterviewAnalyzer()
    q = "How do you detect and prevent overfitting?"
    rambling = (
        "um I think maybe I would um just train it and uh see what happens with the model on the data "
        "that we have and then maybe look at it again later when there is more time to do that um."
    )
    attempts = [
        AttemptInput(
            question_id=i,
            question=q,
            analysis=await analyzer.complete(
                timed([(w, 0.2 + i) for w in rambling.split()]), InterviewRequest(question=q)
            ),
        )
        for i in range(2)
    ]
    report = session_report(attempts)
    assert [p.question_id for p in report.per_question] == [0, 1]
    quotes = [w.example for w in report.things_to_work_on if w.dimension == "communication"]
    assert quotes and all(any(part in rambling for part in qt.rstrip("…").split(" ")[:3]) for qt in quotes)
    assert any(w.dimension == "domain" and "validation" in w.example for w in report.things_to_work_on)
    assert len(report.pace_over_session.values) == 2
    assert report.pace_over_session.values[0] > report.pace_over_session.values[1]
    assert report.recommended_practice and any("Revise" in p for p in report.recommended_practice)
    md = render_markdown(report, "Mock interview")
    assert md.startswith("# Mock interview") and "## Things to work on" in md and "| 1 |" in md
    pdf = render_pdf(report, "Mock interview")
    assert pdf.startswith(b"%PDF-")
    import io

    from pypdf import PdfReader

    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "Things to work on" in text and "Recommended practice" in text
    assert SessionReportRoundTrip(report)


def SessionReportRoundTrip(report):  # type: ignore[no-untyped-def]  # noqa: N802
    from services.analysis.interview_report import SessionReport

    return SessionReport.model_validate_json(report.model_dump_json()) == report
