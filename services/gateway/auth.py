"""Accounts on the gateway: the auth routes of seeds 001, 003 and 004, the ``CurrentUser``
dependency every protected route uses, and the isolation helper.

The gateway never imports the auth service: it calls ``earshot.auth.v1.AuthService`` over
gRPC for register/login/refresh/logout/OAuth, and verifies access tokens *locally*:

* **JWKS cache.** Public keys come from ``GetPublicKeys`` once, are served again at
  ``GET /.well-known/jwks.json``, and are refetched when a token names an unknown ``kid``
  (at most once per ``EARSHOT_GATEWAY_JWKS_MIN_REFETCH_S``), so key rotation needs no
  restart and an authenticated request costs no call to auth.
* **Checks** (RFC 7519 / RFC 8725): ``alg`` must be the key's own (EdDSA or RS256; ``none``
  and HMAC are refused), signature, ``iss``, ``aud``, ``exp``, ``nbf``, ``iat``, ``sub``,
  ``jti``, ``sid``. Every failure is 401 with ``WWW-Authenticate: Bearer ...
  error="invalid_token"`` (RFC 6750 section 3).
* **Key refresh.** The JWKS is also refetched in the background once it is older than
  ``EARSHOT_GATEWAY_JWKS_MAX_AGE_S`` (300 s), so a withdrawn key stops being accepted.
* **Verified-token cache.** A token whose signature and claims passed is remembered (up to
  4096, cleared when the JWKS is refetched); later requests with it only re-check ``exp``
  and revocation.
* **Revocation.** Each replica consumes ``earshot.auth.events`` in its own consumer group
  ``gateway.auth.<instance>`` (from the end of the log, like the job waiter) and refuses
  access tokens whose ``sid`` was revoked (logout, refresh-token reuse, disabled user)
  until they expire. At its first authenticated request a replica subscribes first and
  then loads the sessions revoked recently (``ListRevokedSessions``), so no revocation
  falls between the two.

Product routes adopt it with::

    from services.gateway.auth import CurrentUser, OptionalUser, owned_or_404

    @router.get("/api/v1/mobile/meetings/{meeting_id}")
    async def get_meeting(meeting_id: str, user: CurrentUser) -> ...:
        meeting = owned_or_404(await repo.get(meeting_id), user, what="meeting")
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Annotated, Any, Literal, TypeVar

import grpc
import jwt
from earshot.auth.v1 import auth_pb2, auth_pb2_grpc
from fastapi import APIRouter, Depends, Request, Response, Security
from fastapi.security import HTTPBearer
from pydantic import AliasChoices, BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.bus import Subscription
from services.common.events import AUTH_EVENTS, Envelope, SessionRevoked
from services.common.logging import get_logger
from services.common.rpc import call_metadata, channel
from services.common.runtime import Runtime
from services.common.settings import load_settings_class
from services.gateway.errors import ApiError

__all__ = [
    "AuthGate",
    "AuthenticatedUser",
    "CurrentUser",
    "OptionalUser",
    "current_user",
    "optional_user",
    "owned_or_404",
    "router",
]

log = get_logger("earshot.gateway.auth")

T = TypeVar("T")

ACCEPTED_ALGORITHMS = frozenset({"EdDSA", "RS256"})
REALM = 'Bearer realm="earshot"'
VERIFIED_CACHE_SIZE = 4096
"""Tokens whose signature and claims were verified, kept until their ``exp`` (oldest evicted first)."""


class GatewayAuthConfig(BaseSettings):
    """What the gateway checks in access tokens; names shared with the auth service."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    issuer: str = Field("earshot-auth", validation_alias=AliasChoices("EARSHOT_AUTH_ISSUER", "JWT_ISSUER"))
    audience: str = Field("earshot", validation_alias=AliasChoices("EARSHOT_AUTH_AUDIENCE", "JWT_AUDIENCE"))
    leeway_s: float = Field(5, ge=0, le=300, validation_alias=AliasChoices("EARSHOT_GATEWAY_JWT_LEEWAY_S"))
    jwks_min_refetch_s: float = Field(
        5, ge=0, validation_alias=AliasChoices("EARSHOT_GATEWAY_JWKS_MIN_REFETCH_S")
    )
    rpc_timeout_s: float = Field(10, gt=0, validation_alias=AliasChoices("EARSHOT_GATEWAY_AUTH_TIMEOUT_S"))
    jwks_max_age_s: float = Field(300, gt=0, validation_alias=AliasChoices("EARSHOT_GATEWAY_JWKS_MAX_AGE_S"))


