"""The Python front door: one object per open knowledge graph, answering what the ``kg`` commands print.

Each method calls the function its command calls, so a notebook and the command line never disagree; tables
come with ``.to_pandas()``. Build the offline demo graph in memory (``kg demo`` builds it on disk) and ask it:

>>> import tempfile
>>> from pathlib import Path
>>> import kg
>>> corpus = kg.demo.write_demo_corpus(Path(tempfile.mkdtemp()), n_synthetic=40)
>>> g = kg.build(corpus, mesh=[kg.demo.demo_mesh_file()], store="oxigraph:")
>>> g.stats()["trials"]
41
>>> g.query("trials_under", concept="D009371").to_pandas().shape[0] > 0
True
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kg.analysis.answers import answer
from kg.analysis.changes import changes as find_changes
from kg.analysis.hierarchy import ancestor_table
from kg.analysis.landscape import Landscape
from kg.analysis.landscape import landscape as find_landscape
from kg.analysis.landscape_compare import Comparison, compare
from kg.analysis.networks import DEFAULT_MIN_IC, bipartite_graph, similarity_graph
from kg.analysis.related import related as find_related
from kg.analysis.stats import graph_stats
from kg.analysis.trial import trial_json
from kg.config import default_spec
from kg.pipeline.build import build as build_store
from kg.pipeline.build import build_into
from kg.queries import catalogue
from kg.store import QueryResult, Store, in_memory, open_store
from kg.views.explorer import write_explorer
from kg.views.landscape_compare_report import write_comparison
from kg.views.landscape_report import write_report
from kg.views.trial_page import write_trial_page

if TYPE_CHECKING:
    import networkx
    import pandas

__all__ = ["Graph", "Records", "build", "open"]

PathLike = str | os.PathLike[str]


class Records(list[dict[str, Any]]):
    """A list of JSON records, exactly what ``--format json`` prints, that also gives itself as a DataFrame."""

    def to_pandas(self) -> pandas.DataFrame:
        """One row per record; nested objects one level deep become columns (``components.condition``, …).

        >>> Records([{"nct_id": "NCT1", "components": {"phase": 0.5}}]).to_pandas().columns.tolist()
        ['nct_id', 'components.phase']
        """
        import pandas

        return pandas.json_normalize(list(self), max_level=1)


class Graph:
    """An open store seen through the analyses of the command line; close it (or use ``with``) when done."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def spec(self) -> str:
        """The store's spec (``oxigraph:PATH``, ``oxigraph:``, ``sparql:URL``)."""
        return self.store.spec

    def __repr__(self) -> str:
        return f"<kg.Graph {self.spec}>"

    def close(self) -> None:
        """Release the store (an in-memory one is gone after this)."""
        self.store.close()

    def __enter__(self) -> Graph:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stats(self) -> dict[str, Any]:
        """Trials, triples, nodes by type, data versions and skipped records: ``kg stats --format json``.

        >>> stats = g.stats()
        >>> stats["trials"], stats["synthetic_trials"], stats["skipped"]
        (41, 40, 0)
        """
        return graph_stats(self.store)

    def trial(self, nct_id: str, *, as_of: date | str | None = None) -> dict[str, Any]:
        """One trial with its health score and timeline on ``as_of`` (a date or ``YYYY-MM-DD``; default today):
        the dictionary ``kg trial NCT… --format json`` prints.

        >>> seed = g.trial("NCT07232407", as_of="2026-05-05")
        >>> seed["enrollment"], seed["health"]["components"]["enrollment"]["max_points"]
        (22, 25)
        >>> seed["timeline"]["progress_percent"]
        23
        """
        return trial_json(self.store, nct_id, as_of=_day(as_of))

    def trial_page(self, nct_id: str, path: PathLike, *, as_of: date | str | None = None) -> Path:
        """Write the whole trial page as one offline HTML file (``kg trial --html``); return its path."""
        return write_trial_page(self.store, nct_id, Path(path), as_of=_day(as_of))

    def related(self, nct_id: str, *, top: int = 20) -> Records:
        """The ``top`` trials most related to one trial, best first, with their score's components and shared
        concepts: ``kg related --format json``.

        >>> best = g.related("NCT07232407", top=3)
        >>> len(best), best[0]["rank"]
        (3, 1)
        >>> best.to_pandas()[["rank", "nct_id", "score"]].shape
        (3, 3)
        """
        return Records(neighbour.to_json() for neighbour in find_related(self.store, nct_id, top))

    def ancestors(self, *concepts: str) -> QueryResult:
        """MeSH ancestors of each id or exact label, deepest first, one row each (``concept``, ``id``, ``label``,
        ``depth``): the table of ``kg ancestors``.

        >>> sorted(g.ancestors("D008187").column("label"))[:2]
        ['Elements', 'Inorganic Chemicals']
        """
        return ancestor_table(self.store, list(concepts))

    def landscape(
        self,
        condition: str | None = None,
        intervention: str | None = None,
        *,
        sponsors: Iterable[str] = (),
        action: str | None = None,
    ) -> Landscape:
        """The landscape of a condition MeSH subtree and/or an intervention concept or pharmacological action
        (``kg landscape``); ``.to_pandas(name)`` gives each of its ``.tables()`` as a DataFrame (``pipeline``,
        ``mechanism_matrix``, ``portfolio`` for the lead ``sponsors`` named, …); ``action`` picks the mechanism
        matrix's columns (the actions under it).

        >>> g.landscape(condition="D009369").trials > 0
        True
        """
        return find_landscape(self.store, condition, intervention, sponsors=tuple(sponsors), action=action)

    def landscape_report(self, landscape: Landscape, folder: PathLike) -> Path:
        """Write a landscape's offline HTML report and one CSV per table into ``folder``; return the page's path."""
        return write_report(landscape, Path(folder), store=self.spec)

    def compare_landscapes(self, a: Landscape, b: Landscape) -> Comparison:
        """Two landscapes side by side (``kg landscape compare``): ``.tables`` (``phases``, ``countries``,
        ``benchmarks`` …) with each side's trials and shares and the differences, A minus B; ``.to_pandas(name)``."""
        return compare(a, b)

    def comparison_report(self, comparison: Comparison, folder: PathLike) -> Path:
        """Write a comparison's offline HTML report and one CSV per table into ``folder``; return the page's path."""
        return write_comparison(comparison, Path(folder), store=self.spec)

    def changes(
        self,
        *,
        since: date | str | None = None,
        condition: str | None = None,
        intervention: str | None = None,
        fields: Iterable[str] = (),
    ) -> Records:
        """The change feed ``kg changes --format json`` prints: field-level changes recorded by ``kg update`` on or
        after ``since`` (a date or ``YYYY-MM-DD``), of the given fields, in a condition/intervention scope.

        >>> g.changes(since="2026-01-01", fields=["primary_completion"]).to_pandas().shape[0]
        0
        """
        found = find_changes(
            self.store, since=_day(since), condition=condition, intervention=intervention, fields=list(fields)
        )
        return Records(change.to_json() for change in found)

    def queries(self) -> QueryResult:
        """The named queries with their parameters: ``kg queries``.

        >>> "trials_under" in g.queries().column("name")
        True
        """
        return catalogue()

    def query(self, name: str, **params: object) -> QueryResult:
        """Run a named query with its parameters bound as RDF terms (``kg query NAME --param k=v``); on an embedded
        store the aggregates and searches come from the saved indexes, with the same rows.

        >>> g.query("trial_summary", nct="NCT07232407").column("nct")
        ['NCT07232407']
        """
        return answer(self.store, name, {key: str(value) for key, value in params.items()})

    def sparql(self, text: str) -> QueryResult:
        """Any SPARQL SELECT or ASK query; the default graph is the union of every trial's graph.

        >>> g.sparql("SELECT (COUNT(?t) AS ?n) WHERE { ?t a <https://schema.org/MedicalTrial> }").rows
        [{'n': 41}]
        """
        return self.store.select(text)

    def explore(self, nct_id: str, path: PathLike, *, depth: int = 2, top: int = 10) -> Path:
        """Write the relationship explorer of a trial as one offline HTML file (``kg explore``); return its path."""
        return write_explorer(self.store, nct_id.strip().upper(), Path(path), depth=depth, top=top)

    def similarity_graph(self, *, top_k: int = 10, min_ic: float = DEFAULT_MIN_IC) -> networkx.Graph:
        """The weighted trial-trial graph (weight: information content shared); ``kg.networks`` analyses it."""
        return similarity_graph(self.store, min_ic=min_ic, top_k=top_k)

    def bipartite_graph(self, *, min_depth: int = 0) -> networkx.Graph:
        """Trials linked to their MeSH concepts and the concepts' ancestors at ``min_depth`` or deeper."""
        return bipartite_graph(self.store, min_depth=min_depth)


