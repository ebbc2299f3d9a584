"""Every RPC of the typed ``earshot.analysis.v1.AnalysisService`` over a real ``grpc.aio`` server
(one analysis platform per test session), and the mapping of analyzer errors to status codes."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from earshot.analysis.v1 import analysis_pb2 as pb
from earshot.analysis.v1 import analysis_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.analysis.config import load_analysis_settings
from services.analysis.engine import AnalysisEngine
from services.analysis.interview import LocalInterviewAnalyzer
from services.analysis.meeting import DEFAULT_TEMPLATES, LocalMeetingAnalyzer, MeetingRequest
from services.analysis.providers import ProviderError
from services.analysis.service import AnalysisService, AnalysisServicer
from services.common.analysis_results import MeetingAnalysis
from services.common.rpc import start_server
from services.common.runtime import Runtime
from services.common.settings import load_settings
from services.common.transcript import Transcript
from services.platform import Platform
from tests.unit.test_analysis_meeting import stm_transcript

Stub = analysis_pb2_grpc.AnalysisServiceStub

ANSWER = (
    "First, I validate on a held-out validation set. Then I add dropout and L2 regularization. "
    "For example, um, I used cross-validation when data was scarce, and finally more data helps."
)


def answer_with_timings() -> pb.Transcript:
    """The answer as words 0.3 s long with 0.1 s gaps, and one 2 s pause after the 10th word."""
    words, t = [], 0.0
    for i, w in enumerate(ANSWER.split()):
        words.append(pb.Word(word=w, start=round(t, 3), end=round(t + 0.3, 3), probability=0.9))
        t += 0.4 + (2.0 if i == 9 else 0.0)
    return pb.Transcript(language="en", duration=t, text=ANSWER, words=words)


def meeting_transcript() -> pb.Transcript:
    t = stm_transcript()
    return pb.Transcript(
        language="en",
        duration=t.duration,
        text=t.text,
        segments=[
            pb.Segment(id=s.id, start=s.start, end=s.end, text=s.text, speaker=s.speaker or "")
            for s in t.segments
        ],
    )


def source(transcript: pb.Transcript) -> pb.TranscriptSource:
    return pb.TranscriptSource(transcript=transcript)


@pytest.fixture(scope="session")
async def analysis_platform() -> AsyncIterator[Runtime]:
    """The analysis service alone on an in-memory bus and local storage."""
    with tempfile.TemporaryDirectory(prefix="earshot-rpc-") as tmp:
        settings = load_settings(
            data_dir=Path(tmp),
            bus_url="memory://",
            database_url=None,
            storage_url=None,
            analysis_grpc_port=0,
            log_level="warning",
        )
        platform = Platform(settings, ("analysis",), run_migrations=False)
        runtime = await platform.start()
        try:
            yield runtime
        finally:
            await platform.stop()


@pytest.fixture(scope="session")
async def stub(analysis_platform: Runtime) -> AsyncIterator[Stub]:
    async with grpc.aio.insecure_channel(analysis_platform.grpc_target("analysis")) as channel:
        yield Stub(channel)


async def test_temperature(stub: Stub) -> None:
    heated = "You never listen to me! Shut up, you liar! This is ridiculous!"
    calm = "Thanks for the coffee, it was lovely to catch up about the garden and the kids."
    hot = await stub.AnalyzeTemperature(pb.TemperatureRequest(input=source(pb.Transcript(text=heated))))
    cool = await stub.AnalyzeTemperature(pb.TemperatureRequest(input=source(pb.Transcript(text=calm))))
    assert 1 <= cool.temperature < hot.temperature <= 100
    assert hot.language == "en" and hot.analyzer == "local" and hot.processing_s > 0
    assert 0 <= hot.confidence <= 1 and hot.analysis_summary and "hostility" in hot.components


async def test_meeting_from_inline_and_stored_transcripts(stub: Stub, analysis_platform: Runtime) -> None:
    request = pb.MeetingRequest(input=source(meeting_transcript()), meeting_date="2026-11-16")
    inline = await stub.AnalyzeMeeting(request, timeout=60)
    assert inline.analyzer == "local" and inline.meeting_date == "2026-11-16"
    assert inline.title and inline.description and inline.summary and inline.key_points
    carol = [a for a in inline.action_items if a.assigned_to == "Carol" and "proposal" in a.task.lower()]
    assert carol and carol[0].due_date == "2026-11-19"  # "by Thursday"
    assert any(not a.HasField("assigned_to") or a.assigned_to for a in inline.action_items)
    assert inline.template_suggestion.suggested_template_name == "Team Meeting"
    assert not inline.HasField("template_id")
    # the same through object storage, and the result equals the analyzer's own
    key = "transcripts/rpc-weekly.json"
    await analysis_platform.storage.put(key, stm_transcript().model_dump_json().encode(), "application/json")
    stored = await stub.AnalyzeMeeting(
        pb.MeetingRequest(input=pb.TranscriptSource(transcript_key=key), meeting_date="2026-11-16"),
        timeout=60,
    )
    direct = await LocalMeetingAnalyzer().analyze(
        stm_transcript(), MeetingRequest.model_validate({"meeting_date": "2026-11-16"})
    )
    assert stored.summary == direct.summary and [a.task for a in stored.action_items] == [
        a.task for a in direct.action_items
    ]
    # a template shapes the key points
    tpl = DEFAULT_TEMPLATES[2]
    shaped = await stub.AnalyzeMeeting(
        pb.MeetingRequest(
            input=source(meeting_transcript()),
            template=pb.Template(id=tpl.id, title=tpl.title, key_points_prompt=["Pricing", "Hiring"]),
        ),
        timeout=60,
    )
    assert shaped.template_id == tpl.id
    assert [p.split(":")[0] for p in shaped.key_points] == ["Pricing", "Hiring"]


async def test_pace_and_pause_from_word_timings(stub: Stub) -> None:
    transcript = answer_with_timings()
    words = transcript.words
    span = words[-1].end - words[0].start
    pace = await stub.AnalyzePace(pb.PaceRequest(input=source(transcript), window_s=5))
    assert pace.words == len(words) and pace.wpm == pytest.approx(len(words) / span * 60, abs=0.1)
    assert pace.band in ("slow", "ideal", "fast") and pace.over_time[0].end == pytest.approx(5.0)
    pause = await stub.AnalyzePause(pb.PauseRequest(input=source(transcript)))
    assert pause.pause_count == 1 and pause.long_pauses[0].duration == pytest.approx(2.1)
    assert pause.long_pauses[0].after_word == ANSWER.split()[9]
    assert pause.speaking_ratio == pytest.approx(0.3 * len(words) / span, abs=1e-3)
    untimed = await stub.AnalyzePace(pb.PaceRequest(input=source(pb.Transcript(text=ANSWER))))
    assert untimed.band == "unknown" and untimed.words == 0


async def test_communication_and_domain(stub: Stub) -> None:
    comm = await stub.AnalyzeCommunication(pb.CommunicationRequest(input=source(pb.Transcript(text=ANSWER))))
    assert 0 < comm.score <= 100 and comm.filler_breakdown["um"] == 1 and comm.filler_words >= 1
    assert comm.structure > 50  # first, then, for example, finally
    domain = await stub.AnalyzeDomain(
        pb.DomainRequest(
            input=source(pb.Transcript(text=ANSWER)),
            question="How do you detect and prevent overfitting?",
            expected_concepts=["validation", "regularization", "more data", "early stopping"],
        )
    )
    # 3 of 4 concepts: 0.85 * 75 plus up to 15 points for using the question's own words
    assert 63 <= domain.score <= 79 and domain.missing_concepts == ["early stopping"]
    assert domain.analyzer == "local"


async def test_complete_interview_analysis_subset_and_report(stub: Stub) -> None:
    everything = await stub.AnalyzeInterview(
        pb.InterviewRequest(
            input=source(answer_with_timings()), question="How do you detect and prevent overfitting?"
        )
    )
    assert list(everything.requested) == ["domain", "communication", "pace", "pause"]
    assert [s.status for s in everything.statuses] == ["completed"] * 4
    assert all(everything.HasField(k) for k in ("domain", "communication", "pace", "pause"))
    assert everything.pause.pause_count == 1 and everything.language == "en"
    subset = await stub.AnalyzeInterview(
        pb.InterviewRequest(input=source(answer_with_timings()), analysis_types=["pace", "pause"])
    )
    assert list(subset.completed) == ["pace", "pause"] and not subset.HasField("domain")
    assert [s.analysis_type for s in subset.statuses] == ["pace", "pause"]
    report = await stub.BuildSessionReport(
        pb.SessionReportRequest(
            attempts=[
                pb.SessionReportRequest.Attempt(question="Overfitting?", analysis=everything),
                pb.SessionReportRequest.Attempt(question="Pace only", analysis=subset),
            ]
        )
    )
    assert report.HasField("overall_score") and set(report.dimension_scores) == {
        "domain",
        "communication",
        "pace",
        "pause",
    }
    assert report.dimension_scores["pace"] == everything.pace.score == subset.pace.score
    assert [q.question for q in report.per_question] == ["Overfitting?", "Pace only"]
    empty = await stub.BuildSessionReport(pb.SessionReportRequest())
    assert not empty.HasField("overall_score") and empty.summary.startswith("No analysed answers")


async def test_questions_and_resume_skills(stub: Stub) -> None:
    resume = pb.Resume(text="Data scientist, 3 years of Python, SQL and pandas; some Docker.")
    skills = await stub.ExtractResumeSkills(pb.ResumeSkillsRequest(resume=resume))
    assert list(skills.skills) == ["Python", "SQL", "Pandas", "Docker"] and skills.years_experience == 3
    given = await stub.ExtractResumeSkills(pb.ResumeSkillsRequest(resume=pb.Resume(skills=["PyTorch"])))
    assert list(given.skills) == ["PyTorch"] and not given.HasField("years_experience")
    questions = await stub.GenerateQuestions(
        pb.GenerateQuestionsRequest(resume=resume, track="data_science", count=4)
    )
    assert len(questions.questions) == 4 and questions.track == "data_science"
    assert questions.questions[-1].category == "behavioural" and questions.questions[0].difficulty in (
        "easy",
        "medium",
    )
    assert {q.difficulty for q in questions.questions} >= {"easy", "medium"}  # mixed for 3 years
    assert questions.years_experience == 3 and "Python" in questions.skills


async def test_template_title_description(stub: Stub) -> None:
    sales = pb.Transcript(
        text="The customer asked about the price, a discount and the contract for the demo."
    )
    suggestion = await stub.SuggestTemplate(pb.SuggestTemplateRequest(input=source(sales)))
    assert suggestion.suggested_template_name == "Sales Call" and 0 < suggestion.confidence <= 0.95
    assert suggestion.suggested_template_id == DEFAULT_TEMPLATES[1].id and suggestion.reason
    custom = await stub.SuggestTemplate(
        pb.SuggestTemplateRequest(
            input=source(sales),
            templates=[
                pb.Template(id="t1", title="Gardening", keywords=["roses"]),
                pb.Template(id="t2", title="Deals", keywords=["discount", "contract"]),
            ],
        )
    )
    assert custom.suggested_template_id == "t2" and not custom.alternative_templates
    title = await stub.SuggestTitle(pb.SuggestTitleRequest(input=source(meeting_transcript())), timeout=60)
    desc = await stub.SuggestDescription(
        pb.SuggestDescriptionRequest(input=source(meeting_transcript())), timeout=60
    )
    meeting: MeetingAnalysis = await LocalMeetingAnalyzer().analyze(stm_transcript())
    assert title.suggested_title == meeting.title and desc.suggested_description == meeting.description


async def test_bad_input_answers_invalid_argument_or_not_found(stub: Stub) -> None:
    cases = [
        (stub.AnalyzeMeeting(pb.MeetingRequest()), grpc.StatusCode.INVALID_ARGUMENT, "transcript"),
        (
            stub.AnalyzeMeeting(
                pb.MeetingRequest(input=source(pb.Transcript(text="hello")), meeting_date="next tuesday")
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "meeting_date",
        ),
        (
            stub.AnalyzePause(
                pb.PauseRequest(input=source(pb.Transcript(words=[pb.Word(word="x", start=-1, end=0.2)])))
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "schema",
        ),
        (
            stub.AnalyzeTemperature(
                pb.TemperatureRequest(input=pb.TranscriptSource(transcript_key="transcripts/none.json"))
            ),
            grpc.StatusCode.NOT_FOUND,
            "none.json",
        ),
        (
            stub.AnalyzeInterview(
                pb.InterviewRequest(input=source(pb.Transcript(text="hi")), analysis_types=["telepathy"])
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "analysis_types",
        ),
        (
            stub.GenerateQuestions(
                pb.GenerateQuestionsRequest(resume=pb.Resume(text="x"), track="astrology")
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "unknown track",
        ),
        (
            stub.GenerateQuestions(pb.GenerateQuestionsRequest(track="data_science", count=99)),
            grpc.StatusCode.INVALID_ARGUMENT,
            "count",
        ),
        (stub.ExtractResumeSkills(pb.ResumeSkillsRequest()), grpc.StatusCode.INVALID_ARGUMENT, "resume"),
        (
            stub.AnalyzeDomain(pb.DomainRequest(input=source(pb.Transcript(text="I use dropout")))),
            grpc.StatusCode.INVALID_ARGUMENT,
            "question",
        ),
        (
            stub.SuggestTemplate(
                pb.SuggestTemplateRequest(
                    input=source(pb.Transcript(text="x")), templates=[pb.Template(id="a")]
                )
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "title",
        ),
    ]
    for call, code, words in cases:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call
        assert info.value.code() == code, info.value.details()
        assert words in (info.value.details() or ""), info.value.details()


async def test_health_reports_the_service_serving(analysis_platform: Runtime) -> None:
    async with grpc.aio.insecure_channel(analysis_platform.grpc_target("analysis")) as channel:
        health = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="earshot.analysis.v1.AnalysisService"), timeout=5
        )
    assert health.status == health_pb2.HealthCheckResponse.SERVING


class _FailingMeeting(LocalMeetingAnalyzer):
    def __init__(self, code: str) -> None:
        self.code = code

    async def analyze(self, transcript: Transcript, request: MeetingRequest | None = None) -> MeetingAnalysis:
        raise ProviderError(self.code, "the provider said no")


class _SlowInterview(LocalInterviewAnalyzer):
    async def communication(self, answer: str, speaking_s: float | None = None):  # type: ignore[no-untyped-def]
        raise ProviderError("unreachable", "connection refused")


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("provider_unavailable", grpc.StatusCode.UNAVAILABLE),
        ("rate_limited", grpc.StatusCode.UNAVAILABLE),
        ("timeout", grpc.StatusCode.DEADLINE_EXCEEDED),
        ("context_length_exceeded", grpc.StatusCode.INVALID_ARGUMENT),
        ("auth", grpc.StatusCode.FAILED_PRECONDITION),
    ],
)
async def test_provider_failures_map_to_status_codes(
    analysis_platform: Runtime, code: str, status: grpc.StatusCode
) -> None:
    engine = AnalysisEngine(load_analysis_settings())
    engine.meeting = _FailingMeeting(code)
    engine.interview = _SlowInterview()
    service = AnalysisService(engine)
    service.runtime = analysis_platform
    server = await start_server(
        "127.0.0.1",
        0,
        [lambda s: analysis_pb2_grpc.add_AnalysisServiceServicer_to_server(AnalysisServicer(service), s)],
        ["earshot.analysis.v1.AnalysisService"],
    )
    service.engine = engine
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            failing = Stub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await failing.AnalyzeMeeting(pb.MeetingRequest(input=source(pb.Transcript(text="hi there"))))
            assert info.value.code() == status
            assert code in (info.value.details() or "") and "the provider said no" in (
                info.value.details() or ""
            )
            # in the complete analysis a failing provider is one failed status, the rest still return
            partial = await failing.AnalyzeInterview(
                pb.InterviewRequest(input=source(answer_with_timings()), question="How to avoid overfitting?")
            )
            by_type = {s.analysis_type: s for s in partial.statuses}
            assert (
                by_type["communication"].status == "failed"
                and by_type["communication"].error == "unreachable"
            )
            assert by_type["pace"].status == "completed" and partial.HasField("pace")
            assert not partial.HasField("communication") and list(partial.failed) == ["communication"]
    finally:
        await server.stop(0)


# --------------------------------------------------------------------------- the gateway's client


async def test_gateway_client_calls_every_rpc(analysis_platform: Runtime) -> None:
    from services.gateway.clients.analysis import AnalysisClient, transcript_source

    answer = transcript_source(answer_with_timings())
    weekly = transcript_source(stm_transcript())
    async with grpc.aio.insecure_channel(analysis_platform.grpc_target("analysis")) as channel:
        client = AnalysisClient(channel, timeout_s=60)
        temp = await client.temperature(pb.TemperatureRequest(input=answer))
        meeting = await client.meeting(pb.MeetingRequest(input=weekly, meeting_date="2026-11-16"))
        pace = await client.pace(pb.PaceRequest(input=answer))
        pause = await client.pause(pb.PauseRequest(input=answer))
        comm = await client.communication(pb.CommunicationRequest(input=answer))
        domain = await client.domain(
            pb.DomainRequest(input=answer, expected_concepts=["validation", "dropout"])
        )
        complete = await client.interview(pb.InterviewRequest(input=answer, question="Overfitting?"))
        resume = pb.Resume(text="5 years of Python and SQL")
        questions = await client.questions(pb.GenerateQuestionsRequest(resume=resume, track="ml_engineering"))
        skills = await client.resume_skills(pb.ResumeSkillsRequest(resume=resume))
        report = await client.session_report(
            pb.SessionReportRequest(
                attempts=[pb.SessionReportRequest.Attempt(question="q", analysis=complete)]
            )
        )
        template = await client.suggest_template(pb.SuggestTemplateRequest(input=weekly))
        title = await client.suggest_title(pb.SuggestTitleRequest(input=weekly))
        description = await client.suggest_description(pb.SuggestDescriptionRequest(input=weekly))
    assert (
        1 <= temp.temperature <= 100
        and meeting.action_items
        and pace.words == len(ANSWER.split())
        and pause.pause_count == 1
    )
    assert (
        comm.score > 0
        and domain.covered_concepts
        and [s.status for s in complete.statuses] == ["completed"] * 4
    )
    assert len(questions.questions) == 5 and "hard" in {
        q.difficulty for q in questions.questions
    }  # senior: mixed, hard among them
    assert list(skills.skills) == ["Python", "SQL"] and report.HasField("overall_score")
    assert template.suggested_template_name == "Team Meeting" and title.suggested_title == meeting.title
    assert description.suggested_description == meeting.description


async def test_gateway_client_maps_errors_to_api_errors(analysis_platform: Runtime) -> None:
    from services.gateway.clients.analysis import AnalysisClient, transcript_source
    from services.gateway.shared.errors import ApiError

    async with grpc.aio.insecure_channel(analysis_platform.grpc_target("analysis")) as channel:
        client = AnalysisClient(channel)
        with pytest.raises(ApiError) as bad:
            await client.meeting(pb.MeetingRequest())
        assert bad.value.status == 422 and "transcript" in bad.value.details
        with pytest.raises(ApiError) as gone:
            await client.pause(pb.PauseRequest(input=transcript_source(key="transcripts/gone.json")))
        assert gone.value.status == 404 and "gone.json" in gone.value.details
    engine = AnalysisEngine(load_analysis_settings())
    engine.meeting = _FailingMeeting("provider_unavailable")
    service = AnalysisService(engine)
    service.runtime, service.engine = analysis_platform, engine
    server = await start_server(
        "127.0.0.1",
        0,
        [lambda s: analysis_pb2_grpc.add_AnalysisServiceServicer_to_server(AnalysisServicer(service), s)],
        ["earshot.analysis.v1.AnalysisService"],
    )
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            with pytest.raises(ApiError) as down:
                await AnalysisClient(channel).suggest_title(
                    pb.SuggestTitleRequest(input=transcript_source(pb.Transcript(text="hello there")))
                )
        assert down.value.status == 503 and down.value.headers["Retry-After"]
        assert "provider_unavailable" in down.value.details
    finally:
        await server.stop(0)
    async with grpc.aio.insecure_channel("127.0.0.1:1") as nowhere:
        with pytest.raises(ApiError) as unreachable:
            await AnalysisClient(nowhere, timeout_s=2).pace(pb.PaceRequest(input=transcript_source(key="k")))
    assert unreachable.value.status in (503, 504)
    with pytest.raises(ValueError):
        transcript_source()


async def test_temperature_reads_loudness_from_the_stored_recording(
    stub: Stub, analysis_platform: Runtime
) -> None:
    from tests.conftest import JFK, JFK_REFERENCE

    key = "uploads/rpc-jfk.flac"
    await analysis_platform.storage.put_file(key, JFK, "audio/flac")
    text = pb.Transcript(text=JFK_REFERENCE, duration=11.0)
    with_audio = await stub.AnalyzeTemperature(pb.TemperatureRequest(input=source(text), audio_key=key))
    without = await stub.AnalyzeTemperature(pb.TemperatureRequest(input=source(text)))
    assert "loudness" in with_audio.components and "loudness" not in without.components
    assert -60 < with_audio.features["loudness_p95_dbfs"] < 0 and "loudness_p95_dbfs" not in without.features
    gone = await stub.AnalyzeTemperature(
        pb.TemperatureRequest(input=source(text), audio_key="uploads/none.wav")
    )
    assert "loudness" not in gone.components  # a missing recording is not an error: text only


async def test_provider_backed_rpcs_when_a_key_is_set(analysis_platform: Runtime) -> None:
    from tests.fakes.openai_chat import OpenAIChatFake

    fake = await OpenAIChatFake().start()
    engine = AnalysisEngine(
        load_analysis_settings(
            provider="openai",
            openai_api_key="sk-test",
            openai_base_url=f"{fake.url}/v1",
            llm_backoff_base_s=0,
        )
    )
    service = AnalysisService(engine)
    service.runtime, service.engine = analysis_platform, engine
    server = await start_server(
        "127.0.0.1",
        0,
        [lambda s: analysis_pb2_grpc.add_AnalysisServiceServicer_to_server(AnalysisServicer(service), s)],
        ["earshot.analysis.v1.AnalysisService"],
    )
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            keyed = Stub(channel)
            meeting = await keyed.AnalyzeMeeting(
                pb.MeetingRequest(input=source(meeting_transcript()), meeting_date="2026-11-16"), timeout=30
            )
            assert meeting.analyzer == "openai" and meeting.action_items and meeting.summary
            skills = await keyed.ExtractResumeSkills(
                pb.ResumeSkillsRequest(resume=pb.Resume(text="4 years of Rust, Terraform and Python"))
            )
            # Rust and Terraform are not in the local lexicon: the provider found them
            assert skills.analyzer == "openai" and list(skills.skills) == ["Rust", "Terraform", "Python"]
            assert skills.years_experience == 4
            pace = await keyed.AnalyzePace(pb.PaceRequest(input=source(answer_with_timings())))
            assert pace.analyzer == "local"  # measured from word timings, never by a provider
            assert len(fake.requests) >= 2
    finally:
        await server.stop(0)
        await engine.aclose()
        await fake.stop()
