"""Saved indexes rebuilt in a process of their own: ``python -m kg.analysis.index_process SPEC NAME...``.

:func:`kg.analysis.indexes.refresh_saved_indexes` starts one such process per index when a large store's indexes
are rebuilt on more than one core. A fresh interpreter, not a fork: the builder has just closed a store whose
RocksDB threads a fork would inherit, and a fresh process's peak memory is the index's own. It opens the store
read-only, rebuilds each index in order, saves it unless the store was rebuilt meanwhile, and prints the seconds
each took.
"""

from __future__ import annotations

import json
import sys
import time

from kg.analysis.indexes import SAVED_INDEXES
from kg.store import open_store

__all__ = ["main"]


def main(argv: list[str]) -> int:
    spec, *names = argv
    kinds = {kind.name: kind for kind in SAVED_INDEXES}
    seconds = {}
    with open_store(spec, read_only=True) as store:
        for name in names:  # in order: a later one may read an earlier one's saved file (``SavedIndex.needs``)
            clock = time.perf_counter()
            kinds[name].refresh(store, only_if_saved=False, unless_superseded=True)
            seconds[name] = time.perf_counter() - clock
    print(json.dumps(seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
