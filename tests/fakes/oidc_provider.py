"""A local OpenID Connect provider for tests (Google- or Microsoft-shaped), on a loopback port.

It speaks the real protocol (OpenID Connect Core 1.0 and Discovery 1.0, OAuth 2.0
RFC 6749, PKCE RFC 7636):

* ``GET {issuer}/.well-known/openid-configuration``: the discovery document.
* ``GET {issuer}/keys``: the JWKS with the RSA key that signs ID tokens (RS256).
* ``GET {issuer}/authorize``: checks ``response_type=code``, ``client_id``, the registered
  ``redirect_uri``, ``scope`` containing ``openid``, ``state``, ``nonce`` and an S256
  ``code_challenge``; "signs in" :attr:`FakeOidcProvider.user` and redirects (302) to
  ``redirect_uri?code=...&state=...``.
* ``POST {issuer}/token``: ``grant_type=authorization_code`` with client authentication
  (``client_secret_post`` or HTTP Basic), the code (single use, expires after
  :attr:`code_ttl_s`), the same ``redirect_uri`` and a ``code_verifier`` whose S256 hash
  matches the challenge; answers ``{access_token, token_type, expires_in, id_token}`` or
  an RFC 6749 section 5.2 error (``invalid_grant``, ``invalid_client``...).

The issuer is ``http://127.0.0.1:<port>`` (Google shape) or
``http://127.0.0.1:<port>/<tenant>/v2.0`` (Microsoft shape, with a ``tid`` claim).
Knobs for failure tests: :attr:`nonce_override` (sign a wrong nonce), :attr:`code_ttl_s`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import socket
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    code_challenge: str
    nonce: str
    user: dict[str, Any]
    expires_at: float


@dataclass
class FakeOidcProvider:
    """One identity provider realm (see module docstring).

    Args:
        client_id, client_secret: the one registered client.
        redirect_uris: redirect URIs registered for it (exact match, as providers do).
        tenant: Microsoft tenant id; empty for a Google-shaped provider.
    """

    client_id: str
    client_secret: str
    redirect_uris: list[str] = field(default_factory=list)
    tenant: str = ""
    user: dict[str, Any] = field(
        default_factory=lambda: {
            "sub": "1001",
            "email": "ada@example.com",
            "email_verified": True,
            "name": "Ada",
        }
    )
    nonce_override: str | None = None
    code_ttl_s: float = 60.0
    port: int = 0
    requests: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._kid = secrets.token_hex(8)
        self._grants: dict[str, _Grant] = {}
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None

    # --- lifecycle -----------------------------------------------------------------------
    @property
    def prefix(self) -> str:
        """Path prefix of every endpoint (``/<tenant>/v2.0`` for Microsoft)."""
        return f"/{self.tenant}/v2.0" if self.tenant else ""

    @property
    def issuer(self) -> str:
        """The ``iss`` of ID tokens and the discovery base."""
        return f"http://127.0.0.1:{self.port}{self.prefix}"

    @property
    def authority(self) -> str:
        """``http://127.0.0.1:<port>`` (what ``MICROSOFT_AUTHORITY`` points at)."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FakeOidcProvider:
        """Serve on a free loopback port; returns self once listening."""
        sock = socket.socket()
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        self._socket = sock
        p = self.prefix
        app = Starlette(
            routes=[
                Route(f"{p}/.well-known/openid-configuration", self._discovery),
                Route(f"{p}/keys", self._jwks),
                Route(f"{p}/authorize", self._authorize),
                Route(f"{p}/token", self._token, methods=["POST"]),
            ]
        )
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            await asyncio.sleep(0.01)
        return self

    async def stop(self) -> None:
        """Stop serving."""
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        if self._socket is not None:
            self._socket.close()

    # --- helpers for tests ---------------------------------------------------------------
    def jwks(self) -> dict[str, Any]:
        """The public JWKS."""
        jwk = RSAAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": self._kid, "alg": "RS256", "use": "sig"}]}

    def id_token(self, grant: _Grant) -> str:
        """A signed ID token for a grant."""
        now = int(time.time())
        claims: dict[str, Any] = {
            **grant.user,
            "iss": self.issuer,
            "aud": grant.client_id,
            "iat": now,
            "exp": now + 3600,
            "nonce": self.nonce_override if self.nonce_override is not None else grant.nonce,
        }
        if self.tenant:
            claims["tid"] = self.tenant
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self._kid})

    # --- endpoints -----------------------------------------------------------------------
    async def _discovery(self, request: Request) -> Response:
        self.requests.append("discovery")
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/keys",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "email", "profile"],
                "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
                "code_challenge_methods_supported": ["S256"],
                "claims_supported": [
                    "sub",
                    "email",
                    "email_verified",
                    "name",
                    "nonce",
                    "iss",
                    "aud",
                    "exp",
                    "iat",
                ],
            }
        )

    async def _jwks(self, request: Request) -> Response:
        self.requests.append("jwks")
        return JSONResponse(self.jwks())

    async def _authorize(self, request: Request) -> Response:
        self.requests.append("authorize")
        q = request.query_params

        def bad(error: str, description: str) -> Response:
            return JSONResponse({"error": error, "error_description": description}, status_code=400)

        if q.get("client_id") != self.client_id:
            return bad("unauthorized_client", "unknown client_id")
        redirect_uri = q.get("redirect_uri", "")
        if redirect_uri not in self.redirect_uris:
            return bad("invalid_request", f"redirect_uri {redirect_uri!r} is not registered")
        if q.get("response_type") != "code":
            return bad("unsupported_response_type", "only code is supported")
        if "openid" not in q.get("scope", "").split():
            return bad("invalid_scope", "scope must contain openid")
        for name in ("state", "nonce", "code_challenge"):
            if not q.get(name):
                return bad("invalid_request", f"{name} is required")
        if q.get("code_challenge_method") != "S256":
            return bad("invalid_request", "code_challenge_method must be S256")
        code = secrets.token_urlsafe(24)
        self._grants[code] = _Grant(
            client_id=self.client_id,
            redirect_uri=redirect_uri,
            code_challenge=q["code_challenge"],
            nonce=q["nonce"],
            user=dict(self.user),
            expires_at=time.time() + self.code_ttl_s,
        )
        return RedirectResponse(
            f"{redirect_uri}?{urlencode({'code': code, 'state': q['state']})}", status_code=302
        )

    async def _token(self, request: Request) -> Response:
        self.requests.append("token")
        form = await request.form()

        def error(code: str, description: str, status: int = 400) -> Response:
            return JSONResponse({"error": code, "error_description": description}, status_code=status)

        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            client_id, _, client_secret = base64.b64decode(auth[6:]).decode().partition(":")
        if client_id != self.client_id or client_secret != self.client_secret:
            return error("invalid_client", "client authentication failed", 401)
        if form.get("grant_type") != "authorization_code":
            return error("unsupported_grant_type", "only authorization_code")
        grant = self._grants.pop(str(form.get("code", "")), None)
        if grant is None:
            return error("invalid_grant", "unknown or already used code")
        if grant.expires_at < time.time():
            return error("invalid_grant", "the authorization code has expired")
        if form.get("redirect_uri") != grant.redirect_uri:
            return error("invalid_grant", "redirect_uri does not match the authorization request")
        verifier = str(form.get("code_verifier", ""))
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if not verifier or challenge != grant.code_challenge:
            return error("invalid_grant", "PKCE verification failed")
        return JSONResponse(
            {
                "access_token": secrets.token_urlsafe(24),
                "token_type": "Bearer",
                "expires_in": 3600,
                "scope": "openid email profile",
                "id_token": self.id_token(grant),
            },
            headers={"Cache-Control": "no-store"},
        )
