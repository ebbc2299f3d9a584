"""Tracing with the OpenTelemetry SDK; W3C ``traceparent`` carried through HTTP, gRPC and events.

Spans are always created (so log lines carry trace ids and context propagates);
they are exported over OTLP only when ``EARSHOT_OTLP_ENDPOINT`` (or
``OTEL_EXPORTER_OTLP_ENDPOINT``) is set, over gRPC or, with ``EARSHOT_OTLP_PROTOCOL``
(``OTEL_EXPORTER_OTLP_PROTOCOL``) ``http/protobuf``, over HTTP. While nothing exports
them, spans are not recorded (:class:`WhileExporting`): they still get ids, so log lines
carry trace ids and ``traceparent`` still travels, at about a quarter of a recorded
span's cost (the bus pays it on every event).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Decision, ParentBased, Sampler, SamplingResult
from opentelemetry.trace import Status, StatusCode

_provider: _Provider | None = None


class WhileExporting(Sampler):
    """Record spans only while the provider has a span processor (an exporter); otherwise
    drop them (``Decision.DROP``: a non-recording span that still has a trace id and a span
    id, so log lines and ``traceparent`` work; its trace flags say "not sampled").

    While exporting, the SDK's default applies: ``ParentBased(ALWAYS_ON)`` (a remote parent
    marked "not sampled" is followed). A recorded span costs about 18 us on this machine,
    a dropped one about 5 us (``benchmarks/bus.py`` reports the bus with both).

    Args:
        provider: the provider whose processors are watched.
    """

    def __init__(self, provider: _Provider) -> None:
        self._provider = provider
        self._exporting = ParentBased(ALWAYS_ON)

    def should_sample(
        self,
        parent_context: otel_context.Context | None,
        trace_id: int,
        name: str,
        kind: trace.SpanKind | None = None,
        attributes: Any = None,
        links: Any = None,
        trace_state: trace.TraceState | None = None,
    ) -> SamplingResult:
        """The SDK's sampling decision for a new span (see :class:`Sampler`)."""
        if self._provider.exporting:
            return self._exporting.should_sample(
                parent_context, trace_id, name, kind, attributes, links, trace_state
            )
        parent = trace.get_current_span(parent_context).get_span_context()
        return SamplingResult(Decision.DROP, None, parent.trace_state if parent.is_valid else None)

    def get_description(self) -> str:
        """The sampler's name in the SDK's debug output."""
        return "WhileExporting{ParentBased{AlwaysOn}}"


class _Provider(TracerProvider):
    """The SDK provider, noting whether any span processor was added (:class:`WhileExporting`)."""

    def __init__(self, resource: Resource) -> None:
        self.exporting = False
        super().__init__(resource=resource, sampler=WhileExporting(self))

    def add_span_processor(self, span_processor: SpanProcessor) -> None:
        """Add a processor (an exporter's, or a test's in-memory one): spans are recorded from now on."""
        super().add_span_processor(span_processor)
        self.exporting = True


def configure_tracing(
    service_name: str, otlp_endpoint: str | None = None, protocol: str = "grpc"
) -> TracerProvider:
    """Install the global tracer provider once per process (later calls return it).

    Spans are recorded only once a span processor is added (here with ``otlp_endpoint``,
    or later with ``provider.add_span_processor``): see :class:`WhileExporting`.

    Spans are exported in batches (``BatchSpanProcessor``; ``OTEL_BSP_SCHEDULE_DELAY`` and the
    other ``OTEL_BSP_*`` variables tune it) with the OTLP exporter of ``protocol``.

    Args:
        service_name: ``service.name`` resource attribute (``earshot`` for the embedded process).
        otlp_endpoint: OTLP collector base address, e.g. ``http://localhost:4317`` (gRPC) or
            ``http://localhost:4318`` (HTTP: ``/v1/traces`` is appended unless the address ends
            with it, as the OTLP exporter specification says); None exports nothing.
        protocol: ``grpc`` or ``http/protobuf`` (OTLP/HTTP with protobuf bodies).

    Raises:
        ValueError: an unknown ``protocol``.
    """
    global _provider
    if _provider is not None:
        return _provider
    provider = _Provider(Resource.create({"service.name": service_name}))
    if otlp_endpoint:
        provider.add_span_processor(BatchSpanProcessor(_exporter(otlp_endpoint, protocol)))
    trace.set_tracer_provider(provider)
    _provider = provider
    return provider


def _exporter(endpoint: str, protocol: str) -> SpanExporter:
    """The OTLP span exporter for ``protocol`` sending to ``endpoint``."""
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

        return GrpcExporter(endpoint=endpoint)
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

        path = "" if endpoint.rstrip("/").endswith("/v1/traces") else "/v1/traces"
        return HttpExporter(endpoint=endpoint.rstrip("/") + path)
    raise ValueError(f"unknown OTLP protocol {protocol!r}: use grpc or http/protobuf")


def shutdown_tracing() -> None:
    """Flush and stop span export."""
    if _provider is not None:
        _provider.shutdown()


_tracers: dict[str, trace.Tracer] = {}
_EMPTY_CONTEXT = otel_context.Context()
"""What extracting from a carrier without trace headers gives (an immutable, empty context)."""


def tracer(name: str) -> trace.Tracer:
    """A tracer for instrumentation scope ``name`` (one per scope: before
    :func:`configure_tracing` it is the API's proxy, which follows the provider installed later)."""
    found = _tracers.get(name)
    if found is None:
        found = _tracers[name] = trace.get_tracer(name)
    return found


