"""The auth routes: seed 001 (``/api/users``, ``/api/login``, ``/api/me``), seed 004
(``/api/auth/...``), seed 003 (:data:`surface_router`, mounted under ``/api/v1/mobile`` and
``/api/v1/web`` by ``app.py``) and ``/.well-known/jwks.json``."""

from __future__ import annotations

from typing import Any, Literal

from earshot.auth.v1 import auth_pb2
from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute

from services.gateway.deps import AuthClient, CurrentUser, Verifier
from services.gateway.products.accounts.schemas import (
    AuthUrl,
    LoginBody,
    LogoutBody,
    LogoutResponse,
    RefreshBody,
    RegisterBody,
    TokenResponse,
    UserOut,
)
from services.gateway.products.accounts.service import Accounts
from services.gateway.shared.errors import ApiError, ErrorBody

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in {
        401: "Missing, malformed, expired, wrongly signed, wrong-audience or revoked token; bad credentials",
        409: "Email already registered",
        422: "Invalid email, weak password or malformed body",
        429: "Too many failed logins (Retry-After)",
    }.items()
}

Provider = Literal["google", "microsoft"]
Surface = Literal["mobile", "web"]

keys_router = APIRouter()
interview_coach_router = APIRouter(responses=ERRORS)
"""Seed 001's paths."""
anc_router = APIRouter(responses=ERRORS)
"""Seed 004's paths."""
surface_router = APIRouter(responses=ERRORS)
"""Seed 003's paths, mounted under ``/api/v1/mobile`` and ``/api/v1/web``."""


def surface_operation_id(route: APIRoute) -> str:
    """Operation ids of :data:`surface_router`'s routes, unique per mount: ``<name>_<surface>``."""
    surface = "web" if route.path.startswith("/api/v1/web") else "mobile"
    return f"{route.name}_{surface}"


def _client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def _surface(request: Request) -> Surface:
    return "web" if request.url.path.startswith("/api/v1/web/") else "mobile"


async def _register(
    body: RegisterBody, request: Request, auth: AuthClient, accounts: Accounts
) -> TokenResponse:
    reply = await auth.register(
        auth_pb2.RegisterRequest(
            email=body.email, password=body.password, name=body.name, client_address=_client_address(request)
        )
    )
    return accounts.tokens(reply)


async def _login(body: LoginBody, request: Request, auth: AuthClient, accounts: Accounts) -> TokenResponse:
    reply = await auth.login(
        auth_pb2.LoginRequest(
            email=body.email, password=body.password, client_address=_client_address(request)
        )
    )
    return accounts.tokens(reply)


@keys_router.get("/.well-known/jwks.json")
async def jwks(response: Response, tokens: Verifier) -> dict[str, Any]:
    """The public keys that verify Earshot's access tokens (JWKS, RFC 7517)."""
    await tokens.ensure_ready()
    response.headers["Cache-Control"] = "public, max-age=300"
    return tokens.jwks_doc


# --- seed 001 (interview coach) -------------------------------------------------------------
@interview_coach_router.post("/api/users", status_code=201, response_model=TokenResponse)
async def register_user(
    body: RegisterBody, request: Request, auth: AuthClient, accounts: Accounts
) -> TokenResponse:
    """Register (email, password, name); returns access and refresh tokens."""
    return await _register(body, request, auth, accounts)


@interview_coach_router.post("/api/login", response_model=TokenResponse)
async def login_user(
    body: LoginBody, request: Request, auth: AuthClient, accounts: Accounts
) -> TokenResponse:
    """Log in (email, password); returns access and refresh tokens."""
    return await _login(body, request, auth, accounts)


@interview_coach_router.get("/api/me", response_model=UserOut)
async def me(user: CurrentUser, accounts: Accounts) -> UserOut:
    """The current user."""
    return await accounts.profile(user)


# --- seed 004 (anc) ---------------------------------------------------------------------------
@anc_router.post("/api/auth/register", status_code=201, response_model=TokenResponse)
async def register(
    body: RegisterBody, request: Request, auth: AuthClient, accounts: Accounts
) -> TokenResponse:
    """Register (email, password, name); returns access and refresh tokens."""
    return await _register(body, request, auth, accounts)


@anc_router.post("/api/auth/login", response_model=TokenResponse)
async def login(body: LoginBody, request: Request, auth: AuthClient, accounts: Accounts) -> TokenResponse:
    """Log in (email, password); returns access and refresh tokens."""
    return await _login(body, request, auth, accounts)


@anc_router.get("/api/auth/me", response_model=UserOut)
async def auth_me(user: CurrentUser, accounts: Accounts) -> UserOut:
    """The current user."""
    return await accounts.profile(user)


@anc_router.post("/api/auth/logout", response_model=LogoutResponse)
async def logout(
    user: CurrentUser, auth: AuthClient, tokens: Verifier, body: LogoutBody | None = None
) -> LogoutResponse:
    """Sign out: the session of this access token (and of ``refresh_token`` if given) is revoked;
    its access tokens are refused by every gateway replica from now on."""
    reply = await auth.logout(
        auth_pb2.LogoutRequest(
            session_id=user.session_id,
            user_id=user.id,
            refresh_token=(body.refresh_token if body else None) or "",
        )
    )
    for sid in reply.revoked_session_ids:
        tokens.revoke(sid, user.expires_at + 60)
    return LogoutResponse(message="Logged out", revoked_sessions=len(reply.revoked_session_ids))


# --- seed 003 (meeting memos), under /api/v1/mobile and /api/v1/web -----------------------------
@surface_router.get("/auth/me", response_model=UserOut)
async def surface_me(user: CurrentUser, accounts: Accounts) -> UserOut:
    """The current user."""
    return await accounts.profile(user)


@surface_router.post("/auth/refresh", response_model=TokenResponse)
async def refresh(body: RefreshBody, auth: AuthClient, accounts: Accounts) -> TokenResponse:
    """Trade a refresh token for new tokens (the old refresh token is spent)."""
    return accounts.tokens(await auth.refresh(body.refresh_token))


@surface_router.get("/auth/{provider}/login", response_model=AuthUrl)
async def oauth_login(provider: Provider, request: Request, auth: AuthClient) -> AuthUrl:
    """The provider's sign-in URL (authorization code flow with state, nonce and PKCE)."""
    reply = await auth.start_oauth(provider, _surface(request))
    return AuthUrl(auth_url=reply.auth_url, state=reply.state)


@surface_router.get("/auth/{provider}/callback", response_model=TokenResponse)
async def oauth_callback(
    provider: Provider,
    request: Request,
    auth: AuthClient,
    accounts: Accounts,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
    error_description: str | None = None,
) -> TokenResponse:
    """Finish the sign-in with the ``code`` and ``state`` the provider redirected with."""
    if error:
        raise ApiError(400, "OAuth sign-in failed", f"{error}: {error_description or 'the provider refused'}")
    if not code or not state:
        raise ApiError(400, "Bad request", "the callback needs the code and state query parameters")
    if len(code) > 4096 or len(state) > 512:
        raise ApiError(400, "Bad request", "code or state is too long")
    reply = await auth.complete_oauth(
        auth_pb2.CompleteOAuthRequest(provider=provider, code=code, state=state, surface=_surface(request))
    )
    return accounts.tokens(reply)
