"""The auth service's operations, independent of transport (gRPC servicer and CLI use them).

Every operation raises :class:`AuthError` with a transport-neutral ``code``; the gRPC
servicer maps codes to status codes and the gateway maps those to HTTP.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.auth.config import AuthConfig
from services.auth.keys import KeyRing
from services.auth.limits import LoginLimiter
from services.auth.models import AuthSession, OAuthIdentity, OAuthState, RefreshToken, User
from services.auth.oauth import PROVIDERS, OidcClient, OidcError, ProviderConfig
from services.auth.passwords import PasswordPolicy, PasswordService, WeakInput, normalize_email
from services.common.db import utcnow
from services.common.events import EventPayload, SessionRevoked, UserRegistered

__all__ = ["AuthCore", "AuthError", "IssuedSession"]

Publisher = Callable[[EventPayload], Awaitable[None]]

INVALID_CREDENTIALS = "invalid email or password"


class AuthError(Exception):
    """A refused operation.

    Attributes:
        code: ``invalid`` (422), ``exists`` (409), ``unauthenticated`` (401), ``forbidden`` (403),
            ``not_found`` (404), ``bad_request`` (400), ``rate_limited`` (429),
            ``unavailable`` (503), ``not_configured`` (501: a feature this deployment has not
            set up, e.g. an OAuth provider without a client id).
        message: safe to show to the client.
        retry_after: seconds, for ``rate_limited``.
    """

    def __init__(self, code: str, message: str, retry_after: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True)
class IssuedSession:
    """Tokens handed to a client.

    Attributes:
        access_token: JWT; ``expires_in`` seconds of life.
        refresh_token: opaque; ``refresh_expires_in`` seconds of life; single use.
        session_id: the session (refresh-token family) id, the JWT's ``sid``.
        user: the signed-in user.
    """

    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int
    session_id: str
    user: User


def token_hash(token: str) -> str:
    """Hex SHA-256 of an opaque token (what the database stores)."""
    return hashlib.sha256(token.encode()).hexdigest()


class AuthCore:
    """Users, sessions, refresh-token rotation, OAuth sign-in (see module docstring).

    Args:
        config: auth settings.
        sessions: session factory of the auth database.
        keys: signing keys.
        publish: publishes ``UserRegistered`` / ``SessionRevoked`` events.
        oidc: OpenID Connect client (a default one when omitted).
    """

    def __init__(
        self,
        config: AuthConfig,
        sessions: async_sessionmaker[AsyncSession],
        keys: KeyRing,
        publish: Publisher,
        oidc: OidcClient | None = None,
    ) -> None:
        self.config = config
        self.sessions = sessions
        self.keys = keys
        self.publish = publish
        self.oidc = oidc or OidcClient(timeout_s=config.oauth_http_timeout_s)
        self.passwords = PasswordService(
            config.argon2_time_cost, config.argon2_memory_kib, config.argon2_parallelism
        )
        self.limiter = LoginLimiter(
            sessions,
            base_s=config.lockout_base_s,
            max_s=config.lockout_max_s,
            window_s=config.failure_window_s,
        )

    def reconfigure(self, config: AuthConfig) -> None:
        """Swap settings at run time (limits, lifetimes, providers, COMPANY_DOMAINS)."""
        self.config = config
        self.limiter.base_s = config.lockout_base_s
        self.limiter.max_s = config.lockout_max_s
        self.limiter.window_s = config.failure_window_s

    # --- sessions ------------------------------------------------------------------------
    async def _new_session(self, session: AsyncSession, user: User) -> IssuedSession:
        now = utcnow()
        ttl = self.config.refresh_token_ttl_s
        family = AuthSession(
            id=str(uuid.uuid4()), user_id=user.id, created_at=now, expires_at=now + timedelta(seconds=ttl)
        )
        session.add(family)
        refresh = secrets.token_urlsafe(32)
        session.add(
            RefreshToken(
                id=str(uuid.uuid4()),
                token_hash=token_hash(refresh),
                session_id=family.id,
                created_at=now,
                expires_at=now + timedelta(seconds=ttl),
            )
        )
        return self._issue(user, family.id, refresh)

    def _issue(self, user: User, session_id: str, refresh: str) -> IssuedSession:
        ttl = self.config.access_token_ttl_s
        access, _ = self.keys.issue(
            issuer=self.config.issuer,
            audience=self.config.audience,
            user_id=user.id,
            email=user.email,
            name=user.name,
            session_id=session_id,
            ttl_s=ttl,
        )
        return IssuedSession(
            access_token=access,
            refresh_token=refresh,
            expires_in=ttl,
            refresh_expires_in=self.config.refresh_token_ttl_s,
            session_id=session_id,
            user=user,
        )

    async def _revoked(self, user_id: str, session_ids: list[str], reason: str) -> None:
        if session_ids:
            expires_at = int(datetime.now(UTC).timestamp()) + self.config.access_token_ttl_s
            await self.publish(
                SessionRevoked(
                    job_id=user_id,
                    user_id=user_id,
                    session_ids=session_ids,
                    reason=reason,
                    expires_at=expires_at,  # type: ignore[arg-type]
                )
            )

    # --- password accounts -----------------------------------------------------------------
    async def register(self, email: str, password: str, name: str, client_address: str = "") -> IssuedSession:
        """Create a password account and sign it in, within the per-address sign-up limit.

        Every sign-up from ``client_address`` counts in :class:`LoginLimiter` under
        ``signup:<address>`` (``address_max_signups`` per ``failure_window_s``, then the
        growing lockouts of the login limits; kept in the database, so it holds across
        replicas).

        Raises:
            AuthError: ``rate_limited`` (with ``retry_after``), ``invalid`` (bad email, weak
                password, bad name), ``exists`` (email taken).
        """
        key = f"signup:{client_address[:200]}"
        limited = bool(client_address) and self.config.address_max_signups > 0
        if limited:
            wait = await self.limiter.retry_after([key])
            if wait:
                raise AuthError(
                    "rate_limited",
                    f"too many sign-ups from this address; try again in {wait} s",
                    retry_after=wait,
                )
        issued = await self._create(email, password, name, sign_in=True)
        assert isinstance(issued, IssuedSession)
        if limited:
            await self.limiter.record_failure([(key, self.config.address_max_signups)])
        return issued

    async def create_user(self, email: str, password: str, name: str) -> User:
        """Create a password account without signing in (operators' CLI).

        Raises:
            AuthError: as :meth:`register`.
        """
        user = await self._create(email, password, name, sign_in=False)
        assert isinstance(user, User)
        return user

    async def _create(self, email: str, password: str, name: str, *, sign_in: bool) -> IssuedSession | User:
        """Validate, hash, insert (and optionally start a session).

        Raises:
            AuthError: ``invalid`` (bad email, weak password, bad name), ``exists`` (email taken).
        """
        try:
            normalized = normalize_email(email)
            PasswordPolicy(self.config.password_min_length, self.config.password_max_length).check(
                password, normalized
            )
        except WeakInput as exc:
            raise AuthError("invalid", str(exc)) from None
        display = " ".join((name or "").split())
        if len(display) > 200:
            raise AuthError("invalid", "name must be at most 200 characters long")
        display = display or normalized.split("@")[0]
        async with self.sessions() as session:
            if await session.scalar(select(User.id).where(User.email == normalized)):
                raise AuthError("exists", "an account with this email already exists")
        hashed = await asyncio.to_thread(self.passwords.hash, password)
        user = User(
            id=str(uuid.uuid4()),
            email=normalized,
            name=display,
            password_hash=hashed,
            auth_provider="password",
        )
        try:
            async with self.sessions() as session, session.begin():
                session.add(user)
                await session.flush()
                issued = await self._new_session(session, user) if sign_in else None
        except IntegrityError:
            raise AuthError("exists", "an account with this email already exists") from None
        await self.publish(
            UserRegistered(job_id=user.id, user_id=user.id, email=user.email, auth_provider="password")
        )
        return issued or user

    async def login(self, email: str, password: str, client_address: str = "") -> IssuedSession:
        """Check a password and sign in, within the abuse limits.

        Unknown account and wrong password give the same message and take the same time.

        Raises:
            AuthError: ``rate_limited`` (with ``retry_after``), ``unauthenticated``, ``forbidden``
                (account disabled; only said after a correct password).
        """
        try:
            normalized = normalize_email(email)
        except WeakInput:
            normalized = (email or "").strip().lower()[:254]
        limits = [(f"account:{normalized}", self.config.account_max_failures)]
        if client_address:
            limits.append((f"address:{client_address[:200]}", self.config.address_max_failures))
        wait = await self.limiter.retry_after([k for k, _ in limits])
        if wait:
            raise AuthError(
                "rate_limited", f"too many failed logins; try again in {wait} s", retry_after=wait
            )
        async with self.sessions() as session:
            user = await session.scalar(select(User).where(User.email == normalized))
        ok, rehash = await asyncio.to_thread(
            self.passwords.verify, user.password_hash if user else None, password
        )
        if not ok or user is None:
            await self.limiter.record_failure(limits)
            raise AuthError("unauthenticated", INVALID_CREDENTIALS)
        await self.limiter.reset(limits[0][0])
        if not user.is_active:
            raise AuthError("forbidden", "this account is disabled")
        async with self.sessions() as session, session.begin():
            if rehash:
                new_hash = await asyncio.to_thread(self.passwords.hash, password)
                await session.execute(update(User).where(User.id == user.id).values(password_hash=new_hash))
            return await self._new_session(session, user)

    # --- refresh tokens --------------------------------------------------------------------
    async def refresh(self, refresh_token: str) -> IssuedSession:
        """Rotate a refresh token: the old one is spent, a new one (same family) is returned.

        Presenting a spent token revokes the whole family (RFC 6819 section 5.2.2.3, OAuth 2.0
        Security BCP: refresh token rotation with reuse detection).

        Raises:
            AuthError: ``unauthenticated`` (unknown, expired, spent or revoked), ``forbidden``
                (account disabled).
        """
        if not refresh_token or len(refresh_token) > 200:
            raise AuthError("unauthenticated", "invalid refresh token")
        now = utcnow()
        reused: tuple[str, str] | None = None
        async with self.sessions() as session, session.begin():
            row = await session.scalar(
                select(RefreshToken).where(RefreshToken.token_hash == token_hash(refresh_token))
            )
            if row is None:
                raise AuthError("unauthenticated", "invalid refresh token")
            family = await session.get(AuthSession, row.session_id)
            assert family is not None
            if family.revoked_at is not None:
                raise AuthError("unauthenticated", "this session has been revoked; sign in again")
            spent = row.used_at is not None  # read before the UPDATE (it syncs the loaded row)
            if not spent:
                result = await session.execute(
                    update(RefreshToken)
                    .where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None))
                    .values(used_at=now)
                )
                spent = getattr(result, "rowcount", 0) == 0  # another request used it first
            if spent:
                family.revoked_at = now
                family.revoke_reason = "refresh_token_reuse"
                reused = (family.user_id, family.id)
            else:
                if row.expires_at <= now:
                    raise AuthError("unauthenticated", "refresh token expired; sign in again")
                user = await session.get(User, family.user_id)
                if user is None or not user.is_active:
                    raise AuthError("forbidden", "this account is disabled")
                fresh = secrets.token_urlsafe(32)
                expires = now + timedelta(seconds=self.config.refresh_token_ttl_s)
                session.add(
                    RefreshToken(
                        id=str(uuid.uuid4()),
                        token_hash=token_hash(fresh),
                        session_id=family.id,
                        created_at=now,
                        expires_at=expires,
                    )
                )
                family.expires_at = expires
                issued = self._issue(user, family.id, fresh)
        if reused is not None:
            await self._revoked(reused[0], [reused[1]], "refresh_token_reuse")
            raise AuthError("unauthenticated", "refresh token already used; the session has been revoked")
        return issued

    async def logout(self, user_id: str, session_id: str, refresh_token: str = "") -> list[str]:
        """Revoke a session (and the family of ``refresh_token`` when given); publish ``SessionRevoked``.

        Returns:
            The session ids revoked now (already revoked ones are not repeated).

        Raises:
            AuthError: ``bad_request`` when neither a session nor a refresh token of this user is named.
        """
        ids: set[str] = set()
        async with self.sessions() as session, session.begin():
            if session_id:
                ids.add(session_id)
            if refresh_token:
                row = await session.scalar(
                    select(RefreshToken).where(RefreshToken.token_hash == token_hash(refresh_token))
                )
                if row is not None:
                    ids.add(row.session_id)
            families = (
                await session.scalars(
                    select(AuthSession).where(AuthSession.id.in_(ids), AuthSession.user_id == user_id)
                )
            ).all()
            if not families:
                raise AuthError("bad_request", "no session of this user to log out")
            now = utcnow()
            revoked = []
            for family in families:
                if family.revoked_at is None:
                    family.revoked_at = now
                    family.revoke_reason = "logout"
                revoked.append(family.id)
        await self._revoked(user_id, revoked, "logout")
        return revoked

    async def revoked_sessions(self) -> list[tuple[str, str, int]]:
        """``(session_id, user_id, expires_at)`` of sessions whose access tokens may still be unexpired."""
        ttl = self.config.access_token_ttl_s
        since = utcnow() - timedelta(seconds=ttl)
        async with self.sessions() as session:
            rows = (await session.scalars(select(AuthSession).where(AuthSession.revoked_at > since))).all()
        return [
            (r.id, r.user_id, int(r.revoked_at.timestamp()) + ttl) for r in rows if r.revoked_at is not None
        ]

    # --- users -----------------------------------------------------------------------------
    async def get_user(self, user_id: str) -> User:
        """One user by id.

        Raises:
            AuthError: ``not_found``.
        """
        async with self.sessions() as session:
            user = await session.get(User, user_id)
        if user is None:
            raise AuthError("not_found", "no such user")
        return user

    async def list_users(self) -> list[User]:
        """Every user, oldest first."""
        async with self.sessions() as session:
            return list((await session.scalars(select(User).order_by(User.created_at))).all())

    async def set_active(self, email_or_id: str, active: bool) -> User:
        """Enable or disable an account; disabling revokes all its sessions (``SessionRevoked``).

        Raises:
            AuthError: ``not_found``.
        """
        try:
            email = normalize_email(email_or_id)
        except WeakInput:
            email = ""
        async with self.sessions() as session, session.begin():
            user = await session.scalar(select(User).where((User.id == email_or_id) | (User.email == email)))
            if user is None:
                raise AuthError("not_found", f"no user {email_or_id!r}")
            user.is_active = active
            revoked: list[str] = []
            if not active:
                now = utcnow()
                families = (
                    await session.scalars(
                        select(AuthSession).where(
                            AuthSession.user_id == user.id, AuthSession.revoked_at.is_(None)
                        )
                    )
                ).all()
                for family in families:
                    family.revoked_at = now
                    family.revoke_reason = "user_disabled"
                    revoked.append(family.id)
        await self._revoked(user.id, revoked, "user_disabled")
        return user

    # --- OAuth / OpenID Connect ------------------------------------------------------------
    def provider(self, name: str) -> ProviderConfig:
        """The configured provider ``name``.

        Raises:
            AuthError: ``not_found`` for an unknown provider, ``not_configured`` when its client id
                or secret is not set.
        """
        c = self.config
        if name not in PROVIDERS:
            raise AuthError("not_found", f"unknown OAuth provider {name!r}; use google or microsoft")
        if name == "google":
            if not (c.google_client_id and c.google_client_secret):
                raise AuthError(
                    "not_configured", "Google sign-in is not configured (GOOGLE_CLIENT_ID/SECRET)"
                )
            return ProviderConfig("google", c.google_issuer, c.google_client_id, c.google_client_secret)
        if not (c.microsoft_client_id and c.microsoft_client_secret):
            raise AuthError(
                "not_configured", "Microsoft sign-in is not configured (MICROSOFT_CLIENT_ID/SECRET)"
            )
        issuer = f"{c.microsoft_authority.rstrip('/')}/{c.microsoft_tenant_id}/v2.0"
        return ProviderConfig(
            "microsoft", issuer, c.microsoft_client_id, c.microsoft_client_secret, c.microsoft_tenant_id
        )

    async def start_oauth(self, provider: str, surface: str) -> tuple[str, str]:
        """Create a pending sign-in (state, nonce, PKCE verifier) and return ``(auth_url, state)``.

        Raises:
            AuthError: ``not_found`` / ``unavailable`` (see :meth:`provider`), ``bad_request``
                for an unknown surface.
        """
        if surface not in ("mobile", "web"):
            raise AuthError("bad_request", "surface must be mobile or web")
        config = self.provider(provider)
        state, nonce, verifier = (
            secrets.token_urlsafe(32),
            secrets.token_urlsafe(32),
            secrets.token_urlsafe(48),
        )
        redirect_uri = self.config.redirect_uri(provider, surface)
        try:
            url = await self.oidc.authorization_url(
                config, redirect_uri, state=state, nonce=nonce, code_verifier=verifier
            )
        except OidcError as exc:
            raise AuthError("unavailable", f"{provider} sign-in is unavailable: {exc}") from None
        now = utcnow()
        async with self.sessions() as session, session.begin():
            session.add(
                OAuthState(
                    state_hash=token_hash(state),
                    provider=provider,
                    surface=surface,
                    nonce=nonce,
                    code_verifier=verifier,
                    redirect_uri=redirect_uri,
                    created_at=now,
                    expires_at=now + timedelta(seconds=self.config.oauth_state_ttl_s),
                )
            )
        return url, state

    async def complete_oauth(self, provider: str, code: str, state: str) -> IssuedSession:
        """Finish a sign-in: check the state, exchange the code, verify the ID token, find or
        create the user (linking by verified email), apply ``COMPANY_DOMAINS``.

        Raises:
            AuthError: ``bad_request`` (missing/unknown/expired/used state, code refused by the
                provider), ``unauthenticated`` (ID token invalid, e.g. wrong nonce), ``forbidden``
                (email domain not allowed, unverified email, disabled account), ``exists``
                (the email belongs to an account that cannot be linked), ``unavailable``.
        """
        config = self.provider(provider)
        if not code or not state:
            raise AuthError("bad_request", "the callback needs both code and state")
        async with self.sessions() as session, session.begin():
            pending = await session.get(OAuthState, token_hash(state), with_for_update=True)
            if pending is not None:
                await session.delete(pending)  # single use, whatever happens next
        if pending is None or pending.provider != provider:
            raise AuthError("bad_request", "unknown or already used OAuth state; start the sign-in again")
        if pending.expires_at <= utcnow():
            raise AuthError("bad_request", "the OAuth sign-in took too long; start it again")
        try:
            tokens = await self.oidc.exchange(
                config, pending.redirect_uri, code=code, code_verifier=pending.code_verifier
            )
            claims = await self.oidc.verify_id_token(config, tokens["id_token"], pending.nonce)
        except OidcError as exc:
            if exc.kind == "code_rejected":
                raise AuthError(
                    "bad_request", f"the provider refused the authorization code ({exc})"
                ) from None
            if exc.kind == "unavailable":
                raise AuthError("unavailable", str(exc)) from None
            raise AuthError("unauthenticated", str(exc)) from None
        return await self._sign_in_identity(config, claims)

    def _verified_email(self, config: ProviderConfig, claims: dict[str, Any]) -> tuple[str, bool]:
        raw = claims.get("email") or (
            claims.get("preferred_username") if config.name == "microsoft" else None
        )
        if not isinstance(raw, str):
            raise AuthError("forbidden", f"the {config.name} account has no email address")
        try:
            email = normalize_email(raw)
        except WeakInput:
            raise AuthError("forbidden", f"the {config.name} account's email is not valid") from None
        verified = claims.get("email_verified") is True
        if config.name == "microsoft" and config.tenant not in ("common", "organizations", "consumers"):
            # A single-tenant directory: its administrators own the addresses it issues.
            verified = verified or claims.get("tid") == config.tenant
        return email, verified

    async def _sign_in_identity(self, config: ProviderConfig, claims: dict[str, Any]) -> IssuedSession:
        email, verified = self._verified_email(config, claims)
        domain = email.rsplit("@", 1)[1]
        allowed = self.config.company_domains
        if allowed and domain not in allowed:
            raise AuthError("forbidden", f"sign-in is limited to accounts of {', '.join(allowed)}")
        subject = str(claims["sub"])
        name = " ".join(str(claims.get("name") or email.split("@")[0]).split())[:200]
        created: User | None = None
        async with self.sessions() as session, session.begin():
            identity = await session.scalar(
                select(OAuthIdentity).where(
                    OAuthIdentity.provider == config.name, OAuthIdentity.subject == subject
                )
            )
            if identity is not None:
                user = await session.get(User, identity.user_id)
                assert user is not None
            else:
                user = await session.scalar(select(User).where(User.email == email))
                if user is not None and not verified:
                    raise AuthError(
                        "exists", "an account with this email exists; its email must be verified to link it"
                    )
                if user is None:
                    if not verified:
                        raise AuthError("forbidden", f"the {config.name} account's email is not verified")
                    user = User(
                        id=str(uuid.uuid4()),
                        email=email,
                        name=name,
                        password_hash=None,
                        auth_provider=config.name,
                    )
                    session.add(user)
                    await session.flush()
                    created = user
                session.add(
                    OAuthIdentity(
                        id=str(uuid.uuid4()),
                        provider=config.name,
                        subject=subject,
                        user_id=user.id,
                        email=email,
                    )
                )
            if not user.is_active:
                raise AuthError("forbidden", "this account is disabled")
            issued = await self._new_session(session, user)
        if created is not None:
            await self.publish(
                UserRegistered(
                    job_id=created.id, user_id=created.id, email=created.email, auth_provider=config.name
                )
            )
        return issued
