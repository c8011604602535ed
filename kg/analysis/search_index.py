"""The search index: every trial's terms, MeSH concepts and title, in SQLite FTS5 and NumPy, saved beside the store.

Several named queries read every trial in SPARQL and take seconds at 20k trials, past any timeout at 600k:
``trials_by_condition`` and ``trials_by_intervention`` (a case-insensitive substring of any term, as written, an
other name, a registry MeSH term or ancestor; or a MeSH id), ``trials_under`` and ``related_trials``. This index
answers them with the same rows in milliseconds:

- The distinct terms, lower-cased, sit in an FTS5 table with the trigram tokenizer, contentless and without
  positions (a third of the size). A needle of three characters or more selects the terms holding all of its
  trigrams; shorter ones scan the terms. Every candidate is checked with Python's ``in`` on the lower-cased text,
  so the answer is exactly the query's ``CONTAINS(LCASE(?matched), LCASE(?text))``, never a superset.
- A term belongs to a *source*: a node and the predicate that labels it (``rdfs:label`` of a condition as written,
  ``kg:otherName`` of an intervention use, ``kg:registryTerm`` of a MeSH concept), as in the query's ``UNION``
  branches; a trial reaches a source through one of the branch's predicates. Posting lists (NumPy arrays) lead
  from terms to sources to trials; a MeSH id selects the sources of that concept's node, so a MeSH-bound query
  starts from the concept, not from every trial.
- Trials by MeSH concept (their terms; the registry's ancestors): ``trials_under`` takes the concept's descendants
  from the materialised closure (vocabulary-sized, read once at build), ``related_trials`` the trial's concepts.
- The titles (with the NCT id) are a second FTS5 table: the explorer's search for every word of a query.
- The MeSH labels (preferred, entry and registry terms), folded by the SPARQL's own ``LCASE``, are a plain table
  with an index on the folded label: ``concepts_by_label`` reads one index entry instead of folding every label.
- The conditions and interventions as written are a plain table from their node's IRI to its source: the
  explorer's count and first few of the trials naming one (``trials_naming``).

Matched terms within a row are sorted (``GROUP_CONCAT`` leaves their order to the engine). The database lives in
memory and is pickled whole (as the bytes of a database file), so it is saved and checked like every other index
(:mod:`kg.analysis.saved_index`).
"""

from __future__ import annotations

import bisect
import contextlib
import sqlite3
import tempfile
import threading
from array import array
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from pyoxigraph import Literal, Variable
from pyoxigraph import Store as OxigraphStore

from kg.analysis.arrays import distinct
from kg.analysis.landscape_index import Pairs
from kg.analysis.saved_index import SavedIndex, untracked
from kg.identifiers import normalize_mesh_id
from kg.queries import trial_terms
from kg.store import QueryResult, Store, Value
from kg.vocab import MESH, SPARQL_PROLOGUE

__all__ = ["FROM_SEARCH", "SEARCH_INDEX", "SEPARATOR", "SearchIndex", "build_search_index", "search_index"]

_FORMAT: Final = 5  # 4: terms lower-cased by the engine (LCASE), not str.lower; 5: the written table
Ints = npt.NDArray[np.int32]

