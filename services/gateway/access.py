"""``ApiKeyOrUser``: who may call the stateless routes.

The stateless routes (``POST /analyze-audio``, ``POST /api/ml/classify``,
``POST /v1/audio/transcriptions``, ``GET /v1/models``) are open by default so the seeds'
clients work with no account. With ``EARSHOT_API_KEYS`` set they require one of:

* an API key, as ``Authorization: Bearer <key>`` (what the OpenAI SDK sends for its
  ``api_key``) or ``X-API-Key: <key>``; compared as SHA-256 digests in constant time
  (:mod:`services.common.api_keys`);
* a valid access token, as ``Authorization: Bearer <token>`` (verified like ``CurrentUser``:
  signature, claims and revocation).

Anything else answers 401 with ``WWW-Authenticate: Bearer realm="earshot"`` and the usual
``{error, details, timestamp}`` body. With no keys configured every header is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPBearer

from services.common.api_keys import matching_key
from services.common.logging import get_logger
from services.gateway.auth import REALM, AuthenticatedUser, auth_gate
from services.gateway.errors import ApiError

log = get_logger("earshot.gateway.access")

_bearer = HTTPBearer(
    auto_error=False,
    description="An API key from EARSHOT_API_KEYS or an access token (login, register, refresh, OAuth).",
)
_api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="An API key from EARSHOT_API_KEYS."
)


@dataclass(frozen=True)
class Caller:
    """Who called a stateless route.

    Attributes:
        kind: ``"open"`` (no keys configured: nobody is checked), ``"api_key"`` or ``"user"``.
        user: the verified user when ``kind == "user"``.
        key_id: first 8 hex digits of the matching key's SHA-256 when ``kind == "api_key"``
            (safe to log: it identifies the key, it does not reveal it).
    """

    kind: Literal["open", "api_key", "user"]
    user: AuthenticatedUser | None = None
    key_id: str | None = None


def _refused(details: str) -> ApiError:
    return ApiError(401, "Unauthorized", details, headers={"WWW-Authenticate": REALM})


def _looks_like_jwt(value: str) -> bool:
    return value.count(".") == 2 and value.startswith("ey")


def configured_key_hashes(request: Request) -> tuple[str, ...]:
    """SHA-256 digests of ``EARSHOT_API_KEYS`` from the gateway's settings (empty: open)."""
    gateway = getattr(request.app.state, "gateway", None)
    runtime = getattr(gateway, "runtime", None)
    settings = getattr(runtime, "settings", None)
    return tuple(getattr(settings, "api_key_hashes", ()) or ())


async def api_key_or_user(
    request: Request,
    _bearer_credentials: Any = Security(_bearer),
    _api_key: Any = Security(_api_key_header),
) -> Caller:
    """Dependency of the stateless routes (module docstring).

    Returns:
        The :class:`Caller`.

    Raises:
        ApiError: 401 when keys are configured and the request carries neither a valid API
            key nor a valid access token (an invalid token says why, RFC 6750).
    """
    digests = configured_key_hashes(request)
    if not digests:
        return Caller("open")
    header_key = request.headers.get("x-api-key")
    if header_key is not None:
        digest = matching_key(header_key.strip(), digests)
        if digest is None:
            raise _refused("the API key is not valid")
        return Caller("api_key", key_id=digest[:8])
    authorization = request.headers.get("authorization")
    if authorization is None:
        raise _refused(
            "an API key or access token is required (Authorization: Bearer <key or token>, or X-API-Key)"
        )
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value:
        raise _refused("use the header 'Authorization: Bearer <API key or access token>'")
    digest = matching_key(value, digests)
    if digest is not None:
        return Caller("api_key", key_id=digest[:8])
    if not _looks_like_jwt(value):
        raise _refused("the API key is not valid")
    return Caller("user", user=await auth_gate(request).verify(value))


ApiKeyOrUser = Annotated[Caller, Depends(api_key_or_user)]
"""The caller of a stateless route: open, an API key, or a verified user (401 otherwise)."""
