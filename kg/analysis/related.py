"""Related trials: rank other trials by what they share with one trial, and say why.

The similarity of a query trial *q* and another trial *t* is a weighted sum of documented components (``WEIGHTS``:
text 4, every other 1, chosen on a development set, see docs/related-trials.md)::

    score = Σ_role w_role · Σ_{s ∈ C_role(q, t)} (W(s) + 2 if both trials list s themselves)      (condition,
                                                                                                 intervention)
          + Σ_feature min(cap_f, factor_f · Σ_{v shared} IC_f(v))      (intervention node, lead sponsor, phase,
                                                                        country, site, publication, secondary id,
                                                                        intervention name, programme, type)
          + 0.5 · overlap of the two [start, completion] date ranges    (0..1, relative to the shorter one)
          + 10 · cosine of the two trials' texts                        (0..1, :mod:`kg.analysis.related_text`)

* ``w_condition = 1``, ``w_intervention = 0.25`` (``ROLE_WEIGHTS``): drug classes in MeSH are broad chemistry.
* ``W(s) = IC(s) · min(1, depth(s) / 3)``: ``IC`` is the information content the store keeps per MeSH concept
  (``kg:informationContent``, ``-ln(trials at or under s / all trials)``), so a shared Lanthanoid Series Elements
  counts far more than a shared Neoplasms; a descriptor near the top of the tree counts a fraction of it.
* A trial's *closure* in a role is its MeSH terms plus all their ancestors. Of the two closures' intersection only
  the most specific concepts count (those with no shared descendant), and of those, per term of the query trial,
  the heaviest one at or above it (``C_role``): a shared Lutetium is not counted again as Lanthanoid Series
  Elements or Metals, nor twice along two branches of the tree.
* The other features are the trials' own shared values, each weighted by its own rarity ``-ln(trials with the
  value / all trials)`` and capped (see ``FEATURES``): the five first ones refine, never outweigh, a shared MeSH
  concept; a shared publication (PubMed id), secondary or grant id, intervention name (normalised by
  :mod:`kg.analysis.related_names`: case, brackets, salts, doses, forms) or programme (the same lead sponsor and
  intervention name) is direct evidence and may weigh as much as one. The intervention type counts only when one
  of the two trials has no intervention MeSH term (it is all such a trial has of its intervention but its text).
* The text: a TF-IDF vector per trial over its titles, acronym, conditions, keywords, interventions, arms, summary
  and outcome measures; an explanation names the shared words that weigh most and the fields they are in.

Hierarchy. With MeSH files loaded, ancestors are the vocabulary's (``kg:ancestor``, and for interventions their
pharmacological actions). Without them, ancestors come from the registry's own per-trial lists
(``kg:registryConditionAncestor``/``kg:registryInterventionAncestor``), and a concept is taken to sit under another
when every trial that reaches it also reaches the other; every result then says so (``hierarchy``).

Speed. :class:`RelatedIndex` holds, per trial, its terms, closures, feature values and text vector as packed integer
and float arrays, and inverted indexes concept → trials, value → trials (publications, ids, names, programmes) and
word → trials. A query gathers candidates from its trial's concepts (most informative first, near-universal ones only
while fewer than ``POOL`` were found), from its most distinctive words and from its linking values, estimates each
candidate's score from what gathered it, and scores exactly only the best ``POOL``. The index of an on-disk store
is written beside it (``PATH.related.pickle``) by ``kg build`` and ``kg mesh load`` and checked against the store's
build time and MeSH version when read; other stores build it in memory on first use.

Weights. ``rank(..., weights=...)`` takes a multiplier per component: ``OLD_ENGINE`` (the first generation, exactly:
new components 0, candidates from MeSH only), ``MESH_ONLY``, ``TEXT_ONLY`` and ``STRUCTURE_ONLY`` are the ablations
of ``benchmarks/related_eval.py``.

JSON (``kg related NCT --format json``): a list, best first, of::

    {"rank": 1, "nct_id": "NCT…", "title": "…", "score": 12.3,
     "components": {"condition": 6.1, "intervention": 4.9, "intervention_node": 0.8, "lead_sponsor": 0.0,
                    "phase": 0.3, "country": 0.1, "site": 0.0, "publication": 0.0, "secondary_id": 0.0,
                    "intervention_name": 2.1, "programme": 0.0, "intervention_type": 0.0, "dates": 0.2,
                    "text": 9.6},
     "shared": [{"role": "intervention", "id": "D008187", "label": "Lutetium", "depth": 4,
                 "information_content": 5.2, "query_terms": ["Lutetium"],
                 "other_terms": ["lutetium Lu 177 dotatate"]}, …],
     "words": [{"word": "dotatate", "weight": 0.21, "query_fields": ["title", "interventions"],
                "other_fields": ["interventions"]}, …],
     "explanation": "both interventions sit under Lutetium (Lutetium ↔ lutetium Lu 177 dotatate); shared words: …",
     "hierarchy": "MeSH vocabulary (loaded)"}

Components are already weighted (they sum to the score).
"""

