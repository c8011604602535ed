"""Indexes read from a store once and kept: beside an on-disk Oxigraph store, per open store in memory.

An index (the related-trials index, the landscape fact table, the health score's peer distributions) is computed
from whole-predicate reads, which at registry scale take seconds to minutes: too slow per query, fast enough once
per build. It is written beside an
on-disk store (``PATH.<name>.pickle``) by ``kg build``, ``kg mesh load`` and ``kg update``, and checked when read
against the store's fingerprint (build start time, MeSH version, index format), so a table from before a rebuild is
never used. A reader that builds one saves it only while the store on disk is still the one it opened (a server
open across a rebuild must not replace the new build's index with its old store's). Other stores build it on first
use. Either way it is then held as long as the open store lives.
"""

from __future__ import annotations

import logging
import pickle
import threading
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Generic, Protocol, TypeVar

from kg.atomic import replacing
from kg.graphs import BUILD, MESH_SCHEME
from kg.store import Store, StoreError, open_store
from kg.vocab import SPARQL_PROLOGUE

__all__ = ["SavedIndex", "untracked"]

logger = logging.getLogger(__name__)

_FINGERPRINT: Final = (
    SPARQL_PROLOGUE
    + f"""SELECT ?started ?mesh WHERE {{
  OPTIONAL {{ {BUILD} prov:startedAtTime ?started }}
  OPTIONAL {{ {MESH_SCHEME} kg:meshVersion ?mesh }}
}}"""
)


def untracked(values: Iterable[Any]) -> tuple[Any, ...]:
    """A long read-only sequence of strings or numbers, as an index keeps it: a tuple, which the garbage collector
    stops scanning once it has seen it holds only such atoms, while every full collection walks a list again (at
    600k trials the related-trials index's lists made each collection take 55 ms instead of 8: the p95 of a query)."""
    return tuple(values)


class _Superseded(Exception):
    """The store on disk was rebuilt after the index's store was opened."""


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
    #: Other saved indexes its build reads (by name): rebuilt after them, in the same process, when indexes are
    #: rebuilt side by side (else it would build its own copy of one not saved yet).
    needs: tuple[str, ...] = ()
    _in_memory: weakref.WeakKeyDictionary[Store, Index] = field(default_factory=weakref.WeakKeyDictionary, repr=False)
    #: One loader at a time: twenty first requests to a server each unpickling the 600k related index held 17 GB.
    _loading: threading.RLock = field(default_factory=threading.RLock, repr=False)

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

    def save(self, index: Index, path: Path, *, unless_superseded: str | None = None) -> None:
        """Write ``index`` at ``path`` whole. ``unless_superseded``, a store spec: only if the store now on disk there
        still has the index's fingerprint, checked just before the rename; a server opened before a build computes
        its old store's index, which must not replace the one the build saved."""
        try:
            with replacing(path) as partial:
                with partial.open("wb") as out:
                    pickle.dump(index, out, protocol=pickle.HIGHEST_PROTOCOL)
                if unless_superseded is not None and not self._on_disk(unless_superseded, index.fingerprint):
                    raise _Superseded
        except _Superseded:
            logger.info("not saving the %s index at %s: the store there was rebuilt since", self.name, path)

    def _on_disk(self, spec: str, fingerprint: str) -> bool:
        """Whether the store at ``spec``, opened afresh, has ``fingerprint``."""
        try:
            with open_store(spec, read_only=True) as disk:
                return self.fingerprint(disk) == fingerprint
        except StoreError:
            return False

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
        """The store's index: held, read from beside an on-disk store when current, else built (and saved there).
        Threads asking at once wait for the first one's (see ``_loading``)."""
        expected = self.fingerprint(store)
        held = self._held(store, expected)  # read once per open store: at registry scale hundreds of megabytes
        if held is not None:
            return held
        with self._loading:
            held = self._held(store, expected)  # another thread may have read it meanwhile
            return self._read_or_build(store, expected) if held is None else held

    def _held(self, store: Store, expected: str) -> Index | None:
        held = self._in_memory.get(store)
        return held if held is not None and held.fingerprint == expected else None

    def _read_or_build(self, store: Store, expected: str) -> Index:
        path = self.path(store.spec)
        index = self.read_saved(path, expected) if path is not None and path.is_file() else None
        if index is None:
            index = self.build(store)
            try:
                if path is not None:
                    self.save(index, path, unless_superseded=store.spec)
            except OSError as error:
                logger.warning("could not save the %s index at %s: %s", self.name, path, error)
        self._in_memory[store] = index
        return index

    def refresh(self, store: Store, *, only_if_saved: bool, unless_superseded: bool = False) -> bool:
        """Rebuild and save the index beside an on-disk store (``only_if_saved``: only where one was saved;
        ``unless_superseded``: see :meth:`save`, for a reader's handle, not the writer's own); whether it did."""
        path = self.path(store.spec)
        if path is None or (only_if_saved and not path.is_file()):
            return False
        self.save(self.build(store), path, unless_superseded=store.spec if unless_superseded else None)
        return True
