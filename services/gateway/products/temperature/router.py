"""``POST /analyze-audio`` (seed 000)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request

from services.gateway.deps import ApiKeyOrUser, Settings
from services.gateway.products.temperature.schemas import ERRORS, AnalyzeAudioForm, TemperatureResponse
from services.gateway.products.temperature.service import TemperatureDep, run
from services.gateway.shared.openapi import request_body
from services.gateway.shared.uploads import ReceivedAudio, receive_audio

router = APIRouter()


@router.post(
    "/analyze-audio",
    response_model=TemperatureResponse,
    responses=ERRORS,
    openapi_extra=request_body(form=AnalyzeAudioForm),
)
async def analyze_audio(
    request: Request, product: TemperatureDep, settings: Settings, _caller: ApiKeyOrUser
) -> TemperatureResponse:
    """Score how heated a recorded conversation is (multipart field ``audio``).

    Synchronous as documented: waits for the job's result, up to ``EARSHOT_REQUEST_TIMEOUT_S``
    (then 504). Open to anonymous callers (seed 000)."""

    async def receive(tmp: Path) -> ReceivedAudio:
        return await receive_audio(request, "audio", settings, tmp)

    return await run(product, receive)
