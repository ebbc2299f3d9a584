"""Conversation temperature (seed 000): ``POST /analyze-audio``.

Synchronous as documented: the route waits for the job's result event, up to
``EARSHOT_REQUEST_TIMEOUT_S`` (then 504). Stateless as the seed promises: the upload
and the transcript are deleted on every path; only a content-free job record
(id, status, timings, error code) is kept.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from services.common import metrics
from services.common.events import (
    AnalysisCompleted,
    AnalysisFailed,
    TranscriptionFailed,
    TranscriptionRequested,
)
from services.common.logging import bind, get_logger, unbind
from services.gateway.access import ApiKeyOrUser
from services.gateway.errors import ApiError
from services.gateway.uploads import receive_audio

log = get_logger("earshot.gateway.temperature")

router = APIRouter(tags=["conversation temperature"])


class TemperatureResponse(BaseModel):
    """The documented answer of ``POST /analyze-audio``."""

    temperature: int = Field(ge=1, le=100, description="How heated the conversation is, 1 (calm) to 100.")
    confidence: float = Field(ge=0, le=1)
    timestamp: str = Field(description="ISO 8601 UTC, with Z.")
    analysis_summary: str


class ErrorBody(BaseModel):
    """The documented error shape."""

    error: str
    details: str
    timestamp: str


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in {
        400: "Missing file, wrong field, unsupported or corrupt audio, audio over 5 minutes",
        413: "File over MAX_FILE_SIZE",
        422: "Transcription or analysis could not use the audio",
        504: "The analysis did not finish in time",
    }.items()
}


@router.post("/analyze-audio", response_model=TemperatureResponse, responses=ERRORS)
async def analyze_audio(request: Request, _caller: ApiKeyOrUser) -> TemperatureResponse:
    """Score how heated a recorded conversation is (multipart field ``audio``)."""
    from services.gateway.errors import utc_timestamp
    from services.gateway.service import GatewayService

    gw: GatewayService = request.app.state.gateway
    rt = gw.runtime
    job_id = str(uuid.uuid4())
    bind(job_id=job_id)
    audio_key = ""
    transcript_key = f"transcripts/{job_id}.json"
    status: str = "failed"
    error: str | None = "rejected"
    started = time.perf_counter()
    try:
        with rt.temp_dir("upload-") as tmp:
            received = await receive_audio(request, "audio", rt.settings, tmp)
            audio_key = f"uploads/{job_id}.{received.extension}"
            await gw.jobs.create(job_id, "temperature")
            await rt.storage.put_file(audio_key, received.path, f"audio/{received.extension}")
        async with gw.waiting(job_id) as fut:
            await gw.publish(
                TranscriptionRequested(job_id=job_id, audio_key=audio_key, purpose="temperature")
            )
            await gw.jobs.set_status(job_id, "running")
            try:
                outcome = await asyncio.wait_for(fut, gw.request_timeout_s)
            except TimeoutError:
                status, error = "timed_out", "timeout"
                raise ApiError(
                    504,
                    "Analysis timed out",
                    f"no result within {gw.request_timeout_s:g} s; try a shorter recording",
                ) from None
        if isinstance(outcome, AnalysisCompleted):
            result = outcome.result
            status, error = "succeeded", None
            return TemperatureResponse(
                temperature=int(result["temperature"]),
                confidence=float(result["confidence"]),
                timestamp=utc_timestamp(),
                analysis_summary=str(result["analysis_summary"]),
            )
        assert isinstance(outcome, TranscriptionFailed | AnalysisFailed)
        error = outcome.error
        raise ApiError(422, "Audio processing failed", outcome.details)
    finally:
        if audio_key:
            await gw.jobs.set_status(job_id, status, error)
            await asyncio.shield(_cleanup(rt.storage, audio_key, transcript_key))
        outcome_label = status if audio_key else "rejected"
        metrics.observe_job("gateway", "temperature", outcome_label, time.perf_counter() - started)
        unbind("job_id")


async def _cleanup(storage: Any, *keys: str) -> None:
    for key in keys:
        try:
            await storage.delete(key)
        except Exception as exc:  # clean-up must not mask the answer; it is logged
            log.error("gateway.cleanup_failed", key=key, error=str(exc))
