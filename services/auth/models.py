"""The auth service's tables (SQLAlchemy 2 typed models).

The auth service owns these tables; its Alembic migrations live in
``services/auth/migrations`` with the version table ``alembic_version_auth``.

* ``users``: one account per normalised email; ``password_hash`` (argon2id, PHC string)
  is empty for accounts created by OAuth.
* ``auth_sessions``: one row per sign-in, the *family* of its refresh tokens; the
  access tokens carry its id as the ``sid`` claim.
* ``refresh_tokens``: SHA-256 of each opaque refresh token (never the token), its
  session, when it expires and when it was used (single use: rotation).
* ``oauth_identities``: ``(provider, subject)`` of a Google / Microsoft account -> user.
* ``oauth_states``: pending authorization requests (state, nonce, PKCE verifier),
  single use, so any auth replica can finish a sign-in another one started.
* ``login_failures``: failed-login counters and lockouts per account and per client
  address (the abuse limits live here so they hold across replicas).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, MetaData, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.db import NAMING_CONVENTION, UTCDateTime, utcnow

__all__ = ["AuthSession", "Base", "LoginFailure", "OAuthIdentity", "OAuthState", "RefreshToken", "User"]


class Base(DeclarativeBase):
    """Declarative base for the auth service's tables."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class User(Base):
    """An account (table ``users``). ``email`` is normalised (trimmed, NFKC, lower case) and unique."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(256))
    auth_provider: Mapped[str] = mapped_column(String(16), default="password")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class AuthSession(Base):
    """One sign-in: the family of its refresh tokens (table ``auth_sessions``)."""

    __tablename__ = "auth_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    revoke_reason: Mapped[str | None] = mapped_column(String(32))


class RefreshToken(Base):
    """A refresh token, stored as the hex SHA-256 of the opaque token (table ``refresh_tokens``)."""

    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("auth_sessions.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OAuthIdentity(Base):
    """A provider account linked to a user (table ``oauth_identities``)."""

    __tablename__ = "oauth_identities"
    __table_args__ = (UniqueConstraint("provider", "subject", name="provider_subject"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OAuthState(Base):
    """A pending authorization request (table ``oauth_states``); ``state`` is stored hashed."""

    __tablename__ = "oauth_states"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    surface: Mapped[str] = mapped_column(String(16))
    nonce: Mapped[str] = mapped_column(String(128))
    code_verifier: Mapped[str] = mapped_column(String(128))
    redirect_uri: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class LoginFailure(Base):
    """Failed-login counter for one key, ``account:<email>`` or ``address:<ip>`` (table ``login_failures``).

    Attributes:
        failures: failures since the last lockout (or since ``window_start``).
        lockouts: lockouts so far; the next one lasts ``base * 2**lockouts`` seconds (capped).
        locked_until: logins for this key are refused until then (429 + Retry-After).
    """

    __tablename__ = "login_failures"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    lockouts: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
