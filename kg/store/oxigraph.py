"""Embedded Oxigraph: the default backend, on disk (or in memory for tests and notebooks)."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO, Final

import pyoxigraph as ox

from kg.store.base import Bindings, QueryResult, RawResult, Store, StoreError, Value, inline_values, python_value
from kg.store.check import DamagedStore, check_folder, is_sealed, rebuild_hint, seal, unseal
from kg.store.lock import WriterLock

__all__ = ["OxigraphStore", "term_value"]

logger = logging.getLogger(__name__)

_FORMATS: Final = {
    "application/n-quads": ox.RdfFormat.N_QUADS,
    "application/trig": ox.RdfFormat.TRIG,
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "application/ld+json": ox.RdfFormat.JSON_LD,
}
_DATASET_FORMATS: Final = {ox.RdfFormat.N_QUADS, ox.RdfFormat.TRIG}
_BULK_QUADS: Final = 50_000
_LISTING: Final = "kg-live-tables"  # a checkpoint inside the store folder, listing its live tables


def term_value(term: ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple | None) -> Value:
    """A pyoxigraph term as a plain Python value (see :func:`kg.store.base.python_value`)."""
    if term is None:
        return None
    if isinstance(term, ox.Literal):
        return python_value("literal", term.value, term.datatype.value)
    if isinstance(term, ox.BlankNode):
        return python_value("bnode", term.value, None)
    return str(term.value) if isinstance(term, ox.NamedNode) else str(term)


class OxigraphStore(Store):
    """pyoxigraph ``Store``; ``path=None`` keeps it in memory. On disk, a writer seals the folder when it closes and
    a reader checks the seal first (:mod:`kg.store.check`); ``lock``, the writer's lock, is released on close."""

    scans_fast = True

    def __init__(self, path: Path | None = None, *, read_only: bool = False, lock: WriterLock | None = None) -> None:
        self.path = path
        self.loads_in_background = path is not None  # bulk_load on disk; in memory a load is too quick to overlap
        self.read_only = read_only
        self.spec = f"oxigraph:{path}" if path else "oxigraph:"
        self._lock = lock
        try:
            if path is None:
                self.inner = ox.Store()
            elif read_only:
                check_folder(path, writing=False)
                self.inner = ox.Store.read_only(str(path))
            else:
                if path.exists():
                    check_folder(path, writing=True)
                self.inner = ox.Store(str(path))
                unseal(path)
        except BaseException as error:
            self._release()
            if isinstance(error, OSError):
                held = "lock" in str(error).lower()
                hint = " (another kg process, e.g. `kg serve`, may hold it open)" if held else ""
                raise StoreError(f"cannot open the Oxigraph store at {path}: {error}{hint}") from None
            if isinstance(error, RuntimeError) and not isinstance(error, StoreError):  # RocksDB's "Corruption: …"
                damage = f"the store at {path} is damaged ({error})"
                raise DamagedStore(f"{damage}: {rebuild_hint(path or Path())}") from None
            raise

    def load_nquads(self, data: bytes) -> None:
        """Oxigraph's own parser; on disk its bulk loader (no transaction: the build's staging store is discarded
        whole if the build fails)."""
        if self.path is None:
            self.inner.load(data, format=ox.RdfFormat.N_QUADS, lenient=True)
        else:
            self.inner.bulk_load(data, format=ox.RdfFormat.N_QUADS, lenient=True)

    def add(self, quads: Iterable[ox.Quad]) -> None:
        if self.path is None:
            self.inner.extend(quads)
        else:
            self.inner.bulk_extend(quads)

    def replace_graphs(self, graphs: dict[ox.NamedNode, list[ox.Quad]]) -> None:
        for graph, quads in graphs.items():
            self.remove_graph(graph)
            # A trial (hundreds of quads) goes in one transaction; a whole vocabulary through the bulk loader,
            # which is ~10x faster on disk for hundreds of thousands of quads.
            if len(quads) > _BULK_QUADS:
                self.add(quads)
            else:
                self.inner.extend(quads)

    def remove_graph(self, graph: ox.NamedNode) -> None:
        if self.inner.contains_named_graph(graph):
            self.inner.remove_graph(graph)

    def update(self, sparql: str) -> None:
        try:
            self.inner.update(sparql)
        except SyntaxError as error:
            raise StoreError(f"SPARQL Update syntax error: {error}") from None

    def select(self, sparql: str, bindings: Bindings | None = None) -> QueryResult:
        result = self._query(inline_values(sparql, bindings or {}))
        if isinstance(result, ox.QueryBoolean):
            return QueryResult(["ask"], [{"ask": bool(result)}])
        if not isinstance(result, ox.QuerySolutions):
            raise StoreError("this query returns triples: use construct (or `kg sparql`, which picks it)")
        names = [variable.value for variable in result.variables]
        rows = [{name: term_value(solution[name]) for name in names} for solution in result]
        return QueryResult(names, rows)

    def construct(self, sparql: str) -> bytes:
        result = self._query(sparql)
        if not isinstance(result, ox.QueryTriples):
            raise StoreError("only CONSTRUCT and DESCRIBE queries return triples")
        return result.serialize(format=ox.RdfFormat.N_TRIPLES) or b""

    def query_raw(self, sparql: str) -> RawResult:
        return self._query(sparql)

    def _query(self, sparql: str) -> ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples:
        try:
            return self.inner.query(sparql, use_default_graph_as_union=True)
        except SyntaxError as error:
            raise StoreError(f"SPARQL syntax error: {error}") from None

    def dump(self, output: BinaryIO, media_type: str) -> None:
        fmt = _FORMATS[media_type]
        if fmt in _DATASET_FORMATS:
            self.inner.dump(output, fmt)
        else:
            union = self._query("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }")
            assert isinstance(union, ox.QueryTriples)
            union.serialize(output, fmt)

    def __len__(self) -> int:
        return len(self.inner)

    def optimize(self) -> None:
        """Compact the on-disk files after a bulk build (faster queries, smaller store)."""
        if self.path is not None:
            self.inner.flush()
            self.inner.optimize()

    def close(self) -> None:
        writer = self.path is not None and not self.read_only and hasattr(self, "inner")
        live = None
        if writer and self.path is not None:
            self.inner.flush()
            live = _live_tables(self.inner, self.path)
        self.__dict__.pop("inner", None)
        if writer and self.path is not None:
            seal(self.path, live)
        elif self.read_only and self.path is not None and not is_sealed(self.path):
            _seal_found(self.path)
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None


