"""Spans of bus handlers and requests (services.common.telemetry): parent, attributes, errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from services.common import telemetry
from services.common.events import Envelope

TRACE_ID = "1" * 32
PARENT = "00-" + TRACE_ID + "-" + "2" * 16 + "-01"


@pytest.fixture(scope="module")
def exporter() -> Iterator[InMemorySpanExporter]:
    found = InMemorySpanExporter()
    provider = telemetry.configure_tracing("tests")
    processor = SimpleSpanProcessor(found)
    provider.add_span_processor(processor)
    yield found
    processor.shutdown()


async def test_handler_span_continues_the_events_trace_and_records_its_error(
    exporter: InMemorySpanExporter,
) -> None:
    exporter.clear()
    seen: list[str] = []

    async def handler(e: Envelope) -> None:
        seen.append(format(trace.get_current_span().get_span_context().trace_id, "032x"))
        raise RuntimeError("boom")

    e = Envelope(type="t.v1", source="/s", key="k", data={}, extensions={"traceparent": PARENT})
    with pytest.raises(RuntimeError, match="boom"):
        await telemetry.traced_handler(handler, "g")(e)
    [span] = exporter.get_finished_spans()
    assert seen == [TRACE_ID]  # the span was current while the handler ran
    assert span.name == "t.v1 process" and span.kind is trace.SpanKind.CONSUMER
    assert format(span.context.trace_id, "032x") == TRACE_ID and span.parent is not None
    assert span.attributes is not None and span.attributes["messaging.consumer.group.name"] == "g"
    assert span.status.status_code is StatusCode.ERROR and span.status.description == "RuntimeError: boom"
    assert [ev.name for ev in span.events] == ["exception"]
    assert trace.get_current_span() is trace.INVALID_SPAN  # detached afterwards


async def test_event_without_traceparent_starts_a_new_trace_even_inside_another_span(
    exporter: InMemorySpanExporter,
) -> None:
    exporter.clear()

    async def handler(e: Envelope) -> None:
        return None

    with telemetry.span_from({}, "outer", "tests"):
        await telemetry.traced_handler(handler, "g")(Envelope(type="t.v1", source="/s", key="k", data={}))
    inner, outer = exporter.get_finished_spans()
    assert inner.parent is None and inner.context.trace_id != outer.context.trace_id
    assert inner.status.status_code is StatusCode.UNSET
