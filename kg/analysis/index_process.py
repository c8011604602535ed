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

from kg.analysis.indexes import refresh_in
from kg.store import open_store

__all__ = ["main"]


def main(argv: list[str]) -> int:
    spec, *names = argv
    with open_store(spec, read_only=True) as store:
        seconds = refresh_in(store, names)
    print(json.dumps(seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
