"""The gateway's ``Annotated`` dependencies: what a route may ask for.

======================== ================================================================
``DbSession``            an ``AsyncSession`` for this request (closed after the response)
``Storage``              object storage
``Bus``                  the event bus
``Settings``             the platform settings
``RuntimeDep``           the runtime (temp folders, instance id)
``Ctx``                  the replica's :class:`~services.gateway.shared.product.GatewayContext`
``CurrentUser``          the verified caller; 401 (``WWW-Authenticate``) without a valid token
``OptionalUser``         the verified caller, or ``None`` without an ``Authorization`` header
                         (a header with a bad token is still 401)
``ApiKeyOrUser``         the caller of a stateless route: open while ``EARSHOT_API_KEYS`` is
                         unset; set, a valid API key (``Authorization: Bearer`` or
                         ``X-API-Key``) or a valid access token, else 401
``Verifier``             the token verifier (JWKS, revocations)
``AuthClient``           gRPC client of the auth service
``TranscriptionClient``  gRPC client of the transcription service
``AncClient``            gRPC client of the anc service
``AnalysisClient``       gRPC client of the analysis service (typed, one method per RPC)
======================== ================================================================

Routes take the caller as a parameter (``user: CurrentUser``) and check their records'
ownership with :func:`owned_or_404`. Nothing here imports a product (import-linter contract).

Dependencies that do not block are ``async def``: FastAPI runs a plain ``def`` dependency in
a worker thread, a thread hop per dependency per request (issue 18 measured several on the
path of ``GET /api/me``). Products' own dependencies follow the same rule.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Depends, Security, WebSocket
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from services.common.api_keys import matching_key
from services.common.bus import EventBus
from services.common.runtime import Runtime
from services.common.settings import Settings as PlatformSettings
from services.common.storage import ObjectStorage
from services.gateway.clients.analysis import AnalysisClient as _AnalysisClient
from services.gateway.clients.anc import AncClient as _AncClient
from services.gateway.clients.auth import AuthClient as _AuthClient
from services.gateway.clients.transcription import TranscriptionClient as _TranscriptionClient
from services.gateway.shared.errors import ApiError, unauthorized
from services.gateway.shared.openapi import answers
from services.gateway.shared.product import GatewayContext
from services.gateway.shared.timefmt import utc_timestamp
from services.gateway.shared.tokens import AuthenticatedUser, TokenVerifier

__all__ = [
    "AnalysisClient",
    "AncClient",
    "ApiKeyOrUser",
    "AuthClient",
    "AuthenticatedUser",
    "Bus",
    "Caller",
    "Ctx",
    "CurrentUser",
    "DbSession",
    "OptionalUser",
    "RuntimeDep",
    "api_key_or_user",
    "Settings",
    "Storage",
    "TranscriptionClient",
    "Verifier",
    "bearer_token",
    "context",
    "current_user",
    "optional_user",
    "owned_or_404",
    "verifier",
    "websocket_token",
    "websocket_user",
]

T = TypeVar("T")


@answers(503)
async def context(conn: HTTPConnection) -> GatewayContext:
    """The replica's context (set by ``GatewayService.start``).

    Raises:
        ApiError: 503 while the gateway is not started.
    """
    ctx: GatewayContext | None = getattr(conn.app.state, "ctx", None)
    if ctx is None:
        raise ApiError(503, "Service unavailable", "the gateway is starting; try again shortly")
    return ctx


Ctx = Annotated[GatewayContext, Depends(context)]


async def db_session(ctx: Ctx) -> AsyncIterator[AsyncSession]:
    """An ``AsyncSession`` for one request; the route commits (``async with s.begin()``)."""
    async with ctx.sessions() as session:
        yield session


async def _storage(ctx: Ctx) -> ObjectStorage:
    return ctx.runtime.storage


async def _bus(ctx: Ctx) -> EventBus:
    return ctx.runtime.bus


async def _settings(ctx: Ctx) -> PlatformSettings:
    return ctx.runtime.settings


async def _runtime(ctx: Ctx) -> Runtime:
    return ctx.runtime


@answers(503, 504)
async def _auth_client(ctx: Ctx) -> _AuthClient:
    return ctx.clients.auth


@answers(503, 504)
async def _transcription_client(ctx: Ctx) -> _TranscriptionClient:
    return ctx.clients.transcription


@answers(503, 504)
async def _anc_client(ctx: Ctx) -> _AncClient:
    return ctx.clients.anc


@answers(503, 504)
async def _analysis_client(ctx: Ctx) -> _AnalysisClient:
    if ctx.clients.analysis is None:
        raise ApiError(503, "Analysis unavailable", ctx.clients.analysis_missing or "no analysis client")
    return ctx.clients.analysis


DbSession = Annotated[AsyncSession, Depends(db_session)]
Storage = Annotated[ObjectStorage, Depends(_storage)]
Bus = Annotated[EventBus, Depends(_bus)]
Settings = Annotated[PlatformSettings, Depends(_settings)]
RuntimeDep = Annotated[Runtime, Depends(_runtime)]
AuthClient = Annotated[_AuthClient, Depends(_auth_client)]
TranscriptionClient = Annotated[_TranscriptionClient, Depends(_transcription_client)]
AncClient = Annotated[_AncClient, Depends(_anc_client)]
AnalysisClient = Annotated[_AnalysisClient, Depends(_analysis_client)]


@answers(503)
async def verifier(conn: HTTPConnection) -> TokenVerifier:
    """The replica's token verifier (``app.state.tokens``, created at start).

    Raises:
        ApiError: 503 while the gateway is not started.
    """
    tokens: TokenVerifier | None = getattr(conn.app.state, "tokens", None)
    if tokens is None:
        raise ApiError(503, "Service unavailable", "the gateway is starting; try again shortly")
    return tokens


Verifier = Annotated[TokenVerifier, Depends(verifier)]

_bearer = HTTPBearer(auto_error=False, description="Access token from login, register, refresh or OAuth.")


def bearer_token(conn: HTTPConnection) -> str | None:
    """The token of an ``Authorization: Bearer`` header, or ``None`` without the header.

    Raises:
        ApiError: 401 for another scheme or an empty token.
    """
    header = conn.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("use the header 'Authorization: Bearer <access token>'")
    return token.strip()


async def current_user(
    conn: HTTPConnection, tokens: Verifier, _: Any = Security(_bearer)
) -> AuthenticatedUser:
    """Dependency: the verified caller.

    Raises:
        ApiError: 401 (``WWW-Authenticate``) when the token is missing, malformed, expired,
            wrongly signed or revoked.
    """
    token = bearer_token(conn)
    if token is None:
        raise unauthorized("an access token is required (Authorization: Bearer <token>)", error=None)
    user = await tokens.verify(token)
    conn.state.user_id = user.id  # for the access log line
    return user


async def optional_user(
    conn: HTTPConnection, tokens: Verifier, _: Any = Security(_bearer)
) -> AuthenticatedUser | None:
    """Dependency: the verified caller, or ``None`` without an ``Authorization`` header.

    A token that is present but invalid is still refused (401), never ignored.
    """
    token = bearer_token(conn)
    if token is None:
        return None
    user = await tokens.verify(token)
    conn.state.user_id = user.id  # for the access log line
    return user


CurrentUser = Annotated[AuthenticatedUser, Depends(current_user)]
"""The verified caller of a protected route (401 otherwise)."""

OptionalUser = Annotated[AuthenticatedUser | None, Depends(optional_user)]
"""The verified caller when a token is sent, else ``None``."""

_api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="An API key from EARSHOT_API_KEYS."
)


@dataclass(frozen=True)
class Caller:
    """Who called a stateless route (:func:`api_key_or_user`).

    Attributes:
        kind: ``"open"`` (no keys configured: nobody is checked), ``"api_key"`` or ``"user"``.
        user: the verified user when ``kind == "user"``.
        key_id: first 8 hex digits of the matching key's SHA-256 when ``kind == "api_key"``
            (safe to log: it names the key without revealing it).
    """

    kind: Literal["open", "api_key", "user"]
    user: AuthenticatedUser | None = None
    key_id: str | None = None


def _looks_like_jwt(value: str) -> bool:
    return value.count(".") == 2 and value.startswith("ey")


async def api_key_or_user(
    conn: HTTPConnection,
    settings: Settings,
    _bearer_credentials: Any = Security(_bearer),
    _api_key: Any = Security(_api_key_header),
) -> Caller:
    """Dependency of the stateless routes (``POST /analyze-audio``, ``POST /api/ml/classify``,
    ``POST /v1/audio/transcriptions``, ``GET /v1/models``).

    With ``EARSHOT_API_KEYS`` unset every request passes and its headers are ignored (the
    OpenAI SDK always sends ``Authorization: Bearer <api_key>``). Set, the request needs an
    API key -- ``X-API-Key: <key>`` or ``Authorization: Bearer <key>`` -- compared as SHA-256
    digests in constant time (:func:`services.common.api_keys.matching_key`), or a valid
    access token in ``Authorization: Bearer`` (verified as for :data:`CurrentUser`).

    Raises:
        ApiError: 401 with ``WWW-Authenticate`` when keys are set and neither is valid.
    """
    digests = settings.api_key_hashes
    if not digests:
        return Caller("open")
    header_key = conn.headers.get("x-api-key")
    if header_key is not None:
        digest = matching_key(header_key.strip(), digests)
        if digest is None:
            raise unauthorized("the API key is not valid", error=None)
        return Caller("api_key", key_id=digest[:8])
    authorization = conn.headers.get("authorization")
    if authorization is None:
        raise unauthorized(
            "an API key or access token is required (Authorization: Bearer <key or token>, or X-API-Key)",
            error=None,
        )
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value:
        raise unauthorized("use the header 'Authorization: Bearer <API key or access token>'", error=None)
    digest = matching_key(value, digests)
    if digest is not None:
        return Caller("api_key", key_id=digest[:8])
    if not _looks_like_jwt(value):
        raise unauthorized("the API key is not valid", error=None)
    tokens = await verifier(conn)
    return Caller("user", user=await tokens.verify(value))


ApiKeyOrUser = Annotated[Caller, Depends(api_key_or_user)]
"""The caller of a stateless route: open, an API key, or a verified user (401 otherwise)."""


WEBSOCKET_BEARER = "bearer"
"""The ``Sec-WebSocket-Protocol`` convention for a token: offer ``bearer, <access token>``
(browsers cannot set ``Authorization`` on a WebSocket); the server selects ``bearer``."""


def websocket_token(ws: WebSocket) -> tuple[str | None, str | None]:
    """The access token of a WebSocket handshake and the subprotocol to select.

    Looked up in order: ``Authorization: Bearer`` header, ``token`` query parameter,
    ``Sec-WebSocket-Protocol: bearer, <token>``.

    Returns:
        ``(token or None, "bearer" when the subprotocol carried it, else None)``.
    """
    header = ws.headers.get("authorization", "")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), None
    query = ws.query_params.get("token")
    if query:
        return query, None
    offered = [p.strip() for p in ws.headers.get("sec-websocket-protocol", "").split(",") if p.strip()]
    if WEBSOCKET_BEARER in offered:
        i = offered.index(WEBSOCKET_BEARER)
        if i + 1 < len(offered):
            return offered[i + 1], WEBSOCKET_BEARER
    return None, None


async def refuse_websocket(ws: WebSocket, error: ApiError) -> None:
    """Refuse a handshake BEFORE accepting it: an HTTP error response (``{error, details,
    timestamp}``, e.g. 401 with ``WWW-Authenticate``) where the server supports the
    WebSocket Denial Response extension, else close code ``4000 + status`` (4401, 4404)."""
    if "websocket.http.response" in ws.scope.get("extensions", {}):
        body = {"error": error.error, "details": error.details, "timestamp": utc_timestamp()}
        await ws.send_denial_response(JSONResponse(body, status_code=error.status, headers=error.headers))
    else:
        await ws.close(code=4000 + error.status, reason=error.details[:120])


async def websocket_user(
    ws: WebSocket, tokens: TokenVerifier, *, required: bool
) -> tuple[bool, AuthenticatedUser | None, str | None]:
    """Authenticate a WebSocket handshake (:func:`websocket_token`), refusing it when it fails.

    Args:
        required: a missing token is refused (401) too.

    Returns:
        ``(ok, user or None, subprotocol to accept with)``; when ``ok`` is False the handshake
        has been refused and the route must return.
    """
    token, subprotocol = websocket_token(ws)
    try:
        if token is None:
            if required:
                raise unauthorized(
                    "an access token is required (token query parameter or bearer subprotocol)", error=None
                )
            return True, None, None
        return True, await tokens.verify(token), subprotocol
    except ApiError as exc:
        await refuse_websocket(ws, exc)
        return False, None, None


def owned_or_404(
    record: T | None, user: AuthenticatedUser, *, owner: str = "user_id", what: str = "record"
) -> T:
    """Isolation: return ``record`` only when it belongs to ``user``.

    A missing record and another user's record get the same answer, 404, so ids of other
    users' records cannot even be confirmed (never 403, never the record).

    Args:
        record: an object with attribute ``owner`` or a mapping with key ``owner`` (or ``None``).
        user: the caller.
        owner: name of the owner field holding a user id.
        what: noun for the message, e.g. ``"meeting"``.

    Raises:
        ApiError: 404.
    """
    if record is not None:
        value = record.get(owner) if isinstance(record, Mapping) else getattr(record, owner, None)
        if value is not None and str(value) == user.id:
            return record
    raise ApiError(404, "Not found", f"no such {what}")