#: The query's UNION branches per field: how a trial reaches a node, and the predicate whose values are matched.
_BRANCHES: Final = {
    "condition": (
        ("kg:condition", "rdfs:label"),
        ("kg:conditionMesh", "kg:registryTerm"),
        ("kg:registryConditionAncestor", "kg:registryTerm"),
    ),
    "intervention": (
        ("kg:intervention", "rdfs:label"),
        ("kg:interventionUse", "kg:otherName"),
        ("kg:interventionMesh", "kg:registryTerm"),
        ("kg:registryInterventionAncestor", "kg:registryTerm"),
    ),
}
_TRIALS: Final = (
    SPARQL_PROLOGUE
    + "SELECT ?trial ?nct ?title WHERE { ?trial dcterms:identifier ?nct OPTIONAL { ?trial schema:name ?title } }"
)
#: The trigram tokenizer indexes substrings of three characters; shorter ones are found by a scan.
_TRIGRAM: Final = 3
_RELATED_LIMIT: Final = 50
#: ``related_trials``'s first half, bound to the trial: its concepts that count, their IC and labels.
_TRIAL_CONCEPTS: Final = (
    SPARQL_PROLOGUE
    + """SELECT ?concept ?ic ?label WHERE {
  ?trial dcterms:identifier ?nct .
  ?trial kg:conditionMesh|kg:interventionMesh|kg:registryConditionAncestor|kg:registryInterventionAncestor ?concept .
  ?concept kg:informationContent ?ic .
  OPTIONAL { ?concept kg:depth ?depth }
  FILTER(?ic >= 2.0 || ?depth >= 3)
  OPTIONAL { ?concept skos:prefLabel ?preferred }
  OPTIONAL { ?concept kg:registryTerm ?term }
  BIND(COALESCE(?preferred, ?term, STR(?concept)) AS ?label)
}"""
)
#: The trials' MeSH terms, then the registry's ancestors of those, each read as a ``UNION`` of whole predicates: an
#: alternative path (``kg:conditionMesh|kg:interventionMesh``) is read with set semantics, the engine holding every
#: pair it gave (at 100k trials the ancestors' read peaked at 455 MiB against 212 MiB); the postings drop repeats.
_CONCEPT_PREDICATES: Final = (
    ("kg:conditionMesh", "kg:interventionMesh"),
    ("kg:registryConditionAncestor", "kg:registryInterventionAncestor"),
)
#: ``trials_under``'s MeSH side for every concept at once (``?term kg:ancestor? ?concept . ?term skos:prefLabel
#: ?label``), read from the materialised closure when the index is built: vocabulary-sized.
_CLOSURE: Final = (
    SPARQL_PROLOGUE
    + """SELECT ?term ?label ?concept WHERE {
  { ?term skos:prefLabel ?label BIND(?term AS ?concept) } UNION { ?term skos:prefLabel ?label ; kg:ancestor ?concept }
}"""
)
#: Between the texts of one cell, as the named queries' ``GROUP_CONCAT(…; separator=" | ")`` join them.
SEPARATOR: Final = " | "
_MESH_PREFIX: Final = MESH[""].value
#: ``concepts_by_label``'s pattern and expressions, evaluated once for every label: ``?id`` is unbound (``?named``
#: false) where ``STR`` fails on a blank node, and ``""`` outside the MeSH namespace, as in the query.
_LABELS: Final = (
    SPARQL_PROLOGUE
    + f"""SELECT DISTINCT ?folded ?id ?named WHERE {{
  ?concept skos:prefLabel|skos:altLabel|kg:registryTerm ?text .
  BIND(LCASE(STR(?text)) AS ?folded)
  BIND(STRAFTER(STR(?concept), "{_MESH_PREFIX}") AS ?id)
  BIND(BOUND(?id) AS ?named)
  FILTER(BOUND(?folded))
}}"""
)
#: The queries' ``LCASE`` of a text, by the engine itself: Oxigraph's ``LCASE`` is Rust's ``str::to_lowercase``, which
#: differs from Python's ``str.lower`` (Unicode 14 here) on 55 code points and, through them, on the final sigma
#: (``"ΑΣ\u1c89"``). Labels and terms are folded by the store's engine at build, the text asked for by the same engine
#: (an empty in-memory Oxigraph store): the index matches as the SPARQL does.
_FOLD: Final = "SELECT ?text (LCASE(STR(?text)) AS ?folded) WHERE {}"  # substitutions= needs ?text selected
_FOLDER: Final = OxigraphStore()


def _branch_query(reach: str, label: str) -> str:
    return (
        f"{SPARQL_PROLOGUE}SELECT ?trial ?node ?matched (LCASE(?matched) AS ?folded) "
        f"WHERE {{ ?trial {reach} ?node . ?node {label} ?matched }}"
    )


def _lower(text: str) -> str:
    """``LCASE`` of ``text`` as the engine computes it (see ``_FOLD``)."""
    [solution] = _FOLDER.query(_FOLD, substitutions={Variable("text"): Literal(text)})  # type: ignore[misc]
    return str(solution["folded"].value)


