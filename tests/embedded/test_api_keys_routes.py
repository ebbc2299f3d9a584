"""``EARSHOT_API_KEYS`` on the embedded platform: the stateless routes refuse a request with
no key or a wrong one (401, nothing read), and accept an API key (``Authorization: Bearer``
or ``X-API-Key``) or an access token; unset, they are open. The OpenAI SDK's side is in
``tests/e2e/test_openai_sdk.py``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from services.common.api_keys import parse_api_keys
from tests.conftest import JFK, Embedded
from tests.embedded.test_anc_api import wav_f32

KEY = "ek_routes_" + uuid.uuid4().hex


@pytest.fixture
def locked(embedded: Embedded) -> Iterator[None]:
    settings = embedded.runtime.settings
    before = settings.api_key_hashes
    settings.api_key_hashes = parse_api_keys(f"ek_unrelated_{uuid.uuid4().hex},{KEY}")
    try:
        yield
    finally:
        settings.api_key_hashes = before


def siren() -> bytes:
    t = np.arange(48000) / 48000
    return wav_f32(
        0.3 * np.sin(2 * np.pi * np.cumsum(950 + 350 * np.sin(2 * np.pi * 0.4 * t)) / 48000), 48000
    )


async def access_token(client: httpx.AsyncClient) -> str:
    account = await client.post(
        "/api/users",
        json={"email": f"keys-{uuid.uuid4().hex[:8]}@example.com", "password": "sturdy-password-42"},
    )
    assert account.status_code == 201, account.text
    return str(account.json()["access_token"])


async def _classify(client: httpx.AsyncClient, headers: dict[str, str] | None = None) -> httpx.Response:
    return await client.post(
        "/api/ml/classify", files={"audio": ("siren.wav", siren(), "audio/wav")}, headers=headers
    )


@pytest.mark.usefixtures("locked")
async def test_locked_routes_refuse_without_a_valid_key(client: httpx.AsyncClient) -> None:
    wrong = [None, {"Authorization": "Bearer sk-local"}, {"X-API-Key": KEY[:-1]}, {"Authorization": KEY}]
    for headers in wrong:
        answers = [
            await _classify(client, headers),
            await client.post(
                "/analyze-audio", files={"audio": ("jfk.flac", JFK.read_bytes())}, headers=headers
            ),
            await client.get("/v1/models", headers=headers),
        ]
        for answer in answers:
            assert answer.status_code == 401, (headers, answer.request.url, answer.text)
            assert answer.headers["www-authenticate"].startswith('Bearer realm="earshot"')


@pytest.mark.usefixtures("locked")
async def test_locked_routes_accept_a_key_or_an_access_token(client: httpx.AsyncClient) -> None:
    token = await access_token(client)
    for headers in (
        {"Authorization": f"Bearer {KEY}"},
        {"X-API-Key": KEY},
        {"Authorization": f"Bearer {token}"},
    ):
        classified = await _classify(client, headers)
        assert classified.status_code == 200, classified.text
        assert classified.json()["noise_type"] == "siren"
        # Past the gate: the missing upload is the route's own 400, not a 401.
        empty = await client.post("/analyze-audio", headers=headers)
        assert empty.status_code in (400, 422), empty.text
        models = await client.get("/v1/models", headers=headers)
        assert models.status_code == 200 and models.json()["data"]


async def test_a_revoked_token_is_refused_when_locked(client: httpx.AsyncClient, locked: None) -> None:
    token = await access_token(client)
    bye = await client.post("/api/auth/logout", headers={"Authorization": f"Bearer {token}"})
    assert bye.status_code == 200, bye.text
    answer = await _classify(client, {"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401
    assert 'error="invalid_token"' in answer.headers["www-authenticate"]


async def test_open_without_keys(client: httpx.AsyncClient, embedded: Embedded) -> None:
    assert embedded.runtime.settings.api_key_hashes == ()
    for headers in (None, {"Authorization": "Bearer sk-anything"}):
        assert (await _classify(client, headers)).status_code == 200
        assert (await client.get("/v1/models", headers=headers)).status_code == 200