@dataclass(frozen=True)
class AuthenticatedUser:
    """The caller, from a verified access token.

    Attributes:
        id: user id (``sub``).
        email: normalised email.
        name: display name.
        session_id: the session (``sid``) the token belongs to.
        token_id: the token's ``jti``.
        expires_at: the token's ``exp``, Unix seconds.
        claims: every claim.
    """

    id: str
    email: str
    name: str
    session_id: str
    token_id: str
    expires_at: int
    claims: Mapping[str, Any] = field(repr=False)


def _unauthorized(details: str, *, error: str | None = "invalid_token") -> ApiError:
    challenge = REALM if error is None else f'{REALM}, error="{error}", error_description="{details}"'
    return ApiError(401, "Unauthorized", details, headers={"WWW-Authenticate": challenge})


_STATUS: dict[grpc.StatusCode, tuple[int, str]] = {
    grpc.StatusCode.INVALID_ARGUMENT: (422, "Invalid request"),
    grpc.StatusCode.ALREADY_EXISTS: (409, "Conflict"),
    grpc.StatusCode.UNAUTHENTICATED: (401, "Unauthorized"),
    grpc.StatusCode.PERMISSION_DENIED: (403, "Forbidden"),
    grpc.StatusCode.NOT_FOUND: (404, "Not found"),
    grpc.StatusCode.FAILED_PRECONDITION: (400, "Bad request"),
    grpc.StatusCode.RESOURCE_EXHAUSTED: (429, "Too many requests"),
}


def _api_error(exc: grpc.aio.AioRpcError) -> ApiError:
    """Map an auth-service gRPC error to the gateway's HTTP error."""
    status, title = _STATUS.get(exc.code(), (503, "Service unavailable"))
    details = exc.details() or "the auth service did not answer"
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = REALM
    if status == 429:
        trailing = dict(exc.trailing_metadata() or ())
        headers["Retry-After"] = str(trailing.get("retry-after", "1"))
    if status == 503:
        log.warning("auth.unavailable", code=str(exc.code()), details=details)
        details = "the auth service is unavailable; try again shortly"
    return ApiError(status, title, details, headers=headers)


