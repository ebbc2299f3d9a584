"""The gateway's layout rules, checked on the code: literal routes, module size, one router
table, unique operation ids, consumer tables."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.common.events import MEDIA_EVENTS, Envelope, MediaFailed, MediaProgress
from services.gateway.app import ROUTERS, create_app
from services.gateway.shared.consumers import ConsumerTable, On

GATEWAY = Path(__file__).resolve().parents[3] / "services" / "gateway"
ROUTE = re.compile(r"@router\.(get|post|put|delete|patch|websocket)\(\s*\"([^\"]*)\"")


def test_every_route_is_written_literally_in_its_decorator() -> None:
    literal = set()
    for path in GATEWAY.rglob("*.py"):
        text = path.read_text()
        assert "add_api_route" not in text and "__signature__" not in text, path
        literal |= {re.sub(r":\w+}", "}", m.group(2)) for m in ROUTE.finditer(text)}
    app = create_app()
    served = {p for p in app.openapi()["paths"]}
    prefixes = {m.prefix for m in ROUTERS}
    for path in served:
        assert any(path == f"{prefix}{lit}" for prefix in prefixes for lit in literal), path


def test_no_gateway_module_is_over_600_lines() -> None:
    sizes = {p.relative_to(GATEWAY): len(p.read_text().splitlines()) for p in GATEWAY.rglob("*.py")}
    assert max(sizes.values()) <= 600, sorted(sizes.items(), key=lambda kv: -kv[1])[:3]


def test_operation_ids_are_unique_across_both_mounts_of_seed_003() -> None:
    paths = create_app().openapi()["paths"]
    ids = [op["operationId"] for item in paths.values() for op in item.values()]
    assert len(ids) == len(set(ids))
    assert paths["/api/v1/mobile/auth/me"]["get"]["operationId"] == "surface_me_mobile"
    assert paths["/api/v1/web/auth/me"]["get"]["operationId"] == "surface_me_web"


async def test_a_consumer_table_calls_the_typed_handler_of_each_event_type() -> None:
    seen: list[object] = []

    async def progress(p: MediaProgress) -> None:
        seen.append(p)

    table = ConsumerTable("g", (On(MEDIA_EVENTS, MediaProgress, progress),))
    event = MediaProgress(job_id="j1", stage="composing", progress=40)
    await table.dispatch(Envelope.of(event, "/test"))
    await table.dispatch(Envelope.of(MediaFailed(job_id="j1", error="x", details="y"), "/test"))
    assert seen == [event]  # the typed payload; an event without a row is ignored
    assert table.topics == [MEDIA_EVENTS]
    with pytest.raises(ValueError, match="two handlers"):
        ConsumerTable(
            "g", (On(MEDIA_EVENTS, MediaProgress, progress), On(MEDIA_EVENTS, MediaProgress, progress))
        )


def test_anc_and_photo_routes_declare_typed_answers_and_their_errors() -> None:
    paths = create_app().openapi()["paths"]
    for path, method in (
        ("/api/audio/process", "post"),
        ("/api/audio/stream", "post"),
        ("/api/audio/sessions", "get"),
        ("/api/audio/sessions/{session_id}", "get"),
        ("/api/metrics/sessions/{session_id}", "get"),
        ("/api/metrics/summary", "get"),
        ("/upload-photo", "post"),
        ("/photos", "get"),
        ("/photos/{task_id}", "get"),
        ("/photos/{task_id}/status", "get"),
    ):
        op = paths[path][method]
        ok = next(v for k, v in op["responses"].items() if k.startswith("2"))
        assert "$ref" in ok["content"]["application/json"]["schema"], (path, method)
        assert (
            "401" in op["responses"] and "404" in op["responses"] or path in ("/upload-photo", "/photos")
        ), path
    assert "401" in paths["/api/audio/sessions"]["get"]["responses"]
    assert paths["/api/audio/sessions"]["get"]["security"]  # CurrentUser: the bearer scheme
