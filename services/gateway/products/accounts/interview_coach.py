"""Seed 001's auth routes: ``POST /api/users``, ``POST /api/login``, ``GET /api/me``."""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.gateway.deps import AuthClient, CurrentUser
from services.gateway.products.accounts.handlers import (
    LOGIN,
    PROFILE,
    REGISTER,
    login_account,
    register_account,
)
from services.gateway.products.accounts.schemas import (
    LoginBody,
    RegisterBody,
    TokenResponse,
    UserOut,
)
from services.gateway.products.accounts.service import Accounts

router = APIRouter()


# --- seed 001 (interview coach) -------------------------------------------------------------
@router.post("/api/users", status_code=201, response_model=TokenResponse, responses=REGISTER)
async def register_user(
    body: RegisterBody, request: Request, auth: AuthClient, accounts: Accounts
) -> TokenResponse:
    """Register (email, password, name); returns access and refresh tokens."""
    return await register_account(body, request, auth, accounts)


@router.post("/api/login", response_model=TokenResponse, responses=LOGIN)
async def login_user(
    body: LoginBody, request: Request, auth: AuthClient, accounts: Accounts
) -> TokenResponse:
    """Log in (email, password); returns access and refresh tokens."""
    return await login_account(body, request, auth, accounts)


@router.get("/api/me", response_model=UserOut, responses=PROFILE)
async def me(user: CurrentUser, accounts: Accounts) -> UserOut:
    """The current user."""
    return await accounts.profile(user)