from __future__ import annotations

import logging
import math
import time
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from kg.analysis.arrays import distinct, located, spans
from kg.analysis.hierarchy import concept_facts, mesh_loaded
from kg.analysis.related_names import name_key
from kg.analysis.related_text import SharedWord, TextIndex, build_text_index
from kg.analysis.saved_index import SavedIndex, untracked
from kg.identifiers import is_nct_id
from kg.queries import QueryError
from kg.store import Store
from kg.vocab import SPARQL_PROLOGUE

__all__ = [
    "FEATURES",
    "MESH_ONLY",
    "MESH_SOURCE",
    "OLD_ENGINE",
    "REGISTRY_SOURCE",
    "RELATED_INDEX",
    "STRUCTURE_ONLY",
    "TEXT_ONLY",
    "WEIGHTS",
    "Neighbour",
    "RelatedIndex",
    "SharedConcept",
    "build_index",
    "rank",
    "related",
    "scores",
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
_FORMAT: Final = 2

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
    """A non-MeSH feature two trials can share: each shared value adds ``factor * its IC``, at most ``cap``.

    ``path`` reads its values from the store (``None``: derived from other features, see :func:`_programmes`);
    ``key`` turns a value as written into the value compared (``None`` drops it); ``links``: trials sharing a value
    are candidates even without a shared MeSH concept or word; ``unless_mesh``: counted only when one of the two
    trials has no intervention MeSH term."""

    name: str
    path: str | None
    factor: float
    cap: float
    phrase: str
    key: Callable[[str], str | None] | None = None
    links: bool = False
    unless_mesh: bool = False


#: Smaller weights than a shared MeSH concept (whose IC alone is often 3-10): they break ties and refine. A shared
#: publication, secondary id, intervention name or programme is direct evidence and may weigh as much as one.
FEATURES: Final = (
    Feature("intervention_node", "kg:intervention", 0.25, 2.0, "same intervention"),
    Feature("lead_sponsor", "kg:leadSponsor", 0.15, 1.0, "same lead sponsor"),
    Feature("phase", "kg:phase", 0.25, 0.5, "same phase"),
    Feature("country", "kg:country", 0.05, 0.5, "same country"),
    Feature("site", "kg:location/kg:site", 0.1, 1.0, "same site"),
    Feature("publication", "kg:publication", 1.0, 6.0, "cite the same publication, PMID", links=True),
    Feature("secondary_id", "kg:secondaryId", 0.5, 4.0, "same secondary or grant id", links=True),
    Feature(
        "intervention_name",
        "kg:interventionUse/(rdfs:label|kg:otherName)",
        0.5,
        4.0,
        "same intervention name",
        key=name_key,
        links=True,
    ),
    Feature("programme", None, 0.5, 4.0, "same sponsor and intervention", links=True),
    Feature(
        "intervention_type", "kg:intervention/kg:interventionType", 0.5, 1.0, "same intervention type", unless_mesh=True
    ),
)
#: A value shared by more trials than this generates no candidates (it still scores among the others').
LINK_LIMIT: Final = 200
#: A cosine of 1 between two trials' texts adds this much (before the ``text`` weight).
TEXT_SCALE: Final = 10.0
#: Components: the two MeSH roles, each feature, the dates, the text.
COMPONENTS: Final = (*ROLES, *(f.name for f in FEATURES), "dates", "text")
#: Per component, how much it counts in the combined ranking, chosen on the tune half of the development set by
#: groups, MeSH being the unit, among the weights that keep 90 % of neighbours in a shared condition
#: (docs/related-trials.md, ``benchmarks/related_eval.py``): text 4, everything else 1.
WEIGHTS: Final = {name: 4.0 if name == "text" else 1.0 for name in COMPONENTS}
_NEW: Final = ("publication", "secondary_id", "intervention_name", "programme", "intervention_type", "text")
#: The first-generation engine: MeSH and the five original features, candidates from MeSH concepts only.
OLD_ENGINE: Final = {name: 0.0 if name in _NEW else 1.0 for name in COMPONENTS}
MESH_ONLY: Final = {name: 1.0 if name in ROLES else 0.0 for name in COMPONENTS}
TEXT_ONLY: Final = {name: 1.0 if name == "text" else 0.0 for name in COMPONENTS}
STRUCTURE_ONLY: Final = {name: 0.0 if name in (*ROLES, "text") else 1.0 for name in COMPONENTS}


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

    @classmethod
    def of_pairs(cls, owners: array[int], items: array[int], size: int) -> Lists:
        """:meth:`pack` of ``size`` lists given as ``(owner, item)`` pairs, in any order and repeated."""
        owner, item = np.frombuffer(owners, dtype=np.int32), np.frombuffer(items, dtype=np.int32)
        order = np.lexsort((item, owner))
        owner, item = owner[order], item[order]
        keep = np.ones(len(owner), dtype=bool)
        keep[1:] = (owner[1:] != owner[:-1]) | (item[1:] != item[:-1])
        ptr = np.zeros(size + 1, dtype=np.int32)
        np.cumsum(np.bincount(owner[keep], minlength=size), out=ptr[1:])
        return cls(array("i", ptr.tobytes()), array("i", item[keep].tobytes()))

    def __len__(self) -> int:
        return len(self.ptr) - 1

    def __getitem__(self, trial: int) -> array[int]:
        return self.items[self.ptr[trial] : self.ptr[trial + 1]]

    def gather(self, trials: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32]]:
        """The lists of ``trials`` laid end to end: (position in ``trials`` of each item's owner, the items)."""
        owner, at = spans(np.frombuffer(self.ptr, dtype=np.int32), trials)
        return owner, np.frombuffer(self.items, dtype=np.int32)[at]


