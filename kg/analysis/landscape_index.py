"""The landscape fact table: every fact a landscape counts, per trial, as integer arrays read from the store once.

A landscape over a top-level subtree (Neoplasms) touches a quarter of the registry; aggregating that in SPARQL
takes half a minute at 600k trials on two cores. This table holds the same facts (phase, status, start year,
enrollment, lead sponsors, countries, intervention types, stop reasons, MeSH terms, posted results, serious
adverse events, references, start dates, the concepts' labels and pharmacological actions, the start and primary
completion dates' types, allocation, masking, primary purpose and arms) as NumPy arrays over
trial and concept numbers, so :mod:`kg.analysis.landscape` computes every table with a few vectorised counts.
Each function here answers exactly what one ``queries/landscape_*.rq`` answers (same rows, order and value
types): the queries stay the definition, and what a remote store runs. With the trials' NCT ids and primary
completion dates, it also answers the whole-registry aggregates (:mod:`kg.analysis.registry_facts`).

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
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from kg.analysis.arrays import distinct
from kg.analysis.hierarchy import mesh_loaded
from kg.analysis.saved_index import SavedIndex
from kg.identifiers import is_nct_id
from kg.store import Store
from kg.vocab import CTGOV_STUDY, MESH, SPARQL_PROLOGUE

__all__ = [
    "ACTIVE_SITE_STATUSES",
    "DURATIONS",
    "LANDSCAPE_INDEX",
    "NOT_A_PHASE",
    "NOT_STATED",
    "NO_MONTH",
    "NO_YEAR",
    "PIPELINE_PHASES",
    "Events",
    "LandscapeIndex",
    "Pairs",
    "References",
    "Sites",
    "build_landscape_index",
    "concepts_under",
    "drug_actions",
    "sections",
    "table_rows",
]

logger = logging.getLogger(__name__)

_FORMAT: Final = 7
_NONE: Final = "NONE"
#: A design field (allocation, masking, primary purpose) the record does not state (masking has a NONE of its own).
NOT_STATED: Final = "NOT_STATED"
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
        keys = distinct((np.asarray(trials, dtype=np.int64) << 32) | np.asarray(values, dtype=np.int64))
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
class Sites:
    """Trial sites, one entry per location a trial lists (with its site's country), and the active ones again."""

    trials: Ints
    countries: Ints  # index into the table's ``country_names``
    active_trials: Ints  # the locations whose own status is one of ACTIVE_SITE_STATUSES
    active_countries: Ints


#: Site statuses of a site still taking part: the world map's active sites.
ACTIVE_SITE_STATUSES: Final = ("RECRUITING", "NOT_YET_RECRUITING", "ENROLLING_BY_INVITATION", "ACTIVE_NOT_RECRUITING")
#: Every location's trial and country, streamed along the path. Whole-predicate sub-selects joined by hash were 3x
#: faster but held every location in the engine's hash tables: at 100k trials 5.2 s and a peak of 380 MiB against
#: 16.1 s and 227 MiB for this read alone, and the build's memory peak grows with the registry (a 600k build
#: peaked at 4.6 GiB).
_SITES: Final = (
    SPARQL_PROLOGUE
    + """SELECT ?trial ?country WHERE {
  ?trial kg:location ?location . ?location kg:site ?site . ?site kg:country ?country
}"""
)
#: The active locations' trial and country: few, so each is looked up from its status.
_ACTIVE_SITES: Final = (
    SPARQL_PROLOGUE
    + """SELECT ?trial ?country WHERE {
  VALUES ?status { %s }
  ?location kg:recruitmentStatus ?status . ?trial kg:location ?location . ?location kg:site ?site .
  ?site kg:country ?country .
}"""
)


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
    #: Per trial: its start date as written (``MIN(STR(?date))``), an index into the sorted ``start_texts`` (-1 none).
    start: Ints
    start_texts: list[str]
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
    sites: Sites
    intervention_types: Pairs  # values: labels (STRAFTER of the type IRI)
    intervention_type_labels: list[str]
    #: The trials' MeSH terms (values: positions in ``concepts``); the registry's ancestor lists only without MeSH.
    condition_mesh: Pairs
    intervention_mesh: Pairs
    registry_condition: Pairs  # kg:registryConditionAncestor
    registry_intervention: Pairs
    concepts: list[str]  # IRIs of the concepts the trials name, sorted
    #: Per concept: its smallest ``skos:prefLabel``, else its smallest ``kg:registryTerm`` (``None`` without either).
    concept_labels: list[str | None]
    #: Pharmacological actions of the concepts (pairs of a position in ``concepts`` and one in ``action_iris``).
    concept_actions: Pairs
    action_iris: list[str]
    action_labels: list[str | None]  # smallest skos:prefLabel
    has_results: Mask
    #: Per trial: year * 12 + month of its primary completion and first results posting (``NO_MONTH`` without).
    primary_month: Ints
    posted_month: Ints
    serious_events: Events
    references: References
    #: Per trial: the month of its first start date (``NO_MONTH`` without one, or with a year only).
    start_month: Ints
    #: Per trial: whether its start and primary completion dates are estimated (the smallest of the
    #: ``kg:…Estimated`` values: 0 ACTUAL, 1 ESTIMATED or ANTICIPATED, -1 when the record gives no type).
    start_type: npt.NDArray[np.int8]
    primary_type: npt.NDArray[np.int8]
    #: Per trial: its (first) allocation, masking and primary purpose code, ``NOT_STATED`` without one, and its arms.
    allocation: npt.NDArray[np.int16]
    allocation_labels: list[str]
    masking: npt.NDArray[np.int16]
    masking_labels: list[str]
    purpose: npt.NDArray[np.int16]
    purpose_labels: list[str]
    arms: Ints
    #: Per trial: the number of its NCT id (``NCT00000102``: 102), read from its IRI; -1 for another IRI.
    nct: Ints
    #: Per trial: its primary completion date as written (``MIN(STR(?date))``), like ``start`` (-1 none).
    primary: Ints
    primary_texts: list[str]
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
            for part in (vars(value).values() if isinstance(value, (Pairs, Events, References, Sites)) else (value,))
        ]
        return sum(part.nbytes for part in parts if isinstance(part, np.ndarray))


