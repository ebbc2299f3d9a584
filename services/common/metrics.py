"""Prometheus metrics for operators, one registry per process (``prometheus_client``).

What is measured (every name has the ``earshot_`` prefix; see ``docs/operations.md``):

=========================================== ========= ==========================================
metric                                      type      labels
=========================================== ========= ==========================================
``earshot_http_requests_total``             counter   service, method, route, status
``earshot_http_request_duration_seconds``   histogram service, method, route
``earshot_grpc_requests_total``             counter   method, code
``earshot_grpc_request_duration_seconds``   histogram method
``earshot_events_produced_total``           counter   topic
``earshot_events_consumed_total``           counter   topic, group (handled, incl. dead-lettered)
``earshot_events_failed_total``             counter   topic, group (handler attempts that raised)
``earshot_events_dead_lettered_total``      counter   topic, group
``earshot_event_handle_duration_seconds``   histogram topic, group (handler time incl. retries)
``earshot_consumer_lag``                    gauge     topic, partition, group (events not yet
                                                      committed: log end offset - committed offset)
``earshot_job_duration_seconds``            histogram service, kind, outcome (end-to-end jobs)
=========================================== ========= ==========================================

``route`` is the matched route template (``/objects/{key}``), never the raw path, so the
label set stays bounded; unmatched paths are counted as ``<unmatched>``.

Exposition: the gateway serves ``GET /metrics`` on its HTTP port (:func:`metrics_endpoint`);
worker and gRPC services started with ``earshot serve`` serve the same text format on
``EARSHOT_METRICS_HOST:EARSHOT_METRICS_PORT`` (:func:`start_metrics_server`). In the
embedded mode all services share one process, so the gateway's ``/metrics`` covers them all.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)

__all__ = [
    "consumer_lag",
    "CONSUMER_LAG",
    "EVENTS_CONSUMED",
    "EVENTS_DEAD_LETTERED",
    "EVENTS_FAILED",
    "EVENTS_PRODUCED",
    "EVENT_HANDLE_SECONDS",
    "GRPC_REQUESTS",
    "GRPC_SECONDS",
    "HTTP_LATENCY_BUCKETS",
    "HTTP_REQUESTS",
    "HTTP_SECONDS",
    "HistogramBatch",
    "JOB_SECONDS",
    "MetricsMiddleware",
    "metrics_endpoint",
    "observe_job",
    "render",
    "start_metrics_server",
]

# Latency buckets, seconds: from 5 ms HTTP answers to two-minute synchronous jobs.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
# HTTP answers, seconds: finer between 50 ms and 5 s, where interactive routes' p99 lives (the
# p99 alert's 1 s threshold falls on a bucket bound); long tails for synchronous job routes.
HTTP_LATENCY_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.35, 0.5, 0.75,
    1, 1.5, 2, 2.5, 3, 4, 5, 7.5, 10, 30, 60, 120, 300,
)  # fmt: skip

HTTP_REQUESTS = Counter(
    "earshot_http_requests", "HTTP requests answered.", ["service", "method", "route", "status"]
)
HTTP_SECONDS = Histogram(
    "earshot_http_request_duration_seconds",
    "HTTP request latency, seconds (first byte in to last byte out).",
    ["service", "method", "route"],
    buckets=HTTP_LATENCY_BUCKETS,
)
GRPC_REQUESTS = Counter("earshot_grpc_requests", "gRPC calls answered.", ["method", "code"])
GRPC_SECONDS = Histogram(
    "earshot_grpc_request_duration_seconds",
    "gRPC call latency, seconds.",
    ["method"],
    buckets=_LATENCY_BUCKETS,
)
EVENTS_PRODUCED = Counter("earshot_events_produced", "Events written to the bus.", ["topic"])
EVENTS_CONSUMED = Counter(
    "earshot_events_consumed", "Events handled (or parked on the dead-letter topic).", ["topic", "group"]
)
EVENTS_FAILED = Counter("earshot_events_failed", "Handler attempts that raised.", ["topic", "group"])
EVENTS_DEAD_LETTERED = Counter(
    "earshot_events_dead_lettered", "Events parked on <topic>.dlq after the last retry.", ["topic", "group"]
)
EVENT_HANDLE_SECONDS = Histogram(
    "earshot_event_handle_duration_seconds",
    "Time from handing an event to its handler to committing it (retries included), seconds.",
    ["topic", "group"],
    buckets=_LATENCY_BUCKETS,
)
CONSUMER_LAG = Gauge(
    "earshot_consumer_lag",
    "Events in a partition not yet committed by a group (log end offset - committed offset).",
    ["topic", "partition", "group"],
)
JOB_SECONDS = Histogram(
    "earshot_job_duration_seconds",
    "End-to-end job duration, seconds, by outcome (succeeded, failed, timed_out, rejected).",
    ["service", "kind", "outcome"],
    buckets=_LATENCY_BUCKETS,
)


class HistogramBatch:
    """Observations of one histogram child (``Histogram.labels(...)``) added up here and
    written to it by :meth:`flush`: one bucket search and two additions per observation
    instead of two locked increments (the bus times every event's handler, about 1 us each).

    Until :meth:`flush`, a scrape does not see the observations made since the last one; the
    bus flushes with ``earshot_events_consumed_total`` (every few hundred events, when a
    partition is caught up, and when a consumer stops).

    Args:
        child: a labelled ``prometheus_client.Histogram`` child. Reads its bucket bounds
            and adds to its sum and buckets through ``prometheus_client``'s value objects
            (``_upper_bounds``, ``_sum``, ``_buckets``: stable since 0.4; a test checks the
            flushed histogram against ``observe``'s).
    """

    __slots__ = ("_bounds", "_child", "_counts", "_n", "_sum")

    def __init__(self, child: Any) -> None:
        self._child = child
        self._bounds = list(child._upper_bounds)  # ascending, +Inf last
        self._counts = [0] * len(self._bounds)
        self._sum = 0.0
        self._n = 0

    def observe(self, amount: float) -> None:
        """Add one observation (seconds, >= 0): counted in the first bucket whose bound is >= it,
        as ``Histogram.observe`` does."""
        self._sum += amount
        self._counts[bisect_left(self._bounds, amount)] += 1
        self._n += 1

    def flush(self) -> None:
        """Write the observations so far into the histogram child and start again."""
        if not self._n:
            return
        child = self._child
        child._sum.inc(self._sum)
        for i, count in enumerate(self._counts):
            if count:
                child._buckets[i].inc(count)
                self._counts[i] = 0
        self._sum = 0.0
        self._n = 0


def observe_job(service: str, kind: str, outcome: str, seconds: float) -> None:
    """Record one finished job (``seconds`` >= 0) in ``earshot_job_duration_seconds``."""
    JOB_SECONDS.labels(service=service, kind=kind, outcome=outcome).observe(max(seconds, 0.0))


def consumer_lag(group: str, topic: str) -> int | None:
    """Events of ``topic`` not yet committed by ``group``, summed over the partitions this
    process's members of the group own (what ``earshot_consumer_lag`` shows), or ``None`` when
    this process has no series for them (no member here, or not measured yet).
    """
    total, seen = 0.0, False
    for metric in CONSUMER_LAG.collect():
        for sample in metric.samples:
            if sample.labels.get("group") == group and sample.labels.get("topic") == topic:
                total, seen = total + sample.value, True
    return int(total) if seen else None


def render(registry: CollectorRegistry = REGISTRY) -> bytes:
    """The registry in Prometheus text exposition format 0.0.4 (UTF-8 bytes)."""
    return generate_latest(registry)


async def metrics_endpoint(request: Any) -> Any:
    """Starlette/FastAPI endpoint for ``GET /metrics``: the process registry as text."""
    from starlette.responses import Response

    return Response(render(), media_type=CONTENT_TYPE_LATEST)


def start_metrics_server(host: str, port: int) -> Any:
    """Serve ``/metrics`` (any path answers the registry) on ``host:port`` from a daemon thread.

    Returns:
        The ``http.server`` instance; call ``shutdown()`` then ``server_close()`` to stop it.
        ``server.server_address[1]`` is the bound port (useful with ``port=0``).
    Raises:
        OSError: the port cannot be bound.
    """
    server, _thread = start_http_server(port, addr=host)
    return server


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]
]


class MetricsMiddleware:
    """Pure ASGI middleware counting HTTP requests and timing them per route template.

    Args:
        app: the wrapped ASGI application.
        service: value of the ``service`` label (e.g. ``"gateway"``).

    Streams and WebSockets pass through untouched; ``/metrics`` itself is not counted.
    A request that raises is counted with status 500 and the exception is re-raised.
    """

    def __init__(self, app: ASGIApp, service: str = "gateway") -> None:
        self.app = app
        self.service = service
        # Prometheus children per label set, looked up once (``labels()`` costs microseconds
        # per call); the label sets are bounded (route templates, methods, statuses).
        self._counters: dict[tuple[str, str, str], Any] = {}
        self._timers: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path") == "/metrics":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "<unmatched>"
            method = scope.get("method", "GET")
            counter = self._counters.get((method, template, str(status)))
            if counter is None:
                counter = HTTP_REQUESTS.labels(self.service, method, template, str(status))
                self._counters[(method, template, str(status))] = counter
            counter.inc()
            timer = self._timers.get((method, template))
            if timer is None:
                timer = self._timers[(method, template)] = HTTP_SECONDS.labels(self.service, method, template)
            timer.observe(time.perf_counter() - start)
