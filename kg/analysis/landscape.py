"""Landscape analysis: what the trials in a condition subtree and/or under an intervention concept look like.

Scope. A *condition* filter keeps the trials with a condition MeSH term that is the descriptor or has it as
``kg:ancestor`` (its subtree in the loaded MeSH tree). An *intervention* filter keeps the trials with an intervention
MeSH term that is the concept, sits under it, or has it (or a descendant of it) as a pharmacological action, so
``D000970`` (Antineoplastic Agents) finds every drug MeSH indexes with that action. Both filters together keep
the trials that pass both. Without a MeSH file in the store, both fall back to the registry's own per-trial
lists (the term itself or ``derivedSection.*BrowseModule.ancestors``), which leave out some branches; every
result says which hierarchy it used (:mod:`kg.analysis.scope` resolves a scope; the change feed shares it).

Queries. Each table is one named query ``queries/landscape_*.rq`` that aggregates in SPARQL (``GROUP BY``,
facts read by hash join from whole-predicate sub-selects), written for the condition subtree between the marker
lines ``# scope {`` and ``# }``. The other scopes replace that block with a fixed pattern from :data:`SCOPES`
(a constant: values are always bound as RDF terms, never written into the text), because Oxigraph evaluates a
plain pattern with bound concepts in milliseconds but an optional or alternative filter over the whole store.

Fast path. The queries aggregate over a quarter of the registry for a top-level subtree: 33 s at 600k trials. On an
Oxigraph store, :func:`landscape` therefore reads the same facts once into the landscape fact table
(:mod:`kg.analysis.landscape_index`, saved beside an on-disk store, built on first use in memory) and computes
every table from it, identical to the queries' rows. Other stores (a remote ``sparql:URL`` engine, rdflib) run the
queries; ``fast=False`` forces them (the tests compare both).

Results. Per trial in scope: whether results are posted (``kg:hasResults``), its status and the whole calendar months
from primary completion to the first results posting; from those counts the share with results (of all trials and
of the completed or terminated ones) and the posting delay's median and quartiles. The serious adverse events the
results list are counted per organ system and term (trials listing each, participants affected and at risk summed
over groups, the rate), with an organ-system roll-up; references per type, with distinct PubMed articles.

Recent changes. The change events (``kg update``'s field-level changes, :mod:`kg.analysis.changes`) of the trials in
scope, detected in the :data:`RECENT_DAYS` up to the newest event in the store, with their monitoring summary. They
are read with SPARQL on every store (the fact table has no events), so both paths give the same rows.

Pipeline. A *drug* is an intervention concept in the registry's sense: each MeSH descriptor or supplementary
concept the record's ``derivedSection.interventionBrowseModule.meshes`` lists for a trial in scope
(``kg:interventionMesh``; the ``ancestors`` list is not used). With an intervention filter and the MeSH tree, only
the concepts the filter reaches (the concept, those under it, or those with an action at or under it) are listed.
Per drug: its pharmacological actions (MeSH ``PA``, each named as in the mechanisms table: its smallest preferred
label, else its UI), the highest phase its trials reached in the order :data:`PIPELINE_PHASES` (a trial's phase as
everywhere here: its combination, e.g. PHASE1/PHASE2; "NA" when no trial reached one, as for NA, observational and
phase-less trials), the trials at that phase and in all, its :data:`PIPELINE_SPONSORS` lead sponsors with most
trials, the overall status of the most advanced trial (highest phase, then the latest start, then the highest NCT id)
and the first and latest start date as the records write them (a month or a day).

Mechanisms. Trials per pharmacological action of their intervention terms (a trial counts once per action any of
its terms has, as MeSH gives it, not the action's ancestors); the mechanism-by-indication matrix has the condition's
children as rows and, as columns, the :data:`TOP_ACTIONS` actions with most trials in scope, or those at or under a
chosen action (``action``, by default the intervention filter when there is one); cells are trials by phase.

Portfolios. For each lead sponsor named (exactly as shown, e.g. in top sponsors), its trials in scope per
indication and phase: the trial's own condition MeSH terms (those that put it in the condition's subtree; all of
them without a condition filter or without the MeSH tree, where the registry's lists define the scope).

Map. Per country of the trials' sites: the trials with a site there, their sites (one per trial and location) and
the active ones, by the site's own status (:data:`ACTIVE_SITE_STATUSES`: recruiting, not yet recruiting, enrolling
by invitation, active not recruiting).

Benchmarks. The scope beside the whole graph (every trial in the store), from three count tables each population
shares: ``durations``, ``phase_enrollment`` and ``design``. Duration is the whole calendar months from a trial's
start date to its primary completion date (each the first the record gives, both with a month), by phase: *actual*
when both dates' types are ACTUAL (``kg:startDateEstimated`` and ``kg:primaryCompletionDateEstimated`` false),
*planned* when the primary completion's type is ANTICIPATED or ESTIMATED (its flag true, whatever the start's);
trials with neither (a type not given, or an estimated start with an actual completion) or without both months are
left out. Enrollment (actual or anticipated) by phase. Design: the randomised share (allocation RANDOMIZED among the
trials that state an allocation, NA included), the shares of each masking and primary purpose among the trials
stating one, and the number of arm groups among the trials listing any. Medians are ``statistics.median`` (the
mean of the middle two for an even count); each figure comes with its ``n``.

Matrix. Rows are the children of the condition descriptor (``skos:broader``), columns the registry's intervention
types (DRUG, BIOLOGICAL, DEVICE, PROCEDURE, …: present on every record, unlike intervention MeSH terms, which
behavioural and device trials mostly lack), cells split by phase. A trial counts in every child it sits under and
every type of intervention it has. It needs a condition and the loaded hierarchy (children come from the tree).
"""

