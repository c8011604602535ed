"""The landscape fact table: every fact a landscape counts, per trial, as integer arrays read from the store once.

A landscape over a top-level subtree (Neoplasms) touches a quarter of the registry; aggregating that in SPARQL
takes half a minute at 600k trials on two cores. This table holds the same facts (phase, status, start year,
enrollment, lead sponsors, countries, intervention types, stop reasons, MeSH terms, posted results, serious
adverse events, references) as NumPy arrays over trial and concept numbers, so :mod:`kg.analysis.landscape`
computes every table with a few vectorised counts. Each function here answers exactly what one
``queries/landscape_*.rq`` answers (same rows, order and value types): the queries stay the definition, and what a
remote store runs.

The MeSH side of a scope (which concepts sit under the condition, which drugs have an action under the
intervention, the condition's children) is vocabulary-sized, not registry-sized: it is asked of the store per
landscape with the queries' own patterns, bound to the concept, in milliseconds. The table holds the trial side.

Many-valued facts are :class:`Pairs` (distinct ``(trial, value)`` pairs, two int32 arrays), so a count of pairs over
the trials in scope is the queries' ``COUNT(DISTINCT ?trial)``. Values are numbered by the label the query groups
on (``STRAFTER`` of the IRI) and labels interned, so at 600k trials the table is a few hundred bytes per trial.
It is saved beside an on-disk store (``PATH.landscape.pickle``) like the related-trials index.
"""

from __future__ import annotations

import bisect
import heapq
import logging
import time
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from kg.analysis.hierarchy import mesh_loaded
from kg.analysis.saved_index import SavedIndex
from kg.store import Store
from kg.vocab import MESH, SPARQL_PROLOGUE

__all__ = [
    "LANDSCAPE_INDEX",
    "NO_MONTH",
    "NO_YEAR",
    "Events",
    "LandscapeIndex",
    "Pairs",
    "References",
    "build_landscape_index",
    "table_rows",
]

logger = logging.getLogger(__name__)

_FORMAT: Final = 2
_NONE: Final = "NONE"
#: ``year`` of a trial without a start date.
NO_YEAR: Final = np.iinfo(np.int32).min
#: ``primary_month`` / ``posted_month`` of a trial without that date (or with a year only).
NO_MONTH: Final = np.iinfo(np.int32).min
Mask = npt.NDArray[np.bool_]
Ints = npt.NDArray[np.int32]

_TRIALS: Final = SPARQL_PROLOGUE + "SELECT ?s WHERE { ?s a schema:MedicalTrial }"
_INTERVENTION_TYPES: Final = (
    SPARQL_PROLOGUE + "SELECT ?s ?o WHERE { ?s kg:intervention ?node . ?node kg:interventionType ?o }"
)
_SERIOUS_EVENTS: Final = (
    SPARQL_PROLOGUE
    + """SELECT ?trial ?event ?system ?term WHERE {
  ?trial kg:adverseEvents ?report . ?report kg:seriousEvent ?event .
  OPTIONAL { ?event kg:organSystem ?system } OPTIONAL { ?event rdfs:label ?term }
}"""
)
_SERIOUS_COUNTS: Final = (
    SPARQL_PROLOGUE
    + """SELECT ?event ?affected ?at_risk WHERE {
  ?report kg:seriousEvent ?event . ?event kg:count ?count .
  OPTIONAL { ?count kg:numAffected ?affected } OPTIONAL { ?count kg:numAtRisk ?at_risk }
}"""
)
_REFERENCES: Final = (
    SPARQL_PROLOGUE
    + """SELECT ?trial ?reference ?type ?article WHERE {
  ?trial kg:reference ?reference .
  OPTIONAL { ?reference kg:referenceType ?type } OPTIONAL { ?reference kg:publication ?article }
}"""
)


def _predicate(path: str) -> str:
    return f"{SPARQL_PROLOGUE}SELECT ?s ?o WHERE {{ ?s {path} ?o }}"


def _labels_of(path: str, predicate: str) -> str:
    """``predicate`` of each distinct object of ``path`` (the lead sponsors' labels, the countries' labels)."""
    return (
        f"{SPARQL_PROLOGUE}SELECT ?s ?o WHERE {{ {{ SELECT DISTINCT ?s WHERE {{ [] {path} ?s }} }} ?s {predicate} ?o }}"
    )


