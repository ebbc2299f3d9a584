"""Auth routes of seeds 001, 003 and 004 through the embedded gateway, and local token checks."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from earshot.auth.v1 import auth_pb2_grpc

from services.auth.keys import KeyRing, SigningKey
from services.common.rpc import channel
from services.gateway.service import GatewayService
from services.gateway.shared.tokens import TokenVerifier as AuthGate
from tests.conftest import Embedded

PASSWORD = "sturdy-password-42"

SURFACES = [  # (register, login, me) per seed
    ("/api/users", "/api/login", "/api/me"),
    ("/api/auth/register", "/api/auth/login", "/api/auth/me"),
]
ME_PATHS = ["/api/me", "/api/auth/me", "/api/v1/mobile/auth/me", "/api/v1/web/auth/me"]


def new_email(tag: str = "user") -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@Example.COM"


async def register(
    client: httpx.AsyncClient, email: str | None = None, name: str = "Test User"
) -> dict[str, Any]:
    reply = await client.post(
        "/api/users", json={"email": email or new_email(), "password": PASSWORD, "name": name}
    )
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def auth_core(embedded: Embedded) -> Any:
    return embedded.platform.services["auth"].core


def assert_error(reply: httpx.Response, status: int) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    body = dict(reply.json())
    assert set(body) == {"error", "details", "timestamp"}
    return body


def assert_401(reply: httpx.Response, invalid_token: bool = True) -> None:
    assert_error(reply, 401)
    challenge = reply.headers.get("www-authenticate", "")
    assert challenge.startswith('Bearer realm="earshot"'), challenge
    if invalid_token:
        assert 'error="invalid_token"' in challenge


@pytest.mark.parametrize(("register_path", "login_path", "me_path"), SURFACES)
async def test_register_login_me(
    client: httpx.AsyncClient, register_path: str, login_path: str, me_path: str
) -> None:
    email = new_email("surface")
    created = await client.post(
        register_path, json={"email": email, "password": PASSWORD, "name": " Ada  Lovelace "}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["token"] == body["access_token"] and body["token_type"] == "bearer"
    assert body["refresh_token"] and body["refresh_token"] != body["access_token"]
    assert body["expires_in"] > 0 and body["refresh_expires_in"] > body["expires_in"]
    assert body["user"]["email"] == email.lower() and body["user"]["name"] == "Ada Lovelace"
    assert body["user"]["auth_provider"] == "password" and body["user"]["is_active"] is True

    logged = await client.post(login_path, json={"email": email.upper(), "password": PASSWORD})
    assert logged.status_code == 200, logged.text
    again = logged.json()
    assert again["user"]["id"] == body["user"]["id"]
    assert again["refresh_token"] != body["refresh_token"]

    me = await client.get(me_path, headers=bearer(again["access_token"]))
    assert me.status_code == 200, me.text
    assert me.json()["id"] == body["user"]["id"] and me.json()["email"] == email.lower()


async def test_every_me_path_accepts_the_token(client: httpx.AsyncClient) -> None:
    session = await register(client, name="Grace")
    for path in ME_PATHS:
        reply = await client.get(path, headers=bearer(session["access_token"]))
        assert reply.status_code == 200, (path, reply.text)
        assert reply.json() == {
            "id": session["user"]["id"],
            "email": session["user"]["email"],
            "name": "Grace",
            "auth_provider": "password",
            "is_active": True,
            "created_at": session["user"]["created_at"],
        }
        assert reply.json()["created_at"]  # filled, as register answers it


async def test_access_token_claims_and_jwks(client: httpx.AsyncClient) -> None:
    session = await register(client)
    jwks = await client.get("/.well-known/jwks.json")
    assert jwks.status_code == 200 and "max-age" in jwks.headers["cache-control"]
    keys = jwks.json()["keys"]
    assert keys and all("d" not in k for k in keys), "private key material must never be published"
    header = jwt.get_unverified_header(session["access_token"])
    assert header["alg"] == "EdDSA" and header["typ"] == "at+jwt"
    key = next(k for k in keys if k["kid"] == header["kid"])
    assert key["kty"] == "OKP" and key["crv"] == "Ed25519"
    claims = jwt.decode(session["access_token"], jwt.PyJWK(key), algorithms=["EdDSA"], audience="earshot")
    assert {"iss", "aud", "sub", "email", "iat", "exp", "jti", "sid"} <= set(claims)
    assert claims["sub"] == session["user"]["id"] and claims["iss"] == "earshot-auth"
    assert claims["exp"] - claims["iat"] == session["expires_in"]


async def test_duplicate_email_is_409(client: httpx.AsyncClient) -> None:
    email = new_email("dup")
    await register(client, email)
    for path in ("/api/users", "/api/auth/register"):
        reply = await client.post(
            path, json={"email": f"  {email.upper()} ", "password": PASSWORD, "name": "x"}
        )
        assert_error(reply, 409)


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ({"email": "not-an-email", "password": PASSWORD, "name": "x"}, "email"),
        ({"email": "{email}", "password": "short1", "name": "x"}, "at least 8"),
        ({"email": "{email}", "password": "password123", "name": "x"}, "too easy"),
        ({"email": "{email}", "password": "aaaaaaaaaaaa", "name": "x"}, "too easy"),
        ({"email": "{email}", "password": "x" * 300, "name": "x"}, "at most"),
        ({"email": "{email}", "name": "x"}, "password"),
        ({"password": PASSWORD}, "email"),
    ],
)
async def test_weak_or_malformed_registration_is_422_and_stores_nothing(
    client: httpx.AsyncClient, embedded: Embedded, payload: dict[str, Any], needle: str
) -> None:
    email = new_email("weak")
    body = {k: (v.replace("{email}", email) if isinstance(v, str) else v) for k, v in payload.items()}
    reply = await client.post("/api/auth/register", json=body)
    error = assert_error(reply, 422)
    assert needle in error["details"]
    emails = {u.email for u in await auth_core(embedded).list_users()}
    assert email.lower() not in emails


async def test_login_failure_reveals_nothing(client: httpx.AsyncClient) -> None:
    session = await register(client)
    wrong = await client.post(
        "/api/login", json={"email": session["user"]["email"], "password": "Wrong-pass-1"}
    )
    unknown = await client.post("/api/login", json={"email": new_email("ghost"), "password": "Wrong-pass-1"})
    assert_401(wrong, invalid_token=False)
    assert_401(unknown, invalid_token=False)
    assert wrong.json()["details"] == unknown.json()["details"] == "invalid email or password"


# --- bad tokens (part 3) ------------------------------------------------------------------
def _claims(session: dict[str, Any], **changes: Any) -> dict[str, Any]:
    claims = jwt.decode(session["access_token"], options={"verify_signature": False})
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _forge(embedded: Embedded, session: dict[str, Any], case: str) -> dict[str, str]:
    keys: KeyRing = auth_core(embedded).keys
    active = keys.active
    now = int(time.time())
    if case == "missing":
        return {}
    if case == "wrong_scheme":
        return {"Authorization": f"Basic {session['access_token']}"}
    if case == "empty_bearer":
        return {"Authorization": "Bearer"}
    if case == "malformed":
        return bearer("not.a.jwt")
    if case == "garbage_segments":
        return bearer("eyJhbGciOiJFZERTQSJ9.e30.AAAA")
    headers = {"kid": active.kid}
    key, alg = active.private_key, active.alg
    claims = _claims(session)
    if case == "expired":
        claims = _claims(session, iat=now - 7200, nbf=now - 7200, exp=now - 3600)
    elif case == "not_yet_valid":
        claims = _claims(session, nbf=now + 3600)
    elif case == "wrong_audience":
        claims = _claims(session, aud="someone-else")
    elif case == "wrong_issuer":
        claims = _claims(session, iss="https://evil.example")
    elif case == "wrong_signature":
        key = ed25519.Ed25519PrivateKey.generate()
    elif case == "unknown_kid":
        headers = {"kid": "no-such-key"}
    elif case == "missing_sid":
        claims = _claims(session, sid=None)
    elif case == "tampered":
        token = jwt.encode(claims, key, algorithm=alg, headers=headers)
        head, payload, sig = token.split(".")
        other = jwt.encode(_claims(session, sub="someone-else"), key, algorithm=alg, headers=headers).split(
            "."
        )[1]
        return bearer(f"{head}.{other}.{sig}")
    elif case == "alg_none":
        return bearer(jwt.encode(claims, None, algorithm="none", headers=headers))
    elif case == "hs256_confusion":  # RFC 8725 3.1: the public key used as an HMAC secret
        # PyJWT refuses to sign this, so it is built by hand: HMAC-SHA256 keyed by the public key.
        segments = [
            _b64url(json.dumps({"alg": "HS256", "typ": "JWT", **headers}).encode()),
            _b64url(json.dumps(claims).encode()),
        ]
        secret = _b64url_decode(active.public_jwk["x"])
        mac = hmac.new(secret, ".".join(segments).encode(), hashlib.sha256).digest()
        return bearer(".".join([*segments, _b64url(mac)]))
    return bearer(jwt.encode(claims, key, algorithm=alg, headers=headers))


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


BAD_TOKENS = [
    "missing",
    "wrong_scheme",
    "empty_bearer",
    "malformed",
    "garbage_segments",
    "expired",
    "not_yet_valid",
    "wrong_audience",
    "wrong_issuer",
    "wrong_signature",
    "unknown_kid",
    "missing_sid",
    "tampered",
    "alg_none",
    "hs256_confusion",
]


@pytest.fixture(scope="module")
async def victim(embedded: Embedded) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=embedded.url) as c:
        return await register(c, name="Victim")


@pytest.mark.parametrize("case", BAD_TOKENS)
async def test_bad_tokens_are_401(
    client: httpx.AsyncClient, embedded: Embedded, victim: dict[str, Any], case: str
) -> None:
    headers = _forge(embedded, victim, case)
    ok = await client.get("/api/me", headers=bearer(victim["access_token"]))
    assert ok.status_code == 200  # the genuine token still works: only the forgery is refused
    for path in ME_PATHS:
        assert_401(await client.get(path, headers=headers), invalid_token=case != "missing")


async def test_rotated_signing_key_is_fetched_on_unknown_kid(
    client: httpx.AsyncClient, embedded: Embedded
) -> None:
    session = await register(client)
    core = auth_core(embedded)
    gate: AuthGate = embedded.gateway.app.state.tokens
    old_ring, old_config = core.keys, gate.config
    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        *_pkcs8_args()  # PEM, PKCS8, no encryption
    )
    new_key = SigningKey.from_pem(pem)
    core.keys = KeyRing([*old_ring.keys.values(), new_key], active_kid=new_key.kid)
    gate.config = gate.config.model_copy(update={"jwks_min_refetch_s": 0})
    try:
        logged = await client.post(
            "/api/login", json={"email": session["user"]["email"], "password": PASSWORD}
        )
        token = logged.json()["access_token"]
        assert jwt.get_unverified_header(token)["kid"] == new_key.kid
        assert new_key.kid not in gate.keys
        reply = await client.get("/api/me", headers=bearer(token))
        assert reply.status_code == 200, reply.text
        assert new_key.kid in gate.keys
        # tokens signed by the previous key stay valid while it is published
        assert (await client.get("/api/me", headers=bearer(session["access_token"]))).status_code == 200
        kids = {k["kid"] for k in (await client.get("/.well-known/jwks.json")).json()["keys"]}
        assert {new_key.kid, old_ring.active.kid} <= kids
    finally:
        core.keys, gate.config = old_ring, old_config
        await gate._fetch_keys()


def _pkcs8_args() -> tuple[Any, Any, Any]:
    from cryptography.hazmat.primitives import serialization

    return serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()


async def test_authenticated_request_makes_no_call_to_auth(
    client: httpx.AsyncClient, embedded: Embedded
) -> None:
    session = await register(client)
    gate: AuthGate = embedded.gateway.app.state.tokens
    assert (await client.get("/api/me", headers=bearer(session["access_token"]))).status_code == 200
    stub = gate.client._stub
    dead = channel("127.0.0.1:9")  # nothing listens on the discard port
    gate.client._stub = auth_pb2_grpc.AuthServiceStub(dead)
    try:
        for _ in range(5):
            assert (await client.get("/api/me", headers=bearer(session["access_token"]))).status_code == 200
        # a route that does need the auth service answers 503, proving the stub was really cut
        down = await client.post("/api/login", json={"email": session["user"]["email"], "password": PASSWORD})
        assert_error(down, 503)
    finally:
        gate.client._stub = stub
        await dead.close()


# --- refresh tokens (part 4) --------------------------------------------------------------
@pytest.mark.parametrize("surface", ["mobile", "web"])
async def test_refresh_rotates_and_reuse_revokes_the_family(client: httpx.AsyncClient, surface: str) -> None:
    first = await register(client)
    path = f"/api/v1/{surface}/auth/refresh"
    second = await client.post(path, json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200, second.text
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert rotated["access_token"] != first["access_token"]
    assert rotated["user"]["id"] == first["user"]["id"]
    assert (await client.get("/api/me", headers=bearer(rotated["access_token"]))).status_code == 200

    # token theft: the spent token is presented again -> the whole family is revoked
    reuse = await client.post(path, json={"refresh_token": first["refresh_token"]})
    assert_401(reuse, invalid_token=False)
    assert "revoked" in reuse.json()["details"]
    assert_401(await client.post(path, json={"refresh_token": rotated["refresh_token"]}), invalid_token=False)
    await _eventually_401(client, rotated["access_token"])
    await _eventually_401(client, first["access_token"])

    # other sessions of the same user are untouched
    other = await client.post("/api/login", json={"email": first["user"]["email"], "password": PASSWORD})
    assert (await client.get("/api/me", headers=bearer(other.json()["access_token"]))).status_code == 200


@pytest.mark.parametrize("token", ["", "x" * 600, "unknown-token"])
async def test_bad_refresh_tokens(client: httpx.AsyncClient, token: str) -> None:
    reply = await client.post("/api/v1/mobile/auth/refresh", json={"refresh_token": token})
    assert reply.status_code in (401, 422), reply.text
    assert_error(reply, reply.status_code)
    assert_error(await client.post("/api/v1/mobile/auth/refresh", json={}), 422)


async def _eventually_401(client: httpx.AsyncClient, token: str, within_s: float = 30.0) -> float:
    """Poll ``/api/me`` until ``token`` is refused; ``within_s`` only bounds a hang (no speed
    claim: how fast revocation takes effect is not a test's business on a loaded machine)."""
    start = time.monotonic()
    async with asyncio.timeout(within_s):  # a hang guard, not a speed claim
        while True:
            reply = await client.get("/api/me", headers=bearer(token))
            if reply.status_code == 401:
                assert_401(reply)
                return time.monotonic() - start
            assert reply.status_code == 200
            await asyncio.sleep(0.02)


# --- logout and revocation across replicas (parts 3, 4) ------------------------------------
@pytest.fixture
async def replica(embedded: Embedded) -> AsyncIterator[httpx.AsyncClient]:
    """A second gateway replica (own instance id, so its own revocation group) on the same bus."""
    other = GatewayService()
    await other.start(replace(embedded.runtime, instance_id=f"replica-{uuid.uuid4().hex[:6]}"))
    try:
        transport = httpx.ASGITransport(app=other.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://replica-b") as c:
            yield c
    finally:
        gate = getattr(other.app.state, "tokens", None)
        if gate is not None:
            await gate.close()
        await other.stop()


async def test_logout_revokes_on_every_replica(client: httpx.AsyncClient, replica: httpx.AsyncClient) -> None:
    session = await register(client)
    token = session["access_token"]
    assert (await replica.get("/api/auth/me", headers=bearer(token))).status_code == 200
    assert (await client.get("/api/auth/me", headers=bearer(token))).status_code == 200

    out = await client.post("/api/auth/logout", headers=bearer(token))
    assert out.status_code == 200, out.text
    assert out.json()["revoked_sessions"] == 1
    assert_401(await client.get("/api/auth/me", headers=bearer(token)))  # this replica: at once
    # the other replica: through the revocation event (how fast is a figure for benchmarks/auth.py;
    # a loaded machine must not make this test flaky, so it only waits for it to happen)
    await _eventually_401(replica, token)
    # the session's refresh token is dead too
    assert_401(
        await client.post("/api/v1/mobile/auth/refresh", json={"refresh_token": session["refresh_token"]}),
        invalid_token=False,
    )
    # a fresh login still works
    logged = await client.post(
        "/api/auth/login", json={"email": session["user"]["email"], "password": PASSWORD}
    )
    assert (
        await replica.get("/api/auth/me", headers=bearer(logged.json()["access_token"]))
    ).status_code == 200


async def test_new_replica_learns_earlier_revocations(client: httpx.AsyncClient, embedded: Embedded) -> None:
    session = await register(client)
    out = await client.post("/api/auth/logout", headers=bearer(session["access_token"]))
    assert out.status_code == 200
    other = GatewayService()
    await other.start(replace(embedded.runtime, instance_id=f"late-{uuid.uuid4().hex[:6]}"))
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=other.app), base_url="http://late"
        ) as c:
            assert_401(await c.get("/api/me", headers=bearer(session["access_token"])))
    finally:
        await other.app.state.tokens.close()
        await other.stop()


