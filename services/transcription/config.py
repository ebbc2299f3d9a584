"""Settings of the transcription service: default engine, cloud keys, long-audio tuning.

The Whisper model itself (``EARSHOT_WHISPER_MODEL``, ``EARSHOT_WHISPER_COMPUTE_TYPE``,
``EARSHOT_WHISPER_THREADS``, ``EARSHOT_WHISPER_BEAM_SIZE``) is read from the platform
settings (:class:`services.common.settings.Settings`). Provider keys use the SDKs' own
names (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``, ``GEMINI_API_KEY`` / ``GOOGLE_API_KEY``);
everything else carries the ``EARSHOT_`` prefix.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.settings import load_settings_class

EngineName = Literal["local", "openai", "gemini"]


def _env(name: str, *others: str) -> Any:
    return AliasChoices(f"EARSHOT_{name}", *others)


class TranscriptionSettings(BaseSettings):
    """Transcription configuration. With no keys only the local engine is offered."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    engine: EngineName = Field("local", validation_alias=_env("TRANSCRIPTION_ENGINE"))

    openai_api_key: str | None = Field(None, validation_alias=_env("OPENAI_API_KEY", "OPENAI_API_KEY"))
    openai_base_url: str | None = Field(None, validation_alias=_env("OPENAI_BASE_URL", "OPENAI_BASE_URL"))
    openai_transcription_model: str = Field("whisper-1", validation_alias=_env("OPENAI_TRANSCRIPTION_MODEL"))

    gemini_api_key: str | None = Field(
        None, validation_alias=_env("GEMINI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY")
    )
    gemini_base_url: str | None = Field(None, validation_alias=_env("GEMINI_BASE_URL"))
    gemini_transcription_model: str = Field(
        "gemini-2.5-flash", validation_alias=_env("GEMINI_TRANSCRIPTION_MODEL")
    )
    cloud_timeout_s: float = Field(
        300.0, gt=0, le=3600, validation_alias=_env("TRANSCRIPTION_CLOUD_TIMEOUT_S")
    )

    # Long audio: files longer than this go through the windowed, batched pipeline.
    long_audio_s: float = Field(60.0, gt=0, validation_alias=_env("TRANSCRIPTION_LONG_AUDIO_S"))
    window_s: float = Field(240.0, ge=60, le=3600, validation_alias=_env("TRANSCRIPTION_WINDOW_S"))
    batch_size: int = Field(8, ge=1, le=64, validation_alias=_env("TRANSCRIPTION_BATCH_SIZE"))
    max_speakers: int = Field(8, ge=1, le=32, validation_alias=_env("TRANSCRIPTION_MAX_SPEAKERS"))

    # Background work (meeting memos): a stronger model where nobody waits on the answer.
    # Measured on 678 s of the shared files (benchmarks/hearing.py, long path): tiny.en
    # greedy 14.8 % WER, base beam 5 with temperature fallback 12.0 % (docs/transcription.md).
    background_model: str = Field("base", validation_alias=_env("TRANSCRIPTION_BACKGROUND_MODEL"))
    background_beam_size: int = Field(
        5, ge=1, le=10, validation_alias=_env("TRANSCRIPTION_BACKGROUND_BEAM_SIZE")
    )
    background_purposes: str = Field(
        "meeting", validation_alias=_env("TRANSCRIPTION_BACKGROUND_PURPOSES")
    )  # comma-separated TranscriptionRequested.purpose values served by the background model
    model_cache_dir: str | None = Field(None, validation_alias=_env("MODEL_CACHE_DIR"))
    diarizer: Literal["auto", "campplus", "mfcc"] = Field("auto", validation_alias=_env("DIARIZER"))
    # Speaker turns from pyannote segmentation-3.0 instead of 1.5 s VAD windows (CAM++ only,
    # recordings up to long_audio_s); off until measured better (docs/transcription.md).
    diarizer_segmentation: Literal["off", "turns"] = Field(
        "off", validation_alias=_env("DIARIZER_SEGMENTATION")
    )

    def background(self, purpose: str | None) -> bool:
        """True when a job of this ``purpose`` goes to the background model."""
        wanted = {p.strip() for p in self.background_purposes.split(",") if p.strip()}
        return bool(purpose) and purpose in wanted


def load_transcription_settings(**overrides: Any) -> TranscriptionSettings:
    """Read the transcription settings from the environment (keyword overrides win).

    Raises:
        ConfigurationError: naming the offending variable.
    """
    return load_settings_class(TranscriptionSettings, "transcription", **overrides)