@dataclass
class _Postings:
    """Lists of integers by key, in compressed sparse rows: ``values[offsets[k]:offsets[k + 1]]`` for key ``k``."""

    offsets: Ints
    values: Ints

    @classmethod
    def of(cls, keys: npt.ArrayLike, values: npt.ArrayLike, size: int) -> _Postings:
        """The distinct values of each key from two equally long sequences of ``(key, value)`` pairs."""
        pairs = Pairs.distinct(keys, values)  # sorted by key, then value
        offsets = np.zeros(size + 1, dtype=np.int32)
        np.cumsum(np.bincount(pairs.trials, minlength=size), out=offsets[1:])
        return cls(offsets, pairs.values)

    def pad(self, size: int) -> None:
        """Grow to ``size`` keys (the keys past the last one met have no values)."""
        missing = size + 1 - len(self.offsets)
        self.offsets = np.concatenate([self.offsets, np.full(missing, self.offsets[-1], dtype=np.int32)])

    def expand(self, keys: npt.ArrayLike) -> tuple[Ints, Ints]:
        """The values of each of ``keys`` (which may repeat): ``(i, value)`` pairs, ``i`` the position in ``keys``."""
        chosen = np.asarray(keys, dtype=np.int64)
        starts = self.offsets[chosen].astype(np.int64)
        lengths = self.offsets[chosen + 1] - starts
        owner = np.repeat(np.arange(len(chosen), dtype=np.int32), lengths)
        first = np.cumsum(lengths) - lengths
        positions = np.arange(int(lengths.sum()), dtype=np.int64) + np.repeat(starts - first, lengths)
        return owner, self.values[positions]


@dataclass
class _Field:
    """One field's sources (conditions or interventions): their terms, their trials, and the MeSH nodes among them."""

    source_terms: _Postings
    source_trials: _Postings
    term_sources: _Postings
    mesh_sources: dict[str, list[int]]