def _after(text: str, marker: str) -> str:
    """SPARQL ``STRAFTER``: the text after the first ``marker``, ``""`` without one."""
    _, found, after = text.partition(marker)
    return after if found else ""


@dataclass
class Pairs:
    """Distinct ``(trial, value)`` pairs, sorted by trial then value."""

    trials: Ints
    values: Ints

    @classmethod
    def distinct(cls, trials: npt.ArrayLike, values: npt.ArrayLike) -> Pairs:
        """The distinct pairs of two equally long integer sequences (``array``, NumPy arrays)."""
        keys = np.unique((np.asarray(trials, dtype=np.int64) << 32) | np.asarray(values, dtype=np.int64))
        return cls((keys >> 32).astype(np.int32), (keys & 0xFFFFFFFF).astype(np.int32))

    def renumbered(self, values: Ints) -> Pairs:
        """The pairs with each value ``v`` replaced by ``values[v]``."""
        return Pairs.distinct(self.trials, values[self.values])

    def counts(self, scope: Mask, size: int) -> Ints:
        """Per value, the trials in ``scope`` with it (``COUNT(DISTINCT ?trial)`` grouped by value)."""
        return np.bincount(self.values[scope[self.trials]], minlength=size).astype(np.int32)

    def having(self, size: int) -> Mask:
        """Per trial, whether it has any value."""
        found = np.zeros(size, dtype=bool)
        found[self.trials] = True
        return found


class _Interner:
    """Numbers strings in order of first sight."""

    def __init__(self) -> None:
        self.numbers: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        return self.numbers.setdefault(text, len(self.numbers))

    @property
    def texts(self) -> list[str]:
        return list(self.numbers)


@dataclass
class Events:
    """Serious adverse events, one entry per event a trial lists, with its participants summed over its groups."""

    trials: Ints
    systems: Ints  # index into ``system_labels`` ("" when the record gives no organ system)
    terms: Ints  # index into ``term_labels``
    affected: npt.NDArray[np.int64]
    at_risk: npt.NDArray[np.int64]
    system_labels: list[str]
    term_labels: list[str]


@dataclass
class References:
    """References, one entry per reference a trial cites."""

    trials: Ints
    types: Ints  # index into ``type_labels`` ("NONE" without a type)
    articles: Ints  # the PubMed article's number, -1 without a well-formed PMID
    type_labels: list[str]


@dataclass
class LandscapeIndex:
    """Every fact the landscape queries read, by trial number (see the module docstring)."""

    fingerprint: str
    trials: int
    synthetic: Mask
    #: Per trial: the phase label the queries compute from MIN/MAX(STR(phase IRI)) (index into ``phase_labels``).
    phase: npt.NDArray[np.int16]
    phase_labels: list[str]
    #: Per trial: the status label of its (first) overall status; ``NONE`` without one.
    status: npt.NDArray[np.int16]
    status_labels: list[str]
    #: Every overall status IRI of each trial (``stopped`` joins them all), and those IRIs.
    statuses: Pairs
    status_iris: list[str]
    year: Ints
    estimated: Mask
    enrollment: npt.NDArray[Any]  # int64, or Python ints when a count does not fit
    enrolled: Mask
    why_stopped: Ints  # index into why_texts, -1 without a reason
    why_texts: list[str]
    sponsor_classes: Pairs  # values: labels (STRAFTER of the class IRI)
    sponsor_class_labels: list[str]
    sponsors: Pairs  # values: lead sponsor organisations
    sponsor_names: list[str | None]  # MIN(STR(rdfs:label)), None without a label
    sponsor_class_codes: list[str | None]  # MIN of the organisation's class codes
    countries: Pairs
    country_names: list[str | None]
    intervention_types: Pairs  # values: labels (STRAFTER of the type IRI)
    intervention_type_labels: list[str]
    #: The trials' MeSH terms (values: positions in ``concepts``); the registry's ancestor lists only without MeSH.
    condition_mesh: Pairs
    intervention_mesh: Pairs
    registry_condition: Pairs  # kg:registryConditionAncestor
    registry_intervention: Pairs
    concepts: list[str]  # IRIs of the concepts the trials name, sorted
    has_results: Mask
    #: Per trial: year * 12 + month of its primary completion and first results posting (``NO_MONTH`` without).
    primary_month: Ints
    posted_month: Ints
    serious_events: Events
    references: References
    seconds: float = 0.0
    format: int = _FORMAT

    def concept_mask(self, iris: Iterable[str]) -> Mask:
        """Per concept of the table: it is one of ``iris`` (those no trial names are left out)."""
        found = np.zeros(len(self.concepts), dtype=bool)
        for iri in iris:
            position = bisect.bisect_left(self.concepts, iri)
            if position < len(self.concepts) and self.concepts[position] == iri:
                found[position] = True
        return found

    def trials_with(self, concepts: Mask, *pairs: Pairs) -> Mask:
        """Per trial: it has one of ``concepts`` in one of ``pairs``."""
        found = np.zeros(self.trials, dtype=bool)
        for table in pairs:
            found[table.trials[concepts[table.values]]] = True
        return found

    def size_bytes(self) -> int:
        """Bytes held in arrays (labels and concept IRIs not counted)."""
        parts = [
            part
            for value in vars(self).values()
            for part in (vars(value).values() if isinstance(value, (Pairs, Events, References)) else (value,))
        ]
        return sum(part.nbytes for part in parts if isinstance(part, np.ndarray))


