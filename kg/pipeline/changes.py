"""Change events: what changed, field by field, when a trial's graph is replaced, removed or first added.

The facts of a trial are read the same way from the store (one batched query, before the trial is replaced) and from
a newly mapped record (its quads): both become ``(subject, predicate) → objects`` and one table says how each field
is read from them. Events go to ``kgr:graph/changes``, which is only ever added to; an event's IRI hashes what it
says (trial, field, old, new, the data version and last update posted after), so recording it twice adds nothing.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Final

from pyoxigraph import Literal, NamedNode, Quad, RdfFormat, parse

from kg.ctgov.mapping import trial_iri
from kg.graphs import CHANGES_GRAPH, NODES_GRAPH, trial_graph
from kg.store import Store
from kg.vocab import DATA, KG, PROV, RDF, RDFS, SCHEMA, SPARQL_PROLOGUE, XSD

__all__ = [
    "FIELDS",
    "Difference",
    "TrialFacts",
    "UpdateRun",
    "carry_changes",
    "differences",
    "event_quads",
    "facts_from_quads",
    "record_changes",
    "stored_facts",
    "stored_versions",
]

logger = logging.getLogger(__name__)

#: Objects of a subject's predicate, as strings (IRIs and literals' lexical forms): what the readers take.
Index = dict[tuple[str, str], list[str]]
Reader = Callable[[list[str]], str | None]


def _code(values: list[str]) -> str | None:
    """Enumeration IRIs (``kg:status/RECRUITING``) as their codes, sorted and joined with ``/`` (phases)."""
    return "/".join(sorted({value.rpartition("/")[2] for value in values})) or None


def _text(values: list[str]) -> str | None:
    return min(values) if values else None


#: xsd:boolean's lexical forms of true (Virtuoso answers "1").
_TRUE: Final = frozenset({"true", "1"})


def _kind(values: list[str]) -> str | None:
    """A ``…Estimated`` flag as the record's type; absent when the record did not state it."""
    return None if not values else "ESTIMATED" if _TRUE & set(values) else "ACTUAL"


def _posted(values: list[str]) -> str | None:
    """Results posted: a record without the flag has none."""
    return "true" if _TRUE & set(values) else "false"


#: Field → (the trial's predicate, how its values read). The field names are the documented vocabulary.
_SCALARS: Final[tuple[tuple[str, NamedNode, Reader], ...]] = (
    ("overall_status", KG.overallStatus, _code),
    ("enrollment", KG.enrollment, _text),
    ("enrollment_type", KG.enrollmentEstimated, _kind),
    ("start", KG.startDate, _text),
    ("start_type", KG.startDateEstimated, _kind),
    ("primary_completion", KG.primaryCompletionDate, _text),
    ("primary_completion_type", KG.primaryCompletionDateEstimated, _kind),
    ("completion", KG.completionDate, _text),
    ("completion_type", KG.completionDateEstimated, _kind),
    ("phases", KG.phase, _code),
    ("results_posted", KG.hasResults, _posted),
    ("why_stopped", KG.whyStopped, _text),
)
#: The fields this module records: the vocabulary kg.change_fields.CHANGE_FIELDS (a test checks they are the same).
FIELDS: Final = ("added", "removed", *(name for name, _, _ in _SCALARS), "sites", "site_status")
#: What a trial's facts need beyond the fields: its versions, its sites and its MeSH terms (kept on a removal).
_TRIAL_PREDICATES: Final = (
    RDF.type,
    *(predicate for _, predicate, _ in _SCALARS),
    KG.dataVersion,
    KG.lastUpdatePosted,
    KG.location,
    KG.conditionMesh,
    KG.interventionMesh,
)
#: A removed trial's MeSH terms, kept on its event under properties of their own: as ``kg:conditionMesh`` the event
#: would count as a trial wherever trials are found by their terms (information content, landscapes).
_AT_REMOVAL: Final = {KG.conditionMesh: KG.removedConditionMesh, KG.interventionMesh: KG.removedInterventionMesh}
_LOCATION_PREDICATES: Final = (KG.site, KG.recruitmentStatus)
_SITE_PREDICATES: Final = (RDFS.label, SCHEMA.addressLocality, SCHEMA.addressRegion, KG.country)
#: Trials per facts query: a VALUES block far below what the engine parses safely.
_BATCH: Final = 1_000
#: By named graph and with ``FILTER(?p IN …)``: at 1,000 trials 0.5 s, where the same patterns over the union graph
#: with ``VALUES ?p`` took over 20 s (measured on the real records, in memory).
_FACTS: Final = (
    SPARQL_PROLOGUE
    + "SELECT DISTINCT ?s ?p ?o WHERE {\n  VALUES (?trial ?g) { %s }\n"
    + "  { GRAPH ?g { ?trial ?p ?o } FILTER(?p IN ("
    + ", ".join(str(term) for term in _TRIAL_PREDICATES)
    + ")) BIND(?trial AS ?s) }\n"
    + "  UNION { GRAPH ?g { ?trial kg:location ?s . ?s ?p ?o } FILTER(?p IN ("
    + ", ".join(str(term) for term in _LOCATION_PREDICATES)
    + ")) }\n"
    + f"  UNION {{ GRAPH ?g {{ ?trial kg:location/kg:site ?s }} GRAPH {NODES_GRAPH} {{ ?s ?p ?o }} FILTER(?p IN ("
    + ", ".join(str(term) for term in _SITE_PREDICATES)
    + ")) }\n"
    + f"  UNION {{ GRAPH ?g {{ ?trial kg:location/kg:site ?site }} GRAPH {NODES_GRAPH} {{ ?site kg:country ?s . "
    + "?s rdfs:label ?o } BIND(rdfs:label AS ?p) }\n}"
)
_VERSIONS: Final = (
    SPARQL_PROLOGUE
    + """SELECT ?id ?posted WHERE {
  ?trial a schema:MedicalTrial ; dcterms:identifier ?id .
  OPTIONAL { ?trial kg:lastUpdatePosted ?posted }
}"""
)
_RECORDED: Final = SPARQL_PROLOGUE + "SELECT ?event WHERE { VALUES ?event { %s } GRAPH %s { ?event a kg:ChangeEvent } }"
_HISTORY: Final = f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH {CHANGES_GRAPH} {{ ?s ?p ?o }} }}"
_ISO_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")