@dataclass
class SearchIndex:
    """Terms and titles in SQLite FTS5 (in memory, pickled whole) and posting lists from terms to trials."""

    fingerprint: str
    ncts: Sequence[str]
    titles: Sequence[str | None]
    terms: Sequence[str]
    #: The terms lower-cased, as the query's ``LCASE`` compares them.
    folded: Sequence[str]
    fields: dict[str, _Field]
    #: Trials by their condition and intervention MeSH terms (``kg:conditionMesh|kg:interventionMesh``), and by the
    #: registry's ancestors of those (``kg:registryConditionAncestor|kg:registryInterventionAncestor``).
    concept_trials: _Postings
    ancestor_trials: _Postings
    concepts: dict[str, int]
    #: Per concept, the concepts with a preferred label at or under it (itself included), and their labels.
    descendants: _Postings
    labels: Sequence[tuple[str, ...]]
    database: sqlite3.Connection
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.ncts, self.titles, self.terms, self.folded, self.labels = map(
            untracked, (self.ncts, self.titles, self.terms, self.folded, self.labels)
        )

    def __getstate__(self) -> dict[str, Any]:
        state = {name: value for name, value in self.__dict__.items() if name not in ("database", "lock")}
        return {**state, "database": _database_bytes(self.database)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, database=_database_from(state.pop("database")), lock=threading.Lock())
        self.__post_init__()

    def _rows(self, sql: str, parameters: Sequence[str]) -> list[Any]:
        with self.lock:
            return [row[0] for row in self.database.execute(sql, parameters)]

    def _candidates(self, table: str, texts: Iterable[str]) -> list[int] | None:
        """Rows of ``table`` holding every trigram of ``texts``: a superset of the rows holding each text, since the
        tables keep no positions (a third of the size); ``None`` when no text has a trigram (the caller scans)."""
        grams = {text[start : start + _TRIGRAM] for text in texts for start in range(len(text) - _TRIGRAM + 1)}
        if not grams:
            return None
        query = " AND ".join('"' + gram.replace('"', '""') + '"' for gram in sorted(grams))  # each one token, quoted
        return self._rows(f"SELECT rowid FROM {table} WHERE {table} MATCH ?", [query])

    def terms_containing(self, text: str) -> list[int]:
        """Numbers of the terms that hold ``text`` case-insensitively (SPARQL's ``CONTAINS(LCASE(…), LCASE(…))``)."""
        needle = _lower(text)
        found = self._candidates("terms", [needle])
        numbers = range(len(self.folded)) if found is None else found
        return [number for number in numbers if needle in self.folded[number]]

    def trials_matching(self, field_name: str, value: str) -> QueryResult:
        """``trials_by_condition`` / ``trials_by_intervention``: the same rows (matched terms sorted in each row)."""
        index = self.fields[field_name]
        try:
            by_mesh = np.asarray(index.mesh_sources.get(MESH[normalize_mesh_id(value)].value, []), dtype=np.int32)
        except ValueError:
            by_mesh = np.zeros(0, dtype=np.int32)  # not a MeSH id: text only, as the query binds it
        owner, mesh_terms = index.source_terms.expand(by_mesh)
        matched = np.asarray(self.terms_containing(value), dtype=np.int32)
        text_owner, text_sources = index.term_sources.expand(matched)
        sources = np.concatenate([by_mesh[owner], text_sources])
        terms = np.concatenate([mesh_terms, matched[text_owner]])
        owner, trials = index.source_trials.expand(sources)
        pairs = Pairs.distinct(trials, terms[owner])
        rows = self._answer_rows(pairs.trials, pairs.values, self.terms, "matched_terms")
        return QueryResult(["nct", "title", "matched_terms"], list(rows))

    def concepts_by_label(self, label: str) -> QueryResult:
        """``concepts_by_label``: the MeSH ids (DISTINCT, by id) of the labels equal to ``label`` ignoring case."""
        ids = self._rows("SELECT id FROM labels WHERE folded = ? ORDER BY id", [_lower(label)])  # pairs are distinct
        return QueryResult(["id"], [{"id": id_} for id_ in ids])

    def _under(self, concept: str) -> tuple[Ints, Ints, list[str], int | None]:
        """``(i, trial)`` pairs of the trials having the ``i``-th of the concept and its descendants as a term (one
        ``i`` per label, as the query's closure pattern has them), those labels, and the ``i`` of the concept itself
        if it has a label."""
        number = self.concepts.get(MESH[normalize_mesh_id(concept)].value)
        numbers: list[int] = []
        labels: list[str] = []
        own = None
        for term in [] if number is None else self.descendants.expand([number])[1].tolist():
            own = len(numbers) if term == number else own
            numbers += [term] * len(self.labels[term])
            labels += self.labels[term]
        owner, trials = self.concept_trials.expand(numbers)
        return owner, trials, labels, own

    def trials_under(self, concept: str) -> QueryResult:
        """``trials_under``: the concept's descendants (with itself) from the closure the build read, then their
        trials."""
        owner, trials, labels, _ = self._under(concept)
        pairs = Pairs.distinct(trials, owner)
        return QueryResult(["nct", "title", "via"], list(self._answer_rows(pairs.trials, pairs.values, labels, "via")))

    def first_under(self, concept: str, top: int) -> tuple[list[tuple[str, str]], int]:
        """The explorer's glimpse of ``trials_under``: up to ``top`` (NCT id, via terms), the trials that have the
        concept itself as a term first, each part by NCT id; and how many trials in all, without a row for each."""
        owner, trials, labels, own = self._under(concept)
        everyone = distinct(trials)
        naming = distinct(trials[owner == own]) if own is not None else everyone[:0]
        others = np.setdiff1d(everyone, naming, assume_unique=True)
        chosen = np.concatenate([naming[:top], others[: max(0, top - len(naming))]])
        shown = np.isin(trials, chosen)
        pairs = Pairs.distinct(trials[shown], owner[shown])
        via = {row["nct"]: str(row["via"]) for row in self._answer_rows(pairs.trials, pairs.values, labels, "via")}
        return [(self.ncts[trial], via[self.ncts[trial]]) for trial in chosen.tolist()], len(everyone)

    def trials_naming(self, field_name: str, node: str, top: int) -> tuple[list[str], int]:
        """The explorer's glimpse of the trials naming a condition or intervention as written (``node``, its IRI;
        ``field_name``, ``condition`` or ``intervention``): the first ``top`` NCT ids in order, and how many in all.
        A registry-wide term (placebo) names tens of thousands of trials at 600k: read as posting lists, not rows."""
        sources = self._rows("SELECT source FROM written WHERE field = ? AND node = ?", [field_name, node])
        found = distinct(self.fields[field_name].source_trials.expand(sources)[1])
        return [self.ncts[trial] for trial in found[:top].tolist()], len(found)

    def related_trials(self, store: Store, nct: Literal) -> QueryResult:
        """``related_trials``: the trial's specific concepts from the store (bound to it), the trials sharing them
        from the posting lists, scored and ranked as the query does."""
        ic: dict[int, float] = {}
        labels: dict[int, set[str]] = defaultdict(set)
        for row in store.select(_TRIAL_CONCEPTS, {"nct": nct}).rows:
            number = self.concepts[str(row["concept"])]  # the trial itself reaches it: it has a number
            ic[number] = float(row["ic"])  # type: ignore[arg-type]
            labels[number].add(str(row["label"]))
        me = bisect.bisect_left(self.ncts, nct.value)
        chosen = np.fromiter(sorted(ic), dtype=np.int64, count=len(ic))
        sharing = list(self._sharing(chosen))
        found = Pairs.distinct(
            np.concatenate([trials for _, trials in sharing]), np.concatenate([chosen[owner] for owner, _ in sharing])
        )
        others = found.trials != me
        trials, concepts = found.trials[others], found.values[others]
        # SUM(DISTINCT ?ic) over xsd:decimal values is exact: sum them as integers of their smallest unit
        exact = [Decimal(repr(ic[number])) for number in chosen.tolist()]
        places = max((-int(value.as_tuple().exponent) for value in exact), default=0)
        values, of_concept = np.unique([int(value.scaleb(places)) for value in exact], return_inverse=True)
        counted = Pairs.distinct(trials, of_concept[np.searchsorted(chosen, concepts)])
        units = np.bincount(counted.trials, weights=values[counted.values], minlength=len(self.ncts))
        score = units.astype(np.int64)  # exact: float64 holds these integer sums (far below 2**53) exactly
        candidates = distinct(trials)
        top = candidates[np.lexsort((candidates, -score[candidates]))[:_RELATED_LIMIT]]
        rows: list[dict[str, Value]] = []
        for trial in top.tolist():
            shared = concepts[np.searchsorted(trials, trial) : np.searchsorted(trials, trial, side="right")].tolist()
            rows.append(
                {
                    "nct_id": self.ncts[trial],
                    "title": self.titles[trial],
                    "score": float(Decimal(int(score[trial])).scaleb(-places)),
                    "shared": len(shared),
                    "concepts": SEPARATOR.join(sorted(set().union(*(labels[number] for number in shared)))),
                }
            )
        return QueryResult(["nct_id", "title", "score", "shared", "concepts"], rows)

    def _sharing(self, concepts: npt.NDArray[np.int64]) -> Iterator[tuple[Ints, Ints]]:
        """``(position in concepts, trial)`` pairs of every trial reaching each concept along either path."""
        for postings in (self.concept_trials, self.ancestor_trials):
            yield postings.expand(concepts)

    def _answer_rows(self, trials: Ints, names: Ints, texts: Sequence[str], column: str) -> Iterator[dict[str, Value]]:
        """One row per trial (in NCT order: trials are numbered so), its distinct texts sorted and joined."""
        if not len(trials):
            return
        starts = np.flatnonzero(np.r_[True, trials[1:] != trials[:-1]])
        ends = np.r_[starts[1:], len(trials)]
        for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
            trial = int(trials[start])
            joined = SEPARATOR.join(sorted({texts[number] for number in names[start:end].tolist()}))
            yield {"nct": self.ncts[trial], "title": self.titles[trial], column: joined}

    def search_titles(self, query: str) -> list[tuple[str, str]]:
        """``(nct, title)`` of the trials whose id and title hold every word of ``query`` (case-folded), by NCT id."""
        words = query.casefold().split()
        candidates = self._candidates("titles", words)
        numbers = range(len(self.ncts)) if candidates is None else sorted(candidates)
        found = []
        for number in numbers:
            text = f"{self.ncts[number]} {self.titles[number] or ''}"
            if all(word in text.casefold() for word in words):
                found.append((self.ncts[number], self.titles[number] or ""))
        return found