from __future__ import annotations

import logging
import re
import statistics
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from difflib import get_close_matches
from typing import TYPE_CHECKING, Any, Final

from pyoxigraph import Literal

from kg.analysis.changes import changes, newest, scoped, summary
from kg.analysis.landscape_index import (
    ACTIVE_SITE_STATUSES,
    DURATIONS,
    LANDSCAPE_INDEX,
    NOT_STATED,
    PIPELINE_PHASES,
    concepts_under,
    drug_actions,
    sections,
    table_rows,
)
from kg.analysis.scope import SCOPES, Concept, Scope, make_scope, scope_bindings, scope_pattern
from kg.queries import QueryError, load_query
from kg.store import Store
from kg.vocab import MESH, SPARQL_PROLOGUE

if TYPE_CHECKING:  # imported when a table is asked for as a DataFrame
    import pandas

__all__ = [
    "ACTIVE_SITE_STATUSES",
    "BENCHMARK_TABLES",
    "PIPELINE_PHASES",
    "PIPELINE_SPONSORS",
    "SCOPES",
    "TABLES",
    "TOP_ACTIONS",
    "Concept",
    "Enrollment",
    "Landscape",
    "Results",
    "Scope",
    "Stopped",
    "benchmarks",
    "countries",
    "enrollment",
    "graph_rows",
    "index_rows",
    "landscape",
    "make_scope",
    "matrix",
    "phase_status",
    "pipeline_rows",
    "query_rows",
    "recent_changes",
    "sponsor_classes",
    "start_years",
    "stopped",
    "top_sponsors",
]

logger = logging.getLogger(__name__)

#: The scope pattern of the whole graph (a scope with neither filter): the benchmarks' other population.
_EVERY_TRIAL: Final = "  ?trial a <https://schema.org/MedicalTrial> .\n"
_SCOPE_BLOCK: Final = re.compile(r"^[ \t]*# scope \{\n.*?^[ \t]*# \}\n", re.MULTILINE | re.DOTALL)
#: Enrollment histogram bins (lower bounds, inclusive): participants are spread over orders of magnitude.
ENROLLMENT_BINS: Final = (0, 1, 11, 26, 51, 101, 251, 501, 1001, 5001)
STOPPED_STATUSES: Final = ("TERMINATED", "WITHDRAWN")
#: The window of a landscape's recent changes, in days back from the newest change event in the store.
RECENT_DAYS: Final = 90
#: Statuses of trials that ended and so could have posted results (the share with results among them).
FINISHED_STATUSES: Final = ("COMPLETED", "TERMINATED")
#: Lead sponsors a pipeline row names (those with most of the drug's trials; all of them in ``pipeline_sponsors``).
PIPELINE_SPONSORS: Final = 3
#: Columns of the mechanism-by-indication matrix without a chosen action: the actions with most trials in scope.
TOP_ACTIONS: Final = 15
_ACTIONS: Final = (
    SPARQL_PROLOGUE
    + """SELECT ?drug ?action ?label WHERE {
  VALUES ?drug { %s }
  ?drug kg:pharmacologicalAction ?action . OPTIONAL { ?action skos:prefLabel ?label }
}"""
)
_SPONSOR_NAMES: Final = (
    SPARQL_PROLOGUE
    + """SELECT (MIN(STR(?label)) AS ?name) WHERE {
  { SELECT DISTINCT ?org WHERE { [] kg:leadSponsor ?org } } ?org rdfs:label ?label
} GROUP BY ?org"""
)


