"""The build pipeline: records from files → de-duplicated by NCT id → quads → a fresh store, swapped in whole."""

from __future__ import annotations

import itertools
import logging
import os
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final

from pyoxigraph import Literal, NamedNode, Quad, RdfFormat, parse, serialize

from kg.analysis.indexes import refresh_saved_indexes
from kg.config import default_spec
from kg.ctgov.files import SourceProblem, iter_records
from kg.ctgov.mapping import RecordError, enumeration_quads, map_study, nct_id_of, study_last_update, trial_iri
from kg.errors import KgError
from kg.graphs import BUILD, BUILD_GRAPH, NODES_GRAPH, TRIAL_GRAPH_PREFIX, trial_graph
from kg.pipeline.changes import UpdateRun, carry_changes
from kg.pipeline.information_content import IC_PREDICATES, TrialTerms, update_information_content
from kg.pipeline.mesh_load import MeshLoadReport, load_mesh
from kg.pipeline.processes import FORKING, in_order
from kg.store import Store, StoreError, fresh_store, open_store
from kg.vocab import KG, PROV, RDF, XSD

__all__ = [
    "MAX_WORKERS",
    "PRUNE_ORPHANS",
    "BuildFailed",
    "BuildReport",
    "IndexesInterrupted",
    "build",
    "build_into",
    "default_workers",
    "load_records",
    "replace_trial",
]

logger = logging.getLogger(__name__)

#: N-Quads collected before one bulk load (about 650k quads): fewer, larger loads are faster on disk (measured at
#: 10k trials: 128 MiB batches took a fifth less CPU than 48 MiB ones; 256 MiB little less again, for more memory).
_FLUSH_BYTES: Final = 128 * 2**20
#: Distinct shared statements remembered while loading (a few hundred bytes each): past this the memory is cleared,
#: which bounds RAM at registry scale; a statement met again after that is only loaded twice (a store is a set).
_SEEN_MAX: Final = 1_000_000
#: Records per chunk sent to a mapping process: large enough that pickling overhead is small.
_CHUNK: Final = 200
#: Chunks mapped in this process before any worker starts: an input this small (1,600 records, a second or two of
#: mapping) never pays for starting processes (about a second of imports each).
_IN_PROCESS_CHUNKS: Final = 8
MAX_WORKERS: Final = 8
#: Shared nodes no trial graph points to any more (left by a record replaced with a newer version).
PRUNE_ORPHANS: Final = f"""
DELETE {{ GRAPH {NODES_GRAPH} {{ ?node ?p ?o }} }}
WHERE {{
  GRAPH {NODES_GRAPH} {{ ?node ?p ?o }}
  FILTER NOT EXISTS {{
    GRAPH ?g {{ ?trial ?link ?node }}
    FILTER(STRSTARTS(STR(?g), "{TRIAL_GRAPH_PREFIX}"))
  }}
}}"""
_KEPT_MESSAGES: Final = 1_000


class IndexesInterrupted(KeyboardInterrupt):
    """Ctrl-C while the indexes were being saved: the new store is already in place, and an index left unsaved is
    rebuilt when first used (its file's fingerprint is the previous store's)."""


class BuildFailed(KgError, RuntimeError):
    """``--strict`` met a problem, or nothing could be read; the previous store is untouched."""

    def __init__(self, report: BuildReport) -> None:
        reason = "no trial could be read" if report.trials == 0 else f"{len(report.problems)} problem(s) in strict mode"
        super().__init__(f"{reason}; the previous store is untouched")
        self.report = report


@dataclass
class BuildReport:
    """What a build read, kept, skipped and why: printed by ``kg build`` and stored for ``kg stats``."""

    trials: int = 0
    records: int = 0
    duplicates_dropped: int = 0
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    quads: int = 0
    seconds: float = 0.0
    mesh: MeshLoadReport | None = None
    #: False when contact persons were left out (``kg build --no-contacts``); ``kg update`` keeps to it.
    include_contacts: bool = True
    #: Change events recorded against the store this build replaced (none without one).
    change_events: int = 0
    #: Seconds each index saved beside an on-disk store took to rebuild, by name (none for other stores).
    index_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def skipped(self) -> int:
        return len(self.problems)


@dataclass(frozen=True)
class _Mapped:
    """One record mapped (in a worker process or not): its own graph's quads and its shared statements (about its
    sponsors, sites, conditions as written: ``NODES_GRAPH``) as N-Quads, what deduplication needs, and the concepts
    information content counts."""

    nct_id: str
    last_update: str
    nquads: bytes
    shared: bytes
    terms: tuple[str, ...]
    warnings: list[str]


