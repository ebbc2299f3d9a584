"""Request and response models of ``POST /analyze-audio``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from services.gateway.shared.errors import ErrorBody
from services.gateway.shared.openapi import FileField


class AnalyzeAudioForm(BaseModel):
    """``multipart/form-data`` with the recording of a conversation: WAV, MP3, M4A, FLAC or OGG
    (``ALLOWED_EXTENSIONS``), at most ``MAX_FILE_SIZE`` MB (25) and
    ``EARSHOT_MAX_AUDIO_DURATION_S`` (300 s)."""

    audio: FileField = Field(description="The recording.")


class TemperatureResponse(BaseModel):
    """The documented answer of ``POST /analyze-audio``."""

    temperature: int = Field(ge=1, le=100, description="How heated the conversation is, 1 (calm) to 100.")
    confidence: float = Field(ge=0, le=1)
    timestamp: str = Field(description="ISO 8601 UTC, with Z.")
    analysis_summary: str


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorBody,
        "description": "Missing file, wrong field, unsupported or corrupt audio, audio over 5 minutes",
    },
    413: {"model": ErrorBody, "description": "File over MAX_FILE_SIZE"},
    422: {"model": ErrorBody, "description": "Transcription or analysis could not use the audio"},
    504: {"model": ErrorBody, "description": "The analysis did not finish in time"},
}
