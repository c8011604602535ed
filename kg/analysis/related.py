"""Related trials: rank other trials by what they share with one trial, and say why.

The similarity of a query trial *q* and another trial *t* is a sum of documented components::

    score = Σ_role w_role · Σ_{s ∈ C_role(q, t)} (W(s) + 2 if both trials list s themselves)
          + Σ_feature min(cap_f, factor_f · Σ_{v shared} IC_f(v))      (intervention node, lead sponsor,
                                                                        phase, country, site)
          + 0.5 · overlap of the two [start, completion] date ranges    (0..1, relative to the shorter one)

* ``w_condition = 1``, ``w_intervention = 0.25`` (``ROLE_WEIGHTS``): drug classes in MeSH are broad chemistry.
* ``W(s) = IC(s) · min(1, depth(s) / 3)``: ``IC`` is the information content the store keeps per MeSH concept
  (``kg:informationContent``, ``-ln(trials at or under s / all trials)``), so a shared Lanthanoid Series Elements
  counts far more than a shared Neoplasms; a descriptor near the top of the tree counts a fraction of it.
* A trial's *closure* in a role is its MeSH terms plus all their ancestors. Of the two closures' intersection only
  the most specific concepts count (those with no shared descendant), and of those, per term of the query trial,
  the heaviest one at or above it (``C_role``): a shared Lutetium is not counted again as Lanthanoid Series
  Elements or Metals, nor twice along two branches of the tree.
* The other features are the trials' own shared nodes, each value weighted by its own rarity ``-ln(trials with the
  value / all trials)`` and capped so that they refine, never outweigh, a shared MeSH concept (see ``FEATURES``).

Hierarchy. With MeSH files loaded, ancestors are the vocabulary's (``kg:ancestor``, and for interventions their
pharmacological actions). Without them, ancestors come from the registry's own per-trial lists
(``kg:registryConditionAncestor``/``kg:registryInterventionAncestor``), and a concept is taken to sit under another
when every trial that reaches it also reaches the other; every result then says so (``hierarchy``).

Speed. :class:`RelatedIndex` holds, per trial, its terms, closures and feature values as integer lists, and an
inverted index concept → trials. A query gathers candidates from its trial's concepts (most informative first,
near-universal ones only while fewer than ``POOL`` were found), keeps the best ``POOL`` and scores only those. The
index of an on-disk store is written beside it (``PATH.related.pickle``) by ``kg build`` and ``kg mesh load`` and
checked against the store's build time and MeSH version when read; other stores build it in memory on first use.

JSON (``kg related NCT --format json``): a list, best first, of::

    {"rank": 1, "nct_id": "NCT…", "title": "…", "score": 12.3,
     "components": {"condition": 6.1, "intervention": 4.9, "intervention_node": 0.8, "lead_sponsor": 0.0,
                    "phase": 0.3, "country": 0.1, "site": 0.0, "dates": 0.2},
     "shared": [{"role": "intervention", "id": "D008187", "label": "Lutetium", "depth": 4,
                 "information_content": 5.2, "query_terms": ["Lutetium"],
                 "other_terms": ["lutetium Lu 177 dotatate"]}, …],
     "explanation": "both interventions sit under Lutetium (Lutetium ↔ lutetium Lu 177 dotatate); …",
     "hierarchy": "MeSH vocabulary (loaded)"}
"""

from __future__ import annotations

import heapq
import logging
import math
import time
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

from kg.analysis.hierarchy import concept_facts, mesh_loaded
from kg.analysis.saved_index import SavedIndex
from kg.identifiers import is_nct_id
from kg.queries import QueryError
from kg.store import Store
from kg.vocab import SPARQL_PROLOGUE

__all__ = [
    "FEATURES",
    "MESH_SOURCE",
    "REGISTRY_SOURCE",
    "RELATED_INDEX",
    "Neighbour",
    "RelatedIndex",
    "SharedConcept",
    "build_index",
    "rank",
    "related",
]

logger = logging.getLogger(__name__)

