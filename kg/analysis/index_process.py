"""One saved index rebuilt in a process of its own: ``python -m kg.analysis.index_process SPEC NAME``.

:func:`kg.analysis.indexes.refresh_saved_indexes` starts one such process per index when a large store's indexes
are rebuilt on more than one core. A fresh interpreter, not a fork: the builder has just closed a store whose
RocksDB threads a fork would inherit, and a fresh process's peak memory is the index's own. It opens the store
read-only, rebuilds the index, saves it unless the store was rebuilt meanwhile, and prints the seconds it took.
"""

from __future__ import annotations

import json
import sys
import time

from kg.analysis.indexes import SAVED_INDEXES
from kg.store import open_store

__all__ = ["main"]


def main(argv: list[str]) -> int:
    spec, name = argv
    kind = next(kind for kind in SAVED_INDEXES if kind.name == name)
    clock = time.perf_counter()
    with open_store(spec, read_only=True) as store:
        kind.refresh(store, only_if_saved=False, unless_superseded=True)
    print(json.dumps({"seconds": time.perf_counter() - clock}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