# --- building it ------------------------------------------------------------------------------------------------


def _numbered(
    store: Store,
    query: str,
    subjects: Callable[[str], int | None],
    values: Callable[[str], int],
    names: tuple[str, str] = ("s", "o"),
) -> tuple[Ints, Ints]:
    """The ``names`` solutions of ``query`` as two arrays of numbers, every solution kept (subjects numbered
    ``None`` left out)."""
    left, right = array("i"), array("i")
    for subject, value in store.solutions(query, *names):
        number = subjects(subject)
        if number is not None:
            left.append(number)
            right.append(values(value))
    return np.asarray(left, dtype=np.int32), np.asarray(right, dtype=np.int32)


def _read(store: Store, query: str, subjects: Callable[[str], int | None], values: Callable[[str], int]) -> Pairs:
    """The ``(?s, ?o)`` solutions of ``query`` as distinct numbered pairs."""
    return Pairs.distinct(*_numbered(store, query, subjects, values))


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


def _firsts(store: Store, path: str, trial: Callable[[str], int | None]) -> dict[int, str]:
    """Per trial with a ``path`` value, its first in string order (the queries' ``MIN(STR(?value))``)."""
    first: dict[int, str] = {}
    for number, value in _scalars(store, path, trial):
        if number not in first or value < first[number]:
            first[number] = value
    return first


def _months(first: dict[int, str], trials: int) -> Ints:
    """Per trial, the month of its first date (see :func:`_firsts`), ``NO_MONTH`` without one."""
    months = np.full(trials, NO_MONTH, dtype=np.int32)
    for number, value in first.items():
        months[number] = _month(value)
    return months


def _texts(first: dict[int, str], trials: int) -> tuple[Ints, list[str]]:
    """Per trial, the position of its first text (see :func:`_firsts`) among the sorted distinct texts (-1 without
    one), and those texts: a date as written in four bytes per trial."""
    texts = sorted(set(first.values()))
    rank = {text: number for number, text in enumerate(texts)}
    numbers = np.full(trials, -1, dtype=np.int32)
    for number, value in first.items():
        numbers[number] = rank[value]
    return numbers, texts