@dataclass
class Values:
    """One feature's distinct values (labels and IC), each trial's values and (linking features) each value's
    trials."""

    labels: Sequence[str]
    ic: Sequence[float]
    per_trial: Lists
    trials: Lists | None = None
    #: ``ic`` as an array, for totalling many candidates at once (made when read, not saved).
    ic_array: npt.NDArray[np.float64] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.labels, self.ic = untracked(self.labels), untracked(self.ic)
        self.ic_array = np.array(self.ic, dtype=np.float64)

    def __getstate__(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if key != "ic_array"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__post_init__()


@dataclass
class RelatedIndex:
    """Everything a related-trials query needs, computed once per build (see the module docstring)."""

    fingerprint: str
    hierarchy: str
    ncts: Sequence[str]
    titles: Sequence[str]
    starts: array[int]
    ends: array[int]
    concepts: Sequence[str]
    labels: Sequence[str]
    depths: Sequence[int]
    ic: Sequence[float]
    weights: Sequence[float]
    ancestors: Sequence[tuple[int, ...]]
    terms: dict[str, Lists]
    closures: dict[str, Lists]
    postings: dict[int, array[int]]
    features: dict[str, Values]
    text: TextIndex
    format: int = _FORMAT
    position: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for name in ("ncts", "titles", "concepts", "labels", "depths", "ic", "weights", "ancestors"):
            setattr(self, name, untracked(getattr(self, name)))
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
    words: list[SharedWord] = field(default_factory=list)

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
            "words": [word.__dict__ for word in self.words],
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
) -> tuple[dict[str, Lists], dict[str, Lists]]:
    """Per role and trial: MeSH terms, and terms plus the registry's ancestors, packed. Read as ``(trial, concept)``
    pairs into integer arrays: at registry scale a set per trial and role took a gigabyte."""
    pairs = {(role, kind): (array("i"), array("i")) for role in ROLES for kind in ("terms", "reached")}
    for trial_iri, predicate, concept_iri in store.solutions(_TERMS, "trial", "p", "concept"):
        trial = trials.get(_local(trial_iri))
        concept = concepts.get(concept_iri)
        if trial is None or concept is None:
            continue
        role, direct = _ROLE_OF[predicate]
        for kind in ("terms", "reached") if direct else ("reached",):
            owners, items = pairs[role, kind]
            owners.append(trial)
            items.append(concept)
    packed = {key: Lists.of_pairs(owners, items, len(trials)) for key, (owners, items) in pairs.items()}
    return {role: packed[role, "terms"] for role in ROLES}, {role: packed[role, "reached"] for role in ROLES}


