"""Access-token verification on the gateway (every product's ``CurrentUser``).

The gateway verifies access tokens *locally*; it calls the auth service only for keys and
revocations:

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
  ``gateway.auth.<instance>`` (from the end of the log) and refuses access tokens whose
  ``sid`` was revoked (logout, refresh-token reuse, disabled user) until they expire. At its
  first authenticated request a replica subscribes first and then loads the sessions revoked
  recently (``ListRevokedSessions``), so no revocation falls between the two.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.bus import Subscription
from services.common.events import AUTH_EVENTS, SessionRevoked
from services.common.logging import get_logger
from services.common.runtime import Runtime
from services.common.settings import load_settings_class
from services.gateway.clients.auth import AuthClient
from services.gateway.shared.consumers import ConsumerTable, On
from services.gateway.shared.errors import ApiError, unauthorized

__all__ = ["AuthenticatedUser", "GatewayAuthConfig", "TokenVerifier", "load_gateway_auth_config"]

log = get_logger("earshot.gateway.auth")

ACCEPTED_ALGORITHMS = frozenset({"EdDSA", "RS256"})
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


def load_gateway_auth_config() -> GatewayAuthConfig:
    """Read :class:`GatewayAuthConfig` from the environment.

    Raises:
        ConfigurationError: naming the invalid variable (start-up stops).
    """
    return load_settings_class(GatewayAuthConfig, "gateway auth")


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


class TokenVerifier:
    """One replica's access-token verifier: JWKS cache, verified-token cache, revocation list.

    Args:
        runtime: the replica's runtime (bus, instance id).
        client: the auth service's client (public keys, revoked sessions).
        config: token checks (from the environment when omitted).
    """

    def __init__(self, runtime: Runtime, client: AuthClient, config: GatewayAuthConfig | None = None) -> None:
        self.runtime = runtime
        self.client = client
        self.config = config or load_gateway_auth_config()
        self.keys: dict[str, jwt.PyJWK] = {}
        self.jwks_doc: dict[str, Any] = {"keys": []}
        self.revoked: dict[str, int] = {}
        self._fetched_at = 0.0
        self._ready = False
        self._subscribed = False
        self._lock = asyncio.Lock()
        self._subscription: Subscription | None = None
        self._verified: dict[str, AuthenticatedUser] = {}
        self._refreshing: asyncio.Task[None] | None = None

    def consumers(self) -> ConsumerTable:
        """The revocation consumer: group ``gateway.auth.<instance>``, from the end of the log."""
        return ConsumerTable(
            "gateway.auth.{instance}", (On(AUTH_EVENTS, SessionRevoked, self.on_revoked),), from_latest=True
        )

    async def close(self) -> None:
        """Leave the revocation group; wait for a key refresh in flight."""
        if self._subscription is not None:
            await self._subscription.close()
            self._subscription = None
        self._subscribed = self._ready = False
        if self._refreshing is not None:
            await asyncio.gather(self._refreshing, return_exceptions=True)

    # --- start-up --------------------------------------------------------------------------
    async def ensure_ready(self) -> None:
        """Subscribe to revocations, load recent revocations and the JWKS (once)."""
        if self._ready:
            return
        async with self._lock:
            if self._ready:
                return
            if not self._subscribed:
                self._subscription = await self.consumers().subscribe(
                    self.runtime.bus, self.runtime.instance_id
                )
                self._subscribed = True
            reply = await self.client.revoked_sessions()
            for item in reply.sessions:
                self.revoke(item.session_id, item.expires_at)
            await self._fetch_keys()
            self._ready = True

    async def _fetch_keys(self) -> None:
        reply = await self.client.public_keys()
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

    async def on_revoked(self, event: SessionRevoked) -> None:
        """Apply a ``SessionRevoked`` event: its sessions' tokens are refused until they expire."""
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
                raise unauthorized("the access token has expired")
            if self.revoked.get(cached.session_id, 0) > time.time():
                raise unauthorized("the session has been signed out")
            return cached
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise unauthorized("the access token is malformed") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ACCEPTED_ALGORITHMS or not isinstance(kid, str):
            raise unauthorized("the access token's algorithm or key id is not accepted")
        key = await self.key_for(kid)
        if key is None or key.algorithm_name != alg:
            raise unauthorized("the access token was not signed by a known key")
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
            raise unauthorized("the access token has expired") from None
        except jwt.InvalidAudienceError:
            raise unauthorized("the access token is not meant for this API") from None
        except jwt.InvalidIssuerError:
            raise unauthorized("the access token was issued by someone else") from None
        except jwt.InvalidSignatureError:
            raise unauthorized("the access token's signature is invalid") from None
        except jwt.PyJWTError as exc:
            raise unauthorized(f"the access token is invalid ({type(exc).__name__})") from None
        sid = str(claims["sid"])
        if self.revoked.get(sid, 0) > time.time():
            raise unauthorized("the session has been signed out")
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