def _nct_numbers(iris: Iterable[str]) -> Ints:
    """The number of each trial's NCT id, from its IRI (``…/study/NCT00000102``: 102), -1 for another IRI."""
    prefix = CTGOV_STUDY.iri
    ids = [iri[len(prefix) :] if iri.startswith(prefix) else "" for iri in iris]
    return np.asarray([int(nct[3:]) if is_nct_id(nct) else -1 for nct in ids], dtype=np.int32)


def _flags(store: Store, path: str, trial: Callable[[str], int | None], trials: int) -> npt.NDArray[np.int8]:
    """Per trial, its smallest ``path`` flag in string order (``MIN(STR(?flag))``): 0 false, 1 true, -1 none."""
    flags = np.full(trials, -1, dtype=np.int8)
    for number, value in _scalars(store, path, trial):
        flag = 1 if value == "true" else 0
        flags[number] = flag if flags[number] < 0 else min(int(flags[number]), flag)
    return flags


def _codes(
    store: Store, path: str, trial: Callable[[str], int | None], trials: int, marker: str
) -> tuple[npt.NDArray[np.int16], list[str]]:
    """Per trial, the code (``STRAFTER`` of ``marker``) of its smallest ``path`` IRI, ``NOT_STATED`` without one."""
    first = _firsts(store, path, trial)
    labels = _Interner()
    codes = np.full(trials, labels(NOT_STATED), dtype=np.int16)
    for number, value in first.items():
        codes[number] = labels(_after(value, marker))
    return codes, labels.texts


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


def _sites(store: Store, trial: Callable[[str], int | None], countries: Callable[[str], int]) -> Sites:
    """Every location of a trial whose site has a country, and the active ones, numbered like the trials'
    countries."""
    statuses = " ".join(f"<{_ENUMS}{status}>" for status in ACTIVE_SITE_STATUSES)
    every = _numbered(store, _SITES, trial, countries, ("trial", "country"))
    active = _numbered(store, _ACTIVE_SITES % statuses, trial, countries, ("trial", "country"))
    return Sites(*every, *active)


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
    nct = _nct_numbers(position)
    trial = position.get

    synthetic = np.zeros(trials, dtype=bool)
    for number, value in _scalars(store, "kg:synthetic", trial):
        synthetic[number] |= value == "true"
    estimated = np.zeros(trials, dtype=bool)
    for number, value in _scalars(store, "kg:startDateEstimated", trial):
        estimated[number] |= value == "true"
    year = np.full(trials, NO_YEAR, dtype=np.int32)
    first_start = _firsts(store, "kg:startDate", trial)
    for number, value in first_start.items():
        year[number] = int(value[:4])
    start, start_texts = _texts(first_start, trials)
    first_primary = _firsts(store, "kg:primaryCompletionDate", trial)
    primary, primary_texts = _texts(first_primary, trials)
    arms = np.bincount(_read(store, _predicate("kg:arm"), trial, _Interner()).trials, minlength=trials).astype(np.int32)
    allocation, allocation_labels = _codes(store, "kg:allocation", trial, trials, "/allocation/")
    masking, masking_labels = _codes(store, "kg:masking", trial, trials, "/masking/")
    purpose, purpose_labels = _codes(store, "kg:primaryPurpose", trial, trials, "/primaryPurpose/")
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
    sites = _sites(store, trial, country_nodes)

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
    concept_iris = sorted(iris)
    concept_position = {iri: number for number, iri in enumerate(concept_iris)}.get
    named = "kg:conditionMesh|kg:interventionMesh"
    preferred = _names(store, named, concept_iris, "skos:prefLabel")
    registry_terms = _names(store, named, concept_iris, "kg:registryTerm")
    actions = _Interner()
    concept_actions = _read(store, _predicate("kg:pharmacologicalAction"), concept_position, actions)

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
        start=start,
        start_texts=start_texts,
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
        sites=sites,
        intervention_types=intervention_types,
        intervention_type_labels=intervention_type_labels,
        condition_mesh=by_trial["kg:conditionMesh"],
        intervention_mesh=by_trial["kg:interventionMesh"],
        registry_condition=by_trial["kg:registryConditionAncestor"],
        registry_intervention=by_trial["kg:registryInterventionAncestor"],
        concepts=concept_iris,
        concept_labels=[
            label if label is not None else term for label, term in zip(preferred, registry_terms, strict=True)
        ],
        concept_actions=concept_actions,
        action_iris=actions.texts,
        action_labels=_names(store, "kg:pharmacologicalAction", actions.texts, "skos:prefLabel"),
        has_results=has_results,
        primary_month=_months(first_primary, trials),
        posted_month=_months(_firsts(store, "kg:resultsFirstPosted", trial), trials),
        serious_events=_serious_events(store, trial),
        references=_references(store, trial),
        start_month=_months(first_start, trials),
        start_type=_flags(store, "kg:startDateEstimated", trial, trials),
        primary_type=_flags(store, "kg:primaryCompletionDateEstimated", trial, trials),
        allocation=allocation,
        allocation_labels=allocation_labels,
        masking=masking,
        masking_labels=masking_labels,
        purpose=purpose,
        purpose_labels=purpose_labels,
        arms=arms,
        nct=nct,
        primary=primary,
        primary_texts=primary_texts,
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