class AuthGate:
    """One replica's token verifier: JWKS cache, revocation list, auth-service client.

    Args:
        runtime: the gateway's runtime (bus, settings, instance id, auth gRPC target).
        config: token checks (from the environment when omitted).
    """

    def __init__(self, runtime: Runtime, config: GatewayAuthConfig | None = None) -> None:
        self.runtime = runtime
        self.config = config or load_settings_class(GatewayAuthConfig, "gateway auth")
        self.keys: dict[str, jwt.PyJWK] = {}
        self.jwks_doc: dict[str, Any] = {"keys": []}
        self.revoked: dict[str, int] = {}
        self._fetched_at = 0.0
        self._ready = False
        self._subscribed = False
        self._lock = asyncio.Lock()
        self._stub: auth_pb2_grpc.AuthServiceStub | None = None
        self._channel: grpc.aio.Channel | None = None
        self._subscription: Subscription | None = None
        self._verified: dict[str, AuthenticatedUser] = {}
        self._refreshing: asyncio.Task[None] | None = None

    # --- auth service client ---------------------------------------------------------------
    @property
    def stub(self) -> auth_pb2_grpc.AuthServiceStub:
        """The AuthService stub on one long-lived channel."""
        if self._stub is None:
            try:
                target = self.runtime.grpc_target("auth")
            except LookupError as exc:
                raise ApiError(503, "Service unavailable", str(exc)) from None
            self._channel = channel(target)
            self._stub = auth_pb2_grpc.AuthServiceStub(self._channel)
        return self._stub

    async def close(self) -> None:
        """Leave the revocation group and close the channel (the bus also closes it at shutdown)."""
        if self._subscription is not None:
            await self._subscription.close()
            self._subscription = None
        self._subscribed = self._ready = False
        if self._refreshing is not None:
            await asyncio.gather(self._refreshing, return_exceptions=True)
        if self._channel is not None:
            await self._channel.close()
            self._channel, self._stub = None, None

    async def call(self, method: str, request: Any) -> Any:
        """Call ``AuthService.<method>`` with a deadline; gRPC errors become :class:`ApiError`."""
        rpc: Callable[..., Awaitable[Any]] = getattr(self.stub, method)
        try:
            return await rpc(request, timeout=self.config.rpc_timeout_s, metadata=call_metadata())
        except grpc.aio.AioRpcError as exc:
            raise _api_error(exc) from None

    # --- start-up --------------------------------------------------------------------------
    async def ensure_ready(self) -> None:
        """Subscribe to revocations, load recent revocations and the JWKS (once)."""
        if self._ready:
            return
        async with self._lock:
            if self._ready:
                return
            if not self._subscribed:
                await self.runtime.bus.ensure_topics([AUTH_EVENTS])
                self._subscription = await self.runtime.bus.subscribe(
                    [AUTH_EVENTS], f"gateway.auth.{self.runtime.instance_id}", self.on_event, from_latest=True
                )
                self._subscribed = True
            reply = await self.call("ListRevokedSessions", auth_pb2.ListRevokedSessionsRequest())
            for item in reply.sessions:
                self.revoke(item.session_id, item.expires_at)
            await self._fetch_keys()
            self._ready = True

    async def _fetch_keys(self) -> None:
        reply = await self.call("GetPublicKeys", auth_pb2.GetPublicKeysRequest())
        doc = json.loads(reply.jwks_json)
        keys: dict[str, jwt.PyJWK] = {}
        for jwk in doc.get("keys", []):
            try:
                keys[str(jwk["kid"])] = jwt.PyJWK(jwk)
            except (KeyError, jwt.PyJWTError) as exc:
                log.warning("auth.bad_jwk", error=str(exc))
        self.keys, self.jwks_doc, self._fetched_at = keys, doc, time.monotonic()
        self._verified.clear()  # a key may have been withdrawn

    async def _refresh_keys(self) -> None:
        try:
            async with self._lock:
                await self._fetch_keys()
        except ApiError as exc:  # keep the keys we have; try again at the next request
            self._fetched_at = time.monotonic() - self.config.jwks_max_age_s + self.config.jwks_min_refetch_s
            log.warning("auth.jwks_refresh_failed", error=exc.details)

    async def key_for(self, kid: str) -> jwt.PyJWK | None:
        """The public key ``kid``; refetches the JWKS for an unknown one (rate-limited)."""
        key = self.keys.get(kid)
        if key is None and time.monotonic() - self._fetched_at >= self.config.jwks_min_refetch_s:
            async with self._lock:
                if (
                    kid not in self.keys
                    and time.monotonic() - self._fetched_at >= self.config.jwks_min_refetch_s
                ):
                    await self._fetch_keys()
            key = self.keys.get(kid)
        return key

    # --- revocation ------------------------------------------------------------------------
    def revoke(self, session_id: str, expires_at: int) -> None:
        """Refuse tokens of ``session_id`` until ``expires_at`` (Unix seconds)."""
        now = int(time.time())
        if len(self.revoked) > 1000:
            self.revoked = {s: e for s, e in self.revoked.items() if e > now}
        if expires_at > now:
            self.revoked[session_id] = max(expires_at, self.revoked.get(session_id, 0))

    async def on_event(self, envelope: Envelope) -> None:
        """Bus handler: apply ``SessionRevoked`` events."""
        if envelope.type != SessionRevoked.event_type:
            return
        event = envelope.payload(SessionRevoked)
        for sid in event.session_ids:
            self.revoke(sid, event.expires_at)

    # --- verification ----------------------------------------------------------------------
    async def verify(self, token: str) -> AuthenticatedUser:
        """Verify an access token locally.

        Raises:
            ApiError: 401 (with ``WWW-Authenticate``) for a malformed, unsigned, wrongly signed,
                expired, not-yet-valid, wrong-issuer, wrong-audience or revoked token; 503 when
                the keys cannot be loaded.
        """
        await self.ensure_ready()
        if time.monotonic() - self._fetched_at > self.config.jwks_max_age_s and (
            self._refreshing is None or self._refreshing.done()
        ):
            self._refreshing = asyncio.create_task(self._refresh_keys())  # withdrawn keys drop out
        cached = self._verified.get(token)
        if cached is not None:  # signature already checked; time and revocation are checked every time
            if cached.expires_at + self.config.leeway_s <= time.time():
                del self._verified[token]
                raise _unauthorized("the access token has expired")
            if self.revoked.get(cached.session_id, 0) > time.time():
                raise _unauthorized("the session has been signed out")
            return cached
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _unauthorized("the access token is malformed") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ACCEPTED_ALGORITHMS or not isinstance(kid, str):
            raise _unauthorized("the access token's algorithm or key id is not accepted")
        key = await self.key_for(kid)
        if key is None or key.algorithm_name != alg:
            raise _unauthorized("the access token was not signed by a known key")
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=self.config.audience,
                issuer=self.config.issuer,
                leeway=self.config.leeway_s,
                options={"require": ["iss", "aud", "sub", "iat", "exp", "jti", "sid"]},
            )
        except jwt.ExpiredSignatureError:
            raise _unauthorized("the access token has expired") from None
        except jwt.InvalidAudienceError:
            raise _unauthorized("the access token is not meant for this API") from None
        except jwt.InvalidIssuerError:
            raise _unauthorized("the access token was issued by someone else") from None
        except jwt.InvalidSignatureError:
            raise _unauthorized("the access token's signature is invalid") from None
        except jwt.PyJWTError as exc:
            raise _unauthorized(f"the access token is invalid ({type(exc).__name__})") from None
        sid = str(claims["sid"])
        if self.revoked.get(sid, 0) > time.time():
            raise _unauthorized("the session has been signed out")
        user = AuthenticatedUser(
            id=str(claims["sub"]),
            email=str(claims.get("email", "")),
            name=str(claims.get("name", "")),
            session_id=sid,
            token_id=str(claims["jti"]),
            expires_at=int(claims["exp"]),
            claims=claims,
        )
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified.pop(next(iter(self._verified)))
        self._verified[token] = user
        return user


