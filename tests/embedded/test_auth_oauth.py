"""OAuth 2.0 / OpenID Connect sign-in (seed 003) against local OpenID providers on loopback."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.conftest import Embedded
from tests.embedded.test_auth_api import PASSWORD, assert_error, bearer, register
from tests.fakes.oidc_provider import FakeOidcProvider

TENANT = "0b1e2c3d-contoso"


@pytest.fixture(scope="module")
async def providers(embedded: Embedded) -> AsyncIterator[dict[str, FakeOidcProvider]]:
    """A Google- and a Microsoft-shaped provider; the running auth service is pointed at them."""
    callbacks = {
        p: [f"{embedded.url}/api/v1/{s}/auth/{p}/callback" for s in ("mobile", "web")]
        for p in ("google", "microsoft")
    }
    google = await FakeOidcProvider("g-client", "g-secret", callbacks["google"]).start()
    microsoft = await FakeOidcProvider("m-client", "m-secret", callbacks["microsoft"], tenant=TENANT).start()
    core = embedded.platform.services["auth"].core
    original = core.config
    core.reconfigure(
        original.model_copy(
            update={
                "google_client_id": "g-client",
                "google_client_secret": "g-secret",
                "google_issuer": google.issuer,
                "microsoft_client_id": "m-client",
                "microsoft_client_secret": "m-secret",
                "microsoft_tenant_id": TENANT,
                "microsoft_authority": microsoft.authority,
                "public_url": embedded.url,
            }
        )
    )
    try:
        yield {"google": google, "microsoft": microsoft}
    finally:
        core.reconfigure(original)
        await google.stop()
        await microsoft.stop()


@pytest.fixture(autouse=True)
def fresh_user(providers: dict[str, FakeOidcProvider]) -> None:
    for fake in providers.values():
        fake.user = {
            "sub": uuid.uuid4().hex,
            "email": f"oidc-{uuid.uuid4().hex[:8]}@example.com",
            "email_verified": True,
            "name": "Ada Lovelace",
        }
        fake.nonce_override = None
        fake.code_ttl_s = 60


async def authorize(client: httpx.AsyncClient, provider: str, surface: str = "mobile") -> dict[str, str]:
    """Start the sign-in at the gateway and let the provider redirect back: the callback's query."""
    start = await client.get(f"/api/v1/{surface}/auth/{provider}/login")
    assert start.status_code == 200, start.text
    auth_url = start.json()["auth_url"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(auth_url).query).items()}
    assert query["response_type"] == "code" and "openid" in query["scope"].split()
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) >= 43
    assert query["state"] == start.json()["state"] and query["nonce"]
    async with httpx.AsyncClient() as browser:
        redirect = await browser.get(auth_url)
    assert redirect.status_code == 302, redirect.text
    location = redirect.headers["location"]
    assert location.startswith(
        f"{client.base_url}/api/v1/{surface}/auth/{provider}/callback?".replace("//api", "/api")
    )
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def callback(provider: str, surface: str = "mobile") -> str:
    return f"/api/v1/{surface}/auth/{provider}/callback"