# --- building it ------------------------------------------------------------------------------------------------


def _read(store: Store, query: str, subjects: Callable[[str], int | None], values: Callable[[str], int]) -> Pairs:
    """The ``(?s, ?o)`` solutions of ``query`` as numbered pairs (subjects numbered ``None`` left out)."""
    left, right = array("i"), array("i")
    for subject, value in store.solutions(query, "s", "o"):
        number = subjects(subject)
        if number is not None:
            left.append(number)
            right.append(values(value))
    return Pairs.distinct(left, right)


def _ranks(texts: list[str]) -> Ints:
    """Each text's position in string order (SPARQL orders plain strings by code point, as Python does)."""
    ranks = np.empty(len(texts), dtype=np.int32)
    ranks[sorted(range(len(texts)), key=texts.__getitem__)] = np.arange(len(texts), dtype=np.int32)
    return ranks


def _extremes(pairs: Pairs, texts: list[str], trials: int) -> tuple[Ints, Ints]:
    """Per trial, the rank of its smallest and largest value in string order (-1 without any)."""
    ranks = _ranks(texts)[pairs.values]
    first = np.full(trials, np.iinfo(np.int32).max, dtype=np.int32)
    last = np.full(trials, -1, dtype=np.int32)
    np.minimum.at(first, pairs.trials, ranks)
    np.maximum.at(last, pairs.trials, ranks)
    first[last < 0] = -1
    return first, last


def _phase_label(first: str | None, last: str | None) -> str:
    """``landscape_phase_status.rq``: NONE, the phase, or FIRST/LAST for a combined phase."""
    first_code = _after(first, "/phase/") if first is not None else ""
    if not first_code:
        return _NONE
    return first_code if first == last else f"{first_code}/{_after(last or '', '/phase/')}"


def _phases(pairs: Pairs, iris: list[str], trials: int) -> tuple[npt.NDArray[np.int16], list[str]]:
    first, last = _extremes(pairs, iris, trials)
    ordered = sorted(iris)
    labels = _Interner()
    keys = np.empty(trials, dtype=np.int16)
    combined = (first.astype(np.int64) + 1) * (len(iris) + 1) + last + 1  # rank -1 (no phase) as 0
    for key in np.unique(combined).tolist():
        low, high = (rank - 1 for rank in divmod(key, len(iris) + 1))
        label = _phase_label(ordered[low] if low >= 0 else None, ordered[high] if high >= 0 else None)
        keys[combined == key] = labels(label)
    return keys, labels.texts


def _statuses(pairs: Pairs, iris: list[str], trials: int) -> tuple[npt.NDArray[np.int16], list[str]]:
    """Per trial the label of one status (``SAMPLE``: the first in string order), ``NONE`` without any."""
    first, _ = _extremes(pairs, iris, trials)
    ordered = sorted(iris)
    labels = _Interner()
    codes = [labels(_after(iri, "/status/")) for iri in ordered]
    none = labels(_NONE)
    table = np.asarray([*codes, none], dtype=np.int16)  # rank -1 (no status) reads the last entry
    return table[first], labels.texts


def _scalars(store: Store, path: str, trial: Callable[[str], int | None]) -> Iterable[tuple[int, str]]:
    for subject, value in store.solutions(_predicate(path), "s", "o"):
        number = trial(subject)
        if number is not None:
            yield number, value