def concepts_under(store: Store, ui: str) -> set[str]:
    """The IRIs of the concept ``ui`` and every concept below it in the loaded tree."""
    return _vocabulary(store, _UNDER, ui)


def _vocabulary(store: Store, query: str, ui: str) -> set[str]:
    """The concepts a bound vocabulary pattern reaches from ``ui`` (always ``ui`` itself: zero-length paths)."""
    concept = MESH[ui]
    return {str(row["term"]) for row in store.select(query, {"concept": concept}).rows} | {str(concept.value)}


def _scope(
    store: Store, index: LandscapeIndex, condition: str | None, intervention: str | None, mesh: bool
) -> tuple[Mask, Mask, Mask | None]:
    """The trials in scope (``SCOPES`` of :mod:`kg.analysis.landscape`), the condition terms that put them there,
    and (with an intervention and the MeSH tree) the intervention terms that did."""
    scope = np.ones(index.trials, dtype=bool)
    terms = np.zeros(len(index.concepts), dtype=bool)
    reached: Mask | None = None
    if condition is not None:
        terms = index.concept_mask(_vocabulary(store, _UNDER, condition) if mesh else {str(MESH[condition].value)})
        scope &= index.trials_with(terms, index.condition_mesh, *(() if mesh else (index.registry_condition,)))
    if intervention is not None:
        if mesh:
            drugs = reached = index.concept_mask(_vocabulary(store, _WITH_ACTION, intervention))
            scope &= index.trials_with(drugs, index.intervention_mesh)
        else:
            drugs = index.concept_mask({str(MESH[intervention].value)})
            scope &= index.trials_with(drugs, index.intervention_mesh, index.registry_intervention)
    return scope, terms, reached


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


def _map(index: LandscapeIndex, scope: Mask) -> Rows:
    """``landscape_map.rq``: per (named) country of the sites of trials in scope, the trials, sites and active sites."""
    sites = index.sites
    chosen = scope[sites.trials]
    size = len(index.country_names)
    trials = Pairs.distinct(sites.trials[chosen], sites.countries[chosen]).counts(scope, size)
    counted = np.bincount(sites.countries[chosen], minlength=size)
    active = np.bincount(sites.active_countries[scope[sites.active_trials]], minlength=size)
    return [
        {"country": name, "trials": count, "sites": int(counted[node]), "active_sites": int(active[node])}
        for name, count, node in _named(trials, index.country_names, None)
    ]


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


def _members(
    store: Store, index: LandscapeIndex, scope: Mask, terms: Mask, condition: str
) -> Iterator[tuple[str, str, Mask]]:
    """``(row IRI, row label, trials)`` per child of the condition: the trials in ``scope`` with a condition term
    (one that put them in scope, ``terms``) at or under the child."""
    held = index.condition_mesh
    in_scope = scope[held.trials] & terms[held.values]
    for iri, label, under in _children(store, index, condition):
        members = np.zeros(index.trials, dtype=bool)
        members[held.trials[in_scope & under[held.values]]] = True
        yield iri, label, members


