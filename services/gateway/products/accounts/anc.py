"""Seed 004's auth routes: ``/api/auth/register``, ``/api/auth/login``, ``/api/auth/me``,
``/api/auth/logout``."""

from __future__ import annotations

from earshot.auth.v1 import auth_pb2
from fastapi import APIRouter, Request

from services.gateway.deps import AuthClient, CurrentUser, Verifier
from services.gateway.products.accounts.handlers import (
    LOGIN,
    PROFILE,
    REGISTER,
    login_account,
    register_account,
)
from services.gateway.products.accounts.schemas import (
    LoginBody,
    LogoutBody,
    LogoutResponse,
    RegisterBody,
    TokenResponse,
    UserOut,
)
from services.gateway.products.accounts.service import Accounts

router = APIRouter()


# --- seed 004 (anc) ---------------------------------------------------------------------------
@router.post("/api/auth/register", status_code=201, response_model=TokenResponse, responses=REGISTER)
async def register(
    body: RegisterBody, request: Request, auth: AuthClient, accounts: Accounts
) -> TokenResponse:
    """Register (email, password, name); returns access and refresh tokens."""
    return await register_account(body, request, auth, accounts)


@router.post("/api/auth/login", response_model=TokenResponse, responses=LOGIN)
async def login(body: LoginBody, request: Request, auth: AuthClient, accounts: Accounts) -> TokenResponse:
    """Log in (email, password); returns access and refresh tokens."""
    return await login_account(body, request, auth, accounts)


@router.get("/api/auth/me", response_model=UserOut, responses=PROFILE)
async def auth_me(user: CurrentUser, accounts: Accounts) -> UserOut:
    """The current user."""
    return await accounts.profile(user)


@router.post("/api/auth/logout", response_model=LogoutResponse)
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
