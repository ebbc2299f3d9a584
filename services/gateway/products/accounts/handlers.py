"""What the auth routes of the three seeds share: the error table, register and login."""

from __future__ import annotations

from earshot.auth.v1 import auth_pb2
from fastapi import Request

from services.gateway.deps import AuthClient
from services.gateway.products.accounts.schemas import (
    LoginBody,
    RegisterBody,
    TokenResponse,
)
from services.gateway.products.accounts.service import Accounts
from services.gateway.shared.openapi import errors

REGISTER = errors(
    described={
        403: "Email domain outside COMPANY_DOMAINS",
        409: "Email already registered",
        422: "Invalid email, weak password, control characters or malformed body",
        429: "Too many sign-ups from this address (Retry-After)",
    }
)
"""Errors of the register routes (401 and 503 come from the shared machinery)."""

LOGIN = errors(
    described={
        401: "Wrong email or password (one message for both)",
        403: "Disabled account (said only after a correct password) or domain outside COMPANY_DOMAINS",
        429: "Too many failed logins for this account or address (Retry-After)",
    }
)
"""Errors of the login routes."""

PROFILE = errors(described={404: "The auth service no longer knows the account"})
"""Errors of the ``me`` routes (401 for the token comes from ``CurrentUser``)."""

REFRESH = errors(described={401: "Unknown, spent, expired or revoked refresh token"})
"""Errors of the refresh routes."""


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