def _mesh_ancestors(store: Store, concepts: dict[str, int]) -> list[set[int]]:
    found: list[set[int]] = [set() for _ in concepts]
    for concept_iri, ancestor_iri in store.solutions(_MESH_ANCESTORS, "concept", "ancestor"):
        concept, ancestor = concepts.get(concept_iri), concepts.get(ancestor_iri)
        if concept is not None and ancestor is not None and concept != ancestor:
            found[concept].add(ancestor)
    return found


def _cooccurrence_ancestors(reached: dict[str, Lists], size: int) -> list[set[int]]:
    """Without a hierarchy: X is under Y when every trial reaching X reaches Y too and Y is broader (more trials,
    or as many and a larger id, so that two always co-occurring concepts are not both dropped)."""
    common: list[set[int] | None] = [None] * size
    counts = [0] * size
    for lists in reached.values():
        for trial in range(len(lists)):
            closure = set(lists[trial])
            for concept in closure:
                counts[concept] += 1
                current = common[concept]
                common[concept] = set(closure) if current is None else current & closure
    return [{a for a in (common[c] or ()) if a != c and (counts[a], a) > (counts[c], c)} for c in range(size)]


def _read_feature(store: Store, feature: Feature, trials: dict[str, int]) -> Iterator[tuple[int, str, str]]:
    """``(trial, value, label)`` of a feature: a node (IRI, its label) or a literal (its key, the key)."""
    query = (
        f"{SPARQL_PROLOGUE}SELECT ?trial ?value ?label "
        f"WHERE {{ ?trial {feature.path} ?value . OPTIONAL {{ ?value rdfs:label ?label }} }}"
    )
    for trial_iri, value, label in store.solutions(query, "trial", "value", "label"):
        trial = trials.get(_local(trial_iri))
        key = feature.key(value) if feature.key is not None else value
        if trial is not None and key is not None:
            yield trial, key, label or (key if feature.key is not None else _local(key))


def _programmes(sponsors: Values, names: Values) -> Iterator[tuple[int, str, str]]:
    """A programme is a lead sponsor and an intervention name (normalised) together."""
    for trial in range(len(sponsors.per_trial.ptr) - 1):
        for sponsor in sponsors.per_trial[trial]:
            for name in names.per_trial[trial]:
                yield trial, f"{sponsor}|{name}", f"{sponsors.labels[sponsor]} · {names.labels[name]}"


def _values(rows: Iterable[tuple[int, str, str]], size: int, *, links: bool) -> Values:
    """Number a feature's values (by value), weigh each by its rarity among ``size`` trials, list each trial's (and,
    for a linking feature, each value's trials, when at most ``LINK_LIMIT``). Read as a stream of ``(trial, value)``
    pairs into integer arrays: at registry scale there are millions of rows."""
    number: dict[str, int] = {}  # value → first-seen number (renumbered by value below)
    labels: list[str] = []
    owners, seen = array("i"), array("i")
    for trial, value, label in rows:
        first = number.setdefault(value, len(number))
        if first == len(labels):
            labels.append(label)
        elif label < labels[first]:
            labels[first] = label
        owners.append(trial)
        seen.append(first)
    names = sorted(number)
    renumber = np.zeros(len(names), dtype=np.int32)
    renumber[[number[name] for name in names]] = np.arange(len(names), dtype=np.int32)
    values = array("i", renumber[np.frombuffer(seen, dtype=np.int32)].tobytes())
    per_trial = Lists.of_pairs(owners, values, size)
    members = Lists.of_pairs(values, owners, len(names))  # each value's distinct trials
    counts = np.diff(np.frombuffer(members.ptr, dtype=np.int32)).tolist()
    total = max(size, 1)
    return Values(
        [labels[number[name]] for name in names],
        [-math.log(count / total) for count in counts],
        per_trial,
        Lists.pack(members[value] if count <= LINK_LIMIT else () for value, count in enumerate(counts))
        if links
        else None,
    )