@dataclass(frozen=True)
class _Skipped:
    """A problem message; ``record`` when it was a record that could not be mapped (it counts as read)."""

    message: str
    record: bool


_Item = tuple[Any, str] | SourceProblem  # (study, where) or a problem met while reading
_Outcome = _Mapped | _Skipped


def default_workers() -> int:
    """Mapping processes for a build: one per usable core but the one the background loader needs, at most
    ``MAX_WORKERS``. With two cores that is none: records map in this process while the loader thread fills the
    store, which measured 1.1x faster at 10k trials and 1.2x at 100k than two mapping processes competing with it."""
    return max(1, min(len(os.sched_getaffinity(0)) - 1, MAX_WORKERS))


def _map_chunk(chunk: list[_Item], include_contacts: bool) -> list[_Outcome]:
    """Map records to N-Quads: the work a mapping process does (also run in-process for small inputs)."""
    outcomes: list[_Outcome] = []
    for item in chunk:
        if isinstance(item, SourceProblem):
            outcomes.append(_Skipped(str(item), record=False))
            continue
        study, where = item
        try:
            mapped = map_study(study, include_contacts=include_contacts)
        except RecordError as error:
            nct_id = nct_id_of(study)
            outcomes.append(_Skipped(f"{where}{' ' + nct_id if nct_id else ''}: {error}; record skipped", record=True))
            continue
        warnings = [f"{where} {mapped.nct_id}: {text}" for text in mapped.warnings]
        graph = trial_graph(mapped.nct_id)
        own: list[Quad] = []
        shared: list[Quad] = []
        terms: list[str] = []
        for quad in mapped.quads:  # one pass: a trial has hundreds of quads, and every record passes here
            (own if quad.graph_name == graph else shared).append(quad)
            if quad.predicate in IC_PREDICATES and isinstance(quad.object, NamedNode):
                terms.append(quad.object.value)
        nquads = serialize(own, format=RdfFormat.N_QUADS) or b""
        shared_nquads = serialize(shared, format=RdfFormat.N_QUADS) or b""
        outcomes.append(_Mapped(mapped.nct_id, study_last_update(study), nquads, shared_nquads, tuple(terms), warnings))
    return outcomes


