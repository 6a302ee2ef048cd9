"""Garbage-collector settings for aggregator's processes (the daemon and parse workers).

A poll allocates millions of short-lived objects (rows, entries, HTTP frames) and makes
almost no reference cycles, so CPython's default collector, which runs a young
collection every 700 net allocations and a full one whenever enough survive, spent
about 5% of the main process's time walking objects that reference counting frees
anyway (1.3 s of a 500-feed first poll; measured with gc.callbacks). Two changes:

- `gc.freeze()` once the entry point has loaded what it needs (the modules, the settings;
  for `poll` also the database engine): they live as long as the process, so full
  collections stop walking them. Cyclic garbage made before the freeze is frozen too: a
  small, one-off amount, cheaper than a full collection on every start;
- a young-generation threshold of 20,000 allocations instead of 700: cycles are still
  collected, a little later, and they are rare here.

Must not: disable the collector (a cycle would then leak forever) or be called from
library code: it is process policy, set by the entry points (cli, process workers).
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000  # allocations between young collections (CPython's default: 700)
OLDER_THRESHOLDS = (20, 20)  # young (then middle) collections between older ones


_tuned = False


def tune_gc() -> None:
    """Freeze what exists now and collect young objects less often (once a process)."""
    global _tuned
    if _tuned:
        return
    _tuned = True
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
