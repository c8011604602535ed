"""Stores picked by a string: ``oxigraph:PATH`` (default), ``oxigraph:`` (in memory), ``memory:`` (rdflib),
``sparql:URL`` (a remote SPARQL 1.1 endpoint). Builds write a fresh store and swap it in only when complete."""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from kg.config import default_spec
from kg.store.base import QueryResult, Store, StoreError, Value, query_form
from kg.store.lock import StoreBusy, WriterLock, endpoint_lock

__all__ = [
    "QueryResult",
    "Store",
    "StoreBusy",
    "StoreError",
    "Value",
    "fresh_store",
    "in_memory",
    "open_store",
    "query_form",
]

logger = logging.getLogger(__name__)

_PREVIOUS: Final = ".previous"
_BUILDING: Final = ".building-"


def _split(spec: str) -> tuple[str, str]:
    kind, sep, rest = spec.partition(":")
    if not sep or kind not in ("oxigraph", "memory", "sparql"):
        raise StoreError(f"unknown store {spec!r}: use oxigraph:PATH, oxigraph:, memory: or sparql:URL")
    if kind == "sparql" and not rest.startswith(("http://", "https://")):
        raise StoreError(f"{spec!r}: sparql: needs an http(s) URL, e.g. sparql:http://127.0.0.1:7878/query")
    return kind, rest


def open_store(spec: str | None = None, *, read_only: bool = False, create: bool = False) -> Store:
    """Open an existing store for querying (or an empty in-memory one). ``create``: an on-disk store that does not
    exist yet starts empty instead of failing (``kg mesh load`` into a new data home); queries keep refusing, so a
    mistyped path is never taken for an empty graph."""
    kind, rest = _split(spec or default_spec())
    if kind == "memory":
        from kg.store.memory import MemoryStore

        return MemoryStore()
    if kind == "sparql":
        from kg.store.remote import RemoteStore

        return RemoteStore.from_environment(rest, lock=None if read_only else endpoint_lock(rest))
    from kg.store.oxigraph import OxigraphStore

    if not rest:
        return OxigraphStore()
    path = Path(rest).expanduser()
    if read_only:
        _recover_unless_writing(path)
        if not path.exists():
            raise StoreError(f"no store at {path}: build one first (kg build PATH... or kg demo)")
        return OxigraphStore(path, read_only=True)
    if not path.exists() and not create and not path.with_name(path.name + _PREVIOUS).exists():
        raise StoreError(f"no store at {path}: build one first (kg build PATH... or kg demo)")
    lock = _writer_lock(path)
    try:
        _recover(path)
    except BaseException:
        lock.release()
        raise
    return OxigraphStore(path, lock=lock)


def _writer_lock(path: Path) -> WriterLock:
    """The store's writer lock; a folder that cannot be made (``--store`` inside a file, a read-only folder) is one
    line."""
    try:
        return WriterLock(path)
    except OSError as error:
        raise StoreError(f"cannot write a store at {path}: {error.strerror or error}") from None


def _recover(path: Path) -> None:
    """Finish a swap that was interrupted between its two renames (the caller holds the writer lock)."""
    previous = path.with_name(path.name + _PREVIOUS)
    if previous.exists() and not path.exists():
        logger.warning("restoring %s from an interrupted swap", path)
        previous.rename(path)


def _recover_unless_writing(path: Path) -> None:
    """A reader finishes an interrupted swap only when no writer is busy: a build between its two renames is not
    interrupted, and would fail if its previous store came back."""
    if path.exists() or not path.with_name(path.name + _PREVIOUS).exists():
        return
    try:
        lock = WriterLock(path)
    except (StoreBusy, OSError):
        return
    try:
        _recover(path)
    finally:
        lock.release()


def in_memory(spec: str | None) -> bool:
    """Whether ``spec`` names a store that lives only in this process (``oxigraph:``, ``memory:``): a build fills it
    in place, with nothing to swap, and it is gone once closed."""
    kind, rest = _split(spec or default_spec())
    return kind == "memory" or (kind == "oxigraph" and not rest)


