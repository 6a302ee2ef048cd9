"""The collector is tuned, never turned off: a reference cycle is still freed."""

from __future__ import annotations

import gc
import weakref

from aggregator.gctune import YOUNG_THRESHOLD, tune_gc


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_cycles_made_after_tuning_are_still_collected() -> None:
    tune_gc()
    assert gc.isenabled() and gc.get_threshold()[0] == YOUNG_THRESHOLD
    a, b = Node(), Node()
    a.other, b.other = b, a
    gone = weakref.ref(a)
    del a, b
    for _ in range(YOUNG_THRESHOLD + 1):  # enough allocations for a young collection
        Node()
    gc.collect(0)
    assert gone() is None
