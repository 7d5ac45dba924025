"""paused_gc: no collection while a big structure is built, and none walking it after."""

from __future__ import annotations

import gc

from floe.rules.model import paused_gc


def test_what_was_built_under_the_pause_is_frozen_and_collection_is_back_on() -> None:
    assert gc.isenabled()
    gc.unfreeze()
    before = gc.get_freeze_count()
    with paused_gc():
        assert not gc.isenabled()
        built = [[i] for i in range(5000)]
    assert gc.isenabled()
    assert gc.get_freeze_count() >= before + len(built)  # out of the collected generations
    assert all(not any(item is obj for obj in gc.get_objects(2)) for item in built[:3])
    gc.unfreeze()


def test_a_disabled_collector_stays_disabled_and_nothing_is_frozen() -> None:
    gc.unfreeze()
    gc.disable()
    try:
        with paused_gc():
            kept = [[i] for i in range(100)]
        assert not gc.isenabled() and gc.get_freeze_count() == 0 and kept
    finally:
        gc.enable()
