"""A fake of the Gemini API's ``models.generateContent`` (``POST /v1beta/models/{model}:generateContent``).

Use with ``google.genai.Client(api_key=..., http_options=HttpOptions(base_url=fake.url))``.
Requests with ``generationConfig.responseMimeType == "application/json"`` and a
``responseJsonSchema`` (or ``responseSchema``) get a candidate whose text part is the JSON
answer, plus ``usageMetadata``; errors use Google's ``{"error": {code, message, status,
details}}`` body (429 ``RESOURCE_EXHAUSTED`` with a ``google.rpc.RetryInfo`` ``retryDelay``,
500 ``INTERNAL``, 400 ``INVALID_ARGUMENT`` for too many input tokens).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes import FakeServer, Recorded, answer, estimate_tokens

_STATUS = {400: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}


def _error(code: int, message: str, details: list[dict[str, Any]] | None = None) -> JSONResponse:
    error: dict[str, Any] = {"code": code, "message": message, "status": _STATUS.get(code, "UNKNOWN")}
    if details:
        error["details"] = details
    return JSONResponse({"error": error}, status_code=code)


def _text(content: dict[str, Any] | None) -> str:
    return "\n".join(str(p.get("text", "")) for p in (content or {}).get("parts", []))


@dataclass
class GeminiGenerateFake(FakeServer):
    """The fake server (see module docstring)."""

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{version}/models/{call}", self.generate, methods=["POST"])])

    async def generate(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.requests.append(Recorded(request.url.path, dict(request.headers), body))
        call = request.path_params["call"]
        if not call.endswith(":generateContent"):
            return _error(404, f"method {call} not found")
        if not request.headers.get("x-goog-api-key"):
            return _error(403, "Method doesn't allow unregistered callers.")
        fault = self.next_fault()
        if fault and fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        if fault and fault.status == 429:
            details = [
                {
                    "@type": "type.googleapis.com/google.rpc.RetryInfo",
                    "retryDelay": f"{fault.retry_after or 0}s",
                }
            ]
            return _error(429, "Resource has been exhausted (e.g. check quota).", details)
        if fault and fault.status:
            return _error(fault.status, "An internal error has occurred. Please retry.")
        system = _text(body.get("systemInstruction"))
        contents = body.get("contents", [])
        users = [_text(c) for c in contents if c.get("role", "user") == "user"]
        prompt_tokens = estimate_tokens(system) + sum(estimate_tokens(_text(c)) for c in contents)
        if prompt_tokens > self.context_tokens:
            return _error(
                400,
                f"The input token count ({prompt_tokens}) exceeds the maximum number of tokens allowed "
                f"({self.context_tokens}).",
            )
        config = body.get("generationConfig") or {}
        schema = config.get("responseJsonSchema") or config.get("responseSchema") or {}
        if fault and fault.not_json:
            text = "Here is your answer: temperature is high"
        elif fault and fault.malformed:
            text = json.dumps({"unexpected": True})
        else:
            text = json.dumps(answer(schema, system, users[0] if users else ""))
        out = estimate_tokens(text)
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
                    "promptTokenCount": prompt_tokens,
                    "candidatesTokenCount": out,
                    "totalTokenCount": prompt_tokens + out,
                },
                "modelVersion": call.split(":")[0],
            }
        )