def open(spec: str | None = None) -> Graph:
    """Open an existing store to read: ``$KG_HOME/store`` by default (see :func:`kg.config.default_spec`), else
    ``oxigraph:PATH``, ``sparql:URL`` (``oxigraph:`` opens an empty one in memory: build into it with
    :func:`build`)."""
    return Graph(open_store(spec, read_only=True))


def build(
    paths: PathLike | Iterable[PathLike],
    *,
    mesh: Iterable[PathLike] = (),
    store: str | None = None,
    strict: bool = False,
    workers: int | None = None,
    include_contacts: bool = True,
) -> Graph:
    """Build a graph from study records (files or folders) and MeSH files, as ``kg build`` does, and open it.

    ``store`` defaults to ``$KG_HOME/store``, replaced only when the build is complete; ``"oxigraph:"`` builds in
    memory, into the store the returned graph keeps (gone when it is closed). ``include_contacts=False`` is
    ``kg build --no-contacts``: contact persons' names, emails and phones left out."""
    files: list[Path | str] = [Path(paths)] if isinstance(paths, (str, os.PathLike)) else [Path(path) for path in paths]
    vocabulary = [Path(path) for path in mesh]
    spec = store or default_spec()
    if not in_memory(spec):
        build_store(files, spec, strict=strict, mesh=vocabulary, workers=workers, include_contacts=include_contacts)
        return open(spec)
    opened = open_store(spec)
    try:
        build_into(opened, files, strict=strict, mesh=vocabulary, workers=workers, include_contacts=include_contacts)
    except BaseException:
        opened.close()
        raise
    return Graph(opened)


def _day(as_of: date | str | None) -> date | None:
    """``as_of`` as a date: ``YYYY-MM-DD`` text read, a datetime cut to its day."""
    if isinstance(as_of, str):
        return date.fromisoformat(as_of)
    if isinstance(as_of, datetime):
        return as_of.date()
    return as_of