def _live_tables(store: ox.Store, path: Path) -> set[str] | None:
    """The tables of RocksDB's current version, the only ones a writer seals. A flush or compaction may still be
    running in the background when the writer closes (the store lives on while a query result holds it); it writes
    its table in place, and a seal of its partial size or time would make the next reader call the store damaged.
    RocksDB's own list, through its checkpoint (``Store.backup``), which hard-links exactly those tables into a
    folder removed at once. ``None`` (seal every table, as before) if the checkpoint fails or the folder takes no
    hard links: there the checkpoint would copy the whole store."""
    listing = path / _LISTING
    shutil.rmtree(listing, ignore_errors=True)
    try:
        listing.mkdir()
        (listing / "probe").touch()
        os.link(listing / "probe", listing / "link")
        shutil.rmtree(listing)
        store.backup(str(listing))
        return {table.name for table in listing.glob("*.sst")}
    except OSError as error:
        logger.info("sealing every table of the store at %s: cannot list RocksDB's live tables (%s)", path, error)
        return None
    finally:
        shutil.rmtree(listing, ignore_errors=True)


def _seal_found(path: Path) -> None:
    """Seal a store found without a seal (built before seals, or its writer stopped) as it is, unless a writer is
    at work or the folder is read-only: from then on, damage is caught before the store is opened."""
    try:
        lock = WriterLock(path)
    except (StoreError, OSError):
        return
    try:
        with contextlib.suppress(OSError):  # a folder others may read but not write
            if not is_sealed(path):
                seal(path)
                logger.info("sealed the store at %s, which had no seal", path)
    finally:
        lock.release()
