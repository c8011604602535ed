"""Per-trial facts for pages that show many trials at once, read from the store once and saved beside it.

An explorer page at depth 2 shows about a thousand trials, each with its summary and health score. From the store,
that is four queries per hop (``trial_summary``, ``trial_dates``, ``trial_site_statuses``, ``trial_changes``) reading
some thirty predicates per trial; at registry scale the store outgrows the page cache and most of a page's time went
on cold reads. This index holds per trial what those queries give the explorer and the health score:

- the row of ``trial_summary``;
- the rows of ``trial_dates``;
- of ``trial_site_statuses``, how many sites and how many of them are recruiting (all the score counts);
- of ``trial_changes``, how many changes and each slip of primary completion in months.
- the rows of :data:`OWN_TERMS_QUERY`: its own MeSH terms, the explorer's links from the trial to its concepts.

It is built from whole-predicate reads, each value typed as the queries type it, and saved like every other index
(:mod:`kg.analysis.saved_index`). The queries stay the definition and what other stores run: tests check the index
against them on every real record. Two counts rest on how the mapping writes a trial: each location node belongs to
one trial (its IRI holds the NCT id) and has one site and at most one status. Each trial's facts are packed
(:mod:`kg.analysis.packed`): about 100 bytes a trial, and no Python object per trial held.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

import numpy as np

from kg.analysis.arrays import distinct
from kg.analysis.changes import Change, changes, histories, slip_months
from kg.analysis.packed import Packed
from kg.analysis.saved_index import SavedIndex
from kg.identifiers import is_nct_id
from kg.queries import load_query, run, select_many, trial_terms
from kg.store import Store, Value
from kg.store.base import python_value
from kg.vocab import MESH, SPARQL_PROLOGUE

__all__ = [
    "OWN_TERMS_QUERY",
    "TRIAL_FACTS_INDEX",
    "HealthInputs",
    "TrialFacts",
    "build_trial_facts",
    "health_inputs",
    "trial_facts",
]

logger = logging.getLogger(__name__)

_FORMAT: Final = 3  # 2: the facts packed by kg.analysis.packed; 3: with the trial's own MeSH terms
Row = dict[str, Value]

#: ``trial_summary``'s columns read as one value per trial (its ``SAMPLE``), by the path from the trial.
_ONE: Final = {
    "title": "schema:name",
    "acronym": "schema:alternateName",
    "status": "kg:overallStatus/skos:notation",
    "study_type": "kg:studyType/skos:notation",
    "start": "kg:startDate",
    "primary_completion": "kg:primaryCompletionDate",
    "completion": "kg:completionDate",
    "enrollment": "kg:enrollment",
    "enrollment_estimated": "kg:enrollmentEstimated",
    "sponsor_class": "kg:leadSponsorClass/skos:notation",
}
#: ``trial_summary``'s ``COUNT(DISTINCT …)`` columns, by predicate.
_COUNTED: Final = {
    "conditions": "kg:condition",
    "interventions": "kg:intervention",
    "countries": "kg:country",
}
#: ``trial_dates``'s branches, in its order: milestone, date predicate, the predicate saying it is an estimate.
_MILESTONES: Final = (
    ("first_submitted", "kg:firstSubmitted", None),
    ("first_submitted_qc", "kg:firstSubmittedQc", None),
    ("study_start", "kg:startDate", "kg:startDateEstimated"),
    ("first_posted", "kg:firstPosted", "kg:firstPostedEstimated"),
    ("primary_completion", "kg:primaryCompletionDate", "kg:primaryCompletionDateEstimated"),
    ("study_completion", "kg:completionDate", "kg:completionDateEstimated"),
    ("last_update_submitted", "kg:lastUpdateSubmitted", None),
    ("last_update", "kg:lastUpdatePosted", "kg:lastUpdatePostedEstimated"),
    ("status_verified", "kg:statusVerified", None),
)
#: The site status ``trial_site_statuses`` reports for a location that the health score counts as recruiting.
_RECRUITING_SITE: Final = "RECRUITING"
#: Every location with its site and status, in one pass: its trial's ``COUNT(DISTINCT ?location)`` of
#: ``trial_summary``, and the sites and recruiting sites of ``trial_site_statuses``. The status is read as an IRI
#: and its code looked up (:data:`_STATUS_CODES`): the path to the code took half as long again.
_LOCATIONS: Final = (
    "?s kg:location ?location OPTIONAL { ?location kg:site ?site } OPTIONAL { ?location kg:recruitmentStatus ?o }"
)
_STATUS_CODES: Final = "?s skos:notation ?o . ?location kg:recruitmentStatus ?s"
#: A trial's own MeSH terms (``?nct`` bound): ``trial_mesh`` without the registry's ancestors (85% of its rows),
#: which a page drawn with the MeSH vocabulary loaded does not show.
OWN_TERMS_QUERY: Final = (
    SPARQL_PROLOGUE
    + """SELECT ?role ?mesh_id ?term WHERE {
  ?trial dcterms:identifier ?nct .
  { ?trial kg:conditionMesh ?concept . BIND("condition" AS ?role) }
  UNION { ?trial kg:interventionMesh ?concept . BIND("intervention" AS ?role) }
  OPTIONAL { ?concept kg:registryTerm ?registry_term }
  BIND(STRAFTER(STR(?concept), STR(mesh:)) AS ?mesh_id)
  BIND(COALESCE(?registry_term, ?mesh_id) AS ?term)
}
ORDER BY ?role ?term"""
)
_OWN_ROLES: Final = (("condition", "kg:conditionMesh"), ("intervention", "kg:interventionMesh"))


class HealthInputs(NamedTuple):
    """What the health score reads of a trial besides its summary: its ``trial_dates`` rows, its sites and those
    recruiting (``trial_site_statuses``), its recorded changes and primary-completion slips (``trial_changes``)."""

    dates: list[Row]
    sites: int
    recruiting_sites: int
    changes: int
    slips: tuple[int, ...]


def _site_counts(rows: Iterable[Mapping[str, Value]]) -> tuple[int, int]:
    """(sites, recruiting sites) of ``trial_site_statuses`` rows."""
    statuses = [row["status"] for row in rows]
    return len(statuses), statuses.count(_RECRUITING_SITE)


def _slips(history: Sequence[Change]) -> tuple[int, ...]:
    """The months of each primary-completion slip in a trial's history, oldest first."""
    return tuple(months for change in history if (months := slip_months(change)) is not None)


