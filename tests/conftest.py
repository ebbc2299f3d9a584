"""Shared fixtures: one embedded platform (all services in this process, real uvicorn on a
loopback port) started once per test session, and paths to the real recordings.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.common.logging import configure_logging
from services.common.settings import Settings, load_settings
from services.platform import Platform, running
from tests.integration import infra

# Every test signs up from 127.0.0.1: the per-address sign-up limit is off for the suite
# (tests/embedded/test_hostile_input.py turns it on for its own test).
os.environ.setdefault("EARSHOT_AUTH_ADDRESS_MAX_SIGNUPS", "0")

FIXTURES = Path(__file__).parent / "fixtures"
JFK = FIXTURES / "jfk.flac"
JFK_REFERENCE = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)


ANY_FREE_GRPC_PORT = {name: 0 for name in Settings.model_fields if name.endswith("_grpc_port")}
"""Settings overrides that let every gRPC server pick a free port (tests run several platforms)."""


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Embedded:
    """The running embedded platform: its settings, services and base URL."""

    settings: Settings
    platform: Platform
    url: str

    @property
    def gateway(self):  # type: ignore[no-untyped-def]
        return self.platform.gateway

    @property
    def runtime(self):  # type: ignore[no-untyped-def]
        assert self.platform.runtime is not None
        return self.platform.runtime

    def temp_leftovers(self) -> list[Path]:
        """Files or folders left in the platform's temp folders (inside each process's own
        folder, ``Runtime.temp_root``; anything else directly under ``tmp`` counts too)."""
        root = self.settings.data_dir / "tmp"
        if not root.exists():
            return []
        found: list[Path] = []
        for entry in root.iterdir():
            found.extend(entry.iterdir() if entry.is_dir() and entry.name.count("~") == 3 else [entry])
        return sorted(found)


@pytest.fixture(scope="session")
async def embedded(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Embedded]:
    """Start the whole platform once for the session; stop it at the end."""
    configure_logging("warning")
    data_dir = tmp_path_factory.mktemp("earshot-data")
    port = free_port()
    settings = load_settings(
        data_dir=data_dir,
        port=port,
        bus_max_attempts=2,
        bus_retry_backoff_s=0.01,
        log_level="warning",
        **ANY_FREE_GRPC_PORT,
    )
    async with running(settings) as platform:
        yield Embedded(settings=settings, platform=platform, url=f"http://127.0.0.1:{port}")


@pytest.fixture
async def client(embedded: Embedded) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client pointed at the embedded gateway."""
    async with httpx.AsyncClient(base_url=embedded.url, timeout=120) as c:
        yield c


PASSWORD = "sturdy-password-42"
"""Password of the users the shared helpers register."""


async def sign_up(client: httpx.AsyncClient, name: str = "Tester") -> dict[str, Any]:
    """Register a new user (unique email) on the gateway; returns the token answer
    (``access_token``, ``refresh_token``, ``user``)."""
    email = f"{name.lower()}-{uuid.uuid4().hex[:10]}@example.com"
    reply = await client.post("/api/auth/register", json={"email": email, "password": PASSWORD, "name": name})
    assert reply.status_code == 201, reply.text
    tokens: dict[str, Any] = reply.json()
    return tokens


def auth_header(tokens: dict[str, Any]) -> dict[str, str]:
    """``Authorization: Bearer <access token>`` of a :func:`sign_up` answer."""
    return {"Authorization": f"Bearer {tokens['access_token']}"}


@dataclass
class SignedIn:
    """A signed-in user and an HTTP client that sends their token on every request."""

    client: httpx.AsyncClient
    tokens: dict[str, Any]

    @property
    def user_id(self) -> str:
        return str(self.tokens["user"]["id"])

    @property
    def token(self) -> str:
        return str(self.tokens["access_token"])


@pytest.fixture
async def signed_in(embedded: Embedded) -> AsyncIterator[SignedIn]:
    """A new user registered on the embedded gateway, with a client carrying their token."""
    async with httpx.AsyncClient(base_url=embedded.url, timeout=120) as anonymous:
        tokens = await sign_up(anonymous)
    async with httpx.AsyncClient(base_url=embedded.url, timeout=120, headers=auth_header(tokens)) as c:
        yield SignedIn(client=c, tokens=tokens)


# --- real servers (contract and integration tiers) ------------------------------------------
@pytest.fixture(scope="session")
def servers() -> Iterator[infra.Endpoints]:
    """Real Kafka, PostgreSQL and MinIO (from env, testcontainers or deploy/local), once per
    session; started only when a collected test needs them (``infra.needed_by``)."""
    endpoints = infra.acquire()
    try:
        yield endpoints
    finally:
        infra.release()


_prewarmed = False


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the servers before the first test (outside any per-test timeout: a fresh machine
    fetches Kafka's jars and builds MinIO first). Only when a collected test needs them."""
    global _prewarmed
    if not _prewarmed and infra.needed_by(session.items):
        try:
            infra.acquire()
            _prewarmed = True
        except Exception:
            pass  # the `servers` fixture reports the failure on every test that needs it


def pytest_sessionfinish(session: pytest.Session) -> None:
    global _prewarmed
    if _prewarmed:
        _prewarmed = False
        infra.release()
