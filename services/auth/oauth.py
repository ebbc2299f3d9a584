"""OAuth 2.0 / OpenID Connect relying party for Google and Microsoft (authlib + PyJWT).

Flow (OpenID Connect Core 1.0, section 3.1, authorization code flow):

1. :meth:`OidcClient.authorization_url` builds the provider's authorization URL with
   authlib's ``AsyncOAuth2Client.create_authorization_url``: ``response_type=code``,
   ``scope=openid email profile``, a random ``state`` (CSRF, RFC 6749 section 10.12), a
   random ``nonce`` (replay, OIDC Core 3.1.2.1) and a PKCE S256 ``code_challenge``
   (RFC 7636).
2. :meth:`OidcClient.exchange` posts the code and the PKCE ``code_verifier`` to the token
   endpoint (authlib ``fetch_token``, client_secret_post).
3. :meth:`OidcClient.verify_id_token` checks the ID token's signature against the
   provider's JWKS (refetched once on an unknown ``kid``), ``iss``, ``aud`` = client id,
   ``exp``/``iat``, and the ``nonce`` (constant-time compare).

Provider metadata comes from the discovery document
(``<issuer>/.well-known/openid-configuration``); for Microsoft the issuer is
``<authority>/<tenant>/v2.0``. Documents are cached for ``cache_s``.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client

__all__ = ["OidcClient", "OidcError", "ProviderConfig"]

PROVIDERS = ("google", "microsoft")


class OidcError(Exception):
    """An OpenID Connect step failed.

    Attributes:
        kind: ``code_rejected`` (token endpoint refused the code), ``id_token`` (ID token
            invalid: signature, issuer, audience, expiry, nonce), ``unavailable``
            (provider unreachable or answering garbage).
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class ProviderConfig:
    """A configured identity provider.

    Attributes:
        name: ``google`` or ``microsoft``.
        issuer: expected ``iss``; discovery is at ``<issuer>/.well-known/openid-configuration``.
            Microsoft's multi-tenant issuers contain ``{tenantid}``, filled from the ``tid`` claim.
        client_id, client_secret: the registered client.
        tenant: Microsoft tenant id (``common`` for any), else empty.
    """

    name: str
    issuer: str
    client_id: str
    client_secret: str
    tenant: str = ""

    @property
    def discovery_url(self) -> str:
        """The discovery document's URL."""
        return f"{self.issuer.rstrip('/')}/.well-known/openid-configuration"


