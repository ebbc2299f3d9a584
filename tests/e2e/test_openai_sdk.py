"""The official ``openai`` Python SDK as the client of Earshot's OpenAI-compatible API
(``base_url`` at the embedded gateway), for every response format, plus its error path."""

from __future__ import annotations

import re

import openai
import pytest

from tests.conftest import JFK, JFK_REFERENCE, Embedded
from tests.embedded.test_transcription_quality import wer


@pytest.fixture
def sdk(embedded: Embedded) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key="sk-local", base_url=f"{embedded.url}/v1", max_retries=0, timeout=120)


async def test_json(sdk: openai.AsyncOpenAI) -> None:
    result = await sdk.audio.transcriptions.create(model="whisper-1", file=JFK)
    assert isinstance(result, openai.types.audio.Transcription)
    assert wer(JFK_REFERENCE, result.text) == 0.0


async def test_text(sdk: openai.AsyncOpenAI) -> None:
    result = await sdk.audio.transcriptions.create(model="whisper-1", file=JFK, response_format="text")
    assert isinstance(result, str)
    assert wer(JFK_REFERENCE, result) == 0.0


async def test_verbose_json_with_words_and_segments(sdk: openai.AsyncOpenAI) -> None:
    result = await sdk.audio.transcriptions.create(
        model="whisper-1",
        file=JFK,
        response_format="verbose_json",
        timestamp_granularities=["word", "segment"],
        language="en",
    )
    assert isinstance(result, openai.types.audio.TranscriptionVerbose)
    assert result.language == "english"
    assert result.duration == pytest.approx(11.0, abs=0.1)
    assert result.words and result.segments
    assert wer(JFK_REFERENCE, " ".join(w.word for w in result.words)) == 0.0
    assert all(0 <= w.start <= w.end <= 11.1 for w in result.words)
    assert result.segments[0].start <= result.words[0].start


async def test_srt(sdk: openai.AsyncOpenAI) -> None:
    result = await sdk.audio.transcriptions.create(model="whisper-1", file=JFK, response_format="srt")
    assert isinstance(result, str)
    assert re.match(r"1\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\n", result), result
    text = " ".join(line for line in result.splitlines() if line and "-->" not in line and not line.isdigit())
    assert wer(JFK_REFERENCE, text) == 0.0


async def test_vtt(sdk: openai.AsyncOpenAI) -> None:
    result = await sdk.audio.transcriptions.create(model="whisper-1", file=JFK, response_format="vtt")
    assert isinstance(result, str)
    assert result.startswith("WEBVTT\n")
    assert re.search(r"\d\d:\d\d:\d\d\.\d{3} --> \d\d:\d\d:\d\d\.\d{3}", result)


async def test_models(sdk: openai.AsyncOpenAI) -> None:
    ids = [m.id async for m in sdk.models.list()]
    assert "whisper-1" in ids
    assert (await sdk.models.retrieve("whisper-1")).id == "whisper-1"


async def test_errors_raise_the_sdk_exceptions(sdk: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as bad:
        await sdk.audio.transcriptions.create(
            model="whisper-1", file=JFK, response_format="json", timestamp_granularities=["word"]
        )
    assert "verbose_json" in bad.value.message
    assert bad.value.code == "invalid_value"
    with pytest.raises(openai.BadRequestError) as lang:
        await sdk.audio.transcriptions.create(model="whisper-1", file=JFK, language="zz")
    assert lang.value.param == "language"
    with pytest.raises(openai.NotFoundError):
        await sdk.audio.transcriptions.create(model="no-such-model", file=JFK)
