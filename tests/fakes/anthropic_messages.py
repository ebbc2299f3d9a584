"""A fake of Anthropic's Messages API (``POST /v1/messages``), real wire format.

Use with ``anthropic.AsyncAnthropic(base_url=fake.url, api_key=...)``. A request with a
forced tool (``tool_choice: {"type": "tool", "name": ...}``) gets a ``message`` whose
content is one ``tool_use`` block carrying the answer as ``input``; errors use Anthropic's
``{"type": "error", "error": {type, message}}`` body (429 ``rate_limit_error`` with
``retry-after``, 500 ``api_error``, 529 ``overloaded_error``, 400 ``invalid_request_error``
"prompt is too long").
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes import FakeServer, Recorded, answer, estimate_tokens

_TYPES = {429: "rate_limit_error", 500: "api_error", 529: "overloaded_error", 400: "invalid_request_error"}


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"type": "error", "error": {"type": _TYPES.get(status, "api_error"), "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "\n".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return str(content or "")


@dataclass
class AnthropicMessagesFake(FakeServer):
    """The fake server (see module docstring)."""

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v1/messages", self.messages, methods=["POST"])])

    async def messages(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.requests.append(Recorded(request.url.path, dict(request.headers), body))
        if not request.headers.get("x-api-key") or not request.headers.get("anthropic-version"):
            return JSONResponse(
                {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}},
                status_code=401,
            )
        fault = self.next_fault()
        if fault and fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        if fault and fault.status == 429:
            headers = {"retry-after": fault.retry_after} if fault.retry_after is not None else None
            return _error(429, "Number of request tokens has exceeded your per-minute rate limit", headers)
        if fault and fault.status:
            return _error(fault.status, "Overloaded" if fault.status == 529 else "Internal server error")
        system = _text(body.get("system"))
        messages = body.get("messages", [])
        users = [_text(m.get("content")) for m in messages if m.get("role") == "user"]
        input_tokens = estimate_tokens(system) + sum(
            estimate_tokens(_text(m.get("content"))) for m in messages
        )
        if input_tokens > self.context_tokens:
            return _error(400, f"prompt is too long: {input_tokens} tokens > {self.context_tokens} maximum")
        choice = body.get("tool_choice") or {}
        tools = {t["name"]: t for t in body.get("tools", [])}
        tool = tools.get(choice.get("name", "")) if choice.get("type") == "tool" else None
        if tool is None:
            return _error(400, "tool_choice must name one of the tools")
        if fault and fault.malformed:
            data: dict[str, Any] = {"unexpected": True}
        else:
            data = answer(tool.get("input_schema", {}), system, users[0] if users else "")
        block: dict[str, Any] = {
            "type": "tool_use",
            "id": f"toolu_{uuid.uuid4().hex[:24]}",
            "name": tool["name"],
            "input": data,
        }
        content = [block]
        if fault and fault.not_json:
            content = [{"type": "text", "text": "I cannot produce that."}]
        return JSONResponse(
            {
                "id": f"msg_{uuid.uuid4().hex[:24]}",
                "type": "message",
                "role": "assistant",
                "model": body.get("model"),
                "content": content,
                "stop_reason": "tool_use",
                "stop_sequence": None,
                "usage": {"input_tokens": input_tokens, "output_tokens": estimate_tokens(json.dumps(data))},
            }
        )