def auth_gate(request: Request) -> AuthGate:
    """The replica's :class:`AuthGate` (created on first use from ``app.state.gateway.runtime``)."""
    gate: AuthGate | None = getattr(request.app.state, "auth_gate", None)
    if gate is None:
        gate = AuthGate(request.app.state.gateway.runtime)
        request.app.state.auth_gate = gate
    return gate


_bearer = HTTPBearer(auto_error=False, description="Access token from login, register, refresh or OAuth.")


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("use the header 'Authorization: Bearer <access token>'")
    return token.strip()


async def current_user(request: Request, _: Any = Security(_bearer)) -> AuthenticatedUser:
    """Dependency: the verified caller; 401 when the token is missing or invalid."""
    token = _token(request)
    if token is None:
        raise _unauthorized("an access token is required (Authorization: Bearer <token>)", error=None)
    return await auth_gate(request).verify(token)


async def optional_user(request: Request, _: Any = Security(_bearer)) -> AuthenticatedUser | None:
    """Dependency: the verified caller, or ``None`` without an ``Authorization`` header.

    A token that is present but invalid is still refused (401), never ignored.
    """
    token = _token(request)
    return None if token is None else await auth_gate(request).verify(token)


CurrentUser = Annotated[AuthenticatedUser, Depends(current_user)]
"""The verified caller of a protected route (401 otherwise)."""

OptionalUser = Annotated[AuthenticatedUser | None, Depends(optional_user)]
"""The verified caller when a token is sent, else ``None``."""


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


# --- routes ---------------------------------------------------------------------------------
router = APIRouter()


class UserOut(BaseModel):
    """A user as the API shows it."""

    id: str
    email: str
    name: str
    auth_provider: str | None = None
    is_active: bool | None = None
    created_at: str | None = None


class TokenResponse(BaseModel):
    """Tokens from register, login, refresh and OAuth callbacks.

    ``token`` (seed 001) and ``access_token`` (seeds 003/004) hold the same JWT.
    """

    token: str
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Access-token lifetime, seconds.")
    refresh_expires_in: int = Field(description="Refresh-token lifetime, seconds.")
    user: UserOut