ROLES: Final = ("condition", "intervention")
#: Concepts reached by at most this share of trials always generate candidates; broader ones (Neoplasms) only
#: while fewer than ``POOL`` candidates were found, so near-universal concepts are skipped but for trials that
#: have nothing more specific.
SPECIFIC: Final = 0.01
#: A shared condition concept counts fully; a shared intervention concept half (drug classes are broad chemistry).
ROLE_WEIGHTS: Final = {"condition": 1.0, "intervention": 0.25}
#: Added to a concept both trials list themselves (not only reach through the tree): the same diagnosis is
#: stronger evidence than a shared ancestor of the same IC.
EXACT_BONUS: Final = 2.0
#: A descriptor shallower than this counts ``depth / FULL_DEPTH`` of its IC: in a topical corpus a whole category
#: (Endocrine System Diseases, depth 1) can look rare, yet says little.
FULL_DEPTH: Final = 3
#: Candidates scored exactly per query (the best by summed IC of all shared concepts).
POOL: Final = 300
DATE_WEIGHT: Final = 0.5
MESH_SOURCE: Final = "MeSH vocabulary (loaded)"
REGISTRY_SOURCE: Final = "the registry's derived ancestor lists (no MeSH file loaded)"
_FORMAT: Final = 1

_TRIALS: Final = (
    SPARQL_PROLOGUE
    + """SELECT ?trial ?title ?start ?end WHERE {
  ?trial a schema:MedicalTrial .
  OPTIONAL { ?trial schema:name ?title }
  OPTIONAL { ?trial kg:startDate ?start }
  OPTIONAL { ?trial kg:completionDate ?end }
}"""
)
#: Concepts without information content are left out by number (``_read_terms``), not by a join here: the join
#: made this read, the largest of the index, take 1.75 times as long.
_TERMS: Final = (
    SPARQL_PROLOGUE
    + """SELECT ?trial ?p ?concept WHERE {
  VALUES ?p { kg:conditionMesh kg:interventionMesh kg:registryConditionAncestor kg:registryInterventionAncestor }
  ?trial ?p ?concept
}"""
)
_MESH_ANCESTORS: Final = (
    SPARQL_PROLOGUE
    + """SELECT DISTINCT ?concept ?ancestor WHERE {
  ?concept kg:informationContent ?ic .
  ?concept kg:ancestor|kg:pharmacologicalAction|(kg:pharmacologicalAction/kg:ancestor) ?ancestor .
  ?ancestor kg:informationContent ?aic
}"""
)
_ROLE_OF: Final = {
    "https://w3id.org/trialkg/vocab/conditionMesh": ("condition", True),
    "https://w3id.org/trialkg/vocab/registryConditionAncestor": ("condition", False),
    "https://w3id.org/trialkg/vocab/interventionMesh": ("intervention", True),
    "https://w3id.org/trialkg/vocab/registryInterventionAncestor": ("intervention", False),
}


@dataclass(frozen=True)
class Feature:
    """A non-MeSH feature two trials can share: each shared value adds ``factor * its IC``, at most ``cap``."""

    name: str
    path: str
    factor: float
    cap: float
    phrase: str


#: Smaller weights than a shared MeSH concept (whose IC alone is often 3-10): they break ties and refine.
FEATURES: Final = (
    Feature("intervention_node", "kg:intervention", 0.25, 2.0, "same intervention"),
    Feature("lead_sponsor", "kg:leadSponsor", 0.15, 1.0, "same lead sponsor"),
    Feature("phase", "kg:phase", 0.25, 0.5, "same phase"),
    Feature("country", "kg:country", 0.05, 0.5, "same country"),
    Feature("site", "kg:location/kg:site", 0.1, 1.0, "same site"),
)


@dataclass
class Lists:
    """Integer lists per trial, packed: trial ``i`` holds ``items[ptr[i]:ptr[i + 1]]`` (compact to pickle)."""

    ptr: array[int] = field(default_factory=lambda: array("i", [0]))
    items: array[int] = field(default_factory=lambda: array("i"))

    @classmethod
    def pack(cls, lists: Iterable[Iterable[int]]) -> Lists:
        packed = cls()
        for values in lists:
            packed.items.extend(sorted(set(values)))
            packed.ptr.append(len(packed.items))
        return packed

    def __getitem__(self, trial: int) -> array[int]:
        return self.items[self.ptr[trial] : self.ptr[trial + 1]]


