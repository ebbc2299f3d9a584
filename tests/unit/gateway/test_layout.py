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
ROUTE = re.compile(r"@\w*router\.(get|post|put|delete|patch|websocket)\(\s*\"([^\"]*)\"")


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
