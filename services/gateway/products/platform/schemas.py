"""Response models of the platform routes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Health(BaseModel):
    """``GET /health``: the process answers; products add their own keys (queue depths...)."""

    model_config = ConfigDict(extra="allow")

    status: str = Field(description="Always 'healthy' when the process answers.")
    timestamp: str = Field(description="ISO 8601 UTC, with Z.")
    version: str = Field(description="Earshot's version (seed 003's health field).")


class Liveness(BaseModel):
    """``GET /livez``: the process answers (nothing else is checked)."""

    status: str = Field(description="Always 'alive'.")


class Readiness(BaseModel):
    """``GET /ready``: every dependency's check ('ok' or the error)."""

    status: str = Field(description="'ready' or 'unavailable'.")
    checks: dict[str, str]
    timestamp: str


class ServiceInfo(BaseModel):
    """``GET /`` (seed 002's health check): name, version and where to look next."""

    service: str
    status: str
    version: str
    timestamp: str
    docs: str
    health: str
