"""OpenAI-compatible speech-to-text API: ``POST /v1/audio/transcriptions``, ``GET /v1/models``.

A drop-in for OpenAI's transcription endpoint (point the official SDK's ``base_url`` at
``http://<gateway>/v1``), served offline by the transcription service:

* multipart fields as OpenAI's: ``file``, ``model``, ``language``, ``prompt``,
  ``response_format`` (``json`` | ``text`` | ``srt`` | ``verbose_json`` | ``vtt``),
  ``temperature``, ``timestamp_granularities[]`` (``word`` | ``segment``; ``word``
  needs ``verbose_json``, else 400 as OpenAI does); Earshot extensions ``diarize``,
  ``min_speakers``, ``max_speakers`` and ``engine``.
* recordings up to 60 s go over gRPC ``Transcribe``; longer ones through the job
  events (the upload is stored as ``uploads/<job>.<ext>``, the transcript read back
  from ``transcripts/<job>.json``; both are deleted on every path).
* errors use OpenAI's shape ``{"error": {"message", "type", "param", "code"}}`` plus
  Earshot's ``details`` and ``timestamp``, so both OpenAI clients and Earshot clients
  can read them. Everything is validated before anything is stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from sqlalchemy.exc import SQLAlchemyError

from services.common.faults import DependencyUnavailable, unavailable_dependency
from services.common.logging import get_logger
from services.gateway.deps import ApiKeyOrUser
from services.gateway.products.openai.schemas import (
    SYNC_LIMIT_S,
    Invalid,
    ModelList,
    ModelObject,
    OpenAIErrorBody,
    TranscriptionForm,
    TranscriptionOut,
    openai_error,
    render,
)
from services.gateway.products.openai.service import OpenAIDep
from services.gateway.shared.errors import ApiError, dependency_unavailable
from services.gateway.shared.openapi import VALIDATION_AS_400, request_body

log = get_logger("earshot.gateway.openai")


class OpenAIRoute(APIRoute):
    """Route class that renders every error of the ``/v1`` routes in OpenAI's shape (a database
    or storage fault too: 503 ``database_unavailable`` / ``storage_unavailable``)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        inner = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await inner(request)
            except Invalid as exc:
                return openai_error(exc.status, exc.details, param=exc.param, code=exc.code)
            except ApiError as exc:
                return openai_error(
                    exc.status,
                    f"{exc.error}: {exc.details}",
                    code=exc.error.lower().replace(" ", "_"),
                    headers=exc.headers,
                )
            except RequestValidationError as exc:
                return openai_error(400, "; ".join(str(e.get("msg")) for e in exc.errors()))
            except (DependencyUnavailable, SQLAlchemyError, OSError) as exc:
                dependency = unavailable_dependency(exc)
                if dependency is None:
                    raise
                log.warning("gateway.dependency_unavailable", dependency=dependency, path=request.url.path)
                error = dependency_unavailable(dependency)
                return openai_error(
                    503,
                    f"{error.error}: {error.details}",
                    code=f"{dependency}_unavailable",
                    headers=error.headers,
                )

        return handler


router = APIRouter(route_class=OpenAIRoute)
"""Mounted under ``/v1`` by ``app.py``."""


def _errors(described: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": OpenAIErrorBody, "description": text} for status, text in described.items()}


UNAVAILABLE = {
    503: "The transcription service is unavailable (Retry-After)",
    504: "The transcription service did not answer in time",
}
KEY = {401: "EARSHOT_API_KEYS is set and no valid key or token was sent"}
TOO_LARGE: dict[str, Any] = {
    "description": "File over MAX_FILE_SIZE (OpenAI's shape; Earshot's when the body limit answers first)",
    "content": {
        "application/json": {
            "schema": {
                "anyOf": [
                    {"$ref": "#/components/schemas/OpenAIErrorBody"},
                    {"$ref": "#/components/schemas/ErrorBody"},
                ]
            }
        }
    },
}
"""413 of an upload: the route's own check answers in OpenAI's shape; a body over the limit
that the upload middleware stops first answers :class:`ErrorBody`."""

TRANSCRIBE: dict[str, Any] = {
    "summary": "Transcribe audio (OpenAI-compatible)",
    "response_model": None,
    "responses": {
        200: {
            "model": TranscriptionOut,
            "description": "The transcript in the requested response_format",
            "content": {
                "text/plain": {"schema": {"type": "string"}},
                "application/x-subrip": {"schema": {"type": "string"}},
                "text/vtt": {"schema": {"type": "string"}},
            },
        },
        **_errors({400: "Invalid parameter or audio (validation errors too)", **KEY, **UNAVAILABLE}),
        413: TOO_LARGE,
    },
    "openapi_extra": {**request_body(form=TranscriptionForm), **VALIDATION_AS_400},
}
MODELS: dict[str, Any] = {
    "summary": "List models (OpenAI-compatible)",
    "response_model": ModelList,
    "responses": _errors({**KEY, **UNAVAILABLE}),
}
MODEL: dict[str, Any] = {
    "summary": "Retrieve a model (OpenAI-compatible)",
    "response_model": ModelObject,
    "responses": _errors({**KEY, 404: "No such model", **UNAVAILABLE}),
    "openapi_extra": VALIDATION_AS_400,
}


@router.post("/audio/transcriptions", **TRANSCRIBE)
async def create_transcription(request: Request, product: OpenAIDep, _caller: ApiKeyOrUser) -> Response:
    """OpenAI's ``POST /v1/audio/transcriptions``, served by Earshot's engines (module docstring)."""
    with product.runtime.temp_dir("openai-") as tmp:
        params, path, info = await product.receive(request, tmp)
        want_words = params.words or params.diarize
        started = time.perf_counter()
        if info.duration_s <= SYNC_LIMIT_S:
            transcript = await product.via_grpc(path, params, want_words)
        else:
            transcript = await product.via_job(path, info, params, want_words)
    log.info(
        "openai.transcription",
        audio_s=round(info.duration_s, 2),
        seconds=round(time.perf_counter() - started, 3),
        format=params.response_format,
    )
    return render(transcript, params)


@router.get("/models", **MODELS)
async def list_models(product: OpenAIDep, _caller: ApiKeyOrUser) -> dict[str, Any]:
    """OpenAI's ``GET /v1/models``: the speech-to-text models the platform serves."""
    return {"object": "list", "data": await product.models()}


@router.get("/models/{model_id:path}", **MODEL)
async def get_model(model_id: str, product: OpenAIDep, _caller: ApiKeyOrUser) -> dict[str, Any]:
    """OpenAI's ``GET /v1/models/{model}``; 404 for an unknown id."""
    for model in await product.models():
        if model["id"] == model_id:
            return model
    raise Invalid(404, "Not found", f"The model '{model_id}' does not exist", "model", "model_not_found")
