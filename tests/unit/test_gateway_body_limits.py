"""The body-limit middleware's per-path overrides (meeting uploads carry two 50 MB files)."""

from __future__ import annotations

import json
from typing import Any

from services.gateway.shared.uploads import MULTIPART_OVERHEAD, BodyLimitMiddleware


async def call(middleware: BodyLimitMiddleware, path: str, length: int) -> tuple[int, dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        # uploads are multipart (JSON bodies are bounded by JsonLimitsMiddleware instead)
        "headers": [
            (b"content-length", str(length).encode()),
            (b"content-type", b"multipart/form-data; boundary=earshot"),
        ],
    }
    await middleware(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body)


async def test_overrides_apply_by_longest_prefix_and_carry_the_seed_detail() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    limit = 25 * 1024 * 1024 + MULTIPART_OVERHEAD
    big = 100 * 1024 * 1024 + MULTIPART_OVERHEAD
    mw = BodyLimitMiddleware(app, limit, overrides={"/api/v1/mobile/meetings": big})
    assert (await call(mw, "/api/v1/mobile/meetings/", 60 * 1024 * 1024))[0] == 201
    status, body = await call(mw, "/api/v1/mobile/meetings/", big + 1)
    assert status == 413 and body["detail"] == body["details"] and "100 MB" in body["details"]
    status, body = await call(mw, "/analyze-audio", 60 * 1024 * 1024)
    assert status == 413 and "detail" not in body and "MAX_FILE_SIZE" in body["details"]
