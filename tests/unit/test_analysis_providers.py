"""Structured generation through the official SDKs against local fakes of each provider's API:
answers, retries (429 with Retry-After, 5xx), timeouts, validation retry, context-window
chunking, and the provider-backed temperature, meeting and interview analyzers."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date

import pytest
from pydantic import BaseModel, Field

from services.analysis.config import load_analysis_settings
from services.analysis.interview import InterviewRequest, LLMInterviewAnalyzer, Resume
from services.analysis.meeting import LLMMeetingAnalyzer, MeetingRequest
from services.analysis.providers import (
    AnthropicProvider,
    GeminiProvider,
    OpenAIProvider,
    ProviderError,
    RetryPolicy,
    StructuredProvider,
    create_provider,
    parse_retry_after,
    strict_json_schema,
)
from services.analysis.temperature import LLMTemperatureAnalyzer, LocalTemperatureAnalyzer
from services.common.settings import ConfigurationError
from services.common.transcript import Segment, Transcript, Word
from tests.fakes import FakeServer, Fault
from tests.fakes.anthropic_messages import AnthropicMessagesFake
from tests.fakes.gemini_generate import GeminiGenerateFake
from tests.fakes.openai_chat import OpenAIChatFake
from tests.unit.test_analysis_meeting import stm_transcript
from tests.unit.test_temperature import CALM_TURNS, HEATED_TURNS, build_transcript

PROVIDERS = ("openai", "anthropic", "gemini")


class Score(BaseModel):
    temperature: int = Field(ge=1, le=100)
    confidence: float
    analysis_summary: str
    drivers: list[str]


@dataclass
class Rig:
    fake: FakeServer
    provider: StructuredProvider
    delays: list[float]


@pytest.fixture(scope="session")
async def fakes() -> AsyncIterator[dict[str, FakeServer]]:
    servers: dict[str, FakeServer] = {
        "openai": await OpenAIChatFake().start(),
        "anthropic": await AnthropicMessagesFake().start(),
        "gemini": await GeminiGenerateFake().start(),
    }
    yield servers
    for server in servers.values():
        await server.stop()


def make_provider(name: str, fake: FakeServer, delays: list[float], **kw: object) -> StructuredProvider:
    async def record(seconds: float) -> None:
        delays.append(seconds)

    common: dict = {
        "model": {
            "openai": "gpt-4o-mini",
            "anthropic": "claude-haiku-4-5",
            "gemini": "gemini-2.0-flash",
        }[name],
        "context_tokens": 100_000,
        "timeout_s": 2.0,
        "retry": RetryPolicy(max_attempts=3, base_s=2.0, max_s=60.0, sleep=record),
    }
    common.update(kw)
    if name == "openai":
        return OpenAIProvider(api_key="sk-test", base_url=f"{fake.url}/v1", **common)
    if name == "anthropic":
        return AnthropicProvider(api_key="sk-ant-test", base_url=fake.url, **common)
    return GeminiProvider(api_key="gm-test", base_url=fake.url, **common)


@pytest.fixture(params=PROVIDERS)
async def rig(request: pytest.FixtureRequest, fakes: dict[str, FakeServer]) -> AsyncIterator[Rig]:
    fake = fakes[request.param]
    fake.reset()
    delays: list[float] = []
    provider = make_provider(request.param, fake, delays)
    yield Rig(fake, provider, delays)
    await provider.aclose()
    fake.reset()


async def test_calm_and_heated_are_ordered_by_every_provider(rig: Rig) -> None:
    analyzer = LLMTemperatureAnalyzer(rig.provider)
    calm = await analyzer.analyze(build_transcript(CALM_TURNS))
    heated = await analyzer.analyze(build_transcript(HEATED_TURNS))
    assert calm.temperature < 40 < 60 < heated.temperature, (calm, heated)
    assert calm.analyzer == heated.analyzer == rig.provider.name
    assert len(rig.fake.requests) == 2
    # the transcript reached the model as speaker lines
    assert "You never listen to me!" in str(rig.fake.requests[-1].body)


async def test_wire_format_asks_for_the_schema(rig: Rig) -> None:
    result = await rig.provider.generate("Score it.", "Alex: shut up, liar!", Score)
    body = rig.fake.requests[-1].body
    if rig.provider.name == "openai":
        fmt = body["response_format"]
        assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
        assert fmt["json_schema"]["schema"]["additionalProperties"] is False
        assert body["messages"][0] == {"role": "system", "content": "Score it."}
    elif rig.provider.name == "anthropic":
        assert body["tool_choice"] == {"type": "tool", "name": "Score"}
        assert body["tools"][0]["input_schema"]["required"] == list(Score.model_fields)
        assert body["system"] == "Score it."
    else:
        config = body["generationConfig"]
        assert config["responseMimeType"] == "application/json"
        assert set(config["responseJsonSchema"]["properties"]) == set(Score.model_fields)
        assert body["systemInstruction"]["parts"][0]["text"] == "Score it."
    assert result.value.temperature > 50
    assert result.usage.input_tokens > 0 and result.usage.output_tokens > 0
    assert result.usage.attempts == 1 and result.usage.provider == rig.provider.name


async def test_429_honours_retry_after_then_succeeds(rig: Rig) -> None:
    rig.fake.faults.append(Fault(status=429, retry_after="7"))
    result = await rig.provider.generate("Score it.", "a calm chat", Score)
    assert rig.delays == [7.0]  # the server's wait, not the 2 s base
    assert result.usage.attempts == 2
    assert len(rig.fake.requests) == 2


async def test_5xx_backs_off_exponentially_and_gives_up_after_3_attempts(rig: Rig) -> None:
    rig.fake.faults += [Fault(status=500), Fault(status=503), Fault(status=500)]
    with pytest.raises(ProviderError) as info:
        await rig.provider.generate("Score it.", "a calm chat", Score)
    assert info.value.code == "provider_unavailable" and info.value.status in (500, 503)
    assert len(rig.fake.requests) == 3
    # min(base * 2^attempt + jitter, max) with base 2 s, jitter in [0, 2)
    assert len(rig.delays) == 2
    assert 2.0 <= rig.delays[0] < 4.0 and 4.0 <= rig.delays[1] < 6.0


async def test_timeout_is_retried(rig: Rig) -> None:
    rig.provider.timeout_s = 0.3
    rig.fake.faults.append(Fault(delay_s=1.0))
    started = time.perf_counter()
    result = await rig.provider.generate("Score it.", "a calm chat", Score)
    assert result.usage.attempts == 2
    assert time.perf_counter() - started < 1.0  # the slow answer was not waited for
    assert len(rig.delays) == 1


async def test_invalid_answer_is_retried_once_with_the_validation_error(rig: Rig) -> None:
    rig.fake.faults.append(Fault(malformed=True))
    result = await rig.provider.generate("Score it.", "You liar! Shut up!", Score)
    assert result.value.temperature > 50 and result.usage.attempts == 2
    retry = str(rig.fake.requests[-1].body)
    assert "did not match the required JSON schema" in retry and "temperature" in retry
    assert rig.delays == []  # no backoff for a bad answer


async def test_two_invalid_answers_fail_clearly(rig: Rig) -> None:
    rig.fake.faults += [Fault(malformed=True), Fault(not_json=True)]
    with pytest.raises(ProviderError) as info:
        await rig.provider.generate("Score it.", "hello", Score)
    assert info.value.code == "invalid_answer"
    assert "Score" in info.value.details
    assert len(rig.fake.requests) == 2


async def test_over_the_context_window_is_chunked_not_failed(rig: Rig, fakes: dict[str, FakeServer]) -> None:
    fake = rig.fake
    fake.context_tokens = 700
    try:
        provider = make_provider(rig.provider.name, fake, [], context_tokens=700, max_output_tokens=128)
        turns = (HEATED_TURNS + CALM_TURNS) * 6  # ~1,000 words, ~1,500 tokens
        transcript = build_transcript(turns)
        # the fake really refuses the whole transcript in one call
        with pytest.raises(ProviderError) as info:
            await provider.generate("Score it.", transcript.text, Score)
        assert info.value.code == "context_length_exceeded"
        fake.requests.clear()
        result = await LLMTemperatureAnalyzer(provider).analyze(transcript)
        assert result.features["chunks"] >= 3
        assert len(fake.requests) == result.features["chunks"]
        assert result.temperature > 50
        calm = await LLMTemperatureAnalyzer(provider).analyze(build_transcript(CALM_TURNS * 12))
        assert calm.features["chunks"] >= 2 and calm.temperature < 40
        base = stm_transcript()
        long_meeting = Transcript(
            duration=base.duration * 4,
            text=base.text * 4,
            segments=[s for _ in range(4) for s in base.segments],
        )
        fake.requests.clear()
        meeting = await LLMMeetingAnalyzer(provider).analyze(long_meeting, MeetingRequest())
        assert meeting.chunks >= 2
        # map calls + one reduce call + the template suggestion
        assert len(fake.requests) == meeting.chunks + 2
        assert len([i for i in meeting.action_items if i.assigned_to == "Carol"]) >= 1
        await provider.aclose()
    finally:
        fake.context_tokens = 1_000_000


async def test_meeting_and_interview_through_providers(rig: Rig) -> None:
    meeting = await LLMMeetingAnalyzer(rig.provider).analyze(
        stm_transcript(), MeetingRequest(meeting_date=date(2026, 11, 16))
    )
    owners = {(i.assigned_to, i.task.split()[0].lower()) for i in meeting.action_items}
    assert ("Carol", "draft") in owners and ("Bob", "send") in owners
    assert meeting.analyzer == rig.provider.name and meeting.language == "en"
    assert meeting.template_suggestion is not None
    assert meeting.template_suggestion.suggested_template_name == "Team Meeting"
    interview = LLMInterviewAnalyzer(rig.provider)
    questions = await interview.questions(
        Resume(text="5 years of Python, PyTorch and Docker"), "ml_engineering", count=3
    )
    assert [q.topic for q in questions.questions] == ["Python", "PyTorch", "Docker"]
    words = [
        Word(word=w, start=i * 0.4, end=i * 0.4 + 0.3)
        for i, w in enumerate("um I use validation and dropout um".split())
    ]
    answer = Transcript(
        duration=3.0,
        text=" ".join(w.word for w in words),
        segments=[Segment(id=0, start=0, end=3, text=" ".join(w.word for w in words), words=words)],
    )
    complete = await interview.complete(
        answer,
        InterviewRequest(
            question="How do you detect and prevent overfitting?",
            expected_concepts=["validation", "dropout", "more data"],
        ),
    )
    assert complete.errors == {}
    assert complete.results["domain"]["covered_concepts"] == ["validation", "dropout"]
    assert complete.results["communication"]["filler_words"] == 2
    assert complete.results["pace"]["words"] == 7


async def test_provider_failure_in_complete_analysis_is_partial(rig: Rig) -> None:
    rig.fake.faults += [Fault(status=400)]
    interview = LLMInterviewAnalyzer(rig.provider)
    words = [
        Word(word=w, start=i * 0.4, end=i * 0.4 + 0.3)
        for i, w in enumerate("we validate on holdout data".split())
    ]
    answer = Transcript(
        duration=2.0,
        text="we validate on holdout data",
        segments=[Segment(id=0, start=0, end=2, text="we validate on holdout data", words=words)],
    )
    complete = await interview.complete(answer, InterviewRequest(analysis_types=["domain", "pace", "pause"]))
    assert set(complete.results) == {"pace", "pause"}
    assert complete.errors["domain"].error == "bad_request"


async def test_empty_transcript_needs_no_call(rig: Rig) -> None:
    empty = Transcript(duration=3.0, text="", segments=[])
    result = await LLMTemperatureAnalyzer(rig.provider).analyze(empty)
    assert result.analyzer == "local"  # nothing to ask: loudness-only local result
    assert result == await LocalTemperatureAnalyzer().analyze(empty)
    meeting = await LLMMeetingAnalyzer(rig.provider).analyze(empty)
    assert meeting.summary == "" and meeting.action_items == [] and meeting.language == "und"
    assert rig.fake.requests == []


def test_backoff_formula_and_cap() -> None:
    policy = RetryPolicy(base_s=2.0, max_s=60.0)
    for attempt in range(8):
        d = policy.delay(attempt)
        assert min(2.0 * 2**attempt, 60.0) <= d <= min(2.0 * 2**attempt + 2.0, 60.0)
    assert policy.delay(0, retry_after=90) == 60.0
    assert policy.delay(3, retry_after=1.5) == 1.5


def test_retry_after_parsing() -> None:
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "3"}) == 0.25
    http_date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 <= (parse_retry_after({"retry-after": http_date}) or 0) <= 31
    assert parse_retry_after({}) is None


def test_strict_schema_closes_every_object() -> None:
    from services.analysis.meeting import MeetingAnswer

    schema = strict_json_schema(MeetingAnswer)
    item = schema["$defs"]["_LLMActionItem"]
    assert item["additionalProperties"] is False and set(item["required"]) == {
        "task",
        "assigned_to",
        "due_date",
    }
    assert "default" not in str(schema)


def test_provider_needs_its_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (
        "OPENAI_API_KEY",
        "EARSHOT_OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
    ):
        monkeypatch.delenv(var, raising=False)
    settings = load_analysis_settings()
    assert create_provider("local", settings) is None
    for name in PROVIDERS:
        with pytest.raises(ConfigurationError, match="API_KEY"):
            create_provider(name, settings)
    with pytest.raises(ConfigurationError, match="unknown"):
        create_provider("mystery", settings)
    provider = create_provider("anthropic", load_analysis_settings(anthropic_api_key="k", llm_max_attempts=5))
    assert provider is not None and provider.retry.max_attempts == 5 and provider.retry.base_s == 2.0


async def test_engine_wires_providers_from_settings(fakes: dict[str, FakeServer]) -> None:
    from services.analysis.engine import AnalysisEngine
    from services.analysis.service import create_temperature_analyzer

    settings = load_analysis_settings(
        provider="gemini",
        gemini_api_key="gm-test",
        gemini_base_url=fakes["gemini"].url,
        openai_api_key="sk-test",
        openai_base_url=f"{fakes['openai'].url}/v1",
        llm_backoff_base_s=0.0,
    )
    engine = AnalysisEngine(settings, temperature_provider="openai")
    try:
        fakes["openai"].reset()
        fakes["gemini"].reset()
        analyzer, result = await engine.analyze("temperature", build_transcript(HEATED_TURNS))
        assert analyzer == "openai" and result["temperature"] > 60 and result["language"] == "en"
        analyzer, result = await engine.analyze("meeting", stm_transcript(), {"meeting_date": "2026-11-16"})
        assert analyzer == "gemini" and result["action_items"]
        analyzer, result = await engine.analyze(
            "interview_questions", None, {"resume": {"text": "Python and SQL"}, "track": "data_science"}
        )
        assert analyzer == "gemini" and [q["topic"] for q in result["questions"]] == ["Python", "SQL"]
        assert len(fakes["openai"].requests) == 1 and len(fakes["gemini"].requests) == 3
        with pytest.raises(ValueError, match="unknown analysis kind"):
            await engine.analyze("horoscope", stm_transcript())
    finally:
        await engine.aclose()
    with pytest.raises(ConfigurationError, match="ANTHROPIC_API_KEY"):
        AnalysisEngine(load_analysis_settings(anthropic_api_key=None), temperature_provider="anthropic")
    assert create_temperature_analyzer("local").name == "local"
    with pytest.raises(ValueError, match="unknown temperature analyzer"):
        create_temperature_analyzer("crystal-ball")


def test_temperature_analyzer_setting_accepts_provider_names() -> None:
    from services.common.settings import load_settings

    for name in ("local", *PROVIDERS):
        assert load_settings(temperature_analyzer=name).temperature_analyzer == name
    with pytest.raises(ConfigurationError, match="EARSHOT_TEMPERATURE_ANALYZER"):
        load_settings(temperature_analyzer="crystal-ball")