@dataclass
class Enrollment:
    """The enrollment counts of the trials in scope (actual or anticipated)."""

    trials: int = 0
    minimum: int | None = None
    maximum: int | None = None
    mean: float | None = None
    total: int = 0
    quantiles: dict[str, float] = field(default_factory=dict)  # P10, P25, P50, P75, P90
    histogram: list[dict[str, Any]] = field(default_factory=list)  # {"bin", "low", "high", "trials"}


@dataclass
class Stopped:
    """Terminated and withdrawn trials, their share of the scope and their stated reasons."""

    terminated: int = 0
    withdrawn: int = 0
    share: float = 0.0  # of all trials in scope
    reasons: list[dict[str, Any]] = field(default_factory=list)  # {"status", "why_stopped", "trials"}


@dataclass
class Results:
    """Posted results in scope, and months from primary completion to first posting (trials with both dates)."""

    trials: int = 0
    with_results: int = 0
    share: float = 0.0  # of all trials in scope
    finished: int = 0  # completed or terminated
    finished_with_results: int = 0
    finished_share: float = 0.0
    delay_trials: int = 0
    delay_months: dict[str, float] = field(default_factory=dict)  # P25, P50 (median), P75, min, max


@dataclass
class Landscape:
    scope: Scope
    trials: int
    synthetic_trials: int
    phase_status: list[dict[str, Any]]
    start_years: list[dict[str, Any]]
    sponsor_classes: list[dict[str, Any]]
    top_sponsors: list[dict[str, Any]]
    countries: list[dict[str, Any]]
    enrollment: Enrollment
    enrollment_counts: list[dict[str, Any]]
    matrix: list[dict[str, Any]]
    stopped: Stopped
    results: Results
    results_counts: list[dict[str, Any]]
    serious_events: list[dict[str, Any]]  # per organ system and term, most trials first, with the rate
    serious_organ_systems: list[dict[str, Any]]
    publications: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    recent_changes: list[dict[str, Any]] = field(default_factory=list)  # the change feed's rows, oldest first
    recent_summary: dict[str, Any] = field(default_factory=dict)  # kg.analysis.changes.summary of those
    pipeline: list[dict[str, Any]] = field(default_factory=list)  # per drug, most advanced first
    pipeline_sponsors: list[dict[str, Any]] = field(default_factory=list)  # per drug and lead sponsor
    mechanisms: list[dict[str, Any]] = field(default_factory=list)  # per pharmacological action
    mechanism_matrix: list[dict[str, Any]] = field(default_factory=list)  # child, chosen action and phase
    sponsors: list[str] = field(default_factory=list)  # the portfolios asked for
    map: list[dict[str, Any]] = field(default_factory=list)  # per country: trials, sites, active sites
    portfolio: list[dict[str, Any]] = field(default_factory=list)  # sponsor, child and phase
    durations: list[dict[str, Any]] = field(default_factory=list)  # phase, actual or planned, months: trials
    phase_enrollment: list[dict[str, Any]] = field(default_factory=list)  # phase, enrollment: trials
    design: list[dict[str, Any]] = field(default_factory=list)  # allocation, masking, purpose, arms: trials
    benchmarks: list[dict[str, Any]] = field(default_factory=list)  # per measure and group: scope beside the graph
    seconds: float = 0.0

    def tables(self) -> dict[str, list[dict[str, Any]]]:
        """Every table as rows, by file stem: what the report writes as CSV."""
        return {
            "phase_status": self.phase_status,
            "start_years": self.start_years,
            "sponsor_classes": self.sponsor_classes,
            "top_sponsors": self.top_sponsors,
            "countries": self.countries,
            "enrollment_counts": self.enrollment_counts,
            "enrollment_histogram": self.enrollment.histogram,
            "enrollment_quantiles": [
                {"statistic": key, "value": value}
                for key, value in {
                    "trials": self.enrollment.trials,
                    "min": self.enrollment.minimum,
                    "max": self.enrollment.maximum,
                    "mean": self.enrollment.mean,
                    "total": self.enrollment.total,
                    **self.enrollment.quantiles,
                }.items()
            ],
            "matrix": self.matrix,
            "stopped_reasons": self.stopped.reasons,
            "results_counts": self.results_counts,
            "results_summary": [{"statistic": key, "value": value} for key, value in _flat(self.results).items()],
            "serious_events": self.serious_events,
            "serious_organ_systems": self.serious_organ_systems,
            "publications": self.publications,
            "recent_changes": self.recent_changes,
            "pipeline": self.pipeline,
            "pipeline_sponsors": self.pipeline_sponsors,
            "mechanisms": self.mechanisms,
            "mechanism_matrix": self.mechanism_matrix,
            "portfolio": self.portfolio,
            "map": self.map,
            "benchmarks": self.benchmarks,
            "durations": self.durations,
            "phase_enrollment": self.phase_enrollment,
            "design": self.design,
        }

    def to_pandas(self, name: str) -> pandas.DataFrame:
        """One of :meth:`tables` (``phase_status``, ``countries``, …) as a DataFrame, for analysts who pivot and plot.

        >>> neoplasms = g.landscape(condition="D009369")
        >>> neoplasms.to_pandas("phase_status").columns.tolist()
        ['phase', 'status', 'trials']
        """
        import pandas

        tables = self.tables()
        if name not in tables:
            raise KeyError(f"no landscape table {name!r}: one of {', '.join(tables)}")
        return pandas.DataFrame(tables[name])

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["scope"]["description"] = self.scope.describe()
        data["scope"]["hierarchy_note"] = self.scope.hierarchy_note
        return data