def _ignore_interrupts() -> None:
    """Mapping processes leave Ctrl-C to the build, which stops them and removes the half-built store."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _mapped_chunks(items: Iterable[_Item], workers: int, include_contacts: bool) -> Iterator[list[_Outcome]]:
    """Outcomes chunk by chunk, in input order. The first chunks are mapped here, so a small input starts no
    processes; the rest go to ``workers`` processes, at most ``2 * workers`` chunks in flight (bounded memory).
    Options reach the processes as arguments of each chunk: nothing is read from this process's state there."""
    remaining = iter(items)
    chunks = iter(lambda: list(itertools.islice(remaining, _CHUNK)), [])
    for chunk in itertools.islice(chunks, _IN_PROCESS_CHUNKS if workers > 1 else None):
        yield _map_chunk(chunk, include_contacts)
    if workers <= 1:
        return
    pool = ProcessPoolExecutor(workers, mp_context=FORKING, initializer=_ignore_interrupts)
    try:
        yield from in_order(pool, _map_chunk, ((chunk, include_contacts) for chunk in chunks), 2 * workers)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class _Loader:
    """Collects N-Quads and adds them to the store in large batches: on disk through Oxigraph's bulk loader,
    which parses in Rust (no Python objects per quad); other stores get parsed quads.

    On disk, a batch loads in a background thread while the next one is read and mapped: the bulk loader releases
    the GIL, so the loading (over half of a build's CPU) overlaps the Python work. One batch at a time is in
    flight; :meth:`wait` (before anything else touches the store) and leaving the ``with`` block wait for it.

    Shared statements repeat in every trial that names the same sponsor, site or country (over a third of all
    lines at 10k trials, more as the registry grows): each is loaded once while remembered, which spares the
    loader parsing, encoding and sorting them again."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.parts: list[bytes] = []
        self.size = 0
        self.seen: set[bytes] = set()
        self.background = ThreadPoolExecutor(1, thread_name_prefix="bulk-load") if store.loads_in_background else None
        self.loading: Future[None] | None = None

    def __enter__(self) -> _Loader:
        return self

    def __exit__(self, *exc: object) -> None:
        """Flushed and waited for when all went well; after an error only waited for (the store is discarded)."""
        try:
            if exc[0] is None:
                self.flush()
            self.wait()
        finally:
            if self.background is not None:
                self.background.shutdown(wait=True)

    def add(self, mapped: _Mapped) -> None:
        self._append(mapped.nquads)
        seen = self.seen
        for line in mapped.shared.splitlines(keepends=True):
            if line not in seen:
                seen.add(line)
                self._append(line)
        if len(seen) > _SEEN_MAX:
            seen.clear()

    def _append(self, nquads: bytes) -> None:
        self.parts.append(nquads)
        self.size += len(nquads)
        if self.size >= _FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        data = b"".join(self.parts)
        self.parts, self.size = [], 0
        if not data:
            return
        if self.background is not None:
            self.wait()
            self.loading = self.background.submit(self.store.load_nquads, data)
        else:
            self.store.load_nquads(data)

    def wait(self) -> None:
        """Until the batch in flight is in the store; its error, if any, is raised here."""
        loading, self.loading = self.loading, None
        if loading is not None:
            loading.result()


def load_records(
    store: Store,
    paths: Iterable[Path | str],
    report: BuildReport,
    *,
    on_record: Callable[[], None] | None = None,
    workers: int = 1,
    terms: TrialTerms | None = None,
) -> None:
    """Map and add every record under ``paths`` to ``store``; a later duplicate replaces an earlier one
    only when its ``lastUpdatePostDate`` is newer. Mapping runs in ``workers`` processes; this process reads
    the files and writes the store, in input order, so the result does not depend on ``workers``.
    Memory holds a few chunks, one batch of N-Quads, an id → date index and (into ``terms``, when given) each
    kept trial's concepts. Contact persons are mapped as ``report.include_contacts`` says."""
    seen: dict[str, str] = {}
    replaced = False
    with _Loader(store) as loader:
        for chunk in _mapped_chunks(_items(paths, on_record), workers, report.include_contacts):
            for outcome in chunk:
                if isinstance(outcome, _Skipped):
                    report.records += outcome.record
                    report.problems.append(outcome.message)
                    logger.warning("%s", outcome.message)
                    continue
                report.records += 1
                report.warnings.extend(outcome.warnings)
                previous = seen.get(outcome.nct_id)
                seen[outcome.nct_id] = max(outcome.last_update, previous or "")
                if previous is None:
                    loader.add(outcome)
                else:
                    report.duplicates_dropped += 1
                    if outcome.last_update <= previous:
                        continue
                    loader.flush()
                    loader.wait()
                    replaced = True
                    _replace_trial(store, outcome)
                if terms is not None:
                    terms.set(trial_iri(outcome.nct_id).value, outcome.terms)
    report.trials = len(seen)
    if replaced:
        store.update(PRUNE_ORPHANS)


def _items(paths: Iterable[Path | str], on_record: Callable[[], None] | None) -> Iterator[_Item]:
    for item in iter_records(paths):
        if on_record is not None:
            on_record()
        yield item if isinstance(item, SourceProblem) else (item.study, item.where)


def replace_trial(store: Store, nct_id: str, quads: list[Quad]) -> None:
    """A newer version of a trial already loaded: its own graph replaced whole, its shared statements added
    (orphaned shared nodes are left for one ``PRUNE_ORPHANS`` at the end)."""
    graph = trial_graph(nct_id)
    store.replace_graphs({graph: [quad for quad in quads if quad.graph_name == graph]})
    store.add(quad for quad in quads if quad.graph_name != graph)


def _replace_trial(store: Store, mapped: _Mapped) -> None:
    replace_trial(store, mapped.nct_id, list(parse(mapped.nquads + mapped.shared, format=RdfFormat.N_QUADS)))


