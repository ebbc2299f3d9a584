"""The auth service: gRPC ``earshot.auth.v1.AuthService`` over :class:`services.auth.core.AuthCore`.

It owns users, password hashes, sessions, refresh tokens, OAuth identities and the
failed-login counters (tables in ``services/auth/models.py``), signs access tokens
and publishes ``earshot.auth.user_registered.v1`` and ``earshot.auth.session_revoked.v1``
on ``earshot.auth.events``.

Error mapping (see ``proto/earshot/auth/v1/auth.proto``): ``invalid`` -> INVALID_ARGUMENT,
``exists`` -> ALREADY_EXISTS, ``unauthenticated`` -> UNAUTHENTICATED, ``forbidden`` ->
PERMISSION_DENIED, ``not_found`` -> NOT_FOUND, ``bad_request`` -> FAILED_PRECONDITION,
``rate_limited`` -> RESOURCE_EXHAUSTED (trailing metadata ``retry-after``),
``unavailable`` -> UNAVAILABLE, ``not_configured`` -> UNIMPLEMENTED (the gateway answers 501).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import grpc
from earshot.auth.v1 import auth_pb2, auth_pb2_grpc

from services.auth.config import AuthConfig, load_auth_config
from services.auth.core import AuthCore, AuthError, IssuedSession
from services.auth.keys import load_keyring
from services.auth.models import User
from services.common import db, publishing
from services.common.events import AUTH_EVENTS, EventPayload
from services.common.logging import get_logger
from services.common.rpc import GrpcServer, start_server
from services.common.runtime import Runtime
from services.common.timefmt import iso_z

log = get_logger("earshot.auth")

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version_auth"
SERVICE_NAME = auth_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name

STATUS = {
    "invalid": grpc.StatusCode.INVALID_ARGUMENT,
    "exists": grpc.StatusCode.ALREADY_EXISTS,
    "unauthenticated": grpc.StatusCode.UNAUTHENTICATED,
    "forbidden": grpc.StatusCode.PERMISSION_DENIED,
    "not_found": grpc.StatusCode.NOT_FOUND,
    "bad_request": grpc.StatusCode.FAILED_PRECONDITION,
    "rate_limited": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "unavailable": grpc.StatusCode.UNAVAILABLE,
    "not_configured": grpc.StatusCode.UNIMPLEMENTED,
}


async def migrate(database_url: str) -> None:
    """Upgrade the auth service's tables to the newest revision."""
    await asyncio.to_thread(db.run_migrations, database_url, MIGRATIONS, VERSION_TABLE)


def user_message(user: User) -> auth_pb2.User:
    """A ``User`` row as its protobuf message."""
    return auth_pb2.User(
        id=user.id,
        email=user.email,
        name=user.name,
        auth_provider=user.auth_provider,
        is_active=bool(user.is_active),
        created_at=iso_z(user.created_at, seconds=False) or "",
    )


def session_message(issued: IssuedSession) -> auth_pb2.Session:
    """An :class:`IssuedSession` as its protobuf message."""
    return auth_pb2.Session(
        access_token=issued.access_token,
        refresh_token=issued.refresh_token,
        token_type="bearer",
        expires_in=issued.expires_in,
        refresh_expires_in=issued.refresh_expires_in,
        user=user_message(issued.user),
        session_id=issued.session_id,
    )