@contextlib.contextmanager
def fresh_store(spec: str | None = None) -> Iterator[Store]:
    """A new, empty store to build into; it replaces the store named by ``spec`` only on success.

    On any exception (Ctrl-C included) the half-built store is deleted and the previous one is untouched.
    A remote endpoint is staged in a local temporary store, then published trial graph by trial graph.
    """
    if in_memory(spec):
        with open_store(spec) as store:
            yield store
        return
    kind, rest = _split(spec or default_spec())
    if kind == "sparql":
        yield from _fresh_remote(rest)
        return
    yield from _fresh_oxigraph(Path(rest).expanduser())


def _fresh_oxigraph(path: Path) -> Iterator[Store]:
    """Staged in ``PATH.building-…`` under the writer lock: the staging folders left there are a dead build's,
    never a running one's."""
    lock = _writer_lock(path)
    try:
        _recover(path)
        for stale in path.parent.glob(path.name + _BUILDING + "*"):
            shutil.rmtree(stale, ignore_errors=True)
        yield from _staged(path)
    finally:
        lock.release()


def _staged(path: Path) -> Iterator[Store]:
    from kg.store.oxigraph import OxigraphStore

    try:
        staging = Path(tempfile.mkdtemp(prefix=path.name + _BUILDING, dir=path.parent))
    except OSError as error:
        raise StoreError(f"cannot write a store beside {path}: {error.strerror or error}") from None
    try:
        store = OxigraphStore(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    try:
        yield store
        store.optimize()
        store.close()
    except BaseException as error:
        store.close()
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(error, RuntimeError) and "IO error" in str(error):  # RocksDB: a full or read-only disk
            message = f"cannot write the new store beside {path} ({error}); the previous store is untouched"
            raise StoreError(message) from None
        raise
    previous = path.with_name(path.name + _PREVIOUS)
    shutil.rmtree(previous, ignore_errors=True)
    if path.exists():
        path.rename(previous)
    staging.rename(path)
    shutil.rmtree(previous, ignore_errors=True)


def _fresh_remote(url: str) -> Iterator[Store]:
    from kg.store.oxigraph import OxigraphStore
    from kg.store.remote import RemoteStore

    lock = endpoint_lock(url)  # for the whole build: a second one is refused before it maps a record
    try:
        with tempfile.TemporaryDirectory(prefix="kg-staging-") as staging:
            local = OxigraphStore(Path(staging) / "store")
            try:
                yield local
                with RemoteStore.from_environment(url) as remote:
                    _publish(local, remote)
            finally:
                local.close()
    finally:
        lock.release()


def _publish(local: Store, remote: Store) -> None:
    """Copy every graph of ``local`` to ``remote`` in batches of whole graphs (``RemoteStore.replace_graphs``: a
    trial is never half-written), then drop the remote graphs of ours the new build no longer has. Graphs outside
    our namespace (another application's, the engine's own) are left alone."""
    from pyoxigraph import NamedNode, Quad

    from kg.store.oxigraph import OxigraphStore
    from kg.store.remote import BATCH_QUADS, RemoteStore
    from kg.vocab import DATA

    assert isinstance(local, OxigraphStore) and isinstance(remote, RemoteStore)
    graphs = [graph for graph in local.inner.named_graphs() if isinstance(graph, NamedNode)]  # builds name by IRI
    batch: dict[NamedNode, list[Quad]] = {}
    size = 0
    for graph in graphs:
        quads = list(local.inner.quads_for_pattern(None, None, None, graph))
        batch[graph] = quads
        size += len(quads)
        if size >= 10 * BATCH_QUADS:  # replace_graphs cuts it in requests; fewer, fuller calls
            remote.replace_graphs(batch)
            batch, size = {}, 0
    if batch:
        remote.replace_graphs(batch)
    keep = {graph.value for graph in graphs}
    ours = str(DATA) + "graph/"
    for stale in sorted(graph for graph in remote.named_graphs() - keep if graph.startswith(ours)):
        remote.remove_graph(NamedNode(stale))
