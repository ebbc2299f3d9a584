"""The gateway's one publish-with-trace helper: every event it publishes has the source
``/earshot/gateway`` and the current trace context."""

from __future__ import annotations

from services.common import publishing
from services.common.events import EventPayload
from services.common.runtime import Runtime

__all__ = ["publish"]

SOURCE = "gateway"


async def publish(runtime: Runtime, payload: EventPayload) -> None:
    """Publish ``payload`` on its topic from the gateway (see :func:`services.common.publishing.publish`).

    Raises:
        Exception: whatever the bus raises when the event cannot be written.
    """
    await publishing.publish(runtime, SOURCE, payload)