@dataclass(frozen=True)
class TrialFacts:
    """Each trial's facts (see the module docstring), packed by NCT id."""

    fingerprint: str
    columns: tuple[str, ...]  # trial_summary's projection, in its order
    packed: Packed

    @property
    def ncts(self) -> list[str]:
        """Every trial's NCT id, in order."""
        return [key.decode("ascii") for key in self.packed.keys]

    def summaries(self, ncts: Iterable[str]) -> dict[str, list[Row]]:
        """NCT id → its ``trial_summary`` rows (one, or none for a trial not in the store), as ``select_many``."""
        found: dict[str, list[Row]] = {}
        for nct in ncts:
            facts = self.packed.get(nct)
            found[nct] = [] if facts is None else [dict(zip(self.columns, (nct, *facts[0]), strict=True))]
        return found

    def own_terms(self, ncts: Iterable[str]) -> dict[str, list[Row]]:
        """NCT id → its :data:`OWN_TERMS_QUERY` rows, as ``select_many`` gives them (ties in the query's order by
        MeSH id)."""
        found: dict[str, list[Row]] = {}
        for nct in ncts:
            facts = self.packed.get(nct)
            terms = () if facts is None else facts[6]
            found[nct] = [{"nct": nct, "role": role, "mesh_id": ui, "term": term} for role, ui, term in terms]
        return found

    def health_inputs(self, ncts: Iterable[str]) -> dict[str, HealthInputs]:
        """NCT id → what its health score reads (see :class:`HealthInputs`); every trial must be in the store."""
        found = {}
        for nct in ncts:
            facts = self.packed.get(nct)
            if facts is None:
                raise KeyError(nct)
            _, dates, sites, recruiting, changed, slipped, _ = facts
            rows = [{"milestone": _MILESTONES[m][0], "date": day, "estimated": est} for m, day, est in dates]
            found[nct] = HealthInputs(rows, sites, recruiting, changed, slipped)
        return found


def trial_facts(store: Store) -> TrialFacts | None:
    """The store's facts index where one pays (an embedded store, read whole fast), else None: run the queries."""
    return TRIAL_FACTS_INDEX.load(store) if store.scans_fast else None


def health_inputs(store: Store, ncts: Sequence[str]) -> dict[str, HealthInputs]:
    """:class:`HealthInputs` of trials in the store from the queries themselves (the definition of the index)."""
    per_trial = {}
    for name in ("trial_dates", "trial_site_statuses"):
        per_trial[name] = select_many(store, load_query(name).text, "nct", list(trial_terms(name, ncts).values()))
    history = histories(store, ncts)
    return {
        nct: HealthInputs(
            per_trial["trial_dates"][nct],
            *_site_counts(per_trial["trial_site_statuses"][nct]),
            len(history[nct]),
            _slips(history[nct]),
        )
        for nct in ncts
    }


