"""Request and response models of the auth routes (seeds 001, 003, 004)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

NO_CONTROL_CHARACTERS = r"^[^\x00-\x1f\x7f]*$"
"""Pattern of names and emails: no C0 control character (NUL, newline...) and no DEL (422)."""


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

    email: str = Field(max_length=320, pattern=NO_CONTROL_CHARACTERS)
    password: str = Field(max_length=4096)
    name: str = Field("", max_length=500, pattern=NO_CONTROL_CHARACTERS)


class LoginBody(BaseModel):
    """``POST /api/login`` and ``POST /api/auth/login``."""

    email: str = Field(max_length=320, pattern=NO_CONTROL_CHARACTERS)
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


class Jwk(BaseModel):
    """One public key (RFC 7517): Ed25519 (``kty: OKP``, ``crv``, ``x``) or RSA (``n``, ``e``)."""

    model_config = ConfigDict(extra="allow")

    kty: str = Field(description="OKP (Ed25519) or RSA.")
    kid: str = Field(description="RFC 7638 thumbprint; the access token's header names it.")
    alg: str | None = Field(None, description="EdDSA or RS256.")
    use: str | None = Field(None, description="sig.")
    crv: str | None = None
    x: str | None = None
    n: str | None = None
    e: str | None = None


class JwkSet(BaseModel):
    """``GET /.well-known/jwks.json``: every key that may have signed a live access token."""

    keys: list[Jwk]
