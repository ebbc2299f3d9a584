"""Accounts routes with a fake auth client and a fake token verifier."""

from __future__ import annotations

from tests.unit.gateway.conftest import UnitGateway, bearer


async def test_register_then_me_answers_the_full_profile(gw: UnitGateway) -> None:
    reply = await gw.client.post(
        "/api/users", json={"email": "ada@example.com", "password": "pw", "name": "Ada"}
    )
    assert reply.status_code == 201, reply.text
    tokens = reply.json()
    assert tokens["token"] == tokens["access_token"] and tokens["token_type"] == "bearer"
    assert tokens["user"]["id"] == "u-ada"
    del gw.auth.users["u-ada"]  # the profile is served from the register answer, not GetUser
    me = await gw.client.get("/api/me", headers=bearer("ada"))
    assert me.status_code == 200, me.text
    assert me.json()["auth_provider"] == "password" and me.json()["is_active"] is True
    assert me.json()["created_at"] == "2026-01-01T00:00:00Z"
    taken = await gw.client.post("/api/auth/register", json={"email": "bob@example.com", "password": "pw"})
    assert taken.status_code == 201
    again = await gw.client.post("/api/auth/register", json={"email": "bob@example.com", "password": "pw"})
    assert again.status_code == 409 and set(again.json()) == {"error", "details", "timestamp"}


async def test_me_fills_provider_active_and_created_at(gw: UnitGateway) -> None:
    from earshot.auth.v1 import auth_pb2

    gw.auth.users["u-grace"] = auth_pb2.User(
        id="u-grace",
        email="grace@example.com",
        name="Grace",
        auth_provider="microsoft",
        is_active=True,
        created_at="2026-01-02T03:04:05Z",
    )
    for path in ("/api/me", "/api/auth/me", "/api/v1/mobile/auth/me", "/api/v1/web/auth/me"):
        body = (await gw.client.get(path, headers=bearer("grace"))).json()
        assert body == {
            "id": "u-grace",
            "email": "grace@example.com",
            "name": "Grace",
            "auth_provider": "microsoft",
            "is_active": True,
            "created_at": "2026-01-02T03:04:05Z",
        }, path


async def test_me_needs_a_valid_token(gw: UnitGateway) -> None:
    missing = await gw.client.get("/api/me")
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Bearer")
    revoked = await gw.client.get("/api/me", headers={"Authorization": "Bearer revoked-ada"})
    assert revoked.status_code == 401 and 'error="invalid_token"' in revoked.headers["WWW-Authenticate"]


async def test_oauth_provider_is_a_typed_path_parameter(gw: UnitGateway) -> None:
    unknown = await gw.client.get("/api/v1/web/auth/yahoo/login")
    assert unknown.status_code == 422
    unconfigured = await gw.client.get("/api/v1/web/auth/google/login")
    assert unconfigured.status_code == 404 and "not configured" in unconfigured.json()["details"]
    bad = await gw.client.get("/api/v1/mobile/auth/microsoft/callback")
    assert bad.status_code == 400 and "code and state" in bad.json()["details"]
