"""A fake of Anthropic's Messages API for vision requests (``POST /v1/messages``), real wire format.

Use with ``anthropic.AsyncAnthropic(base_url=fake.url, api_key=...)``. It checks what the
real API checks first (``x-api-key``, ``anthropic-version``, ``model``, ``max_tokens``,
``messages``, and that every ``image`` block carries base64 data of its declared media
type), looks at the photo (decodes it with Pillow: size and mean colour) and answers a
``message`` whose single ``text`` block holds the song as one JSON object. Faults
(:class:`Fault`) give Anthropic's error bodies
``{"type": "error", "error": {type, message}}``: 401 ``authentication_error``, 429
``rate_limit_error``, 500 ``api_error``, 529 ``overloaded_error``; ``not_json`` answers prose.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import math
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes import LoopbackServer, Recorded

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


@dataclass
class Fault:
    """What the next request suffers: an HTTP error ``status`` (with ``retry_after``), a
    ``delay_s`` before answering, or prose instead of JSON (``not_json``)."""

    status: int = 0
    retry_after: str | None = None
    delay_s: float = 0.0
    not_json: bool = False


def _tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"type": "error", "error": {"type": _TYPES.get(status, "api_error"), "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


class AnthropicVisionFake(LoopbackServer):
    """The fake server (see module docstring).

    Attributes:
        faults: queued faults, one per request, in order.
        requests: every request received.
        images_seen: ``(width, height, mean RGB)`` of every image received, decoded.
    """

    def __init__(self) -> None:
        super().__init__()
        self.faults: list[Fault] = []
        self.images_seen: list[tuple[int, int, tuple[float, float, float]]] = []

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v1/messages", self.messages, methods=["POST"])])

    async def messages(self, request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "request body is not valid JSON")
        self.requests.append(Recorded(request.url.path, dict(request.headers), body))
        if not request.headers.get("x-api-key"):
            return _error(401, "x-api-key header is required")
        if not request.headers.get("anthropic-version"):
            return _error(400, "anthropic-version header is required")
        for key in ("model", "max_tokens", "messages"):
            if key not in body:
                return _error(400, f"{key}: Field required")
        fault = self.faults.pop(0) if self.faults else None
        if fault and fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        if fault and fault.status:
            headers = {"retry-after": fault.retry_after} if fault.retry_after is not None else None
            return _error(fault.status, "fault injected by the test", headers)
        prompt_text = ""
        for message in body["messages"]:
            content = message.get("content")
            blocks = content if isinstance(content, list) else [{"type": "text", "text": str(content)}]
            for block in blocks:
                if block.get("type") == "text":
                    prompt_text += str(block.get("text", ""))
                elif block.get("type") == "image":
                    source = block.get("source") or {}
                    if source.get("type") != "base64" or source.get("media_type") not in (
                        "image/jpeg",
                        "image/png",
                        "image/gif",
                        "image/webp",
                    ):
                        return _error(
                            400, "messages: image source must be base64 with a supported media_type"
                        )
                    try:
                        raw = base64.b64decode(source.get("data", ""), validate=True)
                        with Image.open(io.BytesIO(raw)) as img:
                            fmt = f"image/{str(img.format).lower()}"
                            r, g, b = (
                                np.asarray(img.convert("RGB"), dtype=np.float64).reshape(-1, 3).mean(axis=0)
                            )
                            self.images_seen.append((img.width, img.height, (r, g, b)))
                    except Exception:
                        return _error(400, "messages: Could not process image")
                    if fmt != source["media_type"]:
                        return _error(
                            400, f"Image does not match the provided media type {source['media_type']}"
                        )
        if fault and fault.not_json:
            text = "What a lovely photo! I would write a song about it."
        else:
            width, height, mean = self.images_seen[-1] if self.images_seen else (0, 0, (0.0, 0.0, 0.0))
            warm = mean[0] > mean[2]
            text = json.dumps(
                {
                    "title": "Porcelain Morning" if warm else "Blue Orbit",
                    "mood": "nostalgic" if warm else "dreamy",
                    "lyrics": (
                        "[Verse]\nSteam is rising from the cup\nThe table holds the morning up\n"
                        "Red and white and wooden grain\nA quiet hour before the train\n\n"
                        "[Chorus]\nStay, stay, the coffee's warm\nA little harbour from the storm\n"
                        "Stay, stay, the day is new\nA porcelain sky in front of you"
                    ),
                    "music": {
                        "genre": "acoustic folk",
                        "tempo_bpm": 92,
                        "key": "G major",
                        "instruments": ["acoustic guitar", "upright bass", "brushes"],
                    },
                }
            )
        return JSONResponse(
            {
                "id": f"msg_{uuid.uuid4().hex[:24]}",
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {
                    "input_tokens": _tokens(prompt_text) + 1600,
                    "output_tokens": _tokens(text),
                },
            }
        )


def image_blocks(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every image block of a recorded request body."""
    out = []
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, list):
            out.extend(b for b in content if isinstance(b, dict) and b.get("type") == "image")
    return out