def _flat(results: Results) -> dict[str, Any]:
    """The results summary as one statistic per line (the delay quantiles as ``delay_months_P50`` …)."""
    data = asdict(results)
    delay = data.pop("delay_months")
    return {**data, **{f"delay_months_{key}": value for key, value in delay.items()}}


def _run(store: Store, scope: Scope, name: str, extra: dict[str, Literal] | None = None) -> list[dict[str, Any]]:
    """One landscape query with the scope's pattern in place of its scope block, parameters (the scope's and
    ``extra``) bound as terms."""
    query = load_query(f"landscape_{name}")
    pattern = scope_pattern(scope) or _EVERY_TRIAL
    text, replaced = _SCOPE_BLOCK.subn(lambda _: pattern, query.text, count=1)
    if replaced != 1:
        raise QueryError(f"{query.path}: no '# scope {{' … '# }}' block to put the landscape scope in")
    return store.select(text, {**scope_bindings(scope), **(extra or {})}).rows


Rows = list[dict[str, Any]]
#: Every landscape query, by its name after ``landscape_``.
TABLES: Final = (
    "summary",
    "phase_status",
    "start_years",
    "sponsor_classes",
    "top_sponsors",
    "countries",
    "enrollment",
    "matrix",
    "stopped",
    "results",
    "serious_events",
    "publications",
    "pipeline",
    "pipeline_sponsors",
    "mechanisms",
    "mechanism_matrix",
    "map",
    "durations",
    "phase_enrollment",
    "design",
)
#: The tables the benchmarks are drawn from, counted for the scope and for the whole graph.
BENCHMARK_TABLES: Final = ("durations", "phase_enrollment", "design")
#: Tables with the condition's children as rows: they need a condition and the loaded tree.
_BY_CHILD: Final = ("matrix", "mechanism_matrix")


def _has_matrix(scope: Scope) -> bool:
    return scope.condition is not None and scope.hierarchy == "mesh"


def query_rows(store: Store, scope: Scope, sponsors: Sequence[str] = ()) -> dict[str, Rows]:
    """Every landscape query's rows, run in SPARQL (the definition of each table); ``portfolio`` runs once per
    lead sponsor name."""
    children = _has_matrix(scope)
    rows = {name: _run(store, scope, name) if name not in _BY_CHILD or children else [] for name in TABLES}
    rows["portfolio"] = [
        row for sponsor in sponsors for row in _run(store, scope, "portfolio", {"sponsor": Literal(sponsor)})
    ]
    # Ordered here as the fact table orders them (Virtuoso does not order by LCASE as Oxigraph does).
    rows["pipeline_sponsors"].sort(key=_sponsor_order)
    if children:  # the condition itself as a row: a query of its own (a UNION trips Virtuoso)
        cells = rows["mechanism_matrix"] + _run(store, scope, "mechanism_root")
        rows["mechanism_matrix"] = sorted(cells, key=lambda r: (r["row_label"], r["row"], r["action"], r["phase"]))
    return rows


def _sponsor_order(row: dict[str, Any]) -> tuple[str, int, str, str]:
    """Per drug, most trials first, ties by name ignoring case (as the fact table orders them)."""
    sponsor = str(row["sponsor"])
    return (str(row["drug"]), -int(row["trials"] or 0), sponsor.lower(), sponsor)


