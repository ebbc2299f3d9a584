"""The auth service as its own OS process (``earshot serve auth``) over gRPC, with a separate
gateway process pointed at it (``EARSHOT_AUTH_GRPC_TARGET``) and Google sign-in configured from
the environment against a local OpenID provider.

Each process has its own in-memory bus here, so cross-process revocation events need Kafka
(the distributed tier); the gateway that served the logout refuses the token at once.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import grpc
import httpx
import pytest
from earshot.auth.v1 import auth_pb2, auth_pb2_grpc

from services.common.rpc import channel, health_check
from tests.conftest import free_port
from tests.fakes.oidc_provider import FakeOidcProvider

ROOT = Path(__file__).resolve().parents[2]
SERVICE = "earshot.auth.v1.AuthService"
PASSWORD = "sturdy-password-42"


@dataclass
class Deployment:
    auth_target: str
    gateway_url: str
    auth: subprocess.Popen[bytes]
    gateway: subprocess.Popen[bytes]
    google: FakeOidcProvider


async def _wait(check, process: subprocess.Popen[bytes], what: str, timeout_s: float = 60) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        assert process.poll() is None, (
            f"{what} exited with {process.returncode}: {process.stderr.read().decode()[-2000:]}"
        )  # type: ignore[union-attr]
        try:
            if await check():
                return
        except (httpx.TransportError, grpc.aio.AioRpcError):
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} did not become ready in {timeout_s} s")


@pytest.fixture(scope="module")
async def deployment(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Deployment]:
    data = tmp_path_factory.mktemp("auth-process")
    auth_port, http_port = free_port(), free_port()
    gateway_url = f"http://127.0.0.1:{http_port}"
    google = await FakeOidcProvider(
        "proc-client", "proc-secret", [f"{gateway_url}/api/v1/mobile/auth/google/callback"]
    ).start()
    env = {
        **os.environ,
        "EARSHOT_DATA_DIR": str(data),
        "EARSHOT_LOG_LEVEL": "warning",
        "EARSHOT_AUTH_GRPC_PORT": str(auth_port),
        "EARSHOT_AUTH_GRPC_TARGET": f"127.0.0.1:{auth_port}",
        "EARSHOT_PORT": str(http_port),
        "EARSHOT_PUBLIC_URL": gateway_url,
        "GOOGLE_CLIENT_ID": "proc-client",
        "GOOGLE_CLIENT_SECRET": "proc-secret",
        "GOOGLE_ISSUER": google.issuer,
        "COMPANY_DOMAINS": "example.com",
        "JWT_ACCESS_TOKEN_EXPIRE_MINUTES": "10",
    }
    cli = [sys.executable, "-m", "services.cli"]
    migrated = await asyncio.to_thread(
        subprocess.run, [*cli, "migrate"], cwd=ROOT, env=env, capture_output=True, timeout=120
    )
    assert migrated.returncode == 0, migrated.stderr.decode()[-2000:]
    auth = await asyncio.to_thread(
        subprocess.Popen, [*cli, "serve", "auth"], cwd=ROOT, env=env, stderr=subprocess.PIPE
    )
    gateway = await asyncio.to_thread(
        subprocess.Popen, [*cli, "serve", "gateway"], cwd=ROOT, env=env, stderr=subprocess.PIPE
    )
    try:
        await _wait(lambda: health_check(f"127.0.0.1:{auth_port}", SERVICE), auth, "earshot serve auth")

        async def gateway_up() -> bool:
            async with httpx.AsyncClient() as c:
                return (await c.get(f"{gateway_url}/health")).status_code == 200

        await _wait(gateway_up, gateway, "earshot serve gateway")
        yield Deployment(f"127.0.0.1:{auth_port}", gateway_url, auth, gateway, google)
    finally:
        for process in (gateway, auth):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in (gateway, auth):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        await google.stop()


async def test_auth_service_over_grpc(deployment: Deployment) -> None:
    async with channel(deployment.auth_target) as ch:
        stub = auth_pb2_grpc.AuthServiceStub(ch)
        session = await stub.Register(
            auth_pb2.RegisterRequest(email="Grpc.User@Example.com", password=PASSWORD, name="Grpc User"),
            timeout=10,
        )
        assert session.user.email == "grpc.user@example.com" and session.token_type == "bearer"
        assert session.expires_in == 600  # JWT_ACCESS_TOKEN_EXPIRE_MINUTES from the environment
        user = await stub.GetUser(auth_pb2.GetUserRequest(user_id=session.user.id), timeout=10)
        assert user.name == "Grpc User" and user.is_active
        keys = json.loads((await stub.GetPublicKeys(auth_pb2.GetPublicKeysRequest(), timeout=10)).jwks_json)
        assert keys["keys"][0]["crv"] == "Ed25519"
        codes = {}
        for name, call in {
            "duplicate": stub.Register(
                auth_pb2.RegisterRequest(email="grpc.user@example.com", password=PASSWORD), timeout=10
            ),
            "weak": stub.Register(
                auth_pb2.RegisterRequest(email="x@example.com", password="123"), timeout=10
            ),
            "wrong": stub.Login(
                auth_pb2.LoginRequest(email="grpc.user@example.com", password="nope-nope-1"), timeout=10
            ),
            "missing": stub.GetUser(auth_pb2.GetUserRequest(user_id="no-such-user"), timeout=10),
            "provider": stub.StartOAuth(auth_pb2.StartOAuthRequest(provider="yahoo"), timeout=10),
        }.items():
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call
            codes[name] = caught.value.code()
        assert codes == {
            "duplicate": grpc.StatusCode.ALREADY_EXISTS,
            "weak": grpc.StatusCode.INVALID_ARGUMENT,
            "wrong": grpc.StatusCode.UNAUTHENTICATED,
            "missing": grpc.StatusCode.NOT_FOUND,
            "provider": grpc.StatusCode.NOT_FOUND,
        }


async def test_gateway_process_uses_the_auth_process(deployment: Deployment) -> None:
    async with httpx.AsyncClient(base_url=deployment.gateway_url, timeout=30) as client:
        created = await client.post(
            "/api/auth/register", json={"email": "proc@example.com", "password": PASSWORD, "name": "Proc"}
        )
        assert created.status_code == 201, created.text
        tokens = created.json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert (await client.get("/api/me", headers=headers)).json()["email"] == "proc@example.com"
        async with channel(deployment.auth_target) as ch:
            published = (
                await auth_pb2_grpc.AuthServiceStub(ch).GetPublicKeys(auth_pb2.GetPublicKeysRequest())
            ).jwks_json
        assert (await client.get("/.well-known/jwks.json")).json() == json.loads(published)

        refreshed = await client.post(
            "/api/v1/web/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert refreshed.status_code == 200
        out = await client.post(
            "/api/auth/logout", headers={"Authorization": f"Bearer {refreshed.json()['access_token']}"}
        )
        assert out.status_code == 200
        assert (await client.get("/api/me", headers=headers)).status_code == 401  # same session: revoked


async def test_google_sign_in_configured_from_the_environment(deployment: Deployment) -> None:
    deployment.google.user = {
        "sub": "g-77",
        "email": "ada@example.com",
        "email_verified": True,
        "name": "Ada",
    }
    async with httpx.AsyncClient(base_url=deployment.gateway_url, timeout=30) as client:
        start = await client.get("/api/v1/mobile/auth/google/login")
        assert start.status_code == 200, start.text
        async with httpx.AsyncClient() as browser:
            redirect = await browser.get(start.json()["auth_url"])
        query = {k: v[0] for k, v in parse_qs(urlsplit(redirect.headers["location"]).query).items()}
        done = await client.get("/api/v1/mobile/auth/google/callback", params=query)
        assert done.status_code == 200, done.text
        assert done.json()["user"]["email"] == "ada@example.com"
        # COMPANY_DOMAINS=example.com from the environment
        deployment.google.user = {
            "sub": "g-78",
            "email": "eve@elsewhere.org",
            "email_verified": True,
            "name": "Eve",
        }
        start = await client.get("/api/v1/mobile/auth/google/login")
        async with httpx.AsyncClient() as browser:
            redirect = await browser.get(start.json()["auth_url"])
        query = {k: v[0] for k, v in parse_qs(urlsplit(redirect.headers["location"]).query).items()}
        refused = await client.get("/api/v1/mobile/auth/google/callback", params=query)
        assert refused.status_code == 403


async def test_graceful_stop(deployment: Deployment) -> None:
    """Runs last in this module: SIGTERM stops both processes cleanly (exit code 0)."""
    for process in (deployment.gateway, deployment.auth):
        process.send_signal(signal.SIGTERM)
    for process in (deployment.gateway, deployment.auth):
        assert process.wait(timeout=30) == 0, process.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