def _cells(keys: npt.NDArray[np.int64], width: int) -> Iterator[tuple[int, int, int]]:
    """``(column, phase, trials)`` of the keys ``column * width + phase`` that occur."""
    for key, count in enumerate(np.bincount(keys).tolist()):
        if count:
            yield key // width, key % width, count


def _matrix(store: Store, index: LandscapeIndex, scope: Mask, terms: Mask, condition: str) -> Rows:
    """``landscape_matrix.rq``: per child of the condition, intervention type and phase, the trials in scope with
    a condition term (one that put them in scope) at or under the child."""
    types = index.intervention_types
    labels = [*index.intervention_type_labels, _NONE]
    untyped = ~types.having(index.trials)
    width = len(index.phase_labels)
    rows: Rows = []
    for iri, label, members in _members(store, index, scope, terms, condition):
        chosen = members[types.trials]
        keys = np.concatenate(
            (
                types.values[chosen].astype(np.int64) * width + index.phase[types.trials[chosen]],
                (len(labels) - 1) * width + index.phase[members & untyped].astype(np.int64),
            )
        )
        counted: dict[tuple[str, str], int] = {}
        for kind, phase, count in _cells(keys, width):
            cell = (labels[kind], index.phase_labels[phase])
            counted[cell] = counted.get(cell, 0) + count
        rows.extend(
            {"row": iri, "row_label": label, "intervention_type": kind, "phase": phase, "trials": count}
            for (kind, phase), count in counted.items()
        )
    return sorted(rows, key=lambda row: (row["row_label"], row["intervention_type"], row["phase"]))


# --- pipeline, mechanisms and sponsor portfolios ------------------------------------------------------------------

#: Phases in the order a pipeline ranks them; any other phase label (NA, none) ranks 0, "not a phase".
PIPELINE_PHASES: Final = ("EARLY_PHASE1", "PHASE1", "PHASE1/PHASE2", "PHASE2", "PHASE2/PHASE3", "PHASE3", "PHASE4")
NOT_A_PHASE: Final = "NA"


def _ui(iri: str) -> str:
    return _after(iri, "/mesh/")


def _join(keys: Ints, table: Pairs) -> tuple[Ints, Ints]:
    """For each key, every value ``table`` pairs it with: (position in ``keys``, value) per match."""
    low = np.searchsorted(table.trials, keys, side="left")
    counts = np.searchsorted(table.trials, keys, side="right") - low
    owners = np.repeat(np.arange(len(keys), dtype=np.int32), counts)
    offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    return owners, table.values[np.repeat(low, counts) + offsets]


def _drug_pairs(index: LandscapeIndex, scope: Mask, drugs: Mask | None) -> tuple[Ints, Ints]:
    """(trial, concept) per intervention MeSH term of a trial in scope (only ``drugs`` when given)."""
    pairs = index.intervention_mesh
    chosen = scope[pairs.trials] & (drugs[pairs.values] if drugs is not None else True)
    return pairs.trials[chosen], pairs.values[chosen]


def _pipeline(index: LandscapeIndex, scope: Mask, drugs: Mask | None) -> Rows:
    """``landscape_pipeline.rq``: per concept, its highest phase, trials there and in all, the most advanced
    trial's status (highest phase, latest start, highest NCT id) and the first and latest start."""
    trials, concepts = _drug_pairs(index, scope, drugs)
    ranks = np.asarray(
        [PIPELINE_PHASES.index(label) + 1 if label in PIPELINE_PHASES else 0 for label in index.phase_labels],
        dtype=np.int32,
    )[index.phase[trials]]
    starts = index.start[trials]
    order = np.lexsort((trials, starts, ranks, concepts))
    trials, concepts, ranks, starts = trials[order], concepts[order], ranks[order], starts[order]
    ends = np.flatnonzero(np.r_[concepts[1:] != concepts[:-1], True]) if len(order) else np.zeros(0, dtype=np.int64)
    beginnings = np.r_[0, ends[:-1] + 1].astype(np.int64) if len(ends) else ends
    counts = ends - beginnings + 1
    top = ranks[ends]
    at_top = np.add.reduceat((ranks == np.repeat(top, counts)).astype(np.int64), beginnings) if len(ends) else ends
    dated = np.where(starts >= 0, starts, np.iinfo(np.int32).max)
    first = np.minimum.reduceat(dated, beginnings) if len(ends) else ends
    last = np.maximum.reduceat(starts, beginnings) if len(ends) else ends
    rows: Rows = []
    for end, count, rank, at, low, high in zip(
        ends.tolist(), counts.tolist(), top.tolist(), at_top.tolist(), first.tolist(), last.tolist(), strict=True
    ):
        concept = int(concepts[end])
        drug = _ui(index.concepts[concept])
        rows.append(
            {
                "drug": drug,
                "drug_label": index.concept_labels[concept] or drug,
                "highest_phase": PIPELINE_PHASES[rank - 1] if rank else NOT_A_PHASE,
                "trials_at_phase": at,
                "trials": count,
                "status": index.status_labels[index.status[trials[end]]],
                "first_start": index.start_texts[low] if high >= 0 else None,
                "latest_start": index.start_texts[high] if high >= 0 else None,
                "_rank": rank,
            }
        )
    rows.sort(key=lambda row: (-row["_rank"], -row["trials"], row["drug_label"], row["drug"]))
    for row in rows:
        del row["_rank"]
    return rows


