"""Settings of the meeting memos (seed 003 names where the seed has one).

| Variable | Default | Meaning |
|---|---|---|
| ``MAX_AUDIO_FILE_SIZE`` | ``50MB`` | meeting upload limit (bytes or ``<n>MB``); 413 above |
| ``EARSHOT_MEETINGS_MAX_DURATION_S`` | ``14400`` | longest recording accepted, seconds (4 h) |
| ``EARSHOT_MEETINGS_MAX_ATTEMPTS`` | ``3`` | attempts before FAILED (the ``meeting`` job's limit) |
| ``EARSHOT_MEETINGS_RETRY_BASE_S`` | ``2`` | backoff base: ``min(base * 2^attempt + jitter, max)`` |
| ``EARSHOT_MEETINGS_RETRY_MAX_S`` | ``60`` | backoff cap, seconds (and of the ``meeting`` job) |
| ``EARSHOT_MEETINGS_STALE_AFTER_S`` | ``1800`` | ``meeting`` job lease: no progress that long: re-run |
| ``EARSHOT_MEETINGS_OPERATORS`` | (empty) | user ids/e-mails seeing every user's queue |
| ``DASHBOARD_BASE_URL`` | (unset) | when set, each completed meeting is POSTed to ``<url>/api/meetings`` |
| ``EARSHOT_DASHBOARD_SECRET`` | (empty) | HMAC-SHA256 key of the ``X-Earshot-Signature`` header |
| ``EARSHOT_DEBUG_ROUTES`` | ``false`` | serve ``GET /api/v1/mobile/debug/routes`` |
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from services.common.settings import ConfigurationError

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$", re.I)
_UNITS = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}


def _alias(*names: str) -> Any:
    return AliasChoices(*names)


class MeetingSettings(BaseSettings):
    """Settings of the meeting memos (see the module docstring for the table)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    max_audio_file_size: int = Field(
        50 * 1024 * 1024, ge=1024, le=1 << 34, validation_alias=_alias("MAX_AUDIO_FILE_SIZE")
    )
    max_duration_s: float = Field(4 * 3600, gt=0, validation_alias=_alias("EARSHOT_MEETINGS_MAX_DURATION_S"))
    max_attempts: int = Field(3, ge=1, le=10, validation_alias=_alias("EARSHOT_MEETINGS_MAX_ATTEMPTS"))
    retry_base_s: float = Field(2.0, ge=0, validation_alias=_alias("EARSHOT_MEETINGS_RETRY_BASE_S"))
    retry_max_s: float = Field(60.0, ge=0, validation_alias=_alias("EARSHOT_MEETINGS_RETRY_MAX_S"))
    stale_after_s: float = Field(1800, gt=0, validation_alias=_alias("EARSHOT_MEETINGS_STALE_AFTER_S"))
    operators: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=_alias("EARSHOT_MEETINGS_OPERATORS")
    )
    dashboard_base_url: str | None = Field(None, validation_alias=_alias("DASHBOARD_BASE_URL"))
    dashboard_secret: str = Field("", validation_alias=_alias("EARSHOT_DASHBOARD_SECRET"))
    debug_routes: bool = Field(False, validation_alias=_alias("EARSHOT_DEBUG_ROUTES"))

    @field_validator("max_audio_file_size", mode="before")
    @classmethod
    def _size(cls, value: Any) -> Any:
        if isinstance(value, str):
            m = _SIZE.match(value)
            if not m:
                raise ValueError("expected bytes or a size such as 50MB")
            return int(float(m.group(1)) * _UNITS[(m.group(2) or "b").lower()])
        return value

    @field_validator("operators", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value


_NAMES = {
    "max_audio_file_size": "MAX_AUDIO_FILE_SIZE",
    "dashboard_base_url": "DASHBOARD_BASE_URL",
    "dashboard_secret": "EARSHOT_DASHBOARD_SECRET",
    "debug_routes": "EARSHOT_DEBUG_ROUTES",
}


def load_meeting_settings(**overrides: Any) -> MeetingSettings:
    """Read :class:`MeetingSettings` from the environment.

    Raises:
        ConfigurationError: naming the invalid variable.
    """
    try:
        return MeetingSettings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{_NAMES.get(str(e['loc'][0]), 'EARSHOT_MEETINGS_' + str(e['loc'][0]).upper())}: {e['msg']}"
            f" (got {e.get('input')!r})"
            for e in exc.errors()
        )
        raise ConfigurationError("invalid meeting configuration: " + problems) from None
