"""``metrics.consumer_lag``: what a process knows of a group's lag on one topic."""

from __future__ import annotations

from services.common import metrics


def test_consumer_lag_sums_the_groups_partitions_of_one_topic() -> None:
    group, topic = "test.lag.group", "test.lag.topic"
    assert metrics.consumer_lag(group, topic) is None  # no member here: unknown, not zero
    metrics.CONSUMER_LAG.labels(topic, "0", group).set(3)
    metrics.CONSUMER_LAG.labels(topic, "1", group).set(4)
    metrics.CONSUMER_LAG.labels("test.lag.other", "0", group).set(100)  # another topic
    metrics.CONSUMER_LAG.labels(topic, "0", "test.lag.other-group").set(50)  # another group
    try:
        assert metrics.consumer_lag(group, topic) == 7
        metrics.CONSUMER_LAG.labels(topic, "1", group).set(0)
        assert metrics.consumer_lag(group, topic) == 3
    finally:
        for labels in (
            (topic, "0", group),
            (topic, "1", group),
            ("test.lag.other", "0", group),
            (topic, "0", "test.lag.other-group"),
        ):
            metrics.CONSUMER_LAG.remove(*labels)
