"""Start-up objects are frozen out of the garbage collector (services.platform.freeze_startup_heap)."""

from __future__ import annotations

import gc

from services.platform import freeze_startup_heap


def test_objects_alive_at_start_up_are_frozen_and_new_garbage_still_collected() -> None:
    gc.unfreeze()
    try:
        kept = {"startup": list(range(10))}
        frozen = freeze_startup_heap()
        assert frozen == gc.get_freeze_count() > 1000  # modules, classes, this test's objects
        assert gc.is_tracked(kept)

        class Cycle:
            pass

        a, b = Cycle(), Cycle()
        a.other, b.other = b, a  # type: ignore[attr-defined]
        del a, b
        assert gc.collect() >= 2  # a cycle made after start-up is still collected
    finally:
        gc.unfreeze()
