"""Indexes read from a store once and kept: beside an on-disk Oxigraph store, per open store in memory.

An index (the related-trials index, the landscape fact table, the health score's peer distributions) is computed
from whole-predicate reads, which at registry scale take seconds to minutes: too slow per query, fast enough once
per build. It is written beside an
on-disk store (``PATH.<name>.pickle``) by ``kg build``, ``kg mesh load`` and ``kg update``, and checked when read
against the store's fingerprint (build start time, MeSH version, index format), so a table from before a rebuild is
never used. Other stores build it on first use. Either way it is then held as long as the open store lives.
"""

from __future__ import annotations

import logging
import pickle
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Generic, Protocol, TypeVar

from kg.store import Store, default_spec, open_store

__all__ = ["SavedIndex", "refresh_saved_indexes"]

logger = logging.getLogger(__name__)

_FINGERPRINT: Final = """PREFIX kg: <https://w3id.org/trialkg/vocab/>
PREFIX prov: <http://www.w3.org/ns/prov#>
SELECT ?started ?mesh WHERE {
  OPTIONAL { <https://w3id.org/trialkg/id/build> prov:startedAtTime ?started }
  OPTIONAL { <https://w3id.org/trialkg/id/mesh/scheme> kg:meshVersion ?mesh }
}"""


class Fingerprinted(Protocol):
    @property
    def fingerprint(self) -> str: ...


Index = TypeVar("Index", bound=Fingerprinted)


@dataclass(eq=False)
class SavedIndex(Generic[Index]):
    """One kind of index: how to build it, its file name beside a store and its format version."""

    name: str
    kind: type[Index]
    version: int
    build: Callable[[Store], Index]
    _in_memory: weakref.WeakKeyDictionary[Store, Index] = field(default_factory=weakref.WeakKeyDictionary, repr=False)

    def path(self, spec: str) -> Path | None:
        """``PATH.<name>.pickle`` beside an on-disk Oxigraph store; ``None`` for other stores."""
        kind, _, rest = spec.partition(":")
        if kind != "oxigraph" or not rest:
            return None
        path = Path(rest).expanduser()
        return path.with_name(f"{path.name}.{self.name}.pickle")

    def fingerprint(self, store: Store) -> str:
        """What a saved index must match to be used: its format version, the build's start time, the MeSH version."""
        row = store.select(_FINGERPRINT).rows[0]
        return f"{self.version}|{row.get('started')}|{row.get('mesh')}"

    def save(self, index: Index, path: Path) -> None:
        partial = path.with_name(path.name + ".partial")
        with partial.open("wb") as out:
            pickle.dump(index, out, protocol=pickle.HIGHEST_PROTOCOL)
        partial.replace(path)

    def read_saved(self, path: Path, expected: str) -> Index | None:
        """The index saved at ``path`` if it is one of this kind with the ``expected`` fingerprint."""
        try:
            with path.open("rb") as stream:
                index = pickle.load(stream)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, TypeError, ModuleNotFoundError):
            return None
        if not isinstance(index, self.kind) or index.fingerprint != expected:
            return None
        return index

    def cached(self, store: Store) -> Index | None:
        """The index held for this open store, whatever its fingerprint (None before first use)."""
        return self._in_memory.get(store)

    def load(self, store: Store) -> Index:
        """The store's index: held, read from beside an on-disk store when current, else built (and saved there)."""
        expected = self.fingerprint(store)
        cached = self._in_memory.get(store)
        if cached is not None and cached.fingerprint == expected:
            return cached  # read once per open store: at registry scale a saved index is hundreds of megabytes
        path = self.path(store.spec)
        index = self.read_saved(path, expected) if path is not None and path.is_file() else None
        if index is None:
            index = self.build(store)
            try:
                if path is not None:
                    self.save(index, path)
            except OSError as error:
                logger.warning("could not save the %s index at %s: %s", self.name, path, error)
        self._in_memory[store] = index
        return index

    def refresh(self, store: Store, *, only_if_saved: bool) -> None:
        """Rebuild and save the index beside an on-disk store (``only_if_saved``: only where one was saved)."""
        path = self.path(store.spec)
        if path is not None and (path.is_file() or not only_if_saved):
            self.save(self.build(store), path)


def _kinds() -> list[SavedIndex[Any]]:
    """Every saved index (imported here, not at the top: their modules import this one)."""
    from kg.analysis.health import PEER_GROUPS
    from kg.analysis.landscape_index import LANDSCAPE_INDEX
    from kg.analysis.related import RELATED_INDEX

    return [RELATED_INDEX, LANDSCAPE_INDEX, PEER_GROUPS]


def refresh_saved_indexes(target: str | Store | None) -> None:
    """Rebuild every saved index after a build (``target`` is the store spec, ``None`` for the default) or a MeSH
    load (``target`` is the open store; rebuilt only where an index was saved before, so a build's staging store
    gets none)."""
    if isinstance(target, Store):
        for kind in _kinds():
            kind.refresh(target, only_if_saved=True)
        return
    spec = target or default_spec()
    kinds = [kind for kind in _kinds() if kind.path(spec) is not None]
    if kinds:
        with open_store(spec, read_only=True) as store:
            for kind in kinds:
                kind.refresh(store, only_if_saved=False)