def index_rows(store: Store, scope: Scope, sponsors: Sequence[str] = ()) -> dict[str, Rows]:
    """The same rows as :func:`query_rows`, counted in the store's landscape fact table."""
    return table_rows(
        store,
        LANDSCAPE_INDEX.load(store),
        scope.condition.id if scope.condition else None,
        scope.intervention.id if scope.intervention else None,
        scope.hierarchy,
        sponsors,
    )


def graph_rows(store: Store, hierarchy: str, *, fast: bool) -> dict[str, Rows]:
    """The :data:`BENCHMARK_TABLES` of the whole graph: from the fact table, or by the queries over every trial."""
    if fast:
        tables = sections(store, LANDSCAPE_INDEX.load(store), None, None, hierarchy)
        return {name: tables[name]() for name in BENCHMARK_TABLES}
    every = Scope(condition=None, intervention=None, hierarchy=hierarchy)
    return {name: _run(store, every, name) for name in BENCHMARK_TABLES}


#: The design columns whose codes the benchmarks give as shares.
_DESIGN: Final = ("allocation", "masking", "primary_purpose")
#: Benchmark measures, in the order listed.
_MEASURES: Final = (
    *(f"duration_{kind}_months" for kind in DURATIONS),
    "enrollment",
    *(f"{column}_share" for column in _DESIGN),
    "arms",
)
#: Groups (phases, then codes) in the order the benchmarks list them.
_GROUP_ORDER: Final = (*PIPELINE_PHASES, "NA", "NONE")


def _median(counts: dict[Any, int]) -> float | None:
    values = [value for value, count in sorted(counts.items()) for _ in range(count)]
    return round(float(statistics.median(values)), 2) if values else None


def _measures(rows: dict[str, Rows]) -> dict[tuple[str, str], tuple[float | None, int]]:
    """``(measure, group) -> (median or share, trials)`` of one population's benchmark tables."""
    spread: dict[tuple[str, str], dict[int, int]] = defaultdict(dict)  # values and their trials, for a median
    for row in rows["durations"]:
        spread[(f"duration_{row['duration']}_months", str(row["phase"]))][int(row["months"])] = int(row["trials"])
    for row in rows["phase_enrollment"]:
        spread[("enrollment", str(row["phase"]))][int(row["enrollment"])] = int(row["trials"])
    stated: dict[tuple[str, str], int] = defaultdict(int)  # trials per design code stated
    for row in rows["design"]:
        if arms := int(row["arms"]):
            spread[("arms", "")][arms] = spread[("arms", "")].get(arms, 0) + int(row["trials"])
        for column in _DESIGN:
            if row[column] != NOT_STATED:
                stated[(f"{column}_share", str(row[column]))] += int(row["trials"])
    found: dict[tuple[str, str], tuple[float | None, int]] = {
        key: (_median(counts), sum(counts.values())) for key, counts in spread.items()
    }
    for (measure, code), count in stated.items():
        total = sum(n for (other, _), n in stated.items() if other == measure)
        found[(measure, code)] = (round(count / total, 4), count)
    return found


def benchmarks(scope_rows: dict[str, Rows], graph: dict[str, Rows]) -> Rows:
    """Per measure and group (a phase, or a design code), the scope's figure and trials beside the whole graph's:
    medians of duration (months), enrollment and arms, shares of allocation (RANDOMIZED: the randomised share),
    masking and primary purpose among the trials stating one."""
    ours, theirs = _measures(scope_rows), _measures(graph)

    def key(cell: tuple[str, str]) -> tuple[int, int, str]:
        measure, group = cell
        return (
            _MEASURES.index(measure),
            _GROUP_ORDER.index(group) if group in _GROUP_ORDER else len(_GROUP_ORDER),
            group,
        )

    return [
        {
            "measure": measure,
            "group": group,
            "scope": ours.get((measure, group), (None, 0))[0],
            "scope_trials": ours.get((measure, group), (None, 0))[1],
            "graph": theirs.get((measure, group), (None, 0))[0],
            "graph_trials": theirs.get((measure, group), (None, 0))[1],
        }
        for measure, group in sorted(ours.keys() | theirs.keys(), key=key)
    ]


