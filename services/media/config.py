"""Settings of the media service (photo -> lyrics -> music -> video).

Seed 002 names ``CLAUDE_API_KEY``, ``SUNO_API_KEY``, ``SUNO_BASE_URL`` and
``MAX_CONCURRENT_TASKS``; those names are accepted as they are (and with the
``EARSHOT_`` prefix). ``ANTHROPIC_API_KEY`` / ``ANTHROPIC_BASE_URL`` are the
Anthropic SDK's own names and work too. Everything else is ``EARSHOT_MEDIA_*``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.settings import load_settings_class

DEFAULT_SUNO_BASE_URL = "https://studio-api.prod.suno.com/api/v2/external/hackmit"
"""Suno endpoint given by seed 002."""


def _env(name: str, *other: str) -> Any:
    return AliasChoices(f"EARSHOT_MEDIA_{name}", *other)


class MediaSettings(BaseSettings):
    """All media settings; the defaults run fully offline (local lyrics, local music)."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    # --- providers ---------------------------------------------------------------------
    claude_api_key: str | None = Field(
        None, validation_alias=AliasChoices("CLAUDE_API_KEY", "EARSHOT_CLAUDE_API_KEY", "ANTHROPIC_API_KEY")
    )
    claude_base_url: str | None = Field(
        None, validation_alias=AliasChoices("EARSHOT_CLAUDE_BASE_URL", "ANTHROPIC_BASE_URL")
    )
    claude_model: str = Field("claude-sonnet-4-5", validation_alias=_env("CLAUDE_MODEL"))
    claude_timeout_s: float = Field(60.0, gt=0, le=600, validation_alias=_env("CLAUDE_TIMEOUT_S"))
    claude_max_retries: int = Field(2, ge=0, le=10, validation_alias=_env("CLAUDE_MAX_RETRIES"))
    suno_api_key: str | None = Field(
        None, validation_alias=AliasChoices("SUNO_API_KEY", "EARSHOT_SUNO_API_KEY")
    )
    suno_base_url: str = Field(
        DEFAULT_SUNO_BASE_URL, validation_alias=AliasChoices("SUNO_BASE_URL", "EARSHOT_SUNO_BASE_URL")
    )
    suno_poll_interval_s: float = Field(5.0, gt=0, le=60, validation_alias=_env("SUNO_POLL_INTERVAL_S"))
    suno_timeout_s: float = Field(300.0, gt=0, le=3600, validation_alias=_env("SUNO_TIMEOUT_S"))
    fallback_to_local: bool = Field(False, validation_alias=_env("FALLBACK_TO_LOCAL"))

    # --- work ----------------------------------------------------------------------------
    max_concurrent_tasks: int = Field(
        3,
        ge=1,
        le=64,
        validation_alias=AliasChoices("MAX_CONCURRENT_TASKS", "EARSHOT_MEDIA_MAX_CONCURRENT_TASKS"),
    )
    max_pixels: int = Field(50_000_000, ge=10_000, validation_alias=_env("MAX_PIXELS"))

    # --- video ---------------------------------------------------------------------------
    duration_s: float = Field(30.0, gt=1, le=600, validation_alias=_env("DURATION_S"))
    fps: int = Field(24, ge=1, le=60, validation_alias=_env("FPS"))
    max_long_side: int = Field(1920, ge=64, le=3840, validation_alias=_env("MAX_LONG_SIDE"))
    max_short_side: int = Field(1080, ge=64, le=2160, validation_alias=_env("MAX_SHORT_SIDE"))
    x264_preset: Literal[
        "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"
    ] = Field("ultrafast", validation_alias=_env("X264_PRESET"))
    # ultrafast with CABAC, B-frames and the deblocking filter back on: about 30% less CPU
    # than superfast for a file about 45% larger on a slow pan (measured on coffee.png).
    x264_params: str = Field("cabac=1:bframes=3:deblock=1", validation_alias=_env("X264_PARAMS"))
    x264_crf: int = Field(23, ge=0, le=51, validation_alias=_env("X264_CRF"))
    x264_threads: int = Field(1, ge=0, le=64, validation_alias=_env("X264_THREADS"))
    audio_bitrate: int = Field(160_000, ge=32_000, le=512_000, validation_alias=_env("AUDIO_BITRATE"))

    @property
    def lyrics_engine(self) -> str:
        """``claude`` when a key is set, else ``local``."""
        return "claude" if self.claude_api_key else "local"

    @property
    def music_engine(self) -> str:
        """``suno`` when a key is set, else ``local``."""
        return "suno" if self.suno_api_key else "local"


def load_media_settings(**overrides: Any) -> MediaSettings:
    """Read the media settings from the environment (keyword overrides win, by field name).

    Raises:
        ConfigurationError: naming the variable that is invalid.
    """
    return load_settings_class(MediaSettings, "media", **overrides)
