"""What the auth routes of the three seeds share: the error table, register and login."""

from __future__ import annotations

from typing import Any

from earshot.auth.v1 import auth_pb2
from fastapi import Request

from services.gateway.deps import AuthClient
from services.gateway.products.accounts.schemas import (
    LoginBody,
    RegisterBody,
    TokenResponse,
)
from services.gateway.products.accounts.service import Accounts
from services.gateway.shared.errors import ErrorBody

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in {
        401: "Missing, malformed, expired, wrongly signed, wrong-audience or revoked token; bad credentials",
        409: "Email already registered",
        422: "Invalid email, weak password or malformed body",
        429: "Too many failed logins (Retry-After)",
    }.items()
}


def _client_address(request: Request) -> str:
    return request.client.host if request.client else ""


async def register_account(
    body: RegisterBody, request: Request, auth: AuthClient, accounts: Accounts
) -> TokenResponse:
    """Register through the auth service; the profile is cached for ``me``."""
    reply = await auth.register(
        auth_pb2.RegisterRequest(
            email=body.email, password=body.password, name=body.name, client_address=_client_address(request)
        )
    )
    return accounts.tokens(reply)


async def login_account(
    body: LoginBody, request: Request, auth: AuthClient, accounts: Accounts
) -> TokenResponse:
    """Log in through the auth service; the profile is cached for ``me``."""
    reply = await auth.login(
        auth_pb2.LoginRequest(
            email=body.email, password=body.password, client_address=_client_address(request)
        )
    )
    return accounts.tokens(reply)
