"""Whole-registry aggregates (phase and status, sponsors, countries, start years, enrollment, phase peers) and the
condition landscapes, answered from the landscape fact table with the rows of their named queries.

At 600k trials each aggregate reads every trial and takes more than ten seconds in SPARQL on two cores; the fact
table (:mod:`kg.analysis.landscape_index`) already holds the facts, and its landscape tables over every trial are
most of these rows. The aggregates differ from the ``landscape_*`` queries in two ways that matter here: they read
phase, status and sponsor class codes through ``skos:notation`` (the landscapes through the IRI), and they count
solutions, not distinct trials. Both give the same rows when every code is an enumeration value the vocabulary
knows (its notation is its code; a code kept as is has none) and a trial has one overall status, start date,
enrollment count and primary completion date (a record gives one of each): :func:`_coded` checks the codes and
statuses per answer, in milliseconds, and the SPARQL answers otherwise. The SPARQL also answers on a store that
cannot be read whole fast (rdflib, a remote engine): :func:`kg.analysis.answers.answer` sends those there.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any, Final

import numpy as np

from kg.analysis.landscape import TABLES
from kg.analysis.landscape_index import LANDSCAPE_INDEX, LandscapeIndex, sections
from kg.identifiers import normalize_mesh_id
from kg.queries import load_query, run
from kg.store import QueryResult, Store, open_store
from kg.vocab import SPARQL_PROLOGUE, enum_iri

__all__ = ["FROM_FACTS"]

logger = logging.getLogger(__name__)

Answer = Callable[[Store, Mapping[str, str]], QueryResult]
Rows = list[dict[str, Any]]
Table = Callable[[Store, LandscapeIndex, Mapping[str, str]], Rows]
#: Whether the table gives a query's rows exactly for this store.
Exact = Callable[[Store, LandscapeIndex], bool]

#: The enumeration values' notations: a few hundred, not registry-sized.
_NOTATIONS: Final = (
    SPARQL_PROLOGUE
    + """SELECT ?iri ?code WHERE {
  VALUES ?kind { kg:Phase kg:Status kg:SponsorClass }
  ?iri a ?kind ; skos:notation ?code .
}"""
)
_NONE: Final = "NONE"
#: A concept to bind a query's parameter to when only its projection is wanted.
_ANY_CONCEPT: Final = "D009369"
#: SPARQL's xsd:integer on Oxigraph: a SUM beyond it is an error, so the total and the mean stay unbound.
_LONG: Final = 2**63 - 1
#: Oxigraph's xsd:decimal keeps 18 fractional digits, truncated: AVG of integers is the sum divided to that.
_DECIMAL_DIGITS: Final = 10**18


def _landscape(section: str, *columns: str) -> Table:
    """The rows of a landscape table over every trial, or (given ``concept``) over the trials with a condition
    term in its subtree, as the ``landscape_*`` queries' scope block says (``columns`` of them: all without)."""

    def rows(store: Store, index: LandscapeIndex, values: Mapping[str, str]) -> Rows:
        concept = normalize_mesh_id(values["concept"]) if "concept" in values else None
        found = sections(store, index, concept, None, "mesh")[section]()
        return [{key: row[key] for key in columns} for row in found] if columns else found

    return rows


def _coded(store: Store, index: LandscapeIndex) -> bool:
    """Whether the notation paths of the queries read the table's labels: every phase, overall status and sponsor
    class code the table holds is its enumeration value's one ``skos:notation``, and no trial has two statuses."""
    notations: dict[str, list[str]] = {}
    for iri, code in store.solutions(_NOTATIONS, "iri", "code"):
        notations.setdefault(iri, []).append(code)
    held = [
        *(("phase", code) for label in index.phase_labels if label != _NONE for code in label.split("/")),
        *(("status", label) for label in index.status_labels if label != _NONE),
        *(("sponsorClass", label) for label in index.sponsor_class_labels),
        *(("sponsorClass", code) for code in set(index.sponsor_class_codes) if code is not None),
    ]
    statuses = index.statuses.trials
    single = not bool(np.any(statuses[1:] == statuses[:-1]))
    return single and all(notations.get(enum_iri(kind, code).value) == [code] for kind, code in held)


def _mean(total: int, count: int) -> float:
    """``AVG`` of integers as Oxigraph computes it (an xsd:decimal, truncated), read as a float like any decimal."""
    return float(Fraction(int(Fraction(total * _DECIMAL_DIGITS, count)), _DECIMAL_DIGITS))


def _enrollment_by_phase(store: Store, index: LandscapeIndex, values: Mapping[str, str]) -> Rows:
    """``enrollment_by_phase.rq``: per phase, the trials with an enrollment count and its min, mean, max, total."""
    by_phase: dict[str, list[tuple[int, int]]] = {}
    for row in _landscape("phase_enrollment")(store, index, values):  # by phase, then enrollment
        by_phase.setdefault(row["phase"], []).append((row["enrollment"], row["trials"]))
    rows: Rows = []
    for phase, counts in by_phase.items():
        trials = sum(count for _, count in counts)
        total = sum(value * count for value, count in counts)
        fits = -_LONG - 1 <= total <= _LONG
        rows.append(
            {
                "phase": phase,
                "trials": trials,
                "min": counts[0][0],
                "mean": _mean(total, trials) if fits else None,
                "max": counts[-1][0],
                "total": total if fits else None,
            }
        )
    return rows


