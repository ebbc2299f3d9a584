"""``GET /.well-known/jwks.json``: the public keys of Earshot's access tokens. The auth routes
of each seed are in ``interview_coach.py`` (seed 001), ``anc.py`` (seed 004) and ``surface.py``
(seed 003, mounted under ``/api/v1/mobile`` and ``/api/v1/web``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from services.gateway.deps import Verifier
from services.gateway.products.accounts.schemas import JwkSet

router = APIRouter()


@router.get("/.well-known/jwks.json", response_model=JwkSet, response_model_exclude_none=True)
async def jwks(response: Response, tokens: Verifier) -> dict[str, Any]:
    """The public keys that verify Earshot's access tokens (JWKS, RFC 7517)."""
    await tokens.ensure_ready()
    response.headers["Cache-Control"] = "public, max-age=300"
    return tokens.jwks_doc
