"""One publish-with-trace helper for every service.

Every event Earshot publishes carries the W3C trace context of the work that produced it
(``traceparent`` CloudEvents extension, :func:`services.common.telemetry.inject`), so a
request can be followed across services.
"""

from __future__ import annotations

from services.common import telemetry
from services.common.events import Envelope, EventPayload
from services.common.runtime import Runtime

__all__ = ["publish"]


async def publish(runtime: Runtime, service: str, payload: EventPayload) -> None:
    """Publish ``payload`` on its topic as a CloudEvent from ``service``, with the current trace
    (outside any span, a new one: :func:`services.common.telemetry.event_extensions`).

    Args:
        runtime: the service's runtime (its bus publishes).
        service: the producer's name, e.g. ``"gateway"`` (CloudEvents ``source`` /earshot/<name>).
        payload: the event; its ``topic`` and ``job_id`` (the message key) route it.

    Raises:
        Exception: whatever the bus raises when the event cannot be written.
    """
    extensions = telemetry.event_extensions(payload.event_type)
    await runtime.bus.publish(payload.topic, Envelope.of(payload, runtime.source(service), **extensions))