@pytest.mark.parametrize("provider", ["google", "microsoft"])
@pytest.mark.parametrize("surface", ["mobile", "web"])
async def test_sign_in_happy_path(
    client: httpx.AsyncClient, providers: dict[str, FakeOidcProvider], provider: str, surface: str
) -> None:
    fake = providers[provider]
    query = await authorize(client, provider, surface)
    reply = await client.get(callback(provider, surface), params=query)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["access_token"] and body["refresh_token"]
    assert body["user"]["email"] == fake.user["email"] and body["user"]["name"] == "Ada Lovelace"
    assert body["user"]["auth_provider"] == provider
    me = await client.get(f"/api/v1/{surface}/auth/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200 and me.json()["id"] == body["user"]["id"]
    # the same provider account signs in to the same user again
    again = await client.get(callback(provider, surface), params=await authorize(client, provider, surface))
    assert again.status_code == 200 and again.json()["user"]["id"] == body["user"]["id"]
    refreshed = await client.post(
        f"/api/v1/{surface}/auth/refresh", json={"refresh_token": body["refresh_token"]}
    )
    assert refreshed.status_code == 200


async def test_links_to_an_existing_account_by_verified_email(
    client: httpx.AsyncClient, providers: dict[str, FakeOidcProvider]
) -> None:
    email = f"link-{uuid.uuid4().hex[:8]}@example.com"
    account = await register(client, email)
    providers["google"].user = {**providers["google"].user, "email": email.upper(), "email_verified": True}
    reply = await client.get(callback("google"), params=await authorize(client, "google"))
    assert reply.status_code == 200, reply.text
    assert reply.json()["user"]["id"] == account["user"]["id"]
    # the password still works for the same account
    login = await client.post("/api/login", json={"email": email, "password": PASSWORD})
    assert login.json()["user"]["id"] == account["user"]["id"]


async def test_unverified_email_does_not_take_over_an_account(
    client: httpx.AsyncClient, providers: dict[str, FakeOidcProvider]
) -> None:
    email = f"victim-{uuid.uuid4().hex[:8]}@example.com"
    await register(client, email)
    providers["google"].user = {**providers["google"].user, "email": email, "email_verified": False}
    assert_error(await client.get(callback("google"), params=await authorize(client, "google")), 409)
    providers["google"].user = {**providers["google"].user, "email": f"new-{email}", "sub": "other"}
    assert_error(await client.get(callback("google"), params=await authorize(client, "google")), 403)


async def test_bad_state_is_refused(
    client: httpx.AsyncClient, providers: dict[str, FakeOidcProvider]
) -> None:
    query = await authorize(client, "google")
    forged = await client.get(callback("google"), params={**query, "state": "forged-state"})
    assert_error(forged, 400)
    # a state is bound to its provider
    other = await client.get(callback("microsoft"), params=query)
    assert_error(other, 400)
    # and is single use: the genuine one was spent by the attempt above
    replay = await client.get(callback("google"), params=query)
    assert_error(replay, 400)


async def test_state_replay_after_success(
    client: httpx.AsyncClient, providers: dict[str, FakeOidcProvider]
) -> None:
    query = await authorize(client, "microsoft")
    assert (await client.get(callback("microsoft"), params=query)).status_code == 200
    assert_error(await client.get(callback("microsoft"), params=query), 400)


async def test_bad_nonce_is_refused(
    client: httpx.AsyncClient, providers: dict[str, FakeOidcProvider]
) -> None:
    providers["google"].nonce_override = "replayed-nonce"
    reply = await client.get(callback("google"), params=await authorize(client, "google"))
    body = assert_error(reply, 401)
    assert "nonce" in body["details"]


async def test_expired_code_is_refused(
    client: httpx.AsyncClient, providers: dict[str, FakeOidcProvider]
) -> None:
    providers["microsoft"].code_ttl_s = -1
    reply = await client.get(callback("microsoft"), params=await authorize(client, "microsoft"))
    body = assert_error(reply, 400)
    assert "invalid_grant" in body["details"]


async def test_wrong_company_domain_is_refused(
    client: httpx.AsyncClient, embedded: Embedded, providers: dict[str, FakeOidcProvider]
) -> None:
    core = embedded.platform.services["auth"].core
    before = core.config
    core.reconfigure(before.model_copy(update={"company_domains": ["earshot.dev", "partner.com"]}))
    try:
        outsider = await client.get(callback("google"), params=await authorize(client, "google"))
        assert_error(outsider, 403)
        emails = {u.email for u in await core.list_users()}
        assert providers["google"].user["email"] not in emails  # nothing stored
        providers["google"].user = {
            **providers["google"].user,
            "email": f"staff-{uuid.uuid4().hex[:6]}@Earshot.dev",
        }
        insider = await client.get(callback("google"), params=await authorize(client, "google"))
        assert insider.status_code == 200, insider.text
    finally:
        core.reconfigure(before)


@pytest.mark.parametrize(
    "params",
    [{}, {"code": "abc"}, {"state": "abc"}, {"error": "access_denied", "error_description": "user said no"}],
)
async def test_callback_bad_input(
    client: httpx.AsyncClient, providers: dict[str, FakeOidcProvider], params: Any
) -> None:
    assert_error(await client.get(callback("google"), params=params), 400)


async def test_unconfigured_provider_is_404_naming_the_provider(
    client: httpx.AsyncClient, embedded: Embedded
) -> None:
    core = embedded.platform.services["auth"].core
    before = core.config
    core.reconfigure(before.model_copy(update={"google_client_id": None}))
    try:
        reply = await client.get("/api/v1/web/auth/google/login")
        assert_error(reply, 404)  # not enabled on this deployment: a client error, never a 5xx
        assert "Google sign-in is not configured" in reply.json()["details"]
    finally:
        core.reconfigure(before)