def _pipeline_sponsors(store: Store, index: LandscapeIndex, values: Mapping[str, str]) -> Rows:
    """``landscape_pipeline_sponsors.rq``: in the query's order (drug, most trials first, name by code point), where
    the landscape orders ties by name ignoring case."""
    rows = _landscape("pipeline_sponsors")(store, index, values)
    return sorted(rows, key=lambda row: (row["drug"], -row["trials"], row["sponsor"]))


def _mechanism_rows(root: bool) -> Table:
    """``landscape_mechanism_matrix.rq`` (the children's rows) or ``landscape_mechanism_root.rq`` (the condition's
    own row): the landscape's table holds both."""

    def rows(store: Store, index: LandscapeIndex, values: Mapping[str, str]) -> Rows:
        concept = normalize_mesh_id(values["concept"])
        return [row for row in _landscape("mechanism_matrix")(store, index, values) if (row["row"] == concept) == root]

    return rows


def _portfolio(store: Store, index: LandscapeIndex, values: Mapping[str, str]) -> Rows:
    """``landscape_portfolio.rq``: one lead sponsor's trials in the subtree by condition term and phase."""
    concept = normalize_mesh_id(values["concept"])
    return sections(store, index, concept, None, "mesh", [values["sponsor"]])["portfolio"]()


def _phase_peers(store: Store, index: LandscapeIndex, values: Mapping[str, str]) -> Rows:
    """``phase_peers.rq``: one row per trial, in NCT id order (the table's trial order: IRIs sorted)."""
    starts, primaries = [None, *index.start_texts], [None, *index.primary_texts]  # position -1 reads None
    enrollment = index.enrollment.tolist()
    return [
        {
            "nct": f"NCT{nct:08d}",
            "phase": index.phase_labels[phase],
            "enrollment": enrollment[trial] if enrolled else None,
            "start": starts[start + 1],
            "primary_completion": primaries[primary + 1],
        }
        for trial, (nct, phase, enrolled, start, primary) in enumerate(
            zip(
                index.nct.tolist(),
                index.phase.tolist(),
                index.enrolled.tolist(),
                index.start.tolist(),
                index.primary.tolist(),
                strict=True,
            )
        )
    ]


def _fits_enrollment(store: Store, index: LandscapeIndex) -> bool:
    """Every enrollment count fits SPARQL's integer (a larger one is an invalid literal to Oxigraph's aggregates)."""
    return _coded(store, index) and index.enrollment.dtype != object


def _nct_ids(store: Store, index: LandscapeIndex) -> bool:
    """Every trial IRI is a registry IRI of an NCT id, so the table's trial order is the NCT ids' order."""
    return _coded(store, index) and not bool(np.any(index.nct < 0))


def _always(store: Store, index: LandscapeIndex) -> bool:
    return True


def _from_facts(name: str, rows: Table, exact: Exact) -> Answer:
    """The answer of named query ``name`` from the fact table where ``exact`` holds for it, else by its SPARQL."""

    def answer(store: Store, values: Mapping[str, str]) -> QueryResult:
        index = LANDSCAPE_INDEX.load(store)
        if not exact(store, index):
            logger.info("%s: the fact table does not answer it exactly here, running the query", name)
            return run(store, name, values)
        return QueryResult(_variables(name), rows(store, index, values))

    return answer


@functools.cache
def _variables(name: str) -> list[str]:
    """The variables named query ``name`` projects, in order: read off its (empty) answer on an empty store."""
    with open_store("oxigraph:") as empty:
        return run(empty, name, {parameter.name: _ANY_CONCEPT for parameter in load_query(name).parameters}).variables


#: The whole-registry aggregates, their rows and when the table gives them exactly.
_AGGREGATES: Final[tuple[tuple[str, Table, Exact], ...]] = (
    ("phase_status_counts", _landscape("phase_status"), _coded),
    ("top_sponsors", _landscape("top_sponsors"), _coded),
    ("trials_by_sponsor_class", _landscape("sponsor_classes"), _coded),
    # The map's table: trials and sites per country of the trials' sites (not the trials' own kg:country).
    ("trials_by_country", _landscape("map", "country", "trials", "sites"), _always),
    ("trials_by_start_year", _landscape("start_years"), _always),
    ("enrollment_by_phase", _enrollment_by_phase, _fits_enrollment),
    ("phase_peers", _phase_peers, _nct_ids),
)
#: The landscape tables whose named query takes only the condition (``concept``) and gives the table's rows as they
#: are; the others need their query's order, rows or sponsor.
_ADAPTED: Final[Mapping[str, Table]] = {
    "pipeline_sponsors": _pipeline_sponsors,
    "mechanism_matrix": _mechanism_rows(root=False),
    "mechanism_root": _mechanism_rows(root=True),
    "portfolio": _portfolio,
}
_LANDSCAPES: Final = {**{table: _landscape(table) for table in TABLES}, **_ADAPTED}

#: Named query → its answer from the fact table (same variables, rows, order and value types).
FROM_FACTS: Final[Mapping[str, Answer]] = {
    **{name: _from_facts(name, rows, exact) for name, rows, exact in _AGGREGATES},
    **{f"landscape_{table}": _from_facts(f"landscape_{table}", rows, _always) for table, rows in _LANDSCAPES.items()},
}
