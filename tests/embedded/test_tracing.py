"""One trace per request, end to end: the HTTP request's span is the only root, and every
event hop (the bus restores the event's traceparent around each handler) and gRPC call of
the flow hangs below it. Spans are read from the SDK's in-memory exporter."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.common import telemetry

JFK = Path(__file__).resolve().parents[1] / "fixtures" / "jfk.flac"


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = telemetry.configure_tracing("earshot-tests")
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()


def _trace_of(exporter: InMemorySpanExporter, trace_id: int) -> list[ReadableSpan]:
    return [
        s for s in exporter.get_finished_spans() if s.context is not None and s.context.trace_id == trace_id
    ]


async def test_temperature_flow_is_one_trace(spans: InMemorySpanExporter, client: httpx.AsyncClient) -> None:
    spans.clear()
    with JFK.open("rb") as fh:
        response = await client.post("/analyze-audio", files={"audio": ("jfk.flac", fh)})
    assert response.status_code == 200, response.text
    roots = [
        s
        for s in spans.get_finished_spans()
        if s.parent is None and s.name == "POST /analyze-audio" and s.context is not None
    ]
    assert len(roots) == 1, [s.name for s in spans.get_finished_spans() if s.parent is None]
    trace_id = roots[0].context.trace_id
    wanted = {
        "earshot.transcription.requested.v1 process",
        "earshot.transcription.completed.v1 process",
        "earshot.analysis.requested.v2 process",
        "earshot.analysis.completed.v2 process",
    }
    for _ in range(100):  # the last handlers' spans end just after the answer
        names = {s.name for s in _trace_of(spans, trace_id)}
        if wanted <= names:
            break
        await asyncio.sleep(0.05)
    trace = _trace_of(spans, trace_id)
    assert wanted <= {s.name for s in trace}, sorted({s.name for s in trace})
    ids = {s.context.span_id for s in trace if s.context is not None}
    in_trace_roots = [s for s in trace if s.parent is None]
    assert in_trace_roots == roots  # one root: the request
    orphans = [s.name for s in trace if s.parent is not None and s.parent.span_id not in ids]
    assert orphans == []  # every other span hangs below a span of this trace: one tree
