"""Event consumers as tables: each product lists ``(topic, event type, handler)`` rows per
consumer group, and one dispatcher calls the typed handler with the parsed payload.

::

    def consumers(self) -> list[ConsumerTable]:
        return [
            ConsumerTable(
                "gateway.media",
                (
                    On(MEDIA_EVENTS, MediaProgress, self.on_progress),
                    On(MEDIA_EVENTS, MediaCompleted, self.on_completed),
                ),
            )
        ]

Events of a type no row names are acknowledged and ignored (other consumers' business).
``{instance}`` in a group name becomes the replica's instance id: such groups give every
replica every event (they usually start ``from_latest``) and are deleted on the broker
when the replica stops (closing the subscription).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.common.bus import EventBus, Subscription
from services.common.events import Envelope, EventPayload
from services.common.logging import get_logger

__all__ = ["ConsumerTable", "On"]

log = get_logger("earshot.gateway.consumers")


@dataclass(frozen=True)
class On:
    """One row: on ``event`` (read from ``topic``), await ``handler(payload)``.

    Attributes:
        topic: the topic the event arrives on.
        event: the payload class; its ``event_type`` selects the row.
        handler: an async function taking the parsed payload (an instance of ``event``).
    """

    topic: str
    event: type[EventPayload]
    handler: Callable[[Any], Awaitable[None]]


@dataclass(frozen=True)
class ConsumerTable:
    """A consumer group and its handler rows.

    Attributes:
        group: consumer group name; ``{instance}`` is replaced by the replica's instance id.
        rows: the handlers (one per event type).
        from_latest: a new group starts at the end of the log.
    """

    group: str
    rows: Sequence[On]
    from_latest: bool = False
    _by_type: dict[str, On] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_type: dict[str, On] = {}
        for row in self.rows:
            if row.event.event_type in by_type:
                raise ValueError(f"{self.group}: two handlers for {row.event.event_type}")
            by_type[row.event.event_type] = row
        object.__setattr__(self, "_by_type", by_type)

    @property
    def topics(self) -> list[str]:
        """The topics the rows read, sorted."""
        return sorted({row.topic for row in self.rows})

    async def dispatch(self, envelope: Envelope) -> None:
        """Parse the envelope's payload and await its row's handler (no row: ignored)."""
        row = self._by_type.get(envelope.type)
        if row is not None:
            await row.handler(envelope.payload(row.event))

    async def subscribe(self, bus: EventBus, instance_id: str) -> Subscription:
        """Join the group on the bus (topics are created first)."""
        await bus.ensure_topics(self.topics)
        group = self.group.replace("{instance}", instance_id)
        sub = await bus.subscribe(self.topics, group, self.dispatch, from_latest=self.from_latest)
        if "{instance}" not in self.group:
            return sub

        async def close() -> None:
            # a per-replica group dies with its replica: nobody would ever consume it again,
            # and its lag would grow on the broker until offsets expire
            await sub.close()
            try:
                await bus.delete_group(group)
            except Exception as exc:  # best effort: the broker expires it after offset retention
                log.warning("gateway.group_not_deleted", group=group, error=f"{type(exc).__name__}: {exc}")

        return Subscription(close, sub.assignment)
