"""Settings of the anc service, with the environment names seed 004 gives them.

``ANC_FILTER_TAPS`` (512), ``ANC_SAMPLE_RATE`` (48000 Hz), ``ANC_BLOCK_SIZE`` (1024
samples, a power of two), ``ANC_DEFAULT_ALGORITHM`` (nlms; also fdaf, fxnlms, lms,
ale), ``ML_MODEL_PATH`` (default: the bundled skops model),
``ML_CONFIDENCE_THRESHOLD`` (0.7), ``EMERGENCY_DETECTION_ENABLED`` (true),
``EMERGENCY_CONFIDENCE_THRESHOLD`` (0.85). ``EARSHOT_ANC_MU`` sets the default step
size and ``EARSHOT_ANC_MAX_PROCESS_S`` the longest file ``Process`` takes (s).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.settings import load_settings_class

Algorithm = Literal["nlms", "fdaf", "fxnlms", "lms", "ale"]
ALGORITHMS: tuple[str, ...] = ("nlms", "fdaf", "fxnlms", "lms", "ale")


class AncSettings(BaseSettings):
    """The anc service's settings (see module docstring)."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    filter_taps: int = Field(512, ge=1, le=16384, validation_alias=AliasChoices("ANC_FILTER_TAPS"))
    sample_rate: int = Field(48000, ge=8000, le=192000, validation_alias=AliasChoices("ANC_SAMPLE_RATE"))
    block_size: int = Field(1024, ge=16, le=65536, validation_alias=AliasChoices("ANC_BLOCK_SIZE"))
    default_algorithm: Algorithm = Field("nlms", validation_alias=AliasChoices("ANC_DEFAULT_ALGORITHM"))
    mu: float = Field(0.5, gt=0, le=2, validation_alias=AliasChoices("EARSHOT_ANC_MU"))
    max_process_s: float = Field(
        60.0, gt=0, le=600, validation_alias=AliasChoices("EARSHOT_ANC_MAX_PROCESS_S")
    )
    model_path: Path | None = Field(None, validation_alias=AliasChoices("ML_MODEL_PATH"))
    confidence_threshold: float = Field(
        0.7, ge=0, le=1, validation_alias=AliasChoices("ML_CONFIDENCE_THRESHOLD")
    )
    emergency_enabled: bool = Field(True, validation_alias=AliasChoices("EMERGENCY_DETECTION_ENABLED"))
    emergency_threshold: float = Field(
        0.85, ge=0, le=1, validation_alias=AliasChoices("EMERGENCY_CONFIDENCE_THRESHOLD")
    )

    @field_validator("block_size")
    @classmethod
    def _power_of_two(cls, value: int) -> int:
        if value & (value - 1):
            raise ValueError("must be a power of two")
        return value


def load_anc_settings(**overrides: Any) -> AncSettings:
    """Read the anc settings from the environment (keyword overrides win).

    Raises:
        ConfigurationError: naming the offending variable(s).
    """
    return load_settings_class(AncSettings, "anc", **overrides)
