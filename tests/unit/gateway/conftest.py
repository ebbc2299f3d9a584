"""Route-level fixtures for the gateway: the real app and products on the in-memory bus and a
SQLite file, with fake gRPC clients and a fake token verifier, driven through
``httpx.ASGITransport`` (no server, no other service)."""

from __future__ import annotations

import io
import time
import uuid
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import httpx
import numpy as np
import pytest

from services.common.logging import configure_logging
from services.common.runtime import Runtime, create_runtime
from services.common.settings import load_settings
from services.gateway.service import GatewayService, migrate
from services.gateway.shared.errors import unauthorized
from services.gateway.shared.tokens import AuthenticatedUser
from tests.unit.gateway.fakes import FakeAnc, FakeAuth, FakeTranscription


def user(name: str) -> AuthenticatedUser:
    """A verified caller named ``name`` (id ``u-<name>``)."""
    return AuthenticatedUser(
        id=f"u-{name}",
        email=f"{name}@example.com",
        name=name,
        session_id=f"s-{name}",
        token_id=f"t-{name}",
        expires_at=int(time.time()) + 900,
        claims={},
    )


class FakeVerifier:
    """Stands for the token verifier: ``token-<name>`` is that user, ``revoked-<name>`` is a
    signed-out session, anything else is invalid (401 as the real verifier answers)."""

    def __init__(self) -> None:
        self.jwks_doc: dict[str, Any] = {"keys": []}

    async def verify(self, token: str) -> AuthenticatedUser:
        if token.startswith("token-"):
            return user(token.removeprefix("token-"))
        if token.startswith("revoked-"):
            raise unauthorized("the session has been signed out")
        raise unauthorized("the access token is malformed")

    def revoke(self, session_id: str, expires_at: int) -> None:
        pass

    async def ensure_ready(self) -> None:
        pass

    async def close(self) -> None:
        pass


def bearer(name: str) -> dict[str, str]:
    """The Authorization header of user ``name``."""
    return {"Authorization": f"Bearer token-{name}"}


def wav(seconds: float = 0.5, rate: int = 16000, channels: int = 2) -> bytes:
    """A little noise as a 16-bit WAV file."""
    rng = np.random.default_rng(1)
    pcm = (rng.standard_normal((int(seconds * rate), channels)) * 3000).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


@dataclass
class UnitGateway:
    """One started gateway with fakes, and a client on its ASGI app."""

    service: GatewayService
    client: httpx.AsyncClient
    anc: FakeAnc
    transcription: FakeTranscription
    auth: FakeAuth

    @property
    def runtime(self) -> Runtime:
        return self.service.runtime


@pytest.fixture(scope="session")
async def unit_runtime(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Runtime]:
    """In-memory bus, SQLite file, local storage: migrated once for the session."""
    configure_logging("warning")
    settings = load_settings(data_dir=tmp_path_factory.mktemp("gateway-unit"), bus_url="memory://")
    await migrate(settings.effective_database_url)
    runtime = await create_runtime(settings, client_id="gateway-unit")
    yield runtime
    await runtime.close()


@pytest.fixture
async def gw(unit_runtime: Runtime) -> AsyncIterator[UnitGateway]:
    """A gateway started on the shared runtime (its own instance id), fakes in its clients."""
    service = GatewayService()
    await service.start(replace(unit_runtime, instance_id=f"unit-{uuid.uuid4().hex[:6]}"))
    assert service.ctx is not None
    fakes = FakeAnc(), FakeTranscription(), FakeAuth()
    await service.ctx.clients.close()
    service.ctx.clients.anc, service.ctx.clients.transcription, service.ctx.clients.auth = fakes  # type: ignore[assignment]
    service.app.state.tokens = FakeVerifier()
    transport = httpx.ASGITransport(app=service.app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            yield UnitGateway(service, client, *fakes)
    finally:
        await service.stop()