def check_sponsors(store: Store, sponsors: Sequence[str], *, fast: bool) -> None:
    """Raise :class:`QueryError` naming close matches for a name no lead sponsor is shown under."""
    if not sponsors:
        return
    if fast:
        names = {name for name in LANDSCAPE_INDEX.load(store).sponsor_names if name is not None}
    else:
        names = {str(row["name"]) for row in store.select(_SPONSOR_NAMES).rows}
    for sponsor in sponsors:
        if sponsor not in names:
            close = get_close_matches(sponsor, sorted(names), n=3, cutoff=0.6)
            hint = f"; close matches: {', '.join(repr(name) for name in close)}" if close else ""
            raise QueryError(f"no lead sponsor is named {sponsor!r} (names are exact, as top sponsors shows){hint}")


def _drug_actions(store: Store, drugs: list[str], *, fast: bool) -> dict[str, set[str]]:
    """Per drug UI, the labels of its pharmacological actions (an action's smallest ``skos:prefLabel``, else its UI):
    from the fact table, or by one query over every drug (seconds for a top-level subtree at 600k trials)."""
    if fast:
        return drug_actions(LANDSCAPE_INDEX.load(store), drugs)
    labels: dict[tuple[str, str], list[str]] = {}
    terms = " ".join(str(MESH[drug]) for drug in drugs)  # terms serialised by pyoxigraph
    for row in store.select(_ACTIONS % terms).rows if drugs else ():
        key = (str(row["drug"]).removeprefix(str(MESH)), str(row["action"]).removeprefix(str(MESH)))
        named = labels.setdefault(key, [])
        if row["label"] is not None:
            named.append(str(row["label"]))
    actions: dict[str, set[str]] = {}
    for (drug, action), names in labels.items():
        actions.setdefault(drug, set()).add(min(names, default=action))
    return actions


def pipeline_rows(store: Store, pipeline: Rows, sponsors: Rows, *, fast: bool) -> Rows:
    """The pipeline with each drug's pharmacological actions and its top lead sponsors (``name (trials)``), from the
    ``pipeline`` and ``pipeline_sponsors`` rows; ``fast``: the actions from the fact table, else by a query."""
    actions = _drug_actions(store, [str(row["drug"]) for row in pipeline], fast=fast)
    leads: dict[str, list[str]] = {}
    for row in sponsors:  # ordered per drug by trials, then name
        named = leads.setdefault(str(row["drug"]), [])
        if len(named) < PIPELINE_SPONSORS:
            named.append(f"{row['sponsor']} ({row['trials']})")
    return [
        {
            **{key: value for key, value in row.items() if key in ("drug", "drug_label")},
            "actions": "; ".join(sorted(actions.get(str(row["drug"]), ()))),
            **{key: value for key, value in row.items() if key not in ("drug", "drug_label")},
            "lead_sponsors": "; ".join(leads.get(str(row["drug"]), ())),
        }
        for row in pipeline
    ]


def mechanism_columns(store: Store, mechanisms: Rows, action: str | None) -> list[str]:
    """The matrix's action columns (UIs), most trials first: those at or under ``action``, or the top
    :data:`TOP_ACTIONS`."""
    if action is None:
        return [str(row["action"]) for row in mechanisms[:TOP_ACTIONS]]
    under = {iri.removeprefix(str(MESH)) for iri in concepts_under(store, action)}
    return [str(row["action"]) for row in mechanisms if row["action"] in under]


def _mechanism_matrix(rows: Rows, mechanisms: Rows, columns: list[str]) -> Rows:
    """The matrix cells of the chosen columns, each with its action's label."""
    labels = {str(row["action"]): row["action_label"] for row in mechanisms}
    chosen = set(columns)
    return [
        {
            **{k: v for k, v in row.items() if k != "phase" and k != "trials"},
            "action_label": labels[str(row["action"])],
            "phase": row["phase"],
            "trials": row["trials"],
        }
        for row in rows
        if row["action"] in chosen
    ]


def phase_status(store: Store, scope: Scope) -> list[dict[str, Any]]:
    """Trials per phase (combined phases under their combination) and overall status."""
    return _run(store, scope, "phase_status")


def start_years(store: Store, scope: Scope) -> list[dict[str, Any]]:
    """Trials per start year, with how many starts are estimates."""
    return _run(store, scope, "start_years")


def sponsor_classes(store: Store, scope: Scope) -> list[dict[str, Any]]:
    return _run(store, scope, "sponsor_classes")


def top_sponsors(store: Store, scope: Scope) -> list[dict[str, Any]]:
    """The 25 lead sponsors with the most trials."""
    return _run(store, scope, "top_sponsors")


