"""A fake of OpenAI's Chat Completions API (``POST /v1/chat/completions``), real wire format.

Use with ``openai.AsyncOpenAI(base_url=f"{fake.url}/v1", api_key=...)``. Structured Outputs
requests (``response_format.type == "json_schema"``) get a ``chat.completion`` whose
message ``content`` is the JSON answer; errors use OpenAI's ``{"error": {message, type,
param, code}}`` body and status codes (429 ``rate_limit_exceeded``, 500 ``server_error``,
400 ``context_length_exceeded``).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes import FakeServer, Recorded, answer, estimate_tokens


def _error(status: int, message: str, type_: str, code: str | None, headers: dict[str, str] | None = None):
    body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def _text(content: Any) -> str:
    if isinstance(content, list):  # content parts
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content or "")


@dataclass
class OpenAIChatFake(FakeServer):
    """The fake server (see module docstring)."""

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v1/chat/completions", self.completions, methods=["POST"])])

    async def completions(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.requests.append(Recorded(request.url.path, dict(request.headers), body))
        if not request.headers.get("authorization", "").startswith("Bearer "):
            return _error(401, "You didn't provide an API key.", "invalid_request_error", None)
        fault = self.next_fault()
        if fault and fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        if fault and fault.status == 429:
            headers = {"retry-after": fault.retry_after} if fault.retry_after is not None else None
            return _error(
                429,
                f"Rate limit reached for {body.get('model')} on requests per min (RPM): Limit 3.",
                "requests",
                "rate_limit_exceeded",
                headers,
            )
        if fault and fault.status:
            return _error(
                fault.status, "The server had an error while processing your request.", "server_error", None
            )
        messages = body.get("messages", [])
        system = "\n".join(
            _text(m.get("content")) for m in messages if m.get("role") in ("system", "developer")
        )
        users = [_text(m.get("content")) for m in messages if m.get("role") == "user"]
        prompt_tokens = sum(estimate_tokens(_text(m.get("content"))) for m in messages)
        if prompt_tokens > self.context_tokens:
            return _error(
                400,
                f"This model's maximum context length is {self.context_tokens} tokens. However, your "
                f"messages resulted in {prompt_tokens} tokens. Please reduce the length of the messages.",
                "invalid_request_error",
                "context_length_exceeded",
            )
        fmt = body.get("response_format") or {}
        schema = (fmt.get("json_schema") or {}).get("schema", {}) if fmt.get("type") == "json_schema" else {}
        if fault and fault.not_json:
            content = "Sure! Here is the analysis you asked for."
        elif fault and fault.malformed:
            content = json.dumps({"unexpected": True})
        else:
            content = json.dumps(answer(schema, system, users[0] if users else ""))
        return JSONResponse(
            {
                "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content, "refusal": None},
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": estimate_tokens(content),
                    "total_tokens": prompt_tokens + estimate_tokens(content),
                },
                "system_fingerprint": "fp_fake",
            }
        )