class RegisterBody(BaseModel):
    """``POST /api/users`` and ``POST /api/auth/register``."""

    email: str = Field(max_length=320)
    password: str = Field(max_length=4096)
    name: str = Field("", max_length=500)


class LoginBody(BaseModel):
    """``POST /api/login`` and ``POST /api/auth/login``."""

    email: str = Field(max_length=320)
    password: str = Field(max_length=4096)


class RefreshBody(BaseModel):
    """``POST /api/v1/{mobile,web}/auth/refresh``."""

    refresh_token: str = Field(min_length=1, max_length=512)


class LogoutBody(BaseModel):
    """Optional body of ``POST /api/auth/logout``: also revoke this refresh token's session."""

    refresh_token: str | None = Field(None, max_length=512)


class LogoutResponse(BaseModel):
    """Answer of a logout."""

    message: str
    revoked_sessions: int


class AuthUrl(BaseModel):
    """Answer of ``GET .../auth/{provider}/login``: send the browser to ``auth_url``."""

    auth_url: str
    state: str


def _user_out(user: auth_pb2.User) -> UserOut:
    return UserOut(
        id=user.id,
        email=user.email,
        name=user.name,
        auth_provider=user.auth_provider or None,
        is_active=user.is_active,
        created_at=user.created_at or None,
    )


def _tokens(session: auth_pb2.Session) -> TokenResponse:
    return TokenResponse(
        token=session.access_token,
        access_token=session.access_token,
        refresh_token=session.refresh_token,
        expires_in=session.expires_in,
        refresh_expires_in=session.refresh_expires_in,
        user=_user_out(session.user),
    )


def _me(user: AuthenticatedUser) -> UserOut:
    return UserOut(id=user.id, email=user.email, name=user.name)


def _client_address(request: Request) -> str:
    return request.client.host if request.client else ""


_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": text}
    for code, text in {
        401: "Missing, malformed, expired, wrongly signed, wrong-audience or revoked token; bad credentials",
        409: "Email already registered",
        422: "Invalid email, weak password or malformed body",
        429: "Too many failed logins (Retry-After)",
    }.items()
}


async def _register(body: RegisterBody, request: Request) -> TokenResponse:
    reply = await auth_gate(request).call(
        "Register",
        auth_pb2.RegisterRequest(
            email=body.email, password=body.password, name=body.name, client_address=_client_address(request)
        ),
    )
    return _tokens(reply)


async def _login(body: LoginBody, request: Request) -> TokenResponse:
    reply = await auth_gate(request).call(
        "Login",
        auth_pb2.LoginRequest(
            email=body.email, password=body.password, client_address=_client_address(request)
        ),
    )
    return _tokens(reply)


async def _current(user: CurrentUser) -> UserOut:
    return _me(user)


@router.get("/.well-known/jwks.json", tags=["auth"])
async def jwks(request: Request, response: Response) -> dict[str, Any]:
    """The public keys that verify Earshot's access tokens (JWKS, RFC 7517)."""
    gate = auth_gate(request)
    await gate.ensure_ready()
    response.headers["Cache-Control"] = "public, max-age=300"
    return gate.jwks_doc


# The same register / login / me handlers at each seed's documented paths.
_PASSWORD_SURFACES = (
    ("interview coach", "/api/users", "/api/login", "/api/me"),  # seed 001
    ("anc", "/api/auth/register", "/api/auth/login", "/api/auth/me"),  # seed 004
)
for _tag, _register_path, _login_path, _me_path in _PASSWORD_SURFACES:
    _tags: list[str | Enum] = [f"auth: {_tag}"]
    router.add_api_route(
        _register_path,
        _register,
        methods=["POST"],
        status_code=201,
        response_model=TokenResponse,
        tags=_tags,
        summary="Register (email, password, name); returns access and refresh tokens",
        responses=_ERRORS,
    )
    router.add_api_route(
        _login_path,
        _login,
        methods=["POST"],
        response_model=TokenResponse,
        tags=_tags,
        summary="Log in (email, password); returns access and refresh tokens",
        responses=_ERRORS,
    )
    router.add_api_route(
        _me_path,
        _current,
        methods=["GET"],
        response_model=UserOut,
        tags=_tags,
        summary="The current user",
        responses=_ERRORS,
    )