def _names(
    store: Store, path: str, nodes: list[str], predicate: str, text: Callable[[str], str] = str
) -> list[str | None]:
    """Per node of ``path``, the smallest ``text`` of its ``predicate`` values (``None`` without one)."""
    position = {node: number for number, node in enumerate(nodes)}
    names: list[str | None] = [None] * len(nodes)
    for node, value in store.solutions(_labels_of(path, predicate), "s", "o"):
        number, name = position.get(node), text(value)
        if number is not None and (names[number] is None or name < str(names[number])):
            names[number] = name
    return names


def _label_pairs(store: Store, query: str, trial: Callable[[str], int | None], marker: str) -> tuple[Pairs, list[str]]:
    """Pairs of a trial and the label (``STRAFTER(STR(?iri), marker)``) of an IRI, the queries' group key."""
    labels = _Interner()
    pairs = _read(store, query, trial, lambda iri: labels(_after(iri, marker)))
    return pairs, labels.texts


def _month(date: str) -> int:
    """``year * 12 + month`` of an xsd:date or gYearMonth (the queries' ``SUBSTR`` arithmetic); none for a year."""
    return int(date[:4]) * 12 + int(date[5:7]) if len(date) >= 7 else int(NO_MONTH)


def _months(store: Store, path: str, trial: Callable[[str], int | None], trials: int) -> Ints:
    """Per trial, the month of its first ``path`` date in string order (the queries' ``MIN(STR(?date))``)."""
    first: dict[int, str] = {}
    for number, value in _scalars(store, path, trial):
        if number not in first or value < first[number]:
            first[number] = value
    months = np.full(trials, NO_MONTH, dtype=np.int32)
    for number, value in first.items():
        months[number] = _month(value)
    return months


def _serious_events(store: Store, trial: Callable[[str], int | None]) -> Events:
    """Every serious adverse event of a trial, with its groups' participants summed (a count not given adds 0)."""
    systems, terms = _Interner(), _Interner()
    entries: dict[str, int] = {}
    owners, system_of, term_of = array("i"), array("i"), array("i")
    for subject, event, system, term in store.solutions(_SERIOUS_EVENTS, "trial", "event", "system", "term"):
        number = trial(subject)
        if number is not None and event not in entries:
            entries[event] = len(owners)
            owners.append(number)
            system_of.append(systems(system))
            term_of.append(terms(term))
    affected = np.zeros(len(owners), dtype=np.int64)
    at_risk = np.zeros(len(owners), dtype=np.int64)
    for event, affected_count, at_risk_count in store.solutions(_SERIOUS_COUNTS, "event", "affected", "at_risk"):
        entry = entries.get(event)
        if entry is not None:
            affected[entry] += int(affected_count or 0)
            at_risk[entry] += int(at_risk_count or 0)
    ints = np.int32
    return Events(
        np.asarray(owners, dtype=ints),
        np.asarray(system_of, dtype=ints),
        np.asarray(term_of, dtype=ints),
        affected,
        at_risk,
        systems.texts,
        terms.texts,
    )


def _references(store: Store, trial: Callable[[str], int | None]) -> References:
    """Every reference of a trial, with its type's label and its PubMed article's number."""
    types, articles = _Interner(), _Interner()
    seen: set[str] = set()
    owners, type_of, article_of = array("i"), array("i"), array("i")
    for subject, reference, kind, article in store.solutions(_REFERENCES, "trial", "reference", "type", "article"):
        number = trial(subject)
        if number is not None and reference not in seen:
            seen.add(reference)
            owners.append(number)
            type_of.append(types(_after(kind, "/referenceType/") if kind else _NONE))
            article_of.append(articles(article) if article else -1)
    ints = np.int32
    return References(
        np.asarray(owners, dtype=ints), np.asarray(type_of, dtype=ints), np.asarray(article_of, dtype=ints), types.texts
    )