def countries(store: Store, scope: Scope) -> list[dict[str, Any]]:
    """Trials with a site in each country."""
    return _run(store, scope, "countries")


def enrollment(store: Store, scope: Scope) -> tuple[Enrollment, list[dict[str, Any]]]:
    """The enrollment distribution (from the count of trials per enrollment value) and those counts."""
    counts = _run(store, scope, "enrollment")
    return _enrollment_summary(counts), counts


def _enrollment_summary(counts: Rows) -> Enrollment:
    return summarise_enrollment([int(row["enrollment"]) for row in counts for _ in range(int(row["trials"]))])


def summarise_enrollment(values: list[int]) -> Enrollment:
    """Quantiles (inclusive method, as ``statistics.quantiles``) and a histogram over :data:`ENROLLMENT_BINS`."""
    if not values:
        return Enrollment()
    values = sorted(values)
    deciles = statistics.quantiles(values, n=20, method="inclusive") if len(values) > 1 else [float(values[0])] * 19
    quantiles = {"P10": deciles[1], "P25": deciles[4], "P50": deciles[9], "P75": deciles[14], "P90": deciles[17]}
    histogram = []
    for index, low in enumerate(ENROLLMENT_BINS):
        high = ENROLLMENT_BINS[index + 1] - 1 if index + 1 < len(ENROLLMENT_BINS) else None
        label = str(low) if high == low else f"{low}-{high}" if high is not None else f"{low}+"
        count = sum(1 for value in values if value >= low and (high is None or value <= high))
        histogram.append({"bin": label, "low": low, "high": high, "trials": count})
    return Enrollment(
        trials=len(values),
        minimum=values[0],
        maximum=values[-1],
        mean=round(statistics.fmean(values), 2),
        total=sum(values),
        quantiles={key: round(value, 2) for key, value in quantiles.items()},
        histogram=histogram,
    )


def matrix(store: Store, scope: Scope) -> list[dict[str, Any]]:
    """Trials per child of the condition, intervention type and phase (empty without a condition or the loaded tree)."""
    return _matrix_rows(_run(store, scope, "matrix")) if _has_matrix(scope) else []


def _matrix_rows(rows: Rows) -> Rows:
    for row in rows:
        row["row"] = str(row["row"]).removeprefix(str(MESH))
    return rows


def stopped(store: Store, scope: Scope, trials: int) -> Stopped:
    """Terminated and withdrawn trials with their stated reasons (``whyStopped``) and share of ``trials``."""
    return _stopped_summary(_run(store, scope, "stopped"), trials)


def _stopped_summary(reasons: Rows, trials: int) -> Stopped:
    by_status = {status: sum(int(r["trials"]) for r in reasons if r["status"] == status) for status in STOPPED_STATUSES}
    return Stopped(
        terminated=by_status["TERMINATED"],
        withdrawn=by_status["WITHDRAWN"],
        share=round((by_status["TERMINATED"] + by_status["WITHDRAWN"]) / trials, 4) if trials else 0.0,
        reasons=reasons,
    )


def _results_summary(counts: Rows) -> Results:
    """The shares with results and the posting delay's quartiles (inclusive method) from ``landscape_results`` rows."""
    trials = sum(int(row["trials"]) for row in counts)
    with_results = sum(int(row["trials"]) for row in counts if row["has_results"])
    finished = [row for row in counts if row["status"] in FINISHED_STATUSES]
    finished_trials = sum(int(row["trials"]) for row in finished)
    finished_with = sum(int(row["trials"]) for row in finished if row["has_results"])
    delays = sorted(
        int(row["months"]) for row in counts if row["months"] is not None for _ in range(int(row["trials"]))
    )
    return Results(
        trials=trials,
        with_results=with_results,
        share=round(with_results / trials, 4) if trials else 0.0,
        finished=finished_trials,
        finished_with_results=finished_with,
        finished_share=round(finished_with / finished_trials, 4) if finished_trials else 0.0,
        delay_trials=len(delays),
        delay_months=_quartiles(delays),
    )


def _quartiles(values: list[int]) -> dict[str, float]:
    if not values:
        return {}
    quartiles = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else [float(values[0])] * 3
    found = {"P25": quartiles[0], "P50": quartiles[1], "P75": quartiles[2], "min": values[0], "max": values[-1]}
    return {key: round(float(value), 2) for key, value in found.items()}