@router.post("/api/auth/logout", response_model=LogoutResponse, tags=["auth: anc"], responses=_ERRORS)
async def logout(request: Request, user: CurrentUser, body: LogoutBody | None = None) -> LogoutResponse:
    """Sign out: the session of this access token (and of ``refresh_token`` if given) is revoked;
    its access tokens are refused by every gateway replica from now on."""
    gate = auth_gate(request)
    reply = await gate.call(
        "Logout",
        auth_pb2.LogoutRequest(
            session_id=user.session_id,
            user_id=user.id,
            refresh_token=(body.refresh_token if body else None) or "",
        ),
    )
    for sid in reply.revoked_session_ids:
        gate.revoke(sid, user.expires_at + 60)
    return LogoutResponse(message="Logged out", revoked_sessions=len(reply.revoked_session_ids))


# Seed 003 (meeting memos): the same routes under /api/v1/mobile and /api/v1/web.
def _surface_routes(surface: Literal["mobile", "web"]) -> None:
    prefix = f"/api/v1/{surface}/auth"
    tag = f"auth: meeting memos ({surface})"

    async def refresh(body: RefreshBody, request: Request) -> TokenResponse:
        """Trade a refresh token for new tokens (the old refresh token is spent)."""
        return _tokens(
            await auth_gate(request).call(
                "Refresh", auth_pb2.RefreshRequest(refresh_token=body.refresh_token)
            )
        )

    router.add_api_route(
        f"{prefix}/me", _current, methods=["GET"], response_model=UserOut, tags=[tag], responses=_ERRORS
    )
    router.add_api_route(
        f"{prefix}/refresh",
        refresh,
        methods=["POST"],
        response_model=TokenResponse,
        tags=[tag],
        responses=_ERRORS,
    )
    for provider in ("microsoft", "google"):

        async def login(request: Request, provider: str = provider) -> AuthUrl:
            """The provider's sign-in URL (authorization code flow with state, nonce and PKCE)."""
            reply = await auth_gate(request).call(
                "StartOAuth", auth_pb2.StartOAuthRequest(provider=provider, surface=surface)
            )
            return AuthUrl(auth_url=reply.auth_url, state=reply.state)

        async def callback(
            request: Request,
            code: str | None = None,
            state: str | None = None,
            error: str | None = None,
            error_description: str | None = None,
            provider: str = provider,
        ) -> TokenResponse:
            """Finish the sign-in with the ``code`` and ``state`` the provider redirected with."""
            if error:
                raise ApiError(
                    400, "OAuth sign-in failed", f"{error}: {error_description or 'the provider refused'}"
                )
            if not code or not state:
                raise ApiError(400, "Bad request", "the callback needs the code and state query parameters")
            if len(code) > 4096 or len(state) > 512:
                raise ApiError(400, "Bad request", "code or state is too long")
            reply = await auth_gate(request).call(
                "CompleteOAuth",
                auth_pb2.CompleteOAuthRequest(provider=provider, code=code, state=state, surface=surface),
            )
            return _tokens(reply)

        # FastAPI would expose the default-bound ``provider`` as a query parameter; hide it.
        login.__signature__ = _without(login, "provider")  # type: ignore[attr-defined]
        callback.__signature__ = _without(callback, "provider")  # type: ignore[attr-defined]
        router.add_api_route(
            f"{prefix}/{provider}/login",
            login,
            methods=["GET"],
            response_model=AuthUrl,
            tags=[tag],
            responses=_ERRORS,
        )
        router.add_api_route(
            f"{prefix}/{provider}/callback",
            callback,
            methods=["GET"],
            response_model=TokenResponse,
            tags=[tag],
            responses=_ERRORS,
        )


def _without(func: Callable[..., Any], name: str) -> Any:
    import inspect

    sig = inspect.signature(func)
    return sig.replace(parameters=[p for p in sig.parameters.values() if p.name != name])


_surface_routes("mobile")
_surface_routes("web")
