"""Settings of the analysis service: which provider, its keys, models, limits and retries.

Environment names follow the providers' own SDK conventions where they exist
(``OPENAI_API_KEY``, ``OPENAI_MODEL`` as in seed 001, ``OPENAI_BASE_URL``,
``ANTHROPIC_API_KEY``, ``ANTHROPIC_BASE_URL``, ``GEMINI_API_KEY`` /
``GOOGLE_API_KEY``); everything else carries the ``EARSHOT_`` prefix. The retry
defaults are seed 003's: base 2 s, 3 attempts, at most 60 s between attempts.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.settings import load_settings_class

ProviderName = Literal["local", "openai", "anthropic", "gemini"]


def _env(name: str, *others: str) -> Any:
    return AliasChoices(f"EARSHOT_{name}", *others)


class AnalysisSettings(BaseSettings):
    """Provider configuration. With no keys everything runs on the local analyzers."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    provider: ProviderName = Field(
        "local",
        validation_alias=_env("ANALYSIS_PROVIDER"),
        description="Provider for meeting and interview analyses (temperature has its own setting).",
    )

    openai_api_key: str | None = Field(None, validation_alias=_env("OPENAI_API_KEY", "OPENAI_API_KEY"))
    openai_model: str = Field("gpt-4o-mini", validation_alias=_env("OPENAI_MODEL", "OPENAI_MODEL"))
    openai_base_url: str | None = Field(None, validation_alias=_env("OPENAI_BASE_URL", "OPENAI_BASE_URL"))
    openai_context_tokens: int = Field(128_000, ge=512, validation_alias=_env("OPENAI_CONTEXT_TOKENS"))

    anthropic_api_key: str | None = Field(
        None, validation_alias=_env("ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY")
    )
    anthropic_model: str = Field(
        "claude-haiku-4-5", validation_alias=_env("ANTHROPIC_MODEL", "ANTHROPIC_MODEL")
    )
    anthropic_base_url: str | None = Field(
        None, validation_alias=_env("ANTHROPIC_BASE_URL", "ANTHROPIC_BASE_URL")
    )
    anthropic_context_tokens: int = Field(200_000, ge=512, validation_alias=_env("ANTHROPIC_CONTEXT_TOKENS"))

    gemini_api_key: str | None = Field(
        None, validation_alias=_env("GEMINI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY")
    )
    gemini_model: str = Field("gemini-2.0-flash", validation_alias=_env("GEMINI_MODEL", "GEMINI_MODEL"))
    gemini_base_url: str | None = Field(None, validation_alias=_env("GEMINI_BASE_URL"))
    gemini_context_tokens: int = Field(1_000_000, ge=512, validation_alias=_env("GEMINI_CONTEXT_TOKENS"))

    llm_timeout_s: float = Field(60.0, gt=0, le=600, validation_alias=_env("LLM_TIMEOUT_S"))
    llm_max_attempts: int = Field(3, ge=1, le=10, validation_alias=_env("LLM_MAX_ATTEMPTS"))
    llm_backoff_base_s: float = Field(2.0, ge=0, le=60, validation_alias=_env("LLM_BACKOFF_BASE_S"))
    llm_backoff_max_s: float = Field(60.0, ge=0, le=600, validation_alias=_env("LLM_BACKOFF_MAX_S"))
    llm_max_output_tokens: int = Field(2048, ge=64, le=65_536, validation_alias=_env("LLM_MAX_OUTPUT_TOKENS"))

    interview_analysis_timeout_s: float = Field(
        10.0, gt=0, le=600, validation_alias=_env("INTERVIEW_ANALYSIS_TIMEOUT_S")
    )


def load_analysis_settings(**overrides: Any) -> AnalysisSettings:
    """Read the analysis settings from the environment (keyword overrides win).

    Raises:
        ConfigurationError: naming the offending variable.
    """
    return load_settings_class(AnalysisSettings, "analysis", **overrides)
