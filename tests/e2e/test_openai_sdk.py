"""The official ``openai`` Python SDK as the client of Earshot's OpenAI-compatible API
(``base_url`` at the embedded gateway), for every response format, plus its error path.

The gateway is locked with an API key for these tests (``EARSHOT_API_KEYS``), which the SDK
sends as ``Authorization: Bearer <api_key>``; an access token works as the key too."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import httpx
import openai
import pytest

from services.common.api_keys import parse_api_keys
from tests.conftest import JFK, JFK_REFERENCE, Embedded
from tests.embedded.test_transcription_quality import wer

API_KEY = "ek_sdk_test_" + uuid.uuid4().hex


@pytest.fixture(autouse=True)
def locked(embedded: Embedded) -> Iterator[None]:
    """The stateless routes require a key while this module's tests run."""
    settings = embedded.runtime.settings
    before = settings.api_key_hashes
    settings.api_key_hashes = parse_api_keys(API_KEY)
    try:
        yield
    finally:
        settings.api_key_hashes = before


def client_with(embedded: Embedded, api_key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key=api_key, base_url=f"{embedded.url}/v1", max_retries=0, timeout=120)


@pytest.fixture
def sdk(embedded: Embedded) -> openai.AsyncOpenAI:
    return client_with(embedded, API_KEY)


async def test_a_wrong_key_is_refused(embedded: Embedded) -> None:
    for key in ("sk-local", API_KEY + "x"):
        with pytest.raises(openai.AuthenticationError) as refused:
            await client_with(embedded, key).models.list()
        assert refused.value.status_code == 401
    async with httpx.AsyncClient(base_url=embedded.url) as plain:
        for path in ("/v1/models", "/v1/models/whisper-1"):
            answer = await plain.get(path)
            assert answer.status_code == 401 and answer.headers["www-authenticate"].startswith("Bearer")
        with JFK.open("rb") as f:
            upload = await plain.post(
                "/v1/audio/transcriptions", files={"file": f}, data={"model": "whisper-1"}
            )
        assert upload.status_code == 401


async def test_an_access_token_works_as_the_key(embedded: Embedded) -> None:
    async with httpx.AsyncClient(base_url=embedded.url) as plain:
        account = await plain.post(
            "/api/users",
            json={"email": f"sdk-{uuid.uuid4().hex[:8]}@example.com", "password": "sturdy-password-42"},
        )
        assert account.status_code == 201, account.text
    ids = [m.id async for m in client_with(embedded, account.json()["access_token"]).models.list()]
    assert "whisper-1" in ids


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