def build_landscape_index(store: Store) -> LandscapeIndex:
    """Read every fact the landscape tables count, once (whole-predicate reads)."""
    started = time.perf_counter()
    fingerprint = LANDSCAPE_INDEX.fingerprint(store)
    position = {iri: number for number, iri in enumerate(sorted(row[0] for row in store.solutions(_TRIALS, "s")))}
    trials = len(position)
    trial = position.get

    synthetic = np.zeros(trials, dtype=bool)
    for number, value in _scalars(store, "kg:synthetic", trial):
        synthetic[number] |= value == "true"
    estimated = np.zeros(trials, dtype=bool)
    for number, value in _scalars(store, "kg:startDateEstimated", trial):
        estimated[number] |= value == "true"
    year = np.full(trials, NO_YEAR, dtype=np.int32)
    for number, value in _scalars(store, "kg:startDate", trial):
        year[number] = int(value[:4])
    counts: list[int] = [0] * trials
    enrolled = np.zeros(trials, dtype=bool)
    for number, value in _scalars(store, "kg:enrollment", trial):
        counts[number], enrolled[number] = int(value), True
    try:
        enrollment = np.array(counts, dtype=np.int64)
    except OverflowError:  # a count beyond 64 bits, kept as read (as the queries do), in Python ints
        enrollment = np.array(counts, dtype=object)
    has_results = np.zeros(trials, dtype=bool)
    for number, value in _scalars(store, "kg:hasResults", trial):
        has_results[number] |= value == "true"
    why_texts = _Interner()
    why_stopped = np.full(trials, -1, dtype=np.int32)
    for number, value in _scalars(store, "kg:whyStopped", trial):
        why_stopped[number] = why_texts(value)

    phase_iris, status_iris = _Interner(), _Interner()
    phases = _read(store, _predicate("kg:phase"), trial, phase_iris)
    statuses = _read(store, _predicate("kg:overallStatus"), trial, status_iris)
    phase, phase_labels = _phases(phases, phase_iris.texts, trials)
    status, status_labels = _statuses(statuses, status_iris.texts, trials)
    sponsor_classes, sponsor_class_labels = _label_pairs(
        store, _predicate("kg:leadSponsorClass"), trial, "/sponsorClass/"
    )
    intervention_types, intervention_type_labels = _label_pairs(store, _INTERVENTION_TYPES, trial, "/interventionType/")
    organisations, country_nodes = _Interner(), _Interner()
    sponsors = _read(store, _predicate("kg:leadSponsor"), trial, organisations)
    countries = _read(store, _predicate("kg:country"), trial, country_nodes)

    concepts = _Interner()
    # The registry's lists define scopes only without a loaded hierarchy: at registry scale they are most pairs.
    registry = not mesh_loaded(store)
    by_trial = {
        path: _read(store, _predicate(path), trial, concepts) if wanted else Pairs.distinct(array("i"), array("i"))
        for path, wanted in (
            ("kg:conditionMesh", True),
            ("kg:interventionMesh", True),
            ("kg:registryConditionAncestor", registry),
            ("kg:registryInterventionAncestor", registry),
        )
    }
    iris = concepts.texts
    renumber = _ranks(iris)  # concepts in IRI order: found by bisection
    by_trial = {path: pairs.renumbered(renumber) for path, pairs in by_trial.items()}

    index = LandscapeIndex(
        fingerprint=fingerprint,
        trials=trials,
        synthetic=synthetic,
        phase=phase,
        phase_labels=phase_labels,
        status=status,
        status_labels=status_labels,
        statuses=statuses,
        status_iris=status_iris.texts,
        year=year,
        estimated=estimated,
        enrollment=enrollment,
        enrolled=enrolled,
        why_stopped=why_stopped,
        why_texts=why_texts.texts,
        sponsor_classes=sponsor_classes,
        sponsor_class_labels=sponsor_class_labels,
        sponsors=sponsors,
        sponsor_names=_names(store, "kg:leadSponsor", organisations.texts, "rdfs:label"),
        sponsor_class_codes=_names(
            store, "kg:leadSponsor", organisations.texts, "kg:sponsorClass", lambda iri: _after(iri, "/sponsorClass/")
        ),
        countries=countries,
        country_names=_names(store, "kg:country", country_nodes.texts, "rdfs:label"),
        intervention_types=intervention_types,
        intervention_type_labels=intervention_type_labels,
        condition_mesh=by_trial["kg:conditionMesh"],
        intervention_mesh=by_trial["kg:interventionMesh"],
        registry_condition=by_trial["kg:registryConditionAncestor"],
        registry_intervention=by_trial["kg:registryInterventionAncestor"],
        concepts=sorted(iris),
        has_results=has_results,
        primary_month=_months(store, "kg:primaryCompletionDate", trial, trials),
        posted_month=_months(store, "kg:resultsFirstPosted", trial, trials),
        serious_events=_serious_events(store, trial),
        references=_references(store, trial),
    )
    index.seconds = round(time.perf_counter() - started, 3)
    logger.info("landscape index: %d trials, %.1f s, %.1f MiB", trials, index.seconds, index.size_bytes() / 2**20)
    return index