# --- the build -------------------------------------------------------------------------------------------------


def _values(store: Store, where: str, *, typed: bool = True) -> Iterator[tuple[str, Value]]:
    """``(?s, ?o)`` of a pattern, read lazily; ``typed``: ``?o`` as the queries' rows type it (by its datatype),
    else its lexical form or IRI."""
    if not typed:
        for subject, value in store.solutions(f"{SPARQL_PROLOGUE}SELECT ?s ?o WHERE {{ {where} }}", "s", "o"):
            yield subject, value
        return
    query = f"{SPARQL_PROLOGUE}SELECT ?s ?o (DATATYPE(?o) AS ?type) WHERE {{ {where} }}"
    for subject, lexical, datatype in store.solutions(query, "s", "o", "type"):
        yield subject, python_value("literal", lexical, datatype or None)


class _Reader:
    """The build's reads, each trial numbered by its IRI."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.number: dict[str, int] = {}
        self.ncts: list[str] = []
        self._shared: dict[tuple[type, Value], Value] = {}
        for trial, nct in _values(store, "?s dcterms:identifier ?o"):
            if isinstance(nct, str) and is_nct_id(nct) and trial not in self.number:
                self.number[trial] = len(self.ncts)
                self.ncts.append(nct)

    def each(self, where: str, *, typed: bool = True) -> Iterator[tuple[int, Value]]:
        for trial, value in _values(self.store, where, typed=typed):
            number = self.number.get(trial)
            if number is not None:
                yield number, value

    def first(self, path: str, *, shared: bool = True) -> tuple[list[Value], dict[int, list[Value]]]:
        """Per trial, its first value of ``path`` (``SAMPLE``; None without any), and by trial any further ones.
        ``shared``: values many trials have (dates, codes, sponsors) are kept once, not once per trial."""
        found: list[Value] = [None] * len(self.ncts)
        more: dict[int, list[Value]] = {}
        for number, value in self.each(f"?s {path} ?o"):
            if shared:  # keyed by type too: 0 == False, and 1 == 1.0 == True
                value = self._shared.setdefault((type(value), value), value)
            if found[number] is None:
                found[number] = value
            else:
                more.setdefault(number, []).append(value)
        return found, more

    def extremes(self, path: str) -> tuple[list[Value], list[Value]]:
        """Per trial, the least and greatest value of ``path`` in string order (``MIN``, ``MAX``), None without."""
        low: list[Value] = [None] * len(self.ncts)
        high: list[Value] = [None] * len(self.ncts)
        for number, value in self.each(f"?s {path} ?o"):
            text = str(value)
            if low[number] is None or text < str(low[number]):
                low[number] = value
            if high[number] is None or text > str(high[number]):
                high[number] = value
        return low, high

    def distinct(self, predicate: str) -> list[int]:
        """Per trial, how many distinct values of ``predicate``."""
        seen: dict[Value, int] = {}
        pairs = self.each(f"?s {predicate} ?o", typed=False)
        keys = np.fromiter((trial << 32 | seen.setdefault(value, len(seen)) for trial, value in pairs), dtype=np.int64)
        return np.bincount(distinct(keys) >> 32, minlength=len(self.ncts)).tolist()

    def locations(self) -> tuple[list[int], list[int], list[int]]:
        """Per trial, how many locations, how many with a site and how many of those recruiting."""
        codes = dict(_values(self.store, _STATUS_CODES, typed=False))
        every, sites, recruiting = ([0] * len(self.ncts) for _ in range(3))
        query = f"{SPARQL_PROLOGUE}SELECT ?s ?site ?o WHERE {{ {_LOCATIONS} }}"
        for trial, site, status in self.store.solutions(query, "s", "site", "o"):
            number = self.number.get(trial)
            if number is None:
                continue
            every[number] += 1
            if site:
                sites[number] += 1
                recruiting[number] += codes.get(status) == _RECRUITING_SITE
        return every, sites, recruiting


def _phases(low: Value, high: Value) -> str | None:
    """``trial_summary``'s ``?phases``: the phase, or ``FIRST/LAST`` of a trial in two; None without a phase."""
    if low is None:
        return None
    return str(low) if low == high else f"{low}/{high}"