async def test_logout_with_refresh_token_and_bad_input(client: httpx.AsyncClient) -> None:
    first = await register(client)
    second = (
        await client.post("/api/auth/login", json={"email": first["user"]["email"], "password": PASSWORD})
    ).json()
    out = await client.post(
        "/api/auth/logout",
        headers=bearer(first["access_token"]),
        json={"refresh_token": second["refresh_token"]},
    )
    assert out.status_code == 200 and out.json()["revoked_sessions"] == 2
    await _eventually_401(client, second["access_token"])
    assert_401(await client.post("/api/auth/logout"), invalid_token=False)
    assert_401(await client.post("/api/auth/logout", headers=bearer(first["access_token"])))
    fresh = (
        await client.post("/api/auth/login", json={"email": first["user"]["email"], "password": PASSWORD})
    ).json()
    malformed = await client.post(
        "/api/auth/logout",
        headers={**bearer(fresh["access_token"]), "content-type": "application/json"},
        content=b"{not json",
    )
    assert_error(malformed, 422)
    assert (await client.get("/api/me", headers=bearer(fresh["access_token"]))).status_code == 200


async def test_disabled_user_is_refused_everywhere(client: httpx.AsyncClient, embedded: Embedded) -> None:
    session = await register(client)
    await auth_core(embedded).set_active(session["user"]["email"], False)
    await _eventually_401(client, session["access_token"])
    login = await client.post("/api/login", json={"email": session["user"]["email"], "password": PASSWORD})
    assert_error(login, 403)
    refresh = await client.post("/api/v1/web/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert_401(refresh, invalid_token=False)


async def test_openapi_documents_the_auth_routes(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    paths = spec["paths"]
    for path in [
        "/api/users",
        "/api/login",
        "/api/me",
        "/api/auth/register",
        "/api/auth/login",
        "/api/auth/logout",
        "/api/auth/me",
        "/.well-known/jwks.json",
        *(f"/api/v1/{s}/auth/{r}" for s in ("mobile", "web") for r in ("me", "refresh")),
        *(f"/api/v1/{s}/auth/{{provider}}/{r}" for s in ("mobile", "web") for r in ("login", "callback")),
    ]:
        assert path in paths, path
    callback = paths["/api/v1/web/auth/{provider}/callback"]["get"]
    assert {p["name"] for p in callback["parameters"]} == {
        "provider",
        "code",
        "state",
        "error",
        "error_description",
    }
    provider = next(p for p in callback["parameters"] if p["name"] == "provider")
    assert provider["in"] == "path" and sorted(provider["schema"]["enum"]) == ["google", "microsoft"]
    ids = [op["operationId"] for item in paths.values() for op in item.values()]
    assert len(ids) == len(set(ids)), "operation ids must be unique (seed 003's router is mounted twice)"
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    # Seed 000's route is open unless EARSHOT_API_KEYS is set; its optional schemes are documented.
    schemes = {name for entry in paths["/analyze-audio"]["post"]["security"] for name in entry}
    assert schemes == {"HTTPBearer", "APIKeyHeader"}
    assert "security" not in paths["/health"]["get"]


async def test_withdrawn_signing_key_stops_being_accepted(
    client: httpx.AsyncClient, embedded: Embedded
) -> None:
    session = await register(client)
    core = auth_core(embedded)
    gate: AuthGate = embedded.gateway.app.state.tokens
    old_ring, old_config = core.keys, gate.config
    assert (await client.get("/api/me", headers=bearer(session["access_token"]))).status_code == 200
    replacement = SigningKey.from_pem(ed25519.Ed25519PrivateKey.generate().private_bytes(*_pkcs8_args()))
    core.keys = KeyRing([replacement])  # the old key is withdrawn from the JWKS
    gate.config = gate.config.model_copy(update={"jwks_max_age_s": 0.01})
    try:
        await _eventually_401(client, session["access_token"])
        assert {k["kid"] for k in (await client.get("/.well-known/jwks.json")).json()["keys"]} == {
            replacement.kid
        }
    finally:
        core.keys, gate.config = old_ring, old_config
        await gate._fetch_keys()
    assert (await client.get("/api/me", headers=bearer(session["access_token"]))).status_code == 200