def build(
    paths: list[Path | str],
    spec: str | None = None,
    *,
    strict: bool = False,
    on_record: Callable[[], None] | None = None,
    mesh: list[Path] | None = None,
    workers: int | None = None,
    include_contacts: bool = True,
    on_phase: Callable[[str], None] | None = None,
) -> BuildReport:
    """Build a new store from the given files and directories (and MeSH files, if given) and swap it in when
    complete (see :func:`build_into`). ``workers`` mapping processes (default :func:`default_workers`; 1 maps in
    this process). ``include_contacts=False`` leaves contact persons' names, emails and phones out. Over an existing
    store, its change events carry over and what changed between its trials and the new build's is recorded.
    ``on_phase`` is told each step after the records are read (at registry scale, each takes minutes)."""
    say = on_phase or (lambda _: None)
    with fresh_store(spec) as store:
        report = build_into(
            store,
            paths,
            strict=strict,
            on_record=on_record,
            mesh=mesh,
            workers=workers,
            include_contacts=include_contacts,
            on_phase=on_phase,
        )
        say("Recording what changed since the previous store")
        report.change_events = _carry_changes(spec, store, report.sources)
        say("Compacting the new store and swapping it in")
    say("Saving the indexes beside the store")
    try:
        report.index_seconds = refresh_saved_indexes(spec)  # the indexes beside an on-disk store, rebuilt with it
    except KeyboardInterrupt:
        raise IndexesInterrupted from None
    return report


def _carry_changes(spec: str | None, store: Store, sources: list[str]) -> int:
    """The change history of the on-disk store this build replaces, and what changed between its trials and the new
    build's, into the new store (a damaged or unreadable old store is rebuilt without them, with a warning)."""
    kind, _, rest = (spec or default_spec()).partition(":")
    if kind != "oxigraph" or not rest or not Path(rest).expanduser().exists():
        return 0
    try:
        with open_store(spec, read_only=True) as previous:
            return carry_changes(previous, store, UpdateRun.now(", ".join(sources)))
    except StoreError as error:
        logger.warning("the change history of %s is not carried over: %s", rest, error)
        return 0


def build_into(
    store: Store,
    paths: list[Path | str],
    *,
    strict: bool = False,
    on_record: Callable[[], None] | None = None,
    mesh: list[Path] | None = None,
    workers: int | None = None,
    include_contacts: bool = True,
    on_phase: Callable[[str], None] | None = None,
) -> BuildReport:
    """Fill an empty open ``store`` as :func:`build` does, without the swap: an in-memory store (``oxigraph:``)
    lives only as long as the caller holds it, so ``kg.build`` fills one it keeps. Information content is computed
    either way: from the loaded hierarchy, else the registry's lists."""
    started = datetime.now(timezone.utc)
    clock = time.perf_counter()
    report = BuildReport(sources=[str(path) for path in paths], include_contacts=include_contacts)
    terms = TrialTerms()
    store.add(enumeration_quads())
    load_records(store, paths, report, on_record=on_record, workers=workers or default_workers(), terms=terms)
    if (strict and report.problems) or report.trials == 0:
        raise BuildFailed(report)
    if on_phase is not None:
        on_phase("Loading MeSH and weighing concepts" if mesh else "Weighing concepts")
    if mesh:
        report.mesh = load_mesh(store, mesh, terms=terms)
    else:
        update_information_content(store, terms)
    report.seconds = time.perf_counter() - clock
    store.add(_build_quads(report, started))
    report.quads = len(store)
    return report


def _build_quads(report: BuildReport, started: datetime) -> list[Quad]:
    """The build's own provenance, in its own graph: what ``kg stats`` reports later."""

    def lit(value: object, datatype: str) -> Literal:
        return Literal(str(value), datatype=XSD[datatype])

    b, g = BUILD, BUILD_GRAPH
    ended = datetime.now(timezone.utc)
    quads = [
        Quad(b, RDF.type, PROV.Activity, g),
        Quad(b, RDF.type, KG.Build, g),
        Quad(b, PROV.startedAtTime, lit(started.isoformat(), "dateTime"), g),
        Quad(b, PROV.endedAtTime, lit(ended.isoformat(), "dateTime"), g),
        Quad(b, KG.trialCount, lit(report.trials, "integer"), g),
        Quad(b, KG.recordCount, lit(report.records, "integer"), g),
        Quad(b, KG.skippedCount, lit(report.skipped, "integer"), g),
        Quad(b, KG.duplicatesDropped, lit(report.duplicates_dropped, "integer"), g),
        Quad(b, KG.warningCount, lit(len(report.warnings), "integer"), g),
        Quad(b, KG.contactsIncluded, lit(str(report.include_contacts).lower(), "boolean"), g),
    ]
    quads += [Quad(b, KG.source, Literal(source), g) for source in report.sources]
    quads += [Quad(b, KG.problem, Literal(text), g) for text in report.problems[:_KEPT_MESSAGES]]
    return quads