def inject(carrier: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Write the current context as W3C ``traceparent`` (and ``tracestate``) into a dict."""
    out: dict[str, str] = dict(carrier or {})
    propagate.inject(out)
    return out


def extract(carrier: Mapping[str, Any]) -> otel_context.Context:
    """Read a W3C trace context from headers, gRPC metadata or CloudEvent extensions.

    An empty carrier gives an empty context (a new trace) without asking the propagators."""
    if not carrier:
        return _EMPTY_CONTEXT
    return propagate.extract({str(k).lower(): str(v) for k, v in carrier.items()})


def event_extensions(event_type: str) -> dict[str, str]:
    """The trace context to put on an event published now (CloudEvents distributed-tracing
    extension ``traceparent``): the current span's. Outside any span (a watchdog re-queueing
    stuck work, a start-up recovery) the event starts a new trace, whose root is a PRODUCER
    span ``<event type> publish`` ended at once, so every published event carries one.

    Args:
        event_type: the CloudEvent ``type``, e.g. ``earshot.meeting.processing_requested.v1``.

    Returns:
        ``{"traceparent": ..., "tracestate": ...}`` (W3C Trace Context); empty only when no
        tracer provider is installed (spans are then not recorded at all).
    """
    if trace.get_current_span().get_span_context().is_valid:
        return inject()
    span = tracer("earshot.bus").start_span(
        f"{event_type} publish",
        kind=trace.SpanKind.PRODUCER,
        attributes={"messaging.system": "kafka", "messaging.operation.type": "publish"},
    )
    try:
        out: dict[str, str] = {}
        propagate.inject(out, context=trace.set_span_in_context(span))
        return out
    finally:
        span.end()


class _CurrentSpan:
    """``with``: make ``span`` the current span, end it on exit and, when an ``Exception``
    leaves the block, record it on the span with status ERROR.

    What ``Tracer.start_as_current_span`` does (``opentelemetry.trace.use_span``), without
    its generator-based context managers: about a third of the cost per span, which the
    bus pays on every event and the gateway on every request.
    """

    __slots__ = ("_span", "_token")

    def __init__(self, span: trace.Span) -> None:
        self._span = span
        self._token: object = None

    def __enter__(self) -> trace.Span:
        self._token = otel_context.attach(trace.set_span_in_context(self._span))
        return self._span

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        span = self._span
        otel_context.detach(self._token)  # type: ignore[arg-type]
        if isinstance(exc, Exception) and span.is_recording():
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        span.end()


def current_span(
    scope: str,
    name: str,
    context: otel_context.Context | None = None,
    kind: trace.SpanKind = trace.SpanKind.INTERNAL,
    attributes: Mapping[str, Any] | None = None,
) -> _CurrentSpan:
    """A context manager that starts span ``name`` (child of ``context``), makes it current
    and ends it: ``Tracer.start_as_current_span`` at a third of the cost.

    Args:
        scope: instrumentation scope, e.g. ``"earshot.bus"``.
        context: the parent (None: the current context).
        attributes: span attributes (str, bool, int, float values).
    """
    return _CurrentSpan(tracer(scope).start_span(name, context, kind, attributes))


def span_from(carrier: Mapping[str, Any], name: str, scope: str, **attributes: Any) -> _CurrentSpan:
    """Start a span whose parent is the context found in ``carrier`` (``with span_from(...) as span``)."""
    return current_span(scope, name, extract(carrier), attributes=attributes)


def child_span(name: str, scope: str, **attributes: Any) -> _CurrentSpan:
    """Start a span below the current one (in an event handler: its ``process`` span, so the
    work of a job hangs below the event that asked for it; with no current span, a new trace).

    Args:
        name: span name, e.g. ``"transcription.job"``.
        scope: instrumentation scope, e.g. ``"earshot.transcription"``.
        attributes: span attributes.
    """
    return current_span(scope, name, attributes=attributes)


def traced_handler(handler: Callable[[Any], Awaitable[None]], group: str) -> Callable[[Any], Awaitable[None]]:
    """Wrap an event handler so that it runs inside a CONSUMER span whose parent is the
    event's ``traceparent`` (CloudEvents distributed-tracing extension): the handler's
    gRPC calls and the events it publishes join the producer's trace.

    Span name ``<event type> process`` (kind CONSUMER) with the OpenTelemetry messaging
    semantic-convention attributes (``messaging.system``, ``messaging.consumer.group.name``,
    ``messaging.message.id``); an event without ``traceparent`` starts a new trace.
    Exceptions pass through (recorded on the span). Without the SDK (no
    :func:`configure_tracing`), an event without trace context runs its handler directly.

    Args:
        handler: ``async (Envelope) -> None``.
        group: the consumer group (a span attribute).
    """
    bus_tracer = tracer("earshot.bus")
    consumer = trace.SpanKind.CONSUMER
    current = trace.get_current_span

    async def run(envelope: Any) -> None:
        if _provider is None and not envelope.extensions and not current().get_span_context().is_valid:
            # No SDK installed (a library user, the bus benchmark): the span would be the API's
            # invalid no-op span, already the current one; skip its 2-3 us of bookkeeping.
            await handler(envelope)
            return
        span = bus_tracer.start_span(
            f"{envelope.type} process",
            extract(envelope.extensions),
            consumer,
            {
                "messaging.system": "kafka",
                "messaging.operation.type": "process",
                "messaging.consumer.group.name": group,
                "messaging.message.id": envelope.id,
                "cloudevents.event_type": envelope.type,
                "cloudevents.event_subject": envelope.subject or "",
            },
        )
        with _CurrentSpan(span):
            await handler(envelope)

    return run
