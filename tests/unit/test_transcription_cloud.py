"""Cloud engines through their official SDKs against local fakes of the real wire formats:
OpenAI (``openai`` SDK, multipart ``/v1/audio/transcriptions``) and Gemini (``google-genai``,
``:generateContent`` with inline audio and a response schema)."""

from __future__ import annotations

import asyncio

import pytest

from services.transcription.cloud import GeminiEngine, OpenAIEngine
from services.transcription.engine import EngineError, TranscribeOptions
from tests.conftest import FIXTURES, JFK, JFK_REFERENCE
from tests.fakes import Fault
from tests.fakes.gemini_audio import GeminiAudioFake, decode_bytes
from tests.fakes.openai_audio import OpenAIAudioFake


@pytest.fixture(scope="module")
async def openai_fake():  # type: ignore[no-untyped-def]
    async with OpenAIAudioFake(script=JFK_REFERENCE) as fake:
        yield fake


@pytest.fixture(scope="module")
async def gemini_fake():  # type: ignore[no-untyped-def]
    turns = [("Speaker 1", "Good morning everyone."), ("Speaker 2", "Thanks Alice."), ("Speaker 1", "Great.")]
    async with GeminiAudioFake(turns=turns) as fake:
        yield fake


async def test_openai_whisper1_verbose_words_and_segments(openai_fake: OpenAIAudioFake) -> None:
    openai_fake.reset()
    engine = OpenAIEngine("sk-test", f"{openai_fake.url}/v1", "whisper-1")
    result = await asyncio.to_thread(
        engine.transcribe_file, JFK, TranscribeOptions(language="en", prompt="JFK")
    )
    sent = openai_fake.requests[-1].body
    assert sent["model"] == "whisper-1" and sent["response_format"] == "verbose_json"
    assert sent["timestamp_granularities[]"] == ["segment", "word"]
    assert sent["language"] == "en" and sent["prompt"] == "JFK" and sent["file_bytes"] == JFK.stat().st_size
    assert result.language == "en" and result.duration == pytest.approx(11.0, abs=0.05)
    assert result.text == JFK_REFERENCE
    assert len(result.segments) == 1 and len(result.words) == len(JFK_REFERENCE.split())
    assert all(0 <= w.start < w.end <= 11.01 for w in result.words)


async def test_openai_gpt4o_gets_json_text(openai_fake: OpenAIAudioFake) -> None:
    openai_fake.reset()
    engine = OpenAIEngine("sk-test", f"{openai_fake.url}/v1", "whisper-1")
    result = await asyncio.to_thread(
        engine.transcribe_file, JFK, TranscribeOptions(model="gpt-4o-transcribe", word_timestamps=False)
    )
    assert openai_fake.requests[-1].body["response_format"] == "json"
    assert result.text == JFK_REFERENCE and result.segments[0].end == pytest.approx(11.0, abs=0.05)


async def test_openai_errors_become_engine_errors(openai_fake: OpenAIAudioFake) -> None:
    openai_fake.reset()
    openai_fake.faults.append(Fault(status=400))
    engine = OpenAIEngine("sk-test", f"{openai_fake.url}/v1", "whisper-1")
    with pytest.raises(EngineError) as bad:
        await asyncio.to_thread(engine.transcribe_file, JFK, TranscribeOptions())
    assert bad.value.client_error and "400" in bad.value.details
    openai_fake.faults.extend([Fault(status=500)] * 3)
    with pytest.raises(EngineError) as down:
        await asyncio.to_thread(engine.transcribe_file, JFK, TranscribeOptions())
    assert not down.value.client_error


async def test_gemini_labels_and_schema(gemini_fake: GeminiAudioFake) -> None:
    gemini_fake.reset()
    engine = GeminiEngine("g-test", gemini_fake.url, "gemini-2.5-flash")
    path = FIXTURES / "weekly_sync.wav"
    result = await asyncio.to_thread(
        engine.transcribe_file, path, TranscribeOptions(diarize=True, max_speakers=3)
    )
    body = gemini_fake.requests[-1].body
    parts = body["contents"][0]["parts"]
    inline = next(p["inlineData"] for p in parts if "inlineData" in p)
    assert inline["mimeType"] == "audio/wav" and decode_bytes(inline["data"]) == path.read_bytes()
    prompt = " ".join(p.get("text", "") for p in parts)
    assert "speaker" in prompt.lower() and "between 1 and 3 speakers" in prompt
    assert body["generationConfig"]["responseMimeType"] == "application/json"
    assert [s.speaker for s in result.segments] == ["Speaker 1", "Speaker 2", "Speaker 1"]
    assert result.text == "Good morning everyone. Thanks Alice. Great."
    assert result.duration == pytest.approx(51.29, abs=0.05)
    assert result.segments[-1].end <= result.duration


async def test_gemini_without_diarize_has_no_speakers(gemini_fake: GeminiAudioFake) -> None:
    engine = GeminiEngine("g-test", gemini_fake.url, "gemini-2.5-flash")
    result = await asyncio.to_thread(engine.transcribe_file, JFK, TranscribeOptions())
    assert result.segments and all(s.speaker is None for s in result.segments)


async def test_gemini_bad_answers_and_errors(gemini_fake: GeminiAudioFake) -> None:
    engine = GeminiEngine("g-test", gemini_fake.url, "gemini-2.5-flash")
    gemini_fake.faults.append(Fault(malformed=True))
    with pytest.raises(EngineError) as bad:
        await asyncio.to_thread(engine.transcribe_file, JFK, TranscribeOptions())
    assert bad.value.code == "bad_response"
    gemini_fake.faults.append(Fault(status=400))
    with pytest.raises(EngineError) as refused:
        await asyncio.to_thread(engine.transcribe_file, JFK, TranscribeOptions())
    assert refused.value.client_error