def _pipeline_sponsors(index: LandscapeIndex, scope: Mask, drugs: Mask | None) -> Rows:
    """``landscape_pipeline_sponsors.rq``: trials per concept and (named) lead sponsor."""
    trials, concepts = _drug_pairs(index, scope, drugs)
    owners, organisations = _join(trials, index.sponsors)
    keys, counts = np.unique(
        (concepts[owners].astype(np.int64) << 32) | organisations.astype(np.int64), return_counts=True
    )
    rows = [
        {"drug": _ui(index.concepts[key >> 32]), "sponsor": name, "trials": count}
        for key, count in zip(keys.tolist(), counts.tolist(), strict=True)
        if (name := index.sponsor_names[key & 0xFFFFFFFF]) is not None
    ]
    return sorted(rows, key=lambda row: (row["drug"], -row["trials"], row["sponsor"].lower(), row["sponsor"]))


def _trial_actions(index: LandscapeIndex, scope: Mask) -> Pairs:
    """(trial, action) per pharmacological action of an intervention MeSH term of a trial in scope."""
    trials, concepts = _drug_pairs(index, scope, None)
    owners, actions = _join(concepts, index.concept_actions)
    return Pairs.distinct(trials[owners], actions)


def _action_label(index: LandscapeIndex, action: int) -> str:
    return index.action_labels[action] or _ui(index.action_iris[action])


def drug_actions(index: LandscapeIndex, drugs: Iterable[str]) -> dict[str, set[str]]:
    """Per drug (a MeSH UI; those without an action left out), the labels of its pharmacological actions, named as
    the mechanisms table names them: the pipeline's actions without a query over every drug in scope."""
    concepts = np.flatnonzero(index.concept_mask(str(MESH[drug].value) for drug in drugs)).astype(np.int32)
    owners, actions = _join(concepts, index.concept_actions)
    found: dict[str, set[str]] = {}
    for owner, action in zip(concepts[owners].tolist(), actions.tolist(), strict=True):
        found.setdefault(_ui(index.concepts[owner]), set()).add(_action_label(index, action))
    return found


def _mechanisms(index: LandscapeIndex, scope: Mask) -> Rows:
    """``landscape_mechanisms.rq``: trials in scope per pharmacological action of their intervention terms."""
    counts = np.bincount(_trial_actions(index, scope).values, minlength=len(index.action_iris))
    rows = [
        {"action": _ui(index.action_iris[action]), "action_label": _action_label(index, action), "trials": count}
        for action, count in enumerate(counts.tolist())
        if count
    ]
    return sorted(rows, key=lambda row: (-row["trials"], row["action_label"], row["action"]))