def _summaries(reader: _Reader, names: Sequence[str], locations: list[int]) -> list[Sequence[Value]]:
    """``trial_summary``'s columns ``names``, each a value per trial."""
    columns: dict[str, Sequence[Value]] = {
        name: reader.first(path, shared=name != "title")[0] for name, path in _ONE.items()
    }
    low, high = reader.extremes("kg:phase/skos:notation")
    columns["phases"] = [_phases(first, last) for first, last in zip(low, high, strict=True)]
    columns["lead_sponsor"] = reader.extremes("kg:leadSponsor/rdfs:label")[0]
    for name, predicate in _COUNTED.items():
        columns[name] = reader.distinct(predicate)
    columns["sites"] = locations
    synthetic = {number for number, _ in reader.each("?s kg:synthetic true BIND(true AS ?o)")}
    columns["synthetic"] = [number in synthetic for number in range(len(reader.ncts))]
    return [columns[name] for name in names]


class _Dates:
    """``trial_dates`` of every trial: per milestone the first date and estimate flag of each trial, and any more."""

    def __init__(self, reader: _Reader) -> None:
        self.days = [reader.first(predicate) for _, predicate, _ in _MILESTONES]
        self.flags = [reader.first(flag) if flag is not None else None for _, _, flag in _MILESTONES]

    def rows(self, number: int) -> list[tuple[int, Value, Value]]:
        """A trial's rows as (milestone number, date, estimated), a row per date and flag (the query's join)."""
        found: list[tuple[int, Value, Value]] = []
        for milestone, ((first, more), flags) in enumerate(zip(self.days, self.flags, strict=True)):
            if first[number] is None:
                continue
            estimated: list[Value] = [None]  # the query's OPTIONAL
            if flags is not None and flags[0][number] is not None:
                estimated = [flags[0][number], *flags[1].get(number, ())]
            found.extend((milestone, day, flag) for day in (first[number], *more.get(number, ())) for flag in estimated)
        return found


class _OwnTerms:
    """:data:`OWN_TERMS_QUERY`'s rows of every trial: its (role, concept) pairs, each concept's IRI kept once."""

    def __init__(self, reader: _Reader) -> None:
        self.registry: defaultdict[str, list[str]] = defaultdict(list)
        for subject, term in _values(reader.store, "?s kg:registryTerm ?o", typed=False):
            self.registry[subject].append(str(term))
        self.pairs: defaultdict[int, list[tuple[str, str]]] = defaultdict(list)
        concepts: dict[str, str] = {}
        for role, predicate in _OWN_ROLES:
            for number, value in reader.each(f"?s {predicate} ?o", typed=False):
                self.pairs[number].append((role, concepts.setdefault(str(value), str(value))))

    def rows(self, number: int) -> tuple[tuple[str, str, str], ...]:
        """A trial's rows as (role, MeSH id, term): a row per registry term of the concept, else its MeSH id; ordered
        by role and term (``ORDER BY``), then MeSH id."""
        found: list[tuple[str, str, str]] = []
        for role, concept in self.pairs.get(number, ()):
            ui = concept[len(MESH.iri) :] if concept.startswith(MESH.iri) else ""  # STRAFTER
            found.extend((role, ui, term) for term in self.registry.get(concept) or [ui])
        return tuple(sorted(found, key=lambda row: (row[0], row[2], row[1])))


def build_trial_facts(store: Store) -> TrialFacts:
    """Every trial's facts, read whole-predicate by whole-predicate (see the module docstring)."""
    fingerprint = TRIAL_FACTS_INDEX.fingerprint(store)
    reader = _Reader(store)
    locations, sites, recruiting = reader.locations()
    nct, *named = run(store, "trial_summary", {"nct": "NCT00000000"}).variables  # its projection, from the query
    summaries = _summaries(reader, named, locations)
    dates = _Dates(reader)
    own_terms = _OwnTerms(reader)
    history: defaultdict[str, list[Change]] = defaultdict(list)
    for change in changes(store):
        history[change.nct_id].append(change)
    position = {nct: number for number, nct in enumerate(reader.ncts)}

    def facts(nct: str) -> tuple[Any, ...]:
        number = position[nct]
        changed = history.get(nct, [])
        summary = tuple(column[number] for column in summaries)
        slips, terms = _slips(changed), own_terms.rows(number)
        return (summary, dates.rows(number), sites[number], recruiting[number], len(changed), slips, terms)

    packed = Packed.pack(reader.ncts, facts)
    logger.info("trial facts: %d trials, %.1f MB", len(packed), len(packed.blob) / 1e6)
    return TrialFacts(fingerprint, (nct, *named), packed)


TRIAL_FACTS_INDEX: Final = SavedIndex("trial-facts", TrialFacts, _FORMAT, build_trial_facts)