#: Saved beside an on-disk store as ``PATH.landscape.pickle``, held per open store.
LANDSCAPE_INDEX: Final = SavedIndex("landscape", LandscapeIndex, _FORMAT, build_landscape_index)


# --- the tables -------------------------------------------------------------------------------------------------

_STOPPED: Final = ("TERMINATED", "WITHDRAWN")
_ENUMS: Final = "https://w3id.org/trialkg/vocab/status/"
Rows = list[dict[str, Any]]


_UNDER: Final = SPARQL_PROLOGUE + "SELECT ?term WHERE { ?term kg:ancestor? ?concept }"
_WITH_ACTION: Final = (
    SPARQL_PROLOGUE
    + "SELECT DISTINCT ?term WHERE { ?action kg:ancestor? ?concept . ?term kg:pharmacologicalAction? ?action }"
)
_CHILDREN: Final = (
    SPARQL_PROLOGUE
    + """SELECT ?row ?preferred ?term WHERE {
  ?row skos:broader ?concept .
  OPTIONAL { ?row skos:prefLabel ?preferred }
  ?term kg:ancestor? ?row .
}"""
)


def _vocabulary(store: Store, query: str, ui: str) -> set[str]:
    """The concepts a bound vocabulary pattern reaches from ``ui`` (always ``ui`` itself: zero-length paths)."""
    concept = MESH[ui]
    return {str(row["term"]) for row in store.select(query, {"concept": concept}).rows} | {str(concept.value)}


def _scope(
    store: Store, index: LandscapeIndex, condition: str | None, intervention: str | None, mesh: bool
) -> tuple[Mask, Mask]:
    """The trials in scope (``SCOPES`` of :mod:`kg.analysis.landscape`), and the condition terms that put them there."""
    scope = np.ones(index.trials, dtype=bool)
    terms = np.zeros(len(index.concepts), dtype=bool)
    if condition is not None:
        terms = index.concept_mask(_vocabulary(store, _UNDER, condition) if mesh else {str(MESH[condition].value)})
        scope &= index.trials_with(terms, index.condition_mesh, *(() if mesh else (index.registry_condition,)))
    if intervention is not None:
        if mesh:
            drugs = index.concept_mask(_vocabulary(store, _WITH_ACTION, intervention))
            scope &= index.trials_with(drugs, index.intervention_mesh)
        else:
            drugs = index.concept_mask({str(MESH[intervention].value)})
            scope &= index.trials_with(drugs, index.intervention_mesh, index.registry_intervention)
    return scope, terms


def _named(counts: Ints, names: list[str | None], limit: int | None) -> list[tuple[str, int, int]]:
    """``(name, trials, node)`` of the named nodes with trials, most trials first, ties by name."""
    found = [(-int(counts[node]), name, node) for node in np.flatnonzero(counts).tolist() if (name := names[node])]
    ordered = heapq.nsmallest(limit, found) if limit is not None else sorted(found)
    return [(name, -negated, node) for negated, name, node in ordered]


def _by_label(counts: Ints, labels: list[str], none: int) -> dict[str, int]:
    found: dict[str, int] = {}
    for number, count in enumerate(counts.tolist()):
        if count:
            found[labels[number]] = found.get(labels[number], 0) + count
    if none:
        found[_NONE] = found.get(_NONE, 0) + none
    return found


