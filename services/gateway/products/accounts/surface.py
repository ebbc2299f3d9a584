"""Seed 003's auth routes, one router mounted under ``/api/v1/mobile`` and ``/api/v1/web``
(``app.py``); :func:`surface_operation_id` keeps operation ids unique per mount, and the
OAuth routes take ``{provider}`` typed ``Literal["google", "microsoft"]``."""

from __future__ import annotations

from typing import Literal

from earshot.auth.v1 import auth_pb2
from fastapi import APIRouter, Request
from fastapi.routing import APIRoute

from services.gateway.deps import AuthClient, CurrentUser
from services.gateway.products.accounts.handlers import PROFILE, REFRESH
from services.gateway.products.accounts.schemas import (
    AuthUrl,
    RefreshBody,
    TokenResponse,
    UserOut,
)
from services.gateway.products.accounts.service import Accounts
from services.gateway.shared.errors import ApiError
from services.gateway.shared.openapi import errors

Provider = Literal["google", "microsoft"]
Surface = Literal["mobile", "web"]

router = APIRouter()

NOT_ENABLED = {404: "The provider is not configured on this deployment (details name the settings)"}
OAUTH_LOGIN = errors(described=NOT_ENABLED)
OAUTH_CALLBACK = errors(
    described={
        **NOT_ENABLED,
        400: "The provider refused, or code or state is missing, too long or wrong",
        403: "Disabled account, or an email domain outside COMPANY_DOMAINS",
    }
)


def surface_operation_id(route: APIRoute) -> str:
    """Operation ids of this router's routes, unique per mount: ``<name>_<surface>``."""
    surface = "web" if route.path.startswith("/api/v1/web") else "mobile"
    return f"{route.name}_{surface}"


def _surface(request: Request) -> Surface:
    return "web" if request.url.path.startswith("/api/v1/web/") else "mobile"


# --- seed 003 (meeting memos), under /api/v1/mobile and /api/v1/web -----------------------------
@router.get("/auth/me", response_model=UserOut, responses=PROFILE)
async def surface_me(user: CurrentUser, accounts: Accounts) -> UserOut:
    """The current user."""
    return await accounts.profile(user)


@router.post("/auth/refresh", response_model=TokenResponse, responses=REFRESH)
async def refresh(body: RefreshBody, auth: AuthClient, accounts: Accounts) -> TokenResponse:
    """Trade a refresh token for new tokens (the old refresh token is spent)."""
    return accounts.tokens(await auth.refresh(body.refresh_token))


@router.get("/auth/{provider}/login", response_model=AuthUrl, responses=OAUTH_LOGIN)
async def oauth_login(provider: Provider, request: Request, auth: AuthClient) -> AuthUrl:
    """The provider's sign-in URL (authorization code flow with state, nonce and PKCE)."""
    reply = await auth.start_oauth(provider, _surface(request))
    return AuthUrl(auth_url=reply.auth_url, state=reply.state)


@router.get("/auth/{provider}/callback", response_model=TokenResponse, responses=OAUTH_CALLBACK)
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