async def _abort(context: grpc.aio.ServicerContext, exc: AuthError) -> None:
    if exc.retry_after:
        context.set_trailing_metadata((("retry-after", str(exc.retry_after)),))
    await context.abort(STATUS[exc.code], exc.message)


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    """gRPC handlers: each calls one :class:`AuthCore` operation and maps :class:`AuthError`."""

    def __init__(self, core: AuthCore) -> None:
        self.core = core

    async def _run(self, context: grpc.aio.ServicerContext, call: Any) -> Any:
        try:
            return await call
        except AuthError as exc:
            await _abort(context, exc)

    async def Register(
        self, request: auth_pb2.RegisterRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.Session:  # noqa: N802
        """Create a password account and sign in."""
        issued = await self._run(
            context, self.core.register(request.email, request.password, request.name, request.client_address)
        )
        return session_message(issued)

    async def Login(
        self, request: auth_pb2.LoginRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.Session:  # noqa: N802
        """Check a password and sign in."""
        issued = await self._run(
            context, self.core.login(request.email, request.password, request.client_address)
        )
        return session_message(issued)

    async def Refresh(
        self, request: auth_pb2.RefreshRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.Session:  # noqa: N802
        """Rotate a refresh token."""
        return session_message(await self._run(context, self.core.refresh(request.refresh_token)))

    async def Logout(
        self, request: auth_pb2.LogoutRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.LogoutResponse:  # noqa: N802
        """Revoke a session."""
        ids = await self._run(
            context, self.core.logout(request.user_id, request.session_id, request.refresh_token)
        )
        return auth_pb2.LogoutResponse(revoked_session_ids=ids)

    async def GetUser(
        self, request: auth_pb2.GetUserRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.User:  # noqa: N802
        """Read one user."""
        return user_message(await self._run(context, self.core.get_user(request.user_id)))

    async def StartOAuth(  # noqa: N802
        self, request: auth_pb2.StartOAuthRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.StartOAuthResponse:
        """Begin an OAuth sign-in."""
        url, state = await self._run(
            context, self.core.start_oauth(request.provider, request.surface or "mobile")
        )
        return auth_pb2.StartOAuthResponse(auth_url=url, state=state)

    async def CompleteOAuth(  # noqa: N802
        self, request: auth_pb2.CompleteOAuthRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.Session:
        """Finish an OAuth sign-in."""
        issued = await self._run(
            context, self.core.complete_oauth(request.provider, request.code, request.state)
        )
        return session_message(issued)

    async def GetPublicKeys(  # noqa: N802
        self, request: auth_pb2.GetPublicKeysRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.PublicKeys:
        """The JWKS document."""
        return auth_pb2.PublicKeys(jwks_json=json.dumps(self.core.keys.jwks(), separators=(",", ":")))

    async def ListRevokedSessions(  # noqa: N802
        self, request: auth_pb2.ListRevokedSessionsRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.RevokedSessions:
        """Sessions revoked within the access-token lifetime."""
        rows = await self.core.revoked_sessions()
        return auth_pb2.RevokedSessions(
            sessions=[auth_pb2.RevokedSession(session_id=s, user_id=u, expires_at=e) for s, u, e in rows]
        )


async def build_core(runtime: Runtime, config: AuthConfig | None = None) -> tuple[AuthCore, Any]:
    """An :class:`AuthCore` on the runtime's database and bus (also used by the CLI).

    Returns:
        ``(core, engine)``; dispose the engine when done.

    Raises:
        ConfigurationError: invalid auth settings.
        ValueError: an unusable signing key.
    """
    settings = runtime.settings
    config = config or load_auth_config(public_url=settings.effective_public_url)
    keyring = await asyncio.to_thread(
        load_keyring,
        list(config.private_key_files),
        config.keys_dir or settings.data_dir / "auth-keys",
        config.active_kid,
        (config.private_key_pem,) if config.private_key_pem else (),
    )
    engine = db.create_engine(settings.effective_database_url)

    async def publish(payload: EventPayload) -> None:
        await publishing.publish(runtime, "auth", payload)

    return AuthCore(config, db.session_factory(engine), keyring, publish), engine


class AuthService:
    """The auth service (``earshot serve auth``). ``core`` holds the operations once started."""

    name = "auth"

    def __init__(self) -> None:
        self.core: AuthCore
        self._engine: Any = None
        self._server: GrpcServer | None = None

    async def start(self, runtime: Runtime) -> None:
        """Load keys, open the database, ensure the auth topic, serve gRPC."""
        self.core, self._engine = await build_core(runtime)
        await runtime.bus.ensure_topics([AUTH_EVENTS])
        servicer = AuthServicer(self.core)
        host = runtime.settings.grpc_host
        self._server = await start_server(
            host,
            runtime.grpc_port("auth"),
            [lambda s: auth_pb2_grpc.add_AuthServiceServicer_to_server(servicer, s)],
            [SERVICE_NAME],
        )
        runtime.grpc_targets["auth"] = f"{host}:{self._server.port}"
        log.info("auth.started", kid=self.core.keys.active.kid, alg=self.core.keys.active.alg)

    async def stop(self) -> None:
        """Stop gRPC gracefully, close the database."""
        if self._server is not None:
            await self._server.stop()
            self._server = None
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None