@dataclass(frozen=True)
class Site:
    """One site of a trial as a change event names it."""

    label: str
    country: str | None
    status: str | None


@dataclass(frozen=True)
class TrialFacts:
    """What change detection compares of one trial version: the fields' values, its sites (by site IRI), and what
    an event carries besides (versions, MeSH terms)."""

    nct_id: str
    values: dict[str, str]
    sites: dict[str, Site]
    data_version: str | None
    last_update: str | None
    #: ``kg:conditionMesh`` / ``kg:interventionMesh`` → the trial's terms (IRIs).
    mesh: dict[NamedNode, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Difference:
    """One field-level change; ``country`` for a site's."""

    field: str
    old: str | None
    new: str | None
    country: str | None = None


@dataclass(frozen=True)
class UpdateRun:
    """The activity that found the changes: when it ran and which harvest (or sources) it read."""

    detected: datetime
    harvest: str

    @property
    def iri(self) -> NamedNode:
        return DATA[f"update/{self.detected:%Y%m%dT%H%M%SZ}"]

    @property
    def timestamp(self) -> Literal:
        return Literal(f"{self.detected:%Y-%m-%dT%H:%M:%SZ}", datatype=XSD.dateTime)

    @classmethod
    def now(cls, harvest: str) -> UpdateRun:
        return cls(datetime.now(timezone.utc).replace(microsecond=0), harvest)


def stored_versions(store: Store) -> dict[str, str]:
    """NCT id → ``lastUpdatePostDate`` of every trial in the store ("" when the record had none)."""
    return {nct_id: posted for nct_id, posted in store.solutions(_VERSIONS, "id", "posted")}


def stored_facts(store: Store, nct_ids: Iterable[str]) -> dict[str, TrialFacts]:
    """The facts of the given trials as the store holds them now (absent ids: not in the store), a query per
    thousand trials."""
    ids = sorted(set(nct_ids))
    facts: dict[str, TrialFacts] = {}
    for start in range(0, len(ids), _BATCH):
        batch = ids[start : start + _BATCH]
        query = _FACTS % " ".join(f"({trial_iri(nct_id)} {trial_graph(nct_id)})" for nct_id in batch)
        index = _index(store.solutions(query, "s", "p", "o"))
        facts.update((nct_id, read) for nct_id in batch if (read := _read_facts(index, nct_id)) is not None)
    return facts


def facts_from_quads(nct_id: str, quads: Iterable[Quad]) -> TrialFacts:
    """The facts of a newly mapped record (its own and shared quads)."""
    facts = _read_facts(_index((_lexical(q.subject), q.predicate.value, _lexical(q.object)) for q in quads), nct_id)
    if facts is None:
        raise ValueError(f"{nct_id}: the mapped record has no statement about the trial")
    return facts


def _lexical(term: object) -> str:
    """An IRI or a literal's lexical form, as the store's solutions give them."""
    return str(getattr(term, "value", term))


def _index(triples: Iterable[tuple[str, ...]]) -> Index:
    index: Index = defaultdict(list)
    for subject, predicate, obj in triples:
        index[subject, predicate].append(obj)
    return index


def _read_facts(index: Index, nct_id: str) -> TrialFacts | None:
    trial = trial_iri(nct_id).value
    if not any(subject == trial for subject, _ in index):
        return None
    values = {
        name: value
        for name, predicate, read in _SCALARS
        if (value := read(index.get((trial, predicate.value), []))) is not None
    }
    return TrialFacts(
        nct_id,
        values,
        _sites(index, trial),
        _text(index.get((trial, KG.dataVersion.value), [])),
        _text(index.get((trial, KG.lastUpdatePosted.value), [])),
        {
            predicate: tuple(sorted(index.get((trial, predicate.value), [])))
            for predicate in (KG.conditionMesh, KG.interventionMesh)
        },
    )


def _sites(index: Index, trial: str) -> dict[str, Site]:
    """Site IRI → site; a site listed twice (two locations) has its statuses joined."""
    statuses: dict[str, set[str]] = defaultdict(set)
    for location in index.get((trial, KG.location.value), []):
        for site in index.get((location, KG.site.value), []):
            statuses[site].update(index.get((location, KG.recruitmentStatus.value), []))
    return {site: _site(index, site, _code(list(codes))) for site, codes in statuses.items()}


def _site(index: Index, site: str, status: str | None) -> Site:
    """The site as events name it, "facility, city, country"; a site without a facility is named by its place."""

    def first(predicate: NamedNode, subject: str = site) -> str | None:
        return _text(index.get((subject, predicate.value), []))

    countries = index.get((site, KG.country.value), [])
    country = first(RDFS.label, countries[0]) if countries else None
    label, city, region = first(RDFS.label), first(SCHEMA.addressLocality), first(SCHEMA.addressRegion)
    place = ", ".join(part for part in (city, region, country) if part)
    parts = (label,) if label == place else (label, city, country)
    return Site(", ".join(part for part in parts if part), country, status)


def differences(old: TrialFacts | None, new: TrialFacts | None) -> list[Difference]:
    """The field-level changes from ``old`` to ``new`` (None: the trial was not there / is gone)."""
    if new is None:
        return [] if old is None else [Difference("removed", old.values.get("overall_status"), None)]
    if old is None:
        return [Difference("added", None, new.values.get("overall_status"))]
    found = [
        Difference(name, old.values.get(name), new.values.get(name))
        for name, _, _ in _SCALARS
        if old.values.get(name) != new.values.get(name)
    ]
    return found + list(_site_differences(old.sites, new.sites))


def _site_differences(old: dict[str, Site], new: dict[str, Site]) -> Iterator[Difference]:
    for key in sorted(new.keys() - old.keys()):
        yield Difference("sites", None, new[key].label, new[key].country)
    for key in sorted(old.keys() - new.keys()):
        yield Difference("sites", old[key].label, None, old[key].country)
    for key in sorted(old.keys() & new.keys()):
        before, after = old[key], new[key]
        if before.status != after.status:
            yield Difference(
                "site_status",
                _with_status(after.label, before.status),
                _with_status(after.label, after.status),
                after.country,
            )


def _with_status(label: str, status: str | None) -> str | None:
    return None if status is None else f"{label}: {status}"


def event_quads(old: TrialFacts | None, new: TrialFacts | None, run: UpdateRun, *, registry: str | None) -> list[Quad]:
    """The events of one trial's :func:`differences`; ``registry`` (the harvest's data version) stands for the
    version after a removal, which has no record."""
    facts = new or old
    found = differences(old, new)
    if facts is None or not found:
        return []
    nct_id = facts.nct_id
    after = (new.data_version, new.last_update) if new is not None else (registry, None)
    quads: list[Quad] = []
    for difference in found:
        event = _event_iri(nct_id, difference, *after)
        statements: list[tuple[NamedNode, NamedNode | Literal | None]] = [
            (RDF.type, KG.ChangeEvent),
            (KG.changedTrial, trial_iri(nct_id)),
            (KG.changedField, Literal(difference.field)),
            (KG.oldValue, _plain(difference.old)),
            (KG.newValue, _plain(difference.new)),
            (KG.siteCountry, _plain(difference.country)),
            (KG.detected, run.timestamp),
            (KG.dataVersionBefore, _version(old.data_version if old else None)),
            (KG.dataVersionAfter, _version(after[0])),
            (KG.lastUpdatePostedBefore, _version(old.last_update if old else None)),
            (KG.lastUpdatePostedAfter, _version(after[1])),
            (PROV.wasGeneratedBy, run.iri),
        ]
        if difference.field == "removed" and old is not None:
            statements += [(_AT_REMOVAL[kind], NamedNode(iri)) for kind, iris in old.mesh.items() for iri in iris]
        quads += [Quad(event, predicate, obj, CHANGES_GRAPH) for predicate, obj in statements if obj is not None]
    return quads


def _event_iri(nct_id: str, difference: Difference, version_after: str | None, posted_after: str | None) -> NamedNode:
    """``kgr:change/{NCT id}/{16 hex}``: the hash of what the event says, so the same change is one node."""
    said = (nct_id, difference.field, difference.old, difference.new, version_after, posted_after)
    digest = hashlib.sha256("|".join(part or "" for part in said).encode("utf-8")).hexdigest()
    return DATA[f"change/{nct_id}/{digest[:16]}"]


def _plain(value: str | None) -> Literal | None:
    return None if value is None else Literal(value)


def _version(value: str | None) -> Literal | None:
    """A version or date as the record gives it: xsd:date when it is one, else plain text."""
    if value is None or value == "":
        return None
    return Literal(value, datatype=XSD.date) if _ISO_DATE.match(value) else Literal(value)


def record_changes(store: Store, quads: list[Quad], run: UpdateRun) -> int:
    """Add the events not recorded yet, and the run's activity when there is any; returns the number added."""
    events = sorted({_lexical(quad.subject) for quad in quads if quad.predicate == RDF.type})
    if not events:
        return 0
    recorded: set[str] = set()
    for start in range(0, len(events), _BATCH):
        values = " ".join(str(NamedNode(event)) for event in events[start : start + _BATCH])
        recorded.update(row[0] for row in store.solutions(_RECORDED % (values, CHANGES_GRAPH), "event"))
    fresh = [quad for quad in quads if _lexical(quad.subject) not in recorded]
    if not fresh:
        return 0
    store.add([*fresh, *_activity_quads(run)])
    return len(events) - len(recorded)


def _activity_quads(run: UpdateRun) -> list[Quad]:
    g, activity = CHANGES_GRAPH, run.iri
    return [
        Quad(activity, RDF.type, KG.Update, g),
        Quad(activity, RDF.type, PROV.Activity, g),
        Quad(activity, PROV.startedAtTime, run.timestamp, g),
        Quad(activity, KG.harvest, Literal(run.harvest), g),
    ]


def carry_changes(old: Store, new: Store, run: UpdateRun) -> int:
    """A rebuild over ``old``: its change history copied into ``new``, then the differences between the two stores'
    trials recorded as an update would (only trials whose ``lastUpdatePostDate`` differs are compared field by
    field). Returns the number of events added."""
    history = parse(old.construct(_HISTORY), format=RdfFormat.N_TRIPLES)
    new.add(Quad(triple.subject, triple.predicate, triple.object, CHANGES_GRAPH) for triple in history)
    before, after = stored_versions(old), stored_versions(new)
    compared = sorted(nct_id for nct_id in before.keys() | after.keys() if before.get(nct_id) != after.get(nct_id))
    old_facts, new_facts = stored_facts(old, compared), stored_facts(new, compared)
    quads: list[Quad] = []
    for nct_id in compared:
        quads += event_quads(old_facts.get(nct_id), new_facts.get(nct_id), run, registry=None)
    return record_changes(new, quads, run)
