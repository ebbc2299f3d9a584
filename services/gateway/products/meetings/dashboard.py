"""Dashboard sync (seed 003: "push data to external dashboard (if configured)").

When ``DASHBOARD_BASE_URL`` is set, every completed meeting is POSTed as JSON to
``<DASHBOARD_BASE_URL>/api/meetings`` with the header ``X-Earshot-Signature:
sha256=<hex>``, the HMAC-SHA256 (RFC 2104) of the exact body under
``EARSHOT_DASHBOARD_SECRET`` (the GitHub webhook convention), plus ``X-Earshot-Event:
meeting.completed`` and ``X-Earshot-Delivery: <meeting id>``. A 2xx answer is success; a
network error, 429 or 5xx is retried with backoff ``min(base * 2^attempt + jitter, cap)``
up to ``attempts`` times; other 4xx are not retried. It runs in a background task: it never
blocks or fails the meeting's processing.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
from typing import Any

import httpx

from services.common.logging import get_logger

log = get_logger("earshot.gateway.meetings.dashboard")


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex>`` HMAC-SHA256 of ``body`` under ``secret``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def backoff_s(attempt: int, base_s: float = 2.0, cap_s: float = 60.0) -> float:
    """Seed 003's retry delay: ``min(base * 2^attempt + jitter, cap)``, jitter uniform in [0, 1) s."""
    return min(base_s * (2**attempt) + random.random(), cap_s)


async def push(
    base_url: str,
    secret: str,
    meeting: dict[str, Any],
    *,
    attempts: int = 3,
    base_s: float = 2.0,
    cap_s: float = 60.0,
    timeout_s: float = 10.0,
) -> bool:
    """POST one meeting to the dashboard with retries; True when it was accepted (2xx).

    Never raises for network or HTTP failures (they are logged).
    """
    body = json.dumps(meeting, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Earshot-Signature": signature(secret, body),
        "X-Earshot-Event": "meeting.completed",
        "X-Earshot-Delivery": str(meeting.get("id", "")),
    }
    url = base_url.rstrip("/") + "/api/meetings"
    async with httpx.AsyncClient(timeout=timeout_s) as client:
        for attempt in range(attempts):
            try:
                answer = await client.post(url, content=body, headers=headers)
                if answer.is_success:
                    return True
                if answer.status_code != 429 and answer.status_code < 500:
                    log.warning("meetings.dashboard_refused", status=answer.status_code)
                    return False
                reason = f"HTTP {answer.status_code}"
            except httpx.HTTPError as exc:
                reason = f"{type(exc).__name__}: {exc}"
            log.warning("meetings.dashboard_retry", attempt=attempt + 1, reason=reason)
            if attempt + 1 < attempts:
                await asyncio.sleep(backoff_s(attempt, base_s, cap_s))
    return False
