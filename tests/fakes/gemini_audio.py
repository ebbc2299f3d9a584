"""A fake of the Gemini API's ``models.generateContent`` for audio transcription.

Use with ``google.genai.Client(api_key=..., http_options=HttpOptions(base_url=fake.url))``;
the SDK posts to ``/v1beta/models/{model}:generateContent`` with the audio as an
``inlineData`` part (base64, with its ``mimeType``) and the prompt as a text part. The
fake checks the ``x-goog-api-key`` header, decodes the inline audio to learn its real
duration (it cannot hear: the words are :attr:`GeminiAudioFake.turns`, set by the test),
and answers a candidate whose text part is JSON in the requested ``responseSchema`` /
``responseJsonSchema``: ``{"language", "segments": [{"speaker", "start", "end", "text"}]}``
with the turns spread evenly over the duration. ``Fault(malformed=True)`` answers JSON
that breaks the schema; ``Fault(status=...)`` answers Google's error body.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes import FakeServer, Recorded
from tests.fakes.openai_audio import _duration

_STATUS = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL"}


def _error(code: int, message: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "status": _STATUS.get(code, "UNKNOWN")}},
        status_code=code,
    )


def decode_bytes(data: str) -> bytes:
    """proto3 JSON ``bytes``: standard or URL-safe base64, padded or not (both are valid)."""
    data = data.replace("-", "+").replace("_", "/")
    return base64.b64decode(data + "=" * (-len(data) % 4))


@dataclass
class GeminiAudioFake(FakeServer):
    """The fake server (see module docstring)."""

    turns: list[tuple[str, str]] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{version}/models/{call}", self.generate, methods=["POST"])])

    async def generate(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.requests.append(Recorded(request.url.path, dict(request.headers), body))
        if not request.path_params["call"].endswith(":generateContent"):
            return _error(404, "method not found")
        if not request.headers.get("x-goog-api-key"):
            return _error(403, "Method doesn't allow unregistered callers.")
        fault = self.next_fault()
        if fault and fault.status:
            return _error(fault.status, "An internal error has occurred. Please retry.")
        parts = [p for c in body.get("contents", []) for p in c.get("parts", [])]
        inline = [p["inlineData"] for p in parts if "inlineData" in p]
        if not inline or not str(inline[0].get("mimeType", "")).startswith("audio/"):
            return _error(400, "Request contains no audio part.")
        config = body.get("generationConfig") or {}
        schema = config.get("responseJsonSchema") or config.get("responseSchema") or {}
        if config.get("responseMimeType") != "application/json" or "segments" not in json.dumps(schema):
            return _error(400, "responseSchema with 'segments' is required for this fake.")
        duration = _duration(decode_bytes(inline[0]["data"]))
        step = duration / max(len(self.turns), 1)
        answer: dict[str, Any] = {
            "language": "en",
            "segments": [
                {"speaker": who, "start": round(i * step, 2), "end": round((i + 1) * step, 2), "text": said}
                for i, (who, said) in enumerate(self.turns)
            ],
        }
        if fault and fault.malformed:
            answer = {"segments": [{"speaker": 1, "begin": "soon"}]}
        text = json.dumps(answer)
        return JSONResponse(
            {
                "candidates": [
                    {
                        "content": {"parts": [{"text": text}], "role": "model"},
                        "finishReason": "STOP",
                        "index": 0,
                    }
                ],
                "usageMetadata": {
                    "promptTokenCount": 100,
                    "candidatesTokenCount": len(text) // 4,
                    "totalTokenCount": 100 + len(text) // 4,
                },
                "modelVersion": request.path_params["call"].split(":")[0],
            }
        )