def _read_features(store: Store, trials: dict[str, int]) -> dict[str, Values]:
    found = {
        f.name: _values(_read_feature(store, f, trials), len(trials), links=f.links)
        for f in FEATURES
        if f.path is not None
    }
    programme = next(f for f in FEATURES if f.path is None)
    rows = _programmes(found["lead_sponsor"], found["intervention_name"])
    found[programme.name] = _values(rows, len(trials), links=programme.links)
    return found


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
            set(reached[role][trial]).union(*(ancestors[term] for term in terms[role][trial]))
            for trial in range(len(ncts))
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
        terms=terms,
        closures=closures,
        postings=_postings(closures, len(ncts)),
        features=_read_features(store, trials),
        text=build_text_index(store, ncts),
    )
    logger.info("related-trials index: %d trials, %.1f s", len(ncts), time.perf_counter() - started)
    return index


# --- keeping it beside the store --------------------------------------------------------------------------------

#: Saved beside an on-disk store as ``PATH.related.pickle``, held per open store (see :mod:`kg.analysis.saved_index`).
RELATED_INDEX: Final = SavedIndex("related", RelatedIndex, _FORMAT, build_index)


# --- querying ---------------------------------------------------------------------------------------------------


_Found = tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]
_NONE: Final = np.empty(0, dtype=np.int32)


def _trials(members: array[int] | None) -> npt.NDArray[np.int32]:
    return _NONE if members is None else np.frombuffer(members, dtype=np.int32)


def _summed(members: list[npt.NDArray[np.int32]], gains: list[float], query: int) -> _Found:
    """The distinct trials in ``members`` (the query left out), each with the sum of the gains of the lists holding
    it, added in the order given, as a loop would: equal candidates keep equal estimates."""
    if not members:
        return np.empty(0, dtype=np.int64), np.empty(0)
    found, where = np.unique(np.concatenate(members), return_inverse=True)
    sums = np.bincount(where, weights=np.repeat(gains, [len(m) for m in members]), minlength=len(found))
    keep = found != query
    return found[keep], sums[keep]


def _mesh_candidates(index: RelatedIndex, query: int) -> _Found:
    """Trials sharing the query's concepts, by summed weight of the shared ones: per role, most informative concepts
    first, broad ones only until that role has found ``POOL`` candidates."""
    specific_ic = -math.log(SPECIFIC)
    members: list[npt.NDArray[np.int32]] = []
    gains: list[float] = []
    for role in ROLES:
        first = len(members)
        reached: npt.NDArray[np.int32] | None = None  # the role's distinct trials, counted once a broad concept comes
        for concept in sorted(index.closures[role][query], key=lambda c: -index.ic[c]):
            trials = _trials(index.postings.get(concept))
            if index.ic[concept] < specific_ic and sum(map(len, members[first:])) >= POOL:  # else fewer found
                if reached is None:
                    reached = distinct(np.concatenate(members[first:]))
                if len(reached) >= POOL:
                    break
                reached = distinct(np.concatenate([reached, trials]))
            members.append(trials)
            gains.append(ROLE_WEIGHTS[role] * index.weights[concept])
    return _summed(members, gains, query)


def _linked(index: RelatedIndex, query: int, weights: Mapping[str, float]) -> _Found:
    """Trials sharing a publication, secondary id, intervention name or programme with the query, each with the
    least those shared values add to its score."""
    members: list[npt.NDArray[np.int32]] = []
    gains: list[float] = []
    for feature in FEATURES:
        table = index.features[feature.name]
        weight = weights.get(feature.name, 0.0)
        if table.trials is None or not weight:
            continue
        for value in table.per_trial[query]:
            members.append(_trials(table.trials[value]))
            gains.append(weight * min(feature.cap, feature.factor * table.ic[value]))
    return _summed(members, gains, query)


def _pool(index: RelatedIndex, query: int, weights: Mapping[str, float]) -> list[int]:
    """The ``POOL`` candidates scored exactly, by a quick estimate of their score: the summed weight of the shared
    MeSH concepts (see :func:`_mesh_candidates`), the text score of the query's distinctive words and what shared
    publications, ids, names and programmes add; ties go to the lower trial number."""
    mesh, values = _mesh_candidates(index, query)
    parts = [(mesh, max(weights.get(role, 0.0) for role in ROLES) * values)]
    text_weight = weights.get("text", 0.0) * TEXT_SCALE
    if text_weight:
        words, similar = index.text.candidates(query)
        parts.append((words, text_weight * similar))
    parts.append(_linked(index, query, weights))
    trials = distinct(np.concatenate([found for found, _ in parts]))
    estimate = np.zeros(len(trials))
    for found, gain in parts:
        estimate[np.searchsorted(trials, found)] += gain
    if len(trials) > POOL:
        least = np.partition(estimate, len(trials) - POOL)[len(trials) - POOL]
        trials, estimate = trials[estimate >= least], estimate[estimate >= least]
    return [int(trial) for trial in trials[np.lexsort((trials, -estimate))[:POOL]]]


