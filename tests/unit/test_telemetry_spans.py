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


def test_spans_are_dropped_until_a_processor_is_added_and_keep_their_ids_meanwhile() -> None:
    from opentelemetry.sdk.resources import Resource

    provider = telemetry._Provider(Resource.create({"service.name": "sampler-test"}))
    tracer = provider.get_tracer("t")
    parent = telemetry.extract({"traceparent": PARENT})
    quiet = tracer.start_span("quiet", parent)
    assert not quiet.is_recording()  # nothing exports: not recorded ...
    assert format(quiet.get_span_context().trace_id, "032x") == TRACE_ID  # ... but the trace goes on
    assert quiet.get_span_context().is_valid
    quiet.end()
    found = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(found))
    loud = tracer.start_span("loud", parent)
    assert loud.is_recording()
    loud.end()
    assert [s.name for s in found.get_finished_spans()] == ["loud"]
    provider.shutdown()


async def test_without_the_sdk_a_handler_runs_directly_and_still_joins_a_trace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(telemetry, "_provider", None)  # as in a process that never configured tracing
    seen: list[tuple[str, bool]] = []

    async def handler(e: Envelope) -> None:
        context = trace.get_current_span().get_span_context()
        seen.append((format(context.trace_id, "032x"), context.is_valid))

    wrapped = telemetry.traced_handler(handler, "g")
    await wrapped(Envelope(type="t.v1", source="/s", key="k", data={}))
    await wrapped(Envelope(type="t.v1", source="/s", key="k", data={}, extensions={"traceparent": PARENT}))
    assert seen[0][1] is False  # no trace context: no span at all
    assert seen[1] == (TRACE_ID, True)  # the event's trace context is current in its handler
