"""Consumer lag as the broker sees it, polled: for every partition assigned to a consumer
(idle ones included), the log end offset minus the group's committed offset.

``earshot_consumer_lag{topic, partition, group}`` was set only when a handler committed,
for the partition just handled: a stalled or idle consumer reported a stale value (or
none). :func:`poll_lag` asks the broker every ``interval_s`` instead, and removes the
series of partitions this member no longer owns (after a rebalance or at close), so that
summing the gauge over replicas counts each partition once. A partition the group never
committed counts from the log start (everything is waiting).

Kafka: ``ListOffsets`` (latest) for the end, ``OffsetFetch`` for the committed offsets;
see the Kafka protocol guide, "Consumer groups" and "Offsets".
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from services.common import metrics
from services.common.logging import get_logger

__all__ = ["lag_by_partition", "poll_lag"]

log = get_logger("earshot.bus.lag")


async def lag_by_partition(consumer: Any, partitions: set[Any]) -> dict[Any, int]:
    """``{TopicPartition: lag}`` for ``partitions`` of an ``aiokafka.AIOKafkaConsumer`` in a group.

    Raises:
        aiokafka.errors.KafkaError: the broker did not answer.
    """
    if not partitions:
        return {}
    ends = await consumer.end_offsets(list(partitions))
    starts: dict[Any, int] | None = None
    out: dict[Any, int] = {}
    for tp in partitions:
        committed = await consumer.committed(tp)
        if committed is None:
            if starts is None:
                starts = await consumer.beginning_offsets(list(partitions))
            committed = starts.get(tp, 0)
        out[tp] = max(int(ends.get(tp, committed)) - int(committed), 0)
    return out


async def poll_lag(consumer: Any, group: str, strip: int, interval_s: float = 15.0) -> None:
    """Set ``earshot_consumer_lag`` for every partition ``consumer`` owns, every ``interval_s``
    seconds, until cancelled (then the member's series are removed).

    Args:
        consumer: a started ``aiokafka.AIOKafkaConsumer`` of group ``group``.
        group: the group name as the metrics label (without the namespace prefix).
        strip: characters of namespace prefix to strip from topic names for the label.
        interval_s: polling period, seconds.
    """
    shown: set[tuple[str, str]] = set()
    try:
        while True:
            try:
                lags = await lag_by_partition(consumer, set(consumer.assignment()))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker away or rebalancing: try again next period
                log.debug("bus.lag_poll_failed", group=group, error=f"{type(exc).__name__}: {exc}")
            else:
                now = {(tp.topic[strip:], str(tp.partition)) for tp in lags}
                for topic, partition in shown - now:
                    with contextlib.suppress(KeyError):
                        metrics.CONSUMER_LAG.remove(topic, partition, group)
                for tp, lag in lags.items():
                    metrics.CONSUMER_LAG.labels(tp.topic[strip:], str(tp.partition), group).set(lag)
                shown = now
            await asyncio.sleep(interval_s)
    finally:
        for topic, partition in shown:
            with contextlib.suppress(KeyError):
                metrics.CONSUMER_LAG.remove(topic, partition, group)