@dataclass(frozen=True)
class _Query:
    """The query trial's concepts and feature values as sets, made once per query rather than per candidate."""

    trial: int
    closures: dict[str, set[int]]
    terms: dict[str, set[int]]
    #: Per role, each term's concepts at or above it; each concept's ancestors within the closure.
    above: dict[str, list[frozenset[int]]]
    ancestors: dict[str, dict[int, set[int]]]
    values: dict[str, set[int]]
    intervention_mesh: bool

    @classmethod
    def of(cls, index: RelatedIndex, trial: int) -> _Query:
        terms = {role: set(index.terms[role][trial]) for role in ROLES}
        closures = {role: set(index.closures[role][trial]) for role in ROLES}
        return cls(
            trial,
            closures,
            terms,
            {role: [frozenset((term, *index.ancestors[term])) for term in terms[role]] for role in ROLES},
            {role: {c: closures[role].intersection(index.ancestors[c]) for c in closures[role]} for role in ROLES},
            {f.name: set(index.features[f.name].per_trial[trial]) for f in FEATURES},
            bool(len(index.terms["intervention"][trial])),
        )


def _counted(index: RelatedIndex, role: str, query: _Query, other: int) -> list[int]:
    """The shared concepts that score in a role: of the most specific shared ones (no shared descendant), per query
    term the most informative at or above it, plus those above none of the query's terms (registry-only
    ancestors). A concept reached along two branches of the tree (Lutetium under both Metals, Rare Earth and
    Transition Elements) thus counts once."""
    shared = query.closures[role].intersection(index.closures[role][other])
    if not shared:
        return []
    specific = shared.difference(*(query.ancestors[role][concept] for concept in shared))
    counted: set[int] = set()
    covered: set[int] = set()
    for at_or_above in query.above[role]:
        above = specific & at_or_above
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


def _score(index: RelatedIndex, query: _Query, other: int, text: float, weights: Mapping[str, float]) -> _Scored:
    """Every component of one pair (``text``: the cosine of their texts), weighted."""
    components: dict[str, float] = {}
    concepts: dict[str, list[int]] = {}
    for role in ROLES:
        concepts[role] = _counted(index, role, query, other)
        exact = query.terms[role].intersection(index.terms[role][other]) if concepts[role] else set()
        components[role] = ROLE_WEIGHTS[role] * sum(
            index.weights[c] + (EXACT_BONUS if c in exact else 0.0) for c in concepts[role]
        )
    without_mesh = not (query.intervention_mesh and len(index.terms["intervention"][other]))
    values: dict[str, list[int]] = {}
    for feature in FEATURES:
        table, mine = index.features[feature.name], query.values[feature.name]
        counted = mine and weights.get(feature.name) and (without_mesh or not feature.unless_mesh)
        shared = sorted(mine.intersection(table.per_trial[other])) if counted else []
        values[feature.name] = shared
        components[feature.name] = (
            min(feature.cap, feature.factor * sum(table.ic[v] for v in shared)) if shared else 0.0
        )
    components["dates"] = DATE_WEIGHT * _date_overlap(index, query.trial, other)
    components["text"] = TEXT_SCALE * text
    weighted = {name: weights.get(name, 0.0) * value for name, value in components.items()}
    return _Scored(sum(weighted.values()), weighted, concepts, values)


#: Candidates whose total (:func:`_totals`) comes this close to a ranking's last place are scored one by one too:
#: the totals add the same terms in another order, so they may differ from :func:`_score`'s in the last bits.
_MARGIN: Final = 1e-6


def _totals(
    index: RelatedIndex,
    query: _Query,
    others: npt.NDArray[np.int64],
    texts: npt.NDArray[np.float64],
    weights: Mapping[str, float],
) -> npt.NDArray[np.float64]:
    """:func:`_score`'s score of many candidates at once, without the parts that explain it."""
    total = sum(weights.get(role, 0.0) * _role_totals(index, role, query, others) for role in ROLES)
    total = total + _feature_totals(index, query, others, weights)
    total = total + weights.get("dates", 0.0) * DATE_WEIGHT * _date_overlaps(index, query.trial, others)
    return total + weights.get("text", 0.0) * TEXT_SCALE * texts


