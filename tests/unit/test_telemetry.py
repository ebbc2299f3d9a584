"""The OTLP exporter chosen by ``EARSHOT_OTLP_PROTOCOL``, and where it sends."""

from __future__ import annotations

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

from services.common import telemetry
from services.common.settings import ConfigurationError, load_settings


@pytest.mark.parametrize(
    "endpoint", ["http://collector:4318", "http://collector:4318/", "http://collector:4318/v1/traces"]
)
def test_http_exporter_posts_to_v1_traces(endpoint: str) -> None:
    exporter = telemetry._exporter(endpoint, "http/protobuf")
    try:
        assert isinstance(exporter, HttpExporter)
        assert exporter._endpoint == "http://collector:4318/v1/traces"
    finally:
        exporter.shutdown()


def test_grpc_is_the_default_and_unknown_protocols_fail() -> None:
    exporter = telemetry._exporter("http://collector:4317", "grpc")
    try:
        assert isinstance(exporter, GrpcExporter)
    finally:
        exporter.shutdown()
    with pytest.raises(ValueError, match="http/json"):
        telemetry._exporter("http://collector:4317", "http/json")
    assert load_settings().otlp_protocol == "grpc"


def test_protocol_is_read_from_the_standard_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    assert load_settings().otlp_protocol == "http/protobuf"
    monkeypatch.setenv("EARSHOT_OTLP_PROTOCOL", "thrift")
    with pytest.raises(ConfigurationError, match="EARSHOT_OTLP_PROTOCOL"):
        load_settings()


def test_an_event_published_outside_any_span_starts_its_own_trace() -> None:
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    spans = InMemorySpanExporter()
    telemetry.configure_tracing("tests").add_span_processor(SimpleSpanProcessor(spans))
    alone = telemetry.event_extensions("earshot.meeting.processing_requested.v1")
    [producer] = [s for s in spans.get_finished_spans() if s.name.endswith(" publish")]
    assert producer.name == "earshot.meeting.processing_requested.v1 publish" and producer.parent is None
    assert producer.context is not None
    ids = alone["traceparent"].rsplit("-", 1)[0]  # without the flags
    assert ids == f"00-{producer.context.trace_id:032x}-{producer.context.span_id:016x}"

    spans.clear()
    with telemetry.child_span("request", "tests") as span:
        inside = telemetry.event_extensions("earshot.meeting.progress.v1")
    context = span.get_span_context()
    assert inside["traceparent"].rsplit("-", 1)[0] == f"00-{context.trace_id:032x}-{context.span_id:016x}"
    assert [s.name for s in spans.get_finished_spans()] == ["request"]  # no extra span in a trace