def _database_bytes(database: sqlite3.Connection) -> bytes:
    """The in-memory database as the bytes of a database file (``serialize`` needs Python 3.11; ``backup`` does not)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "index.sqlite")
        with contextlib.closing(sqlite3.connect(path)) as disk:
            database.backup(disk)
        return path.read_bytes()


def _database_from(data: bytes) -> sqlite3.Connection:
    """An in-memory database from the bytes of a database file."""
    database = sqlite3.connect(":memory:", check_same_thread=False)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "index.sqlite")
        path.write_bytes(data)
        with contextlib.closing(sqlite3.connect(path)) as disk:
            disk.backup(database)
    return database


class _Numbers(dict[Any, int]):
    """A number for each distinct key, in order of first sight."""

    def __missing__(self, key: Any) -> int:
        self[key] = number = len(self)
        return number


def _fts(database: sqlite3.Connection, table: str, texts: Iterable[str]) -> None:
    """An FTS5 trigram table of ``texts`` (already case-folded: the tokenizer then compares exactly), row ``i`` the
    ``i``-th text; contentless (the texts are kept in lists) and without positions."""
    tokenizer = "tokenize='trigram case_sensitive 1', content='', detail=none"
    database.execute(f"CREATE VIRTUAL TABLE {table} USING fts5(text, {tokenizer})")
    database.executemany(f"INSERT INTO {table}(rowid, text) VALUES (?, ?)", enumerate(texts))


def _field(
    store: Store,
    name: str,
    trial: Mapping[str, int],
    terms: _Numbers,
    folded: list[str],
    database: sqlite3.Connection,
) -> _Field:
    """One field's sources and posting lists, read branch by branch (each a whole-predicate read); ``folded`` gets
    each term met for the first time, lower-cased by the engine; the ``written`` table each source that is a
    condition or intervention as written (its ``rdfs:label``, reached by ``kg:condition`` / ``kg:intervention``)."""
    branches = _BRANCHES[name]
    sources = _Numbers()
    source_of_term, term_of_source, source_of_trial, trial_of_source = (array("i") for _ in range(4))  # compact
    for reach, label in branches:
        rows = store.solutions(_branch_query(reach, label), "trial", "node", "matched", "folded")
        for subject, node, matched, lower in rows:
            number = trial.get(subject)
            if number is None:
                continue  # not a trial with an NCT id: the query's join drops it too
            source = sources[node, label]
            source_of_term.append(source)
            if matched not in terms:
                folded.append(lower)
            term_of_source.append(terms[matched])
            source_of_trial.append(source)
            trial_of_source.append(number)
    size = len(sources)
    mesh_sources: dict[str, list[int]] = {}
    for (node, _), source in sources.items():
        if node.startswith(_MESH_PREFIX):
            mesh_sources.setdefault(node, []).append(source)
    written = branches[0][1]
    database.executemany(
        "INSERT OR IGNORE INTO written VALUES (?, ?, ?)",
        ((name, node, source) for (node, label), source in sources.items() if label == written),
    )
    return _Field(
        source_terms=_Postings.of(source_of_term, term_of_source, size),
        source_trials=_Postings.of(source_of_trial, trial_of_source, size),
        term_sources=_Postings.of(term_of_source, source_of_term, len(terms)),
        mesh_sources=mesh_sources,
    )


def _concept_postings(
    store: Store, predicates: Sequence[str], trial: Mapping[str, int], concepts: _Numbers
) -> _Postings:
    """The trials of each MeSH concept along any of ``predicates``."""
    of_concept, trial_of_concept = array("i"), array("i")
    union = " UNION ".join(f"{{ ?s {predicate} ?o }}" for predicate in predicates)
    for subject, concept in store.solutions(f"{SPARQL_PROLOGUE}SELECT ?s ?o WHERE {{ {union} }}", "s", "o"):
        if (number := trial.get(subject)) is not None:
            of_concept.append(concepts[concept])
            trial_of_concept.append(number)
    return _Postings.of(of_concept, trial_of_concept, len(concepts))


def _closure(store: Store, concepts: _Numbers) -> tuple[_Postings, list[tuple[str, ...]]]:
    """Per concept its labelled descendants that some trial reaches (itself included), and each one's labels; the
    ancestors of those are numbered too (after every concept a trial reaches)."""
    reached = len(concepts)
    found: defaultdict[int, set[str]] = defaultdict(set)
    ancestor, descendant = array("i"), array("i")
    for term, label, concept in store.solutions(_CLOSURE, "term", "label", "concept"):
        if (number := concepts.get(term)) is not None and number < reached:
            found[number].add(label)
            ancestor.append(concepts[concept])
            descendant.append(number)
    labels = [tuple(sorted(found.get(number, ()))) for number in range(len(concepts))]
    return _Postings.of(ancestor, descendant, len(concepts)), labels


def _labels(database: sqlite3.Connection, store: Store) -> None:
    """The distinct (folded label, id) pairs of ``_LABELS`` in a table indexed on the folded label."""
    database.execute("CREATE TABLE labels (folded TEXT NOT NULL, id TEXT)")
    rows = store.solutions(_LABELS, "folded", "id", "named")
    database.executemany(
        "INSERT INTO labels VALUES (?, ?)", ((folded, id_ if named == "true" else None) for folded, id_, named in rows)
    )
    database.execute("CREATE INDEX labels_by_folded ON labels (folded)")


def build_search_index(store: Store) -> SearchIndex:
    """Read every trial's id, title and terms from the store and index them (about a minute at 600k trials)."""
    fingerprint = SEARCH_INDEX.fingerprint(store)
    trials = sorted(store.solutions(_TRIALS, "trial", "nct", "title"), key=lambda row: row[1])
    number = {iri: position for position, (iri, _, _) in enumerate(trials)}
    terms = _Numbers()
    folded: list[str] = []
    database = sqlite3.connect(":memory:", check_same_thread=False)
    database.execute("CREATE TABLE written (field TEXT, node TEXT, source INTEGER, PRIMARY KEY (field, node))")
    fields = {name: _field(store, name, number, terms, folded, database) for name in _BRANCHES}
    for name in fields:  # a field read before the other met fewer terms
        fields[name].term_sources.pad(len(terms))
    concepts = _Numbers()
    concept_trials, ancestor_trials = (
        _concept_postings(store, predicates, number, concepts) for predicates in _CONCEPT_PREDICATES
    )
    descendants, labels = _closure(store, concepts)
    for postings in (concept_trials, ancestor_trials):
        postings.pad(len(concepts))
    ncts = [nct for _, nct, _ in trials]
    titles = [title or None for _, _, title in trials]
    texts = list(terms)
    _fts(database, "terms", folded)
    _fts(database, "titles", (f"{nct} {title or ''}".casefold() for nct, title in zip(ncts, titles, strict=True)))
    _labels(database, store)
    database.commit()
    return SearchIndex(
        fingerprint,
        ncts,
        titles,
        texts,
        folded,
        fields,
        concept_trials,
        ancestor_trials,
        dict(concepts),
        descendants,
        labels,
        database,
    )


SEARCH_INDEX: Final = SavedIndex("search", SearchIndex, _FORMAT, build_search_index)


def _trial_term(nct: str) -> Literal:
    """The NCT id as the named query binds it (checked and normalised there)."""
    return trial_terms("related_trials", [nct]).popitem()[1]


def search_index(store: Store) -> SearchIndex:
    """The store's search index (saved beside an on-disk store by the build; else built on first use)."""
    return SEARCH_INDEX.load(store)


#: The named queries this index answers (see :mod:`kg.analysis.answers`).
FROM_SEARCH: Final = {
    "trials_by_condition": lambda store, values: search_index(store).trials_matching("condition", values["condition"]),
    "trials_by_intervention": lambda store, values: search_index(store).trials_matching(
        "intervention", values["intervention"]
    ),
    "trials_under": lambda store, values: search_index(store).trials_under(values["concept"]),
    "related_trials": lambda store, values: search_index(store).related_trials(store, _trial_term(values["nct"])),
    "concepts_by_label": lambda store, values: search_index(store).concepts_by_label(values["label"]),
}
