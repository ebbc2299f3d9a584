"""The event bus: one interface, two implementations (in-memory and Apache Kafka).

Semantics, the same for both (they share the retry/dead-letter code):

* ``publish(topic, envelope)`` writes a CloudEvents binary-mode message keyed by
  ``envelope.key`` (the job id). Events with one key land on one partition (CRC32 of
  the key modulo the topic's partition count, on both buses: :func:`partition_for`) and
  keep their order.
* ``subscribe(topics, group, handler)`` joins consumer group ``group``. Each event is
  handled by one member of each group; members of a group split the partitions. The
  handler runs inside a span whose parent is the event's ``traceparent``
  (:func:`services.common.telemetry.traced_handler`), so what it publishes or calls joins
  the producer's trace.
* At-least-once delivery: the offset is committed only after the handler returns.
  A handler that raises is retried with exponential backoff and jitter
  (``base * 2**attempt + jitter``, capped); after ``max_attempts`` the event is parked
  on ``<topic>.dlq`` with the error in the ``x-earshot-error`` header and then
  committed. Handlers must therefore be idempotent by job id.
"""

from __future__ import annotations

from urllib.parse import urlparse

from services.common.bus.base import (
    ATTEMPTS_HEADER,
    ERROR_HEADER,
    ORIGINAL_TOPIC_HEADER,
    EventBus,
    Handler,
    RetryPolicy,
    Subscription,
    partition_for,
)
from services.common.bus.kafka import KafkaBus, _Committer
from services.common.bus.memory import MemoryBus

__all__ = [
    "ATTEMPTS_HEADER",
    "ERROR_HEADER",
    "ORIGINAL_TOPIC_HEADER",
    "EventBus",
    "Handler",
    "KafkaBus",
    "MemoryBus",
    "RetryPolicy",
    "Subscription",
    "_Committer",
    "create_bus",
    "partition_for",
]


def create_bus(
    url: str,
    *,
    partitions: int = 6,
    replication: int = 1,
    retry: RetryPolicy | None = None,
    client_id: str = "earshot",
    namespace: str = "",
) -> EventBus:
    """Build a bus from its URL: ``memory://`` or ``kafka://host:port[,host:port]``.

    ``namespace`` prefixes Kafka topics and groups (see :class:`KafkaBus`); the memory bus,
    private to one process, ignores it.

    Raises:
        ValueError: for any other scheme or a Kafka URL without hosts.
    """
    parsed = urlparse(url)
    if parsed.scheme == "memory":
        return MemoryBus(partitions=partitions, retry=retry)
    if parsed.scheme == "kafka":
        hosts = url.split("://", 1)[1].strip("/")
        if not hosts:
            raise ValueError("kafka bus URL needs hosts: kafka://host:9092")
        return KafkaBus(
            hosts,
            partitions=partitions,
            replication=replication,
            retry=retry,
            client_id=client_id,
            namespace=namespace,
        )
    raise ValueError(f"unknown bus URL scheme {parsed.scheme!r}: use memory:// or kafka://")
