"""A saved index is read or built once per open store, however many threads ask for it at the same time."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from kg.analysis.saved_index import SavedIndex
from kg.store import Store, open_store


@dataclass
class _Index:
    fingerprint: str


def test_threads_asking_at_once_share_one_build() -> None:
    """Twenty first requests to ``kg serve`` each unpickled the 600k related index (17 GB) before loads took turns."""
    built: list[str] = []
    started = threading.Barrier(8)

    def build(store: Store) -> _Index:
        built.append(threading.current_thread().name)
        time.sleep(0.3)  # long enough for every other thread to arrive while this one builds
        return _Index(kind.fingerprint(store))

    kind = SavedIndex("test", _Index, 1, build)
    with open_store("oxigraph:") as store, ThreadPoolExecutor(8) as pool:

        def load(_: int) -> _Index:
            started.wait()
            return kind.load(store)

        found = list(pool.map(load, range(8)))
    assert len(built) == 1
    assert all(index is found[0] for index in found)