def _serious_rows(rows: Rows) -> tuple[Rows, Rows]:
    """The event rows and the organ-system rows of ``landscape_serious_events``, each with its rate (affected per
    participant at risk; ``None`` with nobody at risk)."""
    by_level: dict[str, Rows] = {"term": [], "organ_system": []}
    for row in rows:
        level = str(row["level"])
        kept = {key: value for key, value in row.items() if key != "level" and (key != "term" or level == "term")}
        at_risk = int(kept["at_risk"])
        kept["rate"] = round(int(kept["affected"]) / at_risk, 4) if at_risk else None
        by_level[level].append(kept)
    return by_level["term"], by_level["organ_system"]


def recent_changes(store: Store, scope: Scope) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The change feed's rows for the scope in the :data:`RECENT_DAYS` up to the newest event, and their summary."""
    last = newest(store)
    found = scoped(store, changes(store, since=last - timedelta(days=RECENT_DAYS)), scope) if last else []
    return [change.to_json() for change in found], summary(found)


def landscape(
    store: Store,
    condition: str | None = None,
    intervention: str | None = None,
    *,
    sponsors: Sequence[str] = (),
    action: str | None = None,
    fast: bool | None = None,
) -> Landscape:
    """Every table of a landscape, for a condition MeSH subtree and/or an intervention concept or action.

    ``sponsors``: lead sponsor names (exact) for portfolios; ``action``: the pharmacological action whose
    descendants are the mechanism matrix's columns (by default the intervention filter, else the top actions).
    ``fast``: count in the landscape fact table (``True``) or run the queries (``False``); by default the table on
    Oxigraph stores, the queries elsewhere (a remote engine would be read whole to build it)."""
    started = time.perf_counter()
    scope = make_scope(store, condition, intervention)
    use_index = store.scans_fast if fast is None else fast
    check_sponsors(store, sponsors, fast=use_index)
    chosen_action = make_scope(store, intervention=action).intervention if action else scope.intervention
    rows = index_rows(store, scope, sponsors) if use_index else query_rows(store, scope, sponsors)
    graph = graph_rows(store, scope.hierarchy, fast=use_index)
    counted = rows["summary"][0]
    trials = int(counted["trials"] or 0)
    notes = [scope.hierarchy_note]
    if not trials:
        notes.append(f"No trial in the store matches {scope.describe()}.")
    if counted["synthetic"]:
        notes.append(f"{counted['synthetic']:,} of these {trials:,} trials are SYNTHETIC (generated demo records).")
    if scope.condition is None:
        notes.append("The condition-by-intervention matrix needs a condition: none was given.")
    elif scope.hierarchy != "mesh":
        notes.append(
            "The condition-by-intervention matrix needs the MeSH tree (children of the condition): not loaded."
        )
    events, organ_systems = _serious_rows(rows["serious_events"])
    recent, recent_figures = recent_changes(store, scope)
    result = Landscape(
        scope=scope,
        trials=trials,
        synthetic_trials=int(counted["synthetic"] or 0),
        phase_status=rows["phase_status"],
        start_years=rows["start_years"],
        sponsor_classes=rows["sponsor_classes"],
        top_sponsors=rows["top_sponsors"],
        countries=rows["countries"],
        enrollment=_enrollment_summary(rows["enrollment"]),
        enrollment_counts=rows["enrollment"],
        matrix=_matrix_rows(rows["matrix"]),
        stopped=_stopped_summary(rows["stopped"], trials),
        results=_results_summary(rows["results"]),
        results_counts=rows["results"],
        serious_events=events,
        serious_organ_systems=organ_systems,
        publications=rows["publications"],
        notes=notes,
        recent_changes=recent,
        recent_summary=recent_figures,
        pipeline=pipeline_rows(store, rows["pipeline"], rows["pipeline_sponsors"], fast=use_index),
        pipeline_sponsors=rows["pipeline_sponsors"],
        mechanisms=rows["mechanisms"],
        mechanism_matrix=_mechanism_matrix(
            rows["mechanism_matrix"],
            rows["mechanisms"],
            mechanism_columns(store, rows["mechanisms"], chosen_action.id if chosen_action else None),
        ),
        sponsors=list(sponsors),
        map=rows["map"],
        portfolio=rows["portfolio"],
        durations=rows["durations"],
        phase_enrollment=rows["phase_enrollment"],
        design=rows["design"],
        benchmarks=benchmarks(rows, graph),
    )
    result.seconds = round(time.perf_counter() - started, 3)
    logger.info(
        "landscape of %s: %d trials in %.2f s (%s)",
        scope.describe(),
        trials,
        result.seconds,
        "fact table" if use_index else "SPARQL",
    )
    return result