def _role_totals(
    index: RelatedIndex, role: str, query: _Query, others: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """:func:`_counted` and its sum for many candidates, on boolean matrices (candidate by concept of the query's
    closure): the shared concepts; of those, the ones no shared concept sits under; per query term, the heaviest
    of those at or above it (ties to the lower concept number), plus those above no query term."""
    closure = sorted(query.closures[role])
    if not closure:
        return np.zeros(len(others))
    column = {concept: number for number, concept in enumerate(closure)}
    lookup = np.full(len(index.concepts), -1, dtype=np.int64)
    lookup[closure] = np.arange(len(closure))

    def held(lists: Lists) -> npt.NDArray[np.bool_]:
        owner, items = lists.gather(others)
        columns = lookup[items]
        found = np.zeros((len(others), len(closure)), dtype=bool)
        found[owner[columns >= 0], columns[columns >= 0]] = True
        return found

    shared = held(index.closures[role])
    under = np.zeros((len(closure), len(closure)), dtype=np.int32)  # under[c, a]: a is an ancestor of c
    for concept, ancestors in query.ancestors[role].items():
        under[column[concept], [column[a] for a in ancestors]] = 1
    specific = shared & ((shared.astype(np.int32) @ under) == 0)
    weight = np.array([index.weights[c] for c in closure])
    preference = np.empty(len(closure), dtype=np.int64)
    preference[sorted(range(len(closure)), key=lambda i: (weight[i], -closure[i]))] = np.arange(len(closure))
    counted, covered = np.zeros_like(shared), np.zeros_like(shared)
    rows = np.arange(len(others))
    for at_or_above in query.above[role]:
        reach = np.zeros(len(closure), dtype=bool)
        reach[[column[c] for c in at_or_above if c in column]] = True
        found = specific & reach
        heaviest = np.where(found, preference, -1).argmax(axis=1)
        counted[rows[found.any(axis=1)], heaviest[found.any(axis=1)]] = True
        covered |= found
    counted |= specific & ~covered
    mine = np.zeros(len(closure), dtype=bool)
    mine[[column[c] for c in query.terms[role] if c in column]] = True
    gains = weight + EXACT_BONUS * (held(index.terms[role]) & mine)
    return ROLE_WEIGHTS[role] * (counted * gains).sum(axis=1)


def _feature_totals(
    index: RelatedIndex, query: _Query, others: npt.NDArray[np.int64], weights: Mapping[str, float]
) -> npt.NDArray[np.float64]:
    """The weighted sum of the feature components of :func:`_score` for many candidates."""
    total = np.zeros(len(others))
    interventions = np.frombuffer(index.terms["intervention"].ptr, dtype=np.int32)
    without_mesh = ~(query.intervention_mesh & (interventions[others + 1] > interventions[others]))
    for feature in FEATURES:
        mine, weight = query.values[feature.name], weights.get(feature.name, 0.0)
        if not (mine and weight):
            continue
        table = index.features[feature.name]
        owner, items = table.per_trial.gather(others)
        wanted = np.sort(np.fromiter(mine, dtype=np.int32, count=len(mine)))
        _, hit = located(wanted, items)
        ic = table.ic_array[items[hit]]
        found = np.minimum(feature.cap, feature.factor * np.bincount(owner[hit], weights=ic, minlength=len(others)))
        total += weight * (np.where(without_mesh, found, 0.0) if feature.unless_mesh else found)
    return total


def _date_overlaps(index: RelatedIndex, query: int, others: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """:func:`_date_overlap` of the query with many candidates."""
    start, end = index.starts[query], index.ends[query]
    if not (start and end):
        return np.zeros(len(others))
    starts = np.frombuffer(index.starts, dtype=np.int32)[others].astype(np.int64)
    ends = np.frombuffer(index.ends, dtype=np.int32)[others].astype(np.int64)
    shorter = np.maximum(np.minimum(end - start, ends - starts), 1)
    overlap = np.clip((np.minimum(end, ends) - np.maximum(start, starts)) / shorter, 0.0, 1.0)
    return np.where((starts != 0) & (ends != 0), overlap, 0.0)


def _via(index: RelatedIndex, role: str, trial: int, concept: int) -> list[str]:
    """The trial's own terms at or under the concept."""
    return sorted(index.labels[t] for t in index.terms[role][trial] if t == concept or concept in index.ancestors[t])


def _neighbour(index: RelatedIndex, rank: int, query: int, other: int, scored: _Scored) -> Neighbour:
    """The ranked trial with its reasons: concepts, words and features that count (weight above 0), largest first."""
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
        if scored.components[role]
        for c in scored.concepts[role]
    ]
    reasons = [f"{concept.sentence()} [IC {concept.information_content:.2f}]" for concept in shared]
    words = index.text.shared(query, other) if scored.components["text"] else []
    if words:
        listed = "; ".join(word.phrase() for word in words)
        reasons.append(f"shared words: {listed} [+{scored.components['text']:.2f}]")
    for feature in FEATURES:
        labels = [index.features[feature.name].labels[v] for v in scored.values[feature.name]]
        if labels and scored.components[feature.name]:
            reasons.append(f"{feature.phrase}: {', '.join(labels)} [+{scored.components[feature.name]:.2f}]")
    if scored.components["dates"]:
        reasons.append(f"overlapping dates [+{scored.components['dates']:.2f}]")
    if index.hierarchy == REGISTRY_SOURCE:
        reasons.append(f"hierarchy from {REGISTRY_SOURCE}")
    return Neighbour(
        rank,
        index.ncts[other],
        index.titles[other],
        scored.score,
        scored.components,
        shared,
        reasons,
        index.hierarchy,
        words,
    )


def _candidates(
    index: RelatedIndex, query: int, others: Iterable[int] | None, weights: Mapping[str, float]
) -> tuple[list[int], list[float], _Query]:
    """The candidates (``others``, else the query's pool), each one's text cosine, and the query's sets."""
    candidates = sorted(set(_pool(index, query, weights) if others is None else others) - {query})
    texts = index.text.similarity(query, candidates) if weights.get("text") else [0.0] * len(candidates)
    return candidates, texts, _Query.of(index, query)


def _best_first(
    index: RelatedIndex, query: _Query, candidates: list[int], texts: list[float], weights: Mapping[str, float]
) -> list[tuple[int, _Scored]]:
    """Each candidate scored one by one (:func:`_score`), best first (ties by NCT id)."""
    scored = [
        (other, _score(index, query, other, text, weights)) for other, text in zip(candidates, texts, strict=True)
    ]
    return sorted(scored, key=lambda item: (-item[1].score, index.ncts[item[0]]))


def scores(
    index: RelatedIndex, nct_id: str, others: Iterable[int] | None = None, weights: Mapping[str, float] = WEIGHTS
) -> list[tuple[int, _Scored]]:
    """Each candidate (``others``, else the query's pool) scored against ``nct_id``, best first (ties by NCT id)."""
    candidates, texts, asked = _candidates(index, index.trial(nct_id), others, weights)
    return _best_first(index, asked, candidates, texts, weights)


def best(
    index: RelatedIndex, nct_id: str, top: int, weights: Mapping[str, float] = WEIGHTS
) -> list[tuple[int, _Scored]]:
    """The first ``top`` of :func:`scores` over the query's pool, the same pairs: every candidate is totalled at
    once (:func:`_totals`) and only those that could place (within ``_MARGIN`` of the last place) are scored one
    by one, with their explanations; the others never were going to be shown."""
    candidates, texts, asked = _candidates(index, index.trial(nct_id), None, weights)
    if len(candidates) > top:
        totals = _totals(index, asked, np.array(candidates, dtype=np.int64), np.array(texts), weights)
        last = np.partition(totals, len(totals) - top)[len(totals) - top]
        placed = np.flatnonzero(totals >= last - _MARGIN)
        candidates, texts = [candidates[i] for i in placed], [texts[i] for i in placed]
    return _best_first(index, asked, candidates, texts, weights)[:top]


def rank(index: RelatedIndex, nct_id: str, top: int = 20, weights: Mapping[str, float] = WEIGHTS) -> list[Neighbour]:
    """The ``top`` trials most related to ``nct_id`` in an index, best first (ties by NCT id)."""
    query = index.trial(nct_id)
    return [
        _neighbour(index, number, query, other, result)
        for number, (other, result) in enumerate(best(index, nct_id, top, weights), start=1)
        if result.score > 0
    ]


def related(store: Store, nct_id: str, top: int = 20) -> list[Neighbour]:
    """The ``top`` trials most related to ``nct_id``, best first, each with its explanation."""
    if top < 1:
        raise QueryError(f"--top must be at least 1, not {top}")
    return rank(RELATED_INDEX.load(store), nct_id, top)
