"""A small in-process OpenTelemetry collector for the tests: an OTLP/HTTP receiver
(``POST /v1/traces``, protobuf bodies, as the OTLP specification's HTTP transport defines)
that keeps every span it is sent. ``opentelemetry-proto`` decodes the requests.

Processes export to it with ``EARSHOT_OTLP_ENDPOINT=<receiver.url>`` and
``EARSHOT_OTLP_PROTOCOL=http/protobuf``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

PROTOBUF = "application/x-protobuf"


@dataclass(frozen=True)
class ReceivedSpan:
    """One exported span: ids as integers (``parent_span_id`` 0 for a root), the exporting
    process's ``service.name`` and the span's kind (OTLP ``SpanKind`` number)."""

    service: str
    name: str
    trace_id: int
    span_id: int
    parent_span_id: int
    kind: int


@dataclass
class OtlpReceiver:
    """OTLP/HTTP trace receiver on ``127.0.0.1`` (a free port); :attr:`spans` grows as
    processes export. Start with :meth:`start`, stop with :meth:`stop`."""

    spans: list[ReceivedSpan] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Listen on a free loopback port; sets :attr:`url` (``http://127.0.0.1:<port>``)."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/traces", self._export)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        """Close the listener."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _export(self, request: web.Request) -> web.Response:
        if request.content_type != PROTOBUF:
            return web.Response(status=415, text=f"only {PROTOBUF} bodies")
        message = ExportTraceServiceRequest()
        message.ParseFromString(await request.read())
        for resource_spans in message.resource_spans:
            attrs = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            service = attrs.get("service.name", "")
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self.spans.append(
                        ReceivedSpan(
                            service=service,
                            name=span.name,
                            trace_id=int.from_bytes(span.trace_id, "big"),
                            span_id=int.from_bytes(span.span_id, "big"),
                            parent_span_id=int.from_bytes(span.parent_span_id or b"\0", "big"),
                            kind=span.kind,
                        )
                    )
        return web.Response(body=ExportTraceServiceResponse().SerializeToString(), content_type=PROTOBUF)

    def trace(self, trace_id: int) -> list[ReceivedSpan]:
        """The spans received so far of one trace."""
        return [s for s in self.spans if s.trace_id == trace_id]

    async def wait_for(self, trace_id: int, names: set[str], timeout_s: float = 60.0) -> list[ReceivedSpan]:
        """The spans of ``trace_id`` once every name in ``names`` is among them.

        Raises:
            AssertionError: they did not all arrive within ``timeout_s`` (with what did).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not names <= {s.name for s in self.trace(trace_id)}:
            assert loop.time() < deadline, (sorted(names), sorted({s.name for s in self.trace(trace_id)}))
            await asyncio.sleep(0.1)
        return self.trace(trace_id)