def _mechanism_matrix(store: Store, index: LandscapeIndex, scope: Mask, terms: Mask, condition: str) -> Rows:
    """``landscape_mechanism_matrix.rq``: per child of the condition (and the condition itself, for the trials
    indexed to it directly), pharmacological action and phase."""
    actions = _trial_actions(index, scope)
    width = len(index.phase_labels)
    iri = str(MESH[condition].value)
    itself = index.concept_mask({iri})
    root = []  # the condition as a row of its own: the trials indexed to it directly
    for position in np.flatnonzero(itself).tolist():
        indexed = index.trials_with(itself, index.condition_mesh)
        root.append((iri, index.concept_labels[position] or condition, scope & indexed))
    rows: Rows = []
    for iri, label, members in [*_members(store, index, scope, terms, condition), *root]:
        chosen = members[actions.trials]
        keys = actions.values[chosen].astype(np.int64) * width + index.phase[actions.trials[chosen]]
        rows.extend(
            {
                "row": _ui(iri),
                "row_label": label,
                "action": _ui(index.action_iris[action]),
                "phase": index.phase_labels[phase],
                "trials": count,
            }
            for action, phase, count in _cells(keys, width)
        )
    return sorted(rows, key=lambda row: (row["row_label"], row["row"], row["action"], row["phase"]))


def _portfolio(index: LandscapeIndex, scope: Mask, terms: Mask | None, sponsors: Sequence[str]) -> Rows:
    """``landscape_portfolio.rq`` per sponsor (a lead sponsor's name as shown): its trials in scope per condition
    term (one of ``terms``, those that put the trial in scope; any without) and phase."""
    held = index.condition_mesh
    width = len(index.phase_labels)
    rows: Rows = []
    for sponsor in sponsors:
        organisations = [number for number, name in enumerate(index.sponsor_names) if name == sponsor]
        led = np.zeros(index.trials, dtype=bool)
        led[index.sponsors.trials[np.isin(index.sponsors.values, organisations)]] = True
        chosen = (scope & led)[held.trials] & (terms[held.values] if terms is not None else True)
        keys = held.values[chosen].astype(np.int64) * width + index.phase[held.trials[chosen]]
        for concept, phase, count in _cells(keys, width):
            ui = _ui(index.concepts[concept])
            rows.append(
                {
                    "sponsor": sponsor,
                    "row": ui,
                    "row_label": index.concept_labels[concept] or ui,
                    "phase": index.phase_labels[phase],
                    "trials": count,
                }
            )
    return sorted(rows, key=lambda row: (row["sponsor"], row["row_label"], row["row"], row["phase"]))


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
    pairs = distinct((inverse.astype(np.int64) << 32) | events.trials[chosen])
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


# --- benchmarks -------------------------------------------------------------------------------------------------

#: The kinds of duration a benchmark measures (see ``landscape_durations.rq``).
DURATIONS: Final = ("actual", "planned")