def _phase_status(index: LandscapeIndex, scope: Mask) -> Rows:
    width = len(index.status_labels)
    keys = index.phase[scope].astype(np.int64) * width + index.status[scope]
    rows = [
        {"phase": index.phase_labels[key // width], "status": index.status_labels[key % width], "trials": count}
        for key, count in enumerate(np.bincount(keys).tolist())
        if count
    ]
    return sorted(rows, key=lambda row: (row["phase"], row["status"]))


def _start_years(index: LandscapeIndex, scope: Mask) -> Rows:
    started = scope & (index.year != NO_YEAR)
    years, counts = np.unique(index.year[started], return_counts=True)
    estimated = dict(
        zip(
            *(array.tolist() for array in np.unique(index.year[started & index.estimated], return_counts=True)),
            strict=True,
        )
    )
    return [
        {"year": year, "trials": count, "estimated_starts": estimated.get(year, 0)}
        for year, count in zip(years.tolist(), counts.tolist(), strict=True)
    ]


def _sponsor_classes(index: LandscapeIndex, scope: Mask) -> Rows:
    table = index.sponsor_classes
    none = int((scope & ~table.having(index.trials)).sum())
    found = _by_label(table.counts(scope, len(index.sponsor_class_labels)), index.sponsor_class_labels, none)
    return [
        {"sponsor_class": label, "trials": count}
        for label, count in sorted(found.items(), key=lambda item: (-item[1], item[0]))
    ]


def _top_sponsors(index: LandscapeIndex, scope: Mask) -> Rows:
    counts = index.sponsors.counts(scope, len(index.sponsor_names))
    return [
        {"sponsor": name, "sponsor_class": index.sponsor_class_codes[node], "trials": trials}
        for name, trials, node in _named(counts, index.sponsor_names, 25)
    ]


def _countries(index: LandscapeIndex, scope: Mask) -> Rows:
    counts = index.countries.counts(scope, len(index.country_names))
    return [{"country": name, "trials": trials} for name, trials, _ in _named(counts, index.country_names, None)]


def _enrollment(index: LandscapeIndex, scope: Mask) -> Rows:
    values, counts = np.unique(index.enrollment[scope & index.enrolled], return_counts=True)
    return [
        {"enrollment": value, "trials": count} for value, count in zip(values.tolist(), counts.tolist(), strict=True)
    ]


def _stopped(index: LandscapeIndex, scope: Mask) -> Rows:
    rows: Rows = []
    for status in _STOPPED:
        iri = _ENUMS + status
        if iri not in index.status_iris:
            continue
        table = index.statuses
        chosen = table.trials[(table.values == index.status_iris.index(iri)) & scope[table.trials]]
        reasons: dict[str, int] = {}
        for why in index.why_stopped[chosen].tolist():
            text = index.why_texts[why] if why >= 0 else ""
            reasons[text] = reasons.get(text, 0) + 1
        rows.extend({"status": status, "why_stopped": why, "trials": count} for why, count in reasons.items())
    return sorted(rows, key=lambda row: (row["status"], -row["trials"], row["why_stopped"]))


def _children(store: Store, index: LandscapeIndex, condition: str) -> list[tuple[str, str, Mask]]:
    """``(row IRI, row label, concepts at or under the row)`` per child of the condition and label of the child."""
    found: dict[tuple[str, str], set[str]] = {}
    for row in store.select(_CHILDREN, {"concept": MESH[condition]}).rows:
        iri = str(row["row"])
        label = str(row["preferred"]) if row["preferred"] is not None else _after(iri, "/mesh/")
        found.setdefault((iri, label), {iri}).add(str(row["term"]))
    return [(iri, label, index.concept_mask(terms)) for (iri, label), terms in sorted(found.items())]


def _matrix(store: Store, index: LandscapeIndex, scope: Mask, terms: Mask, condition: str) -> Rows:
    """``landscape_matrix.rq``: per child of the condition, intervention type and phase, the trials in scope with
    a condition term (one that put them in scope) at or under the child."""
    held = index.condition_mesh
    in_scope = scope[held.trials] & terms[held.values]
    types = index.intervention_types
    labels = [*index.intervention_type_labels, _NONE]
    untyped = ~types.having(index.trials)
    width = len(index.phase_labels)
    rows: Rows = []
    for iri, label, under in _children(store, index, condition):
        members = np.zeros(index.trials, dtype=bool)
        members[held.trials[in_scope & under[held.values]]] = True
        chosen = members[types.trials]
        keys = np.concatenate(
            (
                types.values[chosen].astype(np.int64) * width + index.phase[types.trials[chosen]],
                (len(labels) - 1) * width + index.phase[members & untyped].astype(np.int64),
            )
        )
        counted: dict[tuple[str, str], int] = {}
        for key, count in enumerate(np.bincount(keys).tolist()):
            if count:
                cell = (labels[key // width], index.phase_labels[key % width])
                counted[cell] = counted.get(cell, 0) + count
        rows.extend(
            {"row": iri, "row_label": label, "intervention_type": kind, "phase": phase, "trials": count}
            for (kind, phase), count in counted.items()
        )
    return sorted(rows, key=lambda row: (row["row_label"], row["intervention_type"], row["phase"]))


def _results(index: LandscapeIndex, scope: Mask) -> Rows:
    """``landscape_results.rq``: trials per status, results posted or not, and months from primary completion to
    first posting."""
    dated = (index.primary_month != NO_MONTH) & (index.posted_month != NO_MONTH)
    months = np.where(dated, index.posted_month.astype(np.int64) - index.primary_month, np.int64(NO_MONTH))
    keys = zip(index.status[scope].tolist(), index.has_results[scope].tolist(), months[scope].tolist(), strict=True)
    counted: dict[tuple[int, bool, int], int] = {}
    for key in keys:
        counted[key] = counted.get(key, 0) + 1
    rows = [
        {
            "status": index.status_labels[status],
            "has_results": has,
            "months": None if month == NO_MONTH else month,
            "trials": count,
        }
        for (status, has, month), count in counted.items()
    ]
    return sorted(rows, key=lambda r: (r["status"], r["has_results"], r["months"] is not None, r["months"] or 0))


def _sums(keys: npt.NDArray[np.int64], events: Events, chosen: Mask) -> list[tuple[int, int, int, int]]:
    """``(key, distinct trials, participants affected, at risk)`` per key of the chosen events."""
    unique, inverse = np.unique(keys, return_inverse=True)
    affected = np.zeros(len(unique), dtype=np.int64)
    at_risk = np.zeros(len(unique), dtype=np.int64)
    np.add.at(affected, inverse, events.affected[chosen])
    np.add.at(at_risk, inverse, events.at_risk[chosen])
    pairs = np.unique((inverse.astype(np.int64) << 32) | events.trials[chosen])
    trials = np.bincount(pairs >> 32, minlength=len(unique))
    return list(zip(unique.tolist(), trials.tolist(), affected.tolist(), at_risk.tolist(), strict=True))


def _serious(index: LandscapeIndex, scope: Mask) -> Rows:
    """``landscape_serious_events.rq``: per organ system and term, and per organ system alone."""
    events = index.serious_events
    chosen = scope[events.trials]
    width = len(events.term_labels)
    systems = events.systems[chosen].astype(np.int64)
    rows: Rows = []
    for level, keys in (("organ_system", systems), ("term", systems * width + events.terms[chosen])):
        for key, trials, affected, at_risk in _sums(keys, events, chosen):
            system, term = divmod(key, width) if level == "term" else (key, None)
            rows.append(
                {
                    "level": level,
                    "organ_system": events.system_labels[system],
                    "term": None if term is None else events.term_labels[term],
                    "trials": trials,
                    "affected": affected,
                    "at_risk": at_risk,
                }
            )
    return sorted(rows, key=lambda r: (r["level"], -r["trials"], -r["affected"], r["organ_system"], r["term"] or ""))


def _publications(index: LandscapeIndex, scope: Mask) -> Rows:
    """``landscape_publications.rq``: references, distinct PubMed articles and trials per reference type and all."""
    references = index.references
    chosen = scope[references.trials]
    groups = [(label, chosen & (references.types == number)) for number, label in enumerate(references.type_labels)]
    rows: Rows = []
    for label, members in [*groups, ("ALL", chosen)]:
        if members.any():
            articles = references.articles[members]
            rows.append(
                {
                    "reference_type": label,
                    "references": int(members.sum()),
                    "pubmed_ids": len(np.unique(articles[articles >= 0])),
                    "trials": len(np.unique(references.trials[members])),
                }
            )
    return sorted(rows, key=lambda row: row["reference_type"])


def table_rows(
    store: Store, index: LandscapeIndex, condition: str | None, intervention: str | None, hierarchy: str
) -> dict[str, Rows]:
    """The rows each landscape query returns for this scope (condition and intervention: MeSH UIs): the trial side
    counted in ``index``, the vocabulary side asked of ``store``."""
    scope, terms = _scope(store, index, condition, intervention, hierarchy == "mesh")
    return {
        "summary": [{"trials": int(scope.sum()), "synthetic": int((scope & index.synthetic).sum())}],
        "phase_status": _phase_status(index, scope),
        "start_years": _start_years(index, scope),
        "sponsor_classes": _sponsor_classes(index, scope),
        "top_sponsors": _top_sponsors(index, scope),
        "countries": _countries(index, scope),
        "enrollment": _enrollment(index, scope),
        "matrix": _matrix(store, index, scope, terms, condition) if condition and hierarchy == "mesh" else [],
        "stopped": _stopped(index, scope),
        "results": _results(index, scope),
        "serious_events": _serious(index, scope),
        "publications": _publications(index, scope),
    }
