"""Cached probe answers (at most one computation per interval) and readiness checks with deadlines."""

from __future__ import annotations

import asyncio

import pytest

from services.common.health import Cached, check_dependencies


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_cached_computes_once_per_interval_for_many_concurrent_callers() -> None:
    clock = FakeClock()
    calls = 0
    gate = asyncio.Event()

    async def compute() -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        return calls

    cached = Cached(compute, ttl_s=1.0, clock=clock)
    waiting = [asyncio.create_task(cached.get()) for _ in range(16)]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*waiting) == [1] * 16
    assert calls == 1
    clock.now += 0.5
    assert await cached.get() == 1  # still fresh
    clock.now += 0.6
    assert await cached.get() == 2  # older than a second: computed again
    cached.clear()
    assert await cached.get() == 3


async def test_cached_does_not_keep_errors_and_a_cancelled_caller_does_not_cancel_the_others() -> None:
    outcomes = iter([RuntimeError("db down"), 7])
    started = asyncio.Event()
    release = asyncio.Event()

    async def compute() -> int:
        started.set()
        await release.wait()
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    cached = Cached(compute, ttl_s=1.0, clock=FakeClock())
    impatient = asyncio.create_task(cached.get())
    patient = asyncio.create_task(cached.get())
    await started.wait()
    impatient.cancel()
    release.set()
    with pytest.raises(RuntimeError, match="db down"):
        await patient
    assert await cached.get() == 7  # the failure was not cached


def test_ttl_must_be_positive() -> None:
    async def compute() -> int:
        return 1

    with pytest.raises(ValueError, match="ttl_s"):
        Cached(compute, ttl_s=0)


async def test_check_dependencies_reports_each_check_with_a_deadline() -> None:
    async def ok() -> None:
        return None

    async def broken() -> None:
        raise ConnectionError("refused")

    async def hangs() -> None:
        await asyncio.sleep(3600)

    checks = await check_dependencies({"bus": ok, "database": broken, "storage": hangs}, deadline_s=0.05)
    assert checks["bus"] == "ok"
    assert checks["database"] == "error: ConnectionError: refused"
    assert checks["storage"].startswith("error: TimeoutError")
