"""HistogramBatch (services.common.metrics): observations added up locally give the same
histogram as observing each one."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram

from services.common.metrics import HistogramBatch

BUCKETS = (0.005, 0.01, 0.1, 1.0)
AMOUNTS = [0.0, 0.001, 0.005, 0.0051, 0.01, 0.05, 0.1, 0.5, 1.0, 2.0, 300.0, 0.005]


def samples(registry: CollectorRegistry) -> dict[tuple[str, str], float]:
    return {
        (s.name, s.labels.get("le", "")): s.value
        for m in registry.collect()
        for s in m.samples
        if not s.name.endswith("_created")
    }


def test_a_flushed_batch_equals_observing_each_amount() -> None:
    one, batched = CollectorRegistry(), CollectorRegistry()
    direct = Histogram("h", "h", ["topic"], buckets=BUCKETS, registry=one).labels("t")
    batch = HistogramBatch(Histogram("h", "h", ["topic"], buckets=BUCKETS, registry=batched).labels("t"))
    for amount in AMOUNTS:
        direct.observe(amount)
        batch.observe(amount)
    assert samples(batched)[("h_count", "")] == 0  # nothing written before the flush
    batch.flush()
    batch.flush()  # a second flush adds nothing
    assert samples(batched) == samples(one)
    assert samples(one)[("h_count", "")] == len(AMOUNTS)
    assert samples(one)[("h_bucket", "0.005")] == 4  # the bound itself counts in its bucket


def test_flushes_accumulate() -> None:
    registry = CollectorRegistry()
    batch = HistogramBatch(Histogram("h", "h", buckets=BUCKETS, registry=registry))
    for _ in range(3):
        batch.observe(0.02)
        batch.flush()
    got = samples(registry)
    assert got[("h_count", "")] == 3
    assert got[("h_bucket", "0.1")] == 3 and got[("h_bucket", "0.01")] == 0
    assert abs(got[("h_sum", "")] - 0.06) < 1e-12
