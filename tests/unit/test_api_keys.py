"""``EARSHOT_API_KEYS``: parsing into SHA-256 digests, constant-time matching, settings errors
that never echo a key, and the ``ApiKeyOrUser`` dependency on a bare route."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.common.api_keys import hash_key, matching_key, parse_api_keys
from services.common.settings import ConfigurationError, load_settings
from services.gateway.deps import ApiKeyOrUser
from services.gateway.shared.errors import install_error_handlers, unauthorized
from services.gateway.shared.tokens import AuthenticatedUser

KEY = "ek_test_0123456789abcdef"
OTHER = "ek_other_fedcba9876543210"


def test_keys_become_sha256_digests() -> None:
    digests = parse_api_keys(f" {KEY} ,, {OTHER}, {KEY}")
    assert digests == (hashlib.sha256(KEY.encode()).hexdigest(), hashlib.sha256(OTHER.encode()).hexdigest())
    assert KEY not in "".join(digests)
    pre = "sha256:" + hash_key(KEY).upper()
    assert parse_api_keys(pre) == (hash_key(KEY),)
    assert parse_api_keys("") == () and parse_api_keys(None) == ()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("too-short", "at least 16"),
        ("a key with spaces inside", "white space"),
        ("sha256:abc", "64 hex digits"),
    ],
)
def test_bad_keys_are_refused(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_api_keys(value)


def test_matching_compares_digests() -> None:
    digests = parse_api_keys(f"{KEY},{OTHER}")
    assert matching_key(OTHER, digests) == hash_key(OTHER)
    assert matching_key(KEY, digests) == hash_key(KEY)
    assert matching_key(KEY[:-1], digests) is None
    assert matching_key("", digests) is None
    assert matching_key(KEY, ()) is None


def test_settings_keep_only_digests_and_errors_never_show_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EARSHOT_API_KEYS", KEY)
    settings = load_settings()
    assert settings.api_key_hashes == (hash_key(KEY),)
    assert KEY not in repr(settings)
    monkeypatch.setenv("EARSHOT_API_KEYS", "short-secret")
    with pytest.raises(ConfigurationError) as err:
        load_settings()
    assert "EARSHOT_API_KEYS" in str(err.value)
    assert "short-secret" not in str(err.value)


class FakeGate:
    """Accepts one token; refuses anything else like the real gate (401 invalid_token)."""

    token = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJl"

    async def verify(self, token: str) -> AuthenticatedUser:
        if token != self.token:
            raise unauthorized("the access token's signature is invalid")
        return AuthenticatedUser(
            id="user-1",
            email="a@example.com",
            name="A",
            session_id="s",
            token_id="t",
            expires_at=0,
            claims={},
        )


def _app(keys: str) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.state.ctx = SimpleNamespace(runtime=SimpleNamespace(settings=load_settings(api_key_hashes=keys)))
    app.state.tokens = FakeGate()

    @app.get("/stateless")
    async def stateless(caller: ApiKeyOrUser) -> dict[str, Any]:
        return {"kind": caller.kind, "user": caller.user.id if caller.user else None, "key": caller.key_id}

    return app


async def _get(app: FastAPI, headers: dict[str, str] | None = None) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        return await c.get("/stateless", headers=headers)


async def test_open_without_keys_whatever_the_headers() -> None:
    app = _app("")
    for headers in (None, {"Authorization": "Bearer sk-anything"}, {"X-API-Key": "nope"}):
        answer = await _get(app, headers)
        assert answer.status_code == 200
        assert answer.json()["kind"] == "open"


async def test_locked_refuses_missing_and_wrong_credentials() -> None:
    app = _app(KEY)
    for headers in (
        None,
        {"Authorization": f"Bearer {OTHER}"},
        {"Authorization": f"Basic {KEY}"},
        {"X-API-Key": OTHER},
        {"Authorization": f"Bearer {FakeGate.token}x"},
    ):
        answer = await _get(app, headers)
        assert answer.status_code == 401, headers
        assert answer.headers["www-authenticate"].startswith('Bearer realm="earshot"')
        assert set(answer.json()) == {"error", "details", "timestamp"}


async def test_locked_accepts_a_key_or_an_access_token() -> None:
    app = _app(f"{OTHER},{KEY}")
    by_bearer = await _get(app, {"Authorization": f"Bearer {KEY}"})
    assert by_bearer.status_code == 200
    assert by_bearer.json() == {"kind": "api_key", "user": None, "key": hash_key(KEY)[:8]}
    by_header = await _get(app, {"X-API-Key": OTHER})
    assert by_header.json() == {"kind": "api_key", "user": None, "key": hash_key(OTHER)[:8]}
    by_token = await _get(app, {"Authorization": f"Bearer {FakeGate.token}"})
    assert by_token.status_code == 200
    assert by_token.json() == {"kind": "user", "user": "user-1", "key": None}


def test_openapi_declares_both_schemes() -> None:
    schema = _app(KEY).openapi()
    schemes = schema["components"]["securitySchemes"]
    assert {"HTTPBearer", "APIKeyHeader"} <= set(schemes)
    assert schemes["APIKeyHeader"]["name"] == "X-API-Key"