def _durations(index: LandscapeIndex, scope: Mask) -> Rows:
    """``landscape_durations.rq``: trials per phase, kind of duration (both dates ACTUAL: actual; primary completion
    ESTIMATED or ANTICIPATED: planned) and whole months from start to primary completion."""
    planned = index.primary_type == 1
    actual = (index.start_type == 0) & (index.primary_type == 0)
    dated = (index.start_month != NO_MONTH) & (index.primary_month != NO_MONTH)
    months = index.primary_month.astype(np.int64) - index.start_month
    counted: dict[tuple[str, str, int], int] = {}
    for kind, members in zip(DURATIONS, (actual, planned), strict=True):
        chosen = scope & dated & members
        found = months[chosen]
        low = int(found.min()) if len(found) else 0
        width = int(found.max()) - low + 1 if len(found) else 1
        keys, counts = np.unique(index.phase[chosen].astype(np.int64) * width + found - low, return_counts=True)
        for key, count in zip(keys.tolist(), counts.tolist(), strict=True):
            cell = (index.phase_labels[key // width], kind, key % width + low)
            counted[cell] = counted.get(cell, 0) + count
    rows = [{"phase": p, "duration": k, "months": m, "trials": n} for (p, k, m), n in counted.items()]
    return sorted(rows, key=lambda row: (row["phase"], row["duration"], row["months"]))


def _phase_enrollment(index: LandscapeIndex, scope: Mask) -> Rows:
    """``landscape_phase_enrollment.rq``: trials per phase and enrollment count."""
    chosen = scope & index.enrolled
    counted: dict[tuple[str, int], int] = {}
    for phase, value in zip(index.phase[chosen].tolist(), index.enrollment[chosen].tolist(), strict=True):
        cell = (index.phase_labels[phase], value)
        counted[cell] = counted.get(cell, 0) + 1
    rows = [{"phase": phase, "enrollment": value, "trials": count} for (phase, value), count in counted.items()]
    return sorted(rows, key=lambda row: (row["phase"], row["enrollment"]))


def _design(index: LandscapeIndex, scope: Mask) -> Rows:
    """``landscape_design.rq``: trials per allocation, masking, primary purpose and number of arms."""
    arms = index.arms[scope].astype(np.int64)
    sizes = (len(index.masking_labels), len(index.purpose_labels), int(arms.max()) + 1 if len(arms) else 1)
    key = (index.allocation[scope].astype(np.int64) * sizes[0] + index.masking[scope]) * sizes[1] + index.purpose[scope]
    keys, counts = np.unique(key * sizes[2] + arms, return_counts=True)
    codes = np.unravel_index(keys, (len(index.allocation_labels), *sizes)) if len(keys) else ([], [], [], [])
    rows = [
        {
            "allocation": index.allocation_labels[allocation],
            "masking": index.masking_labels[masking],
            "primary_purpose": index.purpose_labels[purpose],
            "arms": arms,
            "trials": count,
        }
        for allocation, masking, purpose, arms, count in zip(
            *(np.asarray(column).tolist() for column in codes), counts.tolist(), strict=True
        )
    ]
    return sorted(rows, key=lambda r: (r["allocation"], r["masking"], r["primary_purpose"], r["arms"]))


def sections(
    store: Store,
    index: LandscapeIndex,
    condition: str | None,
    intervention: str | None,
    hierarchy: str,
    sponsors: Sequence[str] = (),
) -> dict[str, Callable[[], Rows]]:
    """Per landscape query, a call returning its rows for this scope (condition and intervention: MeSH UIs;
    ``sponsors``: lead sponsor names for ``portfolio``), the scope resolved once here: the trial side counted in
    ``index``, the vocabulary side asked of ``store``. :func:`table_rows` runs them all; a benchmark times each."""
    scope, terms, drugs = _scope(store, index, condition, intervention, hierarchy == "mesh")  # none: every trial
    children = condition if condition is not None and hierarchy == "mesh" else None

    def by_child(table: Callable[[Store, LandscapeIndex, Mask, Mask, str], Rows]) -> Callable[[], Rows]:
        return lambda: table(store, index, scope, terms, children) if children else []

    return {
        "summary": lambda: [{"trials": int(scope.sum()), "synthetic": int((scope & index.synthetic).sum())}],
        "phase_status": lambda: _phase_status(index, scope),
        "start_years": lambda: _start_years(index, scope),
        "sponsor_classes": lambda: _sponsor_classes(index, scope),
        "top_sponsors": lambda: _top_sponsors(index, scope),
        "countries": lambda: _countries(index, scope),
        "enrollment": lambda: _enrollment(index, scope),
        "matrix": by_child(_matrix),
        "stopped": lambda: _stopped(index, scope),
        "results": lambda: _results(index, scope),
        "serious_events": lambda: _serious(index, scope),
        "publications": lambda: _publications(index, scope),
        "pipeline": lambda: _pipeline(index, scope, drugs),
        "pipeline_sponsors": lambda: _pipeline_sponsors(index, scope, drugs),
        "mechanisms": lambda: _mechanisms(index, scope),
        "mechanism_matrix": by_child(_mechanism_matrix),
        "map": lambda: _map(index, scope),
        "portfolio": lambda: _portfolio(index, scope, terms if children else None, sponsors),
        "durations": lambda: _durations(index, scope),
        "phase_enrollment": lambda: _phase_enrollment(index, scope),
        "design": lambda: _design(index, scope),
    }


def table_rows(
    store: Store,
    index: LandscapeIndex,
    condition: str | None,
    intervention: str | None,
    hierarchy: str,
    sponsors: Sequence[str] = (),
) -> dict[str, Rows]:
    """The rows each landscape query returns for this scope (see :func:`sections`)."""
    return {name: rows() for name, rows in sections(store, index, condition, intervention, hierarchy, sponsors).items()}