@dataclass
class Values:
    """One feature's distinct values (labels and IC) and each trial's values."""

    labels: list[str]
    ic: list[float]
    per_trial: Lists


@dataclass
class RelatedIndex:
    """Everything a related-trials query needs, computed once per build (see the module docstring)."""

    fingerprint: str
    hierarchy: str
    ncts: list[str]
    titles: list[str]
    starts: array[int]
    ends: array[int]
    concepts: list[str]
    labels: list[str]
    depths: list[int]
    ic: list[float]
    weights: list[float]
    ancestors: list[tuple[int, ...]]
    terms: dict[str, Lists]
    closures: dict[str, Lists]
    postings: dict[int, array[int]]
    features: dict[str, Values]
    format: int = _FORMAT
    position: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.position = {nct: number for number, nct in enumerate(self.ncts)}

    def __getstate__(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if key != "position"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__post_init__()

    def trial(self, nct_id: str) -> int:
        nct = nct_id.strip().upper()
        if not is_nct_id(nct):
            raise QueryError(f"{nct_id!r} is not an NCT id like NCT07232407")
        if nct not in self.position:
            raise QueryError(f"no trial {nct} in this store")
        return self.position[nct]


@dataclass(frozen=True)
class SharedConcept:
    """A most specific MeSH concept two trials share in one role, and which of their terms lead to it."""

    role: str
    id: str
    label: str
    depth: int | None
    information_content: float
    query_terms: list[str]
    other_terms: list[str]

    def sentence(self) -> str:
        plural = f"{self.role}s"
        if self.query_terms == self.other_terms == [self.label]:
            return f"both {plural} are {self.label}"
        mine, theirs = (", ".join(terms) or "registry ancestor" for terms in (self.query_terms, self.other_terms))
        via = f"{mine} ↔ {theirs}"
        return f"both {plural} sit under {self.label} ({via})"


@dataclass(frozen=True)
class Neighbour:
    """One related trial: its score, the score's components and the concrete reasons."""

    rank: int
    nct_id: str
    title: str
    score: float
    components: dict[str, float]
    shared: list[SharedConcept]
    reasons: list[str]
    hierarchy: str

    @property
    def explanation(self) -> str:
        return "; ".join(self.reasons)

    def to_json(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "nct_id": self.nct_id,
            "title": self.title,
            "score": round(self.score, 4),
            "components": {name: round(value, 4) for name, value in self.components.items()},
            "shared": [concept.__dict__ for concept in self.shared],
            "explanation": self.explanation,
            "hierarchy": self.hierarchy,
        }


# --- building the index -----------------------------------------------------------------------------------------


def _ordinal(text: object) -> int:
    """A registry date (``2025``, ``2025-03``, ``2025-03-14``) as a day number; 0 when absent or unreadable."""
    parts = str(text or "").split("-")
    try:
        return date(
            int(parts[0]), int(parts[1]) if len(parts) > 1 else 1, int(parts[2]) if len(parts) > 2 else 1
        ).toordinal()
    except (ValueError, IndexError):
        return 0


def _numbering(values: Iterable[str]) -> dict[str, int]:
    return {value: number for number, value in enumerate(values)}


def _local(iri: str) -> str:
    return iri.rsplit("/", 1)[-1]


def _read_trials(store: Store) -> tuple[list[str], list[str], array[int], array[int]]:
    rows: dict[str, tuple[str, str, str]] = {}
    for trial, title, start, end in store.solutions(_TRIALS, "trial", "title", "start", "end"):
        rows.setdefault(trial, (title, start, end))
    ncts = sorted(rows)
    titles = [rows[trial][0] for trial in ncts]
    starts = array("i", (_ordinal(rows[trial][1]) for trial in ncts))
    ends = array("i", (_ordinal(rows[trial][2]) for trial in ncts))
    return [_local(trial) for trial in ncts], titles, starts, ends


def _read_concepts(store: Store) -> tuple[list[str], list[str], list[int], list[float]]:
    facts = concept_facts(store)
    concepts = sorted(facts)
    labels = [facts[c].label for c in concepts]
    depths = [facts[c].depth or 0 for c in concepts]
    ic = [facts[c].information_content for c in concepts]
    return concepts, labels, depths, ic


def _read_terms(
    store: Store, trials: dict[str, int], concepts: dict[str, int]
) -> tuple[dict[str, list[set[int]]], dict[str, list[set[int]]]]:
    """Per role and trial: MeSH terms, and terms plus the registry's ancestors. Trials without any share one
    empty set (at registry scale a set per trial and role is hundreds of megabytes)."""
    empty: set[int] = set()
    terms: dict[str, list[set[int]]] = {role: [empty] * len(trials) for role in ROLES}
    reached: dict[str, list[set[int]]] = {role: [empty] * len(trials) for role in ROLES}
    for trial_iri, predicate, concept_iri in store.solutions(_TERMS, "trial", "p", "concept"):
        trial = trials.get(_local(trial_iri))
        concept = concepts.get(concept_iri)
        if trial is None or concept is None:
            continue
        role, direct = _ROLE_OF[predicate]
        for table, wanted in ((reached, True), (terms, direct)):
            if wanted:
                if table[role][trial] is empty:
                    table[role][trial] = set()
                table[role][trial].add(concept)
    return terms, reached


def _mesh_ancestors(store: Store, concepts: dict[str, int]) -> list[set[int]]:
    found: list[set[int]] = [set() for _ in concepts]
    for concept_iri, ancestor_iri in store.solutions(_MESH_ANCESTORS, "concept", "ancestor"):
        concept, ancestor = concepts.get(concept_iri), concepts.get(ancestor_iri)
        if concept is not None and ancestor is not None and concept != ancestor:
            found[concept].add(ancestor)
    return found


def _cooccurrence_ancestors(reached: dict[str, list[set[int]]], size: int) -> list[set[int]]:
    """Without a hierarchy: X is under Y when every trial reaching X reaches Y too and Y is broader (more trials,
    or as many and a larger id, so that two always co-occurring concepts are not both dropped)."""
    common: list[set[int] | None] = [None] * size
    counts = [0] * size
    for closures in reached.values():
        for closure in closures:
            for concept in closure:
                counts[concept] += 1
                current = common[concept]
                common[concept] = set(closure) if current is None else current & closure
    return [{a for a in (common[c] or ()) if a != c and (counts[a], a) > (counts[c], c)} for c in range(size)]


def _read_feature(store: Store, feature: Feature, trials: dict[str, int]) -> Values:
    per_trial: list[set[int]] = [set() for _ in trials]
    number: dict[str, int] = {}  # value IRI → first-seen number (values renumbered by IRI below)
    labels: list[str] = []
    query = (
        f"{SPARQL_PROLOGUE}SELECT ?trial ?value ?label "
        f"WHERE {{ ?trial {feature.path} ?value . OPTIONAL {{ ?value rdfs:label ?label }} }}"
    )
    for trial_iri, value, found in store.solutions(query, "trial", "value", "label"):
        trial = trials.get(_local(trial_iri))
        if trial is None:
            continue
        label = found or _local(value)
        seen = number.setdefault(value, len(number))
        if seen == len(labels):
            labels.append(label)
        elif label < labels[seen]:
            labels[seen] = label
        per_trial[trial].add(seen)
    names = sorted(number)
    renumber = [0] * len(names)
    for position, name in enumerate(names):
        renumber[number[name]] = position
    counts = [0] * len(names)
    for numbers in per_trial:
        for item in numbers:
            counts[renumber[item]] += 1
    total = max(len(trials), 1)
    return Values(
        [labels[number[name]] for name in names],
        [-math.log(count / total) for count in counts],
        Lists.pack((renumber[item] for item in numbers) for numbers in per_trial),
    )


def _postings(closures: dict[str, Lists], trials: int) -> dict[int, array[int]]:
    """Concept → trials reaching it in either role, sorted. Counted first, then filled: at registry scale a set
    per concept would hold tens of millions of Python ints."""
    counts: dict[int, int] = {}
    for trial in range(trials):
        for concept in _either(closures, trial):
            counts[concept] = counts.get(concept, 0) + 1
    postings = {concept: array("i", bytes(4 * count)) for concept, count in counts.items()}
    filled = dict.fromkeys(counts, 0)
    for trial in range(trials):
        for concept in _either(closures, trial):
            postings[concept][filled[concept]] = trial
            filled[concept] += 1
    return postings


def _either(closures: dict[str, Lists], trial: int) -> set[int]:
    """The concepts a trial reaches in any role, each once."""
    found: set[int] = set()
    for lists in closures.values():
        found.update(lists[trial])
    return found


def build_index(store: Store) -> RelatedIndex:
    """Read everything a query needs from the store, once."""
    started = time.perf_counter()
    fingerprint = RELATED_INDEX.fingerprint(store)
    ncts, titles, starts, ends = _read_trials(store)
    trials = _numbering(ncts)
    concepts, labels, depths, ic = _read_concepts(store)
    numbers = _numbering(concepts)
    terms, reached = _read_terms(store, trials, numbers)
    loaded = mesh_loaded(store)
    ancestors = _mesh_ancestors(store, numbers) if loaded else _cooccurrence_ancestors(reached, len(concepts))
    closures = {
        role: Lists.pack(
            reached[role][trial].union(*(ancestors[term] for term in terms[role][trial])) for trial in range(len(ncts))
        )
        for role in ROLES
    }
    index = RelatedIndex(
        fingerprint=fingerprint,
        hierarchy=MESH_SOURCE if loaded else REGISTRY_SOURCE,
        ncts=ncts,
        titles=titles,
        starts=starts,
        ends=ends,
        concepts=[concept.rsplit("/", 1)[-1] for concept in concepts],
        labels=labels,
        depths=depths,
        ic=ic,
        weights=[
            value * min(1.0, depth / FULL_DEPTH) if depth else value for value, depth in zip(ic, depths, strict=True)
        ],
        ancestors=[tuple(sorted(found)) for found in ancestors],
        terms={role: Lists.pack(terms[role]) for role in ROLES},
        closures=closures,
        postings=_postings(closures, len(ncts)),
        features={feature.name: _read_feature(store, feature, trials) for feature in FEATURES},
    )
    logger.info("related-trials index: %d trials, %.1f s", len(ncts), time.perf_counter() - started)
    return index


# --- keeping it beside the store --------------------------------------------------------------------------------

#: Saved beside an on-disk store as ``PATH.related.pickle``, held per open store (see :mod:`kg.analysis.saved_index`).
RELATED_INDEX: Final = SavedIndex("related", RelatedIndex, _FORMAT, build_index)


# --- querying ---------------------------------------------------------------------------------------------------


def _candidates(index: RelatedIndex, query: int) -> dict[int, float]:
    """Trials sharing the query's concepts, by summed weight of the shared ones: per role, most informative concepts
    first, broad ones only until that role has found ``POOL`` candidates."""
    specific_ic = -math.log(SPECIFIC)
    scores: dict[int, float] = {}
    for role in ROLES:
        found: set[int] = set()
        for concept in sorted(index.closures[role][query], key=lambda c: -index.ic[c]):
            if index.ic[concept] < specific_ic and len(found) >= POOL:
                break
            members = index.postings.get(concept, ())
            weight = ROLE_WEIGHTS[role] * index.weights[concept]
            found.update(members)
            for trial in members:
                scores[trial] = scores.get(trial, 0.0) + weight
    scores.pop(query, None)
    return scores


def _counted(index: RelatedIndex, role: str, query: int, other: int) -> list[int]:
    """The shared concepts that score in a role: of the most specific shared ones (no shared descendant), per query
    term the most informative at or above it, plus those above none of the query's terms (registry-only
    ancestors). A concept reached along two branches of the tree (Lutetium under both Metals, Rare Earth and
    Transition Elements) thus counts once."""
    shared = set(index.closures[role][query]).intersection(index.closures[role][other])
    implied: set[int] = set()
    for concept in shared:
        implied.update(index.ancestors[concept])
    specific = shared - implied
    counted: set[int] = set()
    covered: set[int] = set()
    for term in index.terms[role][query]:
        above = [c for c in specific if c == term or c in index.ancestors[term]]
        if above:
            counted.add(max(above, key=lambda c: (index.weights[c], -c)))
            covered.update(above)
    return sorted(counted | (specific - covered), key=lambda c: -index.weights[c])


def _date_overlap(index: RelatedIndex, a: int, b: int) -> float:
    start_a, end_a, start_b, end_b = index.starts[a], index.ends[a], index.starts[b], index.ends[b]
    if not (start_a and end_a and start_b and end_b):
        return 0.0
    overlap = min(end_a, end_b) - max(start_a, start_b)
    shorter = max(min(end_a - start_a, end_b - start_b), 1)
    return max(0.0, min(1.0, overlap / shorter))


@dataclass(frozen=True)
class _Scored:
    score: float
    components: dict[str, float]
    concepts: dict[str, list[int]]
    values: dict[str, list[int]]


def _score(index: RelatedIndex, query: int, other: int) -> _Scored:
    components: dict[str, float] = {}
    concepts: dict[str, list[int]] = {}
    for role in ROLES:
        concepts[role] = _counted(index, role, query, other)
        exact = set(index.terms[role][query]).intersection(index.terms[role][other])
        components[role] = ROLE_WEIGHTS[role] * sum(
            index.weights[c] + (EXACT_BONUS if c in exact else 0.0) for c in concepts[role]
        )
    values: dict[str, list[int]] = {}
    for feature in FEATURES:
        table = index.features[feature.name]
        values[feature.name] = sorted(set(table.per_trial[query]).intersection(table.per_trial[other]))
        components[feature.name] = min(feature.cap, feature.factor * sum(table.ic[v] for v in values[feature.name]))
    components["dates"] = DATE_WEIGHT * _date_overlap(index, query, other)
    return _Scored(sum(components.values()), components, concepts, values)


def _via(index: RelatedIndex, role: str, trial: int, concept: int) -> list[str]:
    """The trial's own terms at or under the concept."""
    return sorted(index.labels[t] for t in index.terms[role][trial] if t == concept or concept in index.ancestors[t])


def _neighbour(index: RelatedIndex, rank: int, query: int, other: int, scored: _Scored) -> Neighbour:
    shared = [
        SharedConcept(
            role=role,
            id=index.concepts[c],
            label=index.labels[c],
            depth=index.depths[c] or None,
            information_content=round(index.ic[c], 4),
            query_terms=_via(index, role, query, c),
            other_terms=_via(index, role, other, c),
        )
        for role in ROLES
        for c in scored.concepts[role]
    ]
    reasons = [f"{concept.sentence()} [IC {concept.information_content:.2f}]" for concept in shared]
    for feature in FEATURES:
        labels = [index.features[feature.name].labels[v] for v in scored.values[feature.name]]
        if labels:
            reasons.append(f"{feature.phrase}: {', '.join(labels)} [+{scored.components[feature.name]:.2f}]")
    if scored.components["dates"]:
        reasons.append(f"overlapping dates [+{scored.components['dates']:.2f}]")
    if index.hierarchy == REGISTRY_SOURCE:
        reasons.append(f"hierarchy from {REGISTRY_SOURCE}")
    return Neighbour(
        rank, index.ncts[other], index.titles[other], scored.score, scored.components, shared, reasons, index.hierarchy
    )


def rank(index: RelatedIndex, nct_id: str, top: int = 20) -> list[Neighbour]:
    """The ``top`` trials most related to ``nct_id`` in an index, best first (ties by NCT id)."""
    query = index.trial(nct_id)
    pool = heapq.nlargest(POOL, _candidates(index, query).items(), key=lambda item: (item[1], -item[0]))
    scored = [(other, _score(index, query, other)) for other, _ in pool]
    scored.sort(key=lambda item: (-item[1].score, index.ncts[item[0]]))
    return [
        _neighbour(index, number, query, other, result)
        for number, (other, result) in enumerate(scored[:top], start=1)
        if result.score > 0
    ]


def related(store: Store, nct_id: str, top: int = 20) -> list[Neighbour]:
    """The ``top`` trials most related to ``nct_id``, best first, each with its explanation."""
    if top < 1:
        raise QueryError(f"--top must be at least 1, not {top}")
    return rank(RELATED_INDEX.load(store), nct_id, top)