class OidcClient:
    """Talks to identity providers; caches discovery documents and JWKS.

    Args:
        timeout_s: HTTP timeout per call, seconds.
        cache_s: how long discovery documents and key sets are reused.
    """

    def __init__(self, timeout_s: float = 10.0, cache_s: float = 3600.0) -> None:
        self.timeout_s = timeout_s
        self.cache_s = cache_s
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}

    async def _get_json(self, url: str, *, fresh: bool = False) -> dict[str, Any]:
        hit = self._cache.get(url)
        if hit and not fresh and time.monotonic() - hit[0] < self.cache_s:
            return hit[1]
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s) as http:
                reply = await http.get(url)
                reply.raise_for_status()
                doc = reply.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise OidcError("unavailable", f"cannot fetch {url}: {exc}") from None
        if not isinstance(doc, dict):
            raise OidcError("unavailable", f"{url} did not return a JSON object")
        self._cache[url] = (time.monotonic(), doc)
        return doc

    async def metadata(self, provider: ProviderConfig) -> dict[str, Any]:
        """The provider's discovery document (cached).

        Raises:
            OidcError: ``unavailable``, or the document lacks a required endpoint.
        """
        doc = await self._get_json(provider.discovery_url)
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri", "issuer"):
            if not isinstance(doc.get(name), str):
                raise OidcError("unavailable", f"discovery document of {provider.name} lacks {name}")
        return doc

    def _client(self, provider: ProviderConfig, redirect_uri: str) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=provider.client_id,
            client_secret=provider.client_secret,
            scope="openid email profile",
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_post",
            timeout=self.timeout_s,
        )

    async def authorization_url(
        self, provider: ProviderConfig, redirect_uri: str, *, state: str, nonce: str, code_verifier: str
    ) -> str:
        """The URL to send the user's browser to (see module docstring, step 1).

        Raises:
            OidcError: ``unavailable`` when discovery fails.
        """
        meta = await self.metadata(provider)
        async with self._client(provider, redirect_uri) as client:
            url, _ = client.create_authorization_url(
                meta["authorization_endpoint"], state=state, nonce=nonce, code_verifier=code_verifier
            )
        return str(url)

    async def exchange(
        self, provider: ProviderConfig, redirect_uri: str, *, code: str, code_verifier: str
    ) -> dict[str, Any]:
        """Trade an authorization code for tokens (step 2).

        Returns:
            The token response (``id_token``, ``access_token``, ...).

        Raises:
            OidcError: ``code_rejected`` for an OAuth error answer (``invalid_grant``: expired,
                used or unknown code, PKCE mismatch), ``unavailable`` when the provider is
                unreachable, ``id_token`` when no ID token came back.
        """
        meta = await self.metadata(provider)
        try:
            async with self._client(provider, redirect_uri) as client:
                token = await client.fetch_token(
                    meta["token_endpoint"], code=code, code_verifier=code_verifier, redirect_uri=redirect_uri
                )
        except OAuthError as exc:
            raise OidcError("code_rejected", f"{exc.error}: {exc.description or ''}".strip()) from None
        except httpx.HTTPError as exc:
            raise OidcError("unavailable", f"token endpoint of {provider.name}: {exc}") from None
        if not isinstance(token.get("id_token"), str):
            raise OidcError("id_token", "the provider returned no ID token")
        return dict(token)

    async def verify_id_token(self, provider: ProviderConfig, id_token: str, nonce: str) -> dict[str, Any]:
        """Verify an ID token (step 3) and return its claims.

        Raises:
            OidcError: ``id_token`` for any failed check; ``unavailable`` when keys cannot be fetched.
        """
        meta = await self.metadata(provider)
        try:
            header = jwt.get_unverified_header(id_token)
            unverified = jwt.decode(id_token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise OidcError("id_token", f"malformed ID token: {exc}") from None
        alg = header.get("alg")
        if alg not in {"RS256", "RS384", "RS512", "ES256", "PS256", "EdDSA"}:
            raise OidcError("id_token", f"ID token algorithm {alg!r} is not accepted")
        key = await self._key(meta["jwks_uri"], header.get("kid"))
        issuer = str(meta["issuer"])
        if "{tenantid}" in issuer:
            issuer = issuer.replace("{tenantid}", str(unverified.get("tid", "")))
        try:
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key=key,
                algorithms=[alg],
                audience=provider.client_id,
                issuer=issuer,
                leeway=60,
                options={"require": ["iss", "aud", "sub", "exp", "iat"]},
            )
        except jwt.PyJWTError as exc:
            raise OidcError("id_token", f"ID token rejected: {exc}") from None
        if not hmac.compare_digest(str(claims.get("nonce", "")).encode(), nonce.encode()):
            raise OidcError("id_token", "ID token nonce does not match the sign-in request")
        return claims

    async def _key(self, jwks_uri: str, kid: str | None) -> jwt.PyJWK:
        for fresh in (False, True):
            jwks = await self._get_json(jwks_uri, fresh=fresh)
            for jwk in jwks.get("keys", []):
                if isinstance(jwk, dict) and (kid is None or jwk.get("kid") == kid):
                    try:
                        return jwt.PyJWK(jwk)
                    except jwt.PyJWTError as exc:
                        raise OidcError("id_token", f"unusable provider key: {exc}") from None
        raise OidcError("id_token", f"no provider key with kid {kid!r}")
