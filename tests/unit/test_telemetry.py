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
