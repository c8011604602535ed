"""The explorer's graph as JSON: a trial with its conditions, interventions, MeSH chains and related trials, and
one-hop expansions of any node, computed ahead for the offline page or on request for ``kg serve``.

Node ids: ``NCT…`` for trials, MeSH UIs (``D…``, ``C…``) for concepts, and the shared node's IRI below
``https://w3id.org/trialkg/id/`` for conditions and interventions as written (``condition/prostate-cancer``,
``intervention/drug/placebo``). A node is ``{"id", "kind", "group", "label", "name", "facts"}`` (``group`` picks
colour and shape); an edge is ``{"id", "from", "to", "kind", "label", "summary"}``. Every string is record text
for the page to show as text, never markup.
"""

from __future__ import annotations

import logging
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final, Generic, NamedTuple, TypeVar

from pyoxigraph import NamedNode

from kg.analysis.concept_facts import CONCEPT_QUERY, PARENTS_QUERY, ConceptFacts, concept_facts
from kg.analysis.health import summary_health
from kg.analysis.hierarchy import mesh_loaded, trial_hierarchy
from kg.analysis.related import RELATED_INDEX, Neighbour, RelatedIndex, rank
from kg.analysis.search_index import SEPARATOR, search_index
from kg.analysis.trial import trial_summary
from kg.analysis.trial_facts import OWN_TERMS_QUERY, TrialFacts, trial_facts
from kg.identifiers import is_nct_id, normalize_mesh_id, slug
from kg.queries import QueryError, load_query, select_many, trial_terms
from kg.store import Store, Value
from kg.views.collector import COLLECTOR_PAUSED
from kg.views.markdown import plain_text
from kg.vocab import CTGOV_STUDY, DATA, MESH, SPARQL_PROLOGUE

__all__ = ["GROUPS", "Graph", "Node", "canonical_id", "expand", "explorer_data", "node_kind"]

logger = logging.getLogger(__name__)

Node = dict[str, Any]
Edge = dict[str, Any]
Rows = list[dict[str, Value]]
V = TypeVar("V")

#: Node groups, in legend order: (group, legend text). Colours and shapes live with the page (explorer.js).
GROUPS: Final = (
    ("trial", "Trial"),
    ("condition", "Condition as written"),
    ("intervention", "Intervention as written"),
    ("disease", "MeSH disease concept (C, F)"),
    ("drug", "MeSH chemical or drug (D, supplementary)"),
    ("concept", "Other MeSH concept"),
)
_DISEASE_TREES: Final = ("C", "F")
_WRITTEN: Final = ("condition/", "intervention/")
#: Longest label drawn on the canvas; the full text is in the hover summary and the panel.
_LABEL_CHARS: Final = 40

# Each query reads one kind of fact for many subjects at once (``?nct`` or ``?node`` bound by select_many); the
# concepts' two queries live with their index (kg.analysis.concept_facts).
_WRITTEN_NODE: Final = (
    SPARQL_PROLOGUE
    + """SELECT ?node ?label ?type WHERE {
  ?node rdfs:label ?label .
  OPTIONAL { ?node kg:interventionType/skos:notation ?type }
}"""
)
#: Where no search index answers (a remote store): every trial naming the node, to count them and show a few.
_NAMING: Final = (
    SPARQL_PROLOGUE + "SELECT ?node ?nct WHERE { ?trial kg:condition|kg:intervention ?node ; dcterms:identifier ?nct }"
)
_MESH_KINDS: Final = {
    "https://w3id.org/trialkg/vocab/MeshDescriptor": "MeSH descriptor",
    "https://w3id.org/trialkg/vocab/MeshSupplementaryConcept": "MeSH supplementary concept",
}
_TERM_ROLES: Final = ("condition", "intervention")
#: Rankings remembered per store (see :func:`_ranked`), least recently used dropped first. A ranking with its
#: explanations takes 20-40 kB: 240 real pages drawn in a row grew the process by 86 MB with 2,000 kept (50,000 before,
#: an unbounded creep in practice) and by 6 MB with 200; 500 is a few neighbourhoods' worth.
_RANKS_KEPT: Final = 500
_RANKED: Final[weakref.WeakKeyDictionary[Store, tuple[str, OrderedDict[tuple[str, int], list[Neighbour]]]]] = (
    weakref.WeakKeyDictionary()
)


def node_kind(node_id: str) -> str:
    """``trial``, ``concept``, ``condition`` or ``intervention`` for a node id; QueryError for anything else."""
    if is_nct_id(node_id):
        return "trial"
    if node_id.startswith(_WRITTEN):
        return node_id.split("/", 1)[0]
    try:
        normalize_mesh_id(node_id)
    except ValueError:
        raise QueryError(f"{node_id!r} is not a node id (an NCT id, a MeSH UI or condition/… intervention/…)") from None
    return "concept"


def canonical_id(node_id: str) -> str:
    """The id a node goes by: NCT ids in capitals, MeSH UIs as MeSH writes them (``D000008187`` → ``D008187``)."""
    node_id = node_id.strip()
    if is_nct_id(node_id.upper()):
        return node_id.upper()
    return normalize_mesh_id(node_id) if node_kind(node_id) == "concept" else node_id


def _short(text: str) -> str:
    """One line of at most ``_LABEL_CHARS``, cut after a whole word where one ends past the middle (record text may
    hold line breaks, which would stack on the canvas)."""
    text = " ".join(text.split())
    if len(text) <= _LABEL_CHARS:
        return text
    head = text[:_LABEL_CHARS]  # a space at its end still closes a whole word
    space = head.rfind(" ")
    return (head[:space] if space > _LABEL_CHARS // 2 else head[:-1]).rstrip(" ,;:") + "…"


def _trial_label(nct: str, title: str | None, acronym: str | None) -> str:
    """The NCT id over a short name, the acronym if the record has one (what people call the trial) or the title's
    start: a row of bare NCT ids says nothing at a glance."""
    name = acronym or title
    return f"{nct}\n{_short(name)}" if name else nct


def _text(value: object) -> str | None:
    """Record text as a reader sees it (Markdown escapes such as ``\\[`` removed), None when empty."""
    return None if value is None or value == "" else plain_text(value)


@dataclass
class Graph:
    """Nodes and edges in insertion order, each once (an edge by its id)."""

    nodes: dict[str, Node] = field(default_factory=dict)
    edges: dict[str, Edge] = field(default_factory=dict)

    def node(self, node: Node) -> None:
        self.nodes.setdefault(node["id"], node)

    def edge(self, source: str, target: str, kind: str, label: str, summary: str = "") -> None:
        ends = sorted((source, target)) if kind == "related" else [source, target]
        key = f"{kind}|{ends[0]}|{ends[1]}"
        if key not in self.edges and source != target:
            self.edges[key] = {
                "id": key,
                "from": source,
                "to": target,
                "kind": kind,
                "label": label,
                "summary": summary,
            }

    def to_json(self, centre: str) -> dict[str, Any]:
        return {"centre": centre, "nodes": list(self.nodes.values()), "edges": list(self.edges.values())}


class _Batched(Generic[V]):
    """Facts by key, read many keys per query: a miss reads the key together with every key wanted so far, so a
    page of hundreds of nodes costs one query per kind of fact and level, not one per node."""

    def __init__(self, read: Callable[[list[str]], dict[str, V]]) -> None:
        self._read = read
        self._found: dict[str, V] = {}
        self._wanted: dict[str, None] = {}  # an ordered set

    def want(self, keys: Iterable[str]) -> None:
        self._wanted.update((key, None) for key in keys if key not in self._found)

    def __getitem__(self, key: str) -> V:
        if key not in self._found:
            keys = [key, *(other for other in self._wanted if other != key and other not in self._found)]
            self._wanted.clear()
            self._found.update(self._read(keys))
        return self._found[key]


class _Written(NamedTuple):
    """A condition or intervention as written: its labels (sorted), type, first trials naming it, how many do."""

    labels: list[str]
    type: str | None
    first: list[str]
    total: int


class _Link(NamedTuple):
    """A node an expansion adds (built with ``role`` if it is new) and the edge that ties it in."""

    node: str
    role: str | None
    source: str
    target: str
    kind: str
    label: str
    summary: str = ""


class _Reader:
    """Node builders over one store, each node built once per page from facts read in batches (see ``want``)."""

    def __init__(self, store: Store, top: int) -> None:
        if top < 1:
            raise QueryError(f"--top must be at least 1, not {top}")
        self.store = store
        self.top = top
        self.mesh = mesh_loaded(store)
        self._nodes: dict[str, Node] = {}
        self._related: dict[str, list[Neighbour]] = {}
        self._index: RelatedIndex | None = None
        self._facts: TrialFacts | None = trial_facts(store)
        self._concept_facts: ConceptFacts | None = concept_facts(store)
        self._summaries = _Batched(self._read_summaries)
        self._terms = _Batched(self._read_terms)
        self._health = _Batched(self._read_health)
        self._concepts = _Batched(self._read_concepts)
        self._parents = _Batched(self._read_parents)
        self._under = _Batched(self._read_under)
        self._written = _Batched(self._read_written)

    # --- batched reads -------------------------------------------------------------------------------------------

    def want(self, node_ids: Iterable[str]) -> None:
        """Read, at the next miss, the facts building these nodes takes: for trials their summary and health (their
        MeSH terms' names come from the related-trials index); for concepts and written terms their facts."""
        ids = [node_id for node_id in node_ids if node_id not in self._nodes]
        kinds = {node_id: node_kind(node_id) for node_id in ids}
        trials = [node_id for node_id in ids if kinds[node_id] == "trial"]
        for batch in (self._summaries, self._health):
            batch.want(trials)
        self._written.want(node_id for node_id in ids if kinds[node_id] in _TERM_ROLES)
        self._concepts.want(canonical_id(node_id) for node_id in ids if kinds[node_id] == "concept")

    def want_links(self, node_ids: Iterable[str]) -> None:
        """Read, at the next miss, the relations expanding these nodes takes (see :func:`_links`)."""
        ids = list(node_ids)
        self._terms.want(node_id for node_id in ids if node_kind(node_id) == "trial")
        concepts = [node_id for node_id in ids if node_kind(node_id) == "concept"]
        self._parents.want(concepts)
        self._under.want(concepts)
        self._written.want(node_id for node_id in ids if node_kind(node_id) in _TERM_ROLES)

    def want_parents(self, uis: Iterable[str]) -> None:
        self._parents.want(uis)

    def _per_trial(self, query: str, ncts: list[str]) -> dict[str, Rows]:
        return select_many(self.store, load_query(query).text, "nct", list(trial_terms(query, ncts).values()))

    def _read_terms(self, ncts: list[str]) -> dict[str, Rows]:
        """``trial_mesh`` rows; with the MeSH vocabulary loaded only the trial's own terms (see ``_term_links``)."""
        if not self.mesh:
            return self._per_trial("trial_mesh", ncts)
        terms = trial_terms("trial_mesh", ncts)
        if self._facts is None:
            return select_many(self.store, OWN_TERMS_QUERY, "nct", list(terms.values()))
        return self._facts.own_terms(terms)

    def _read_summaries(self, ncts: list[str]) -> dict[str, Rows]:
        """``trial_summary`` rows: from the trial facts index on an embedded store, else from the query."""
        if self._facts is None:
            return self._per_trial("trial_summary", ncts)
        return self._facts.summaries(trial_terms("trial_summary", ncts))

    def _per_concept(self, sparql: str, uis: list[str]) -> dict[str, Rows]:
        rows = select_many(self.store, sparql, "concept", [NamedNode(MESH.iri + ui) for ui in uis])
        return {iri.removeprefix(MESH.iri): found for iri, found in rows.items()}

    def _read_concepts(self, uis: list[str]) -> dict[str, Rows]:
        """``CONCEPT_QUERY`` rows: from the concept facts index on an embedded store, else from the query."""
        if self._concept_facts is None:
            found = self._per_concept(CONCEPT_QUERY, uis)
        else:
            found = self._concept_facts.concepts(uis)
        self._under.want(ui for ui, rows in found.items() if not any(isinstance(r["trials"], int) for r in rows))
        return found

    def _read_parents(self, uis: list[str]) -> dict[str, Rows]:
        if self._concept_facts is None:
            return self._per_concept(PARENTS_QUERY, uis)
        return self._concept_facts.parents(uis)

    def _read_under(self, uis: list[str]) -> dict[str, tuple[list[tuple[str, str]], int]]:
        """Per concept up to ``top`` (NCT id, via terms) at or under it, those naming it first, and how many in all:
        on an embedded store from the search index (at 600k trials Neoplasms has 143k, read in SPARQL only to show
        ten), elsewhere from the named query's rows."""
        if self.store.scans_fast:
            index = search_index(self.store)
            return {ui: index.first_under(ui, self.top) for ui in uis}
        found = {}
        for ui, rows in self._per_concept(load_query("trials_under").text, uis).items():
            name = _concept_name(self._concepts[ui])
            under = [(str(r["nct"]), SEPARATOR.join(sorted(str(r["via"] or "").split(SEPARATOR)))) for r in rows]
            under.sort(key=lambda item: (name not in item[1].split(SEPARATOR), item[0]))
            found[ui] = (under[: self.top], len(under))
        return found

    def _read_written(self, node_ids: list[str]) -> dict[str, _Written]:
        """Per condition or intervention as written: its labels, type, and up to ``top`` of the trials naming it
        with how many in all: from the search index on an embedded store, else from the named rows."""
        nodes = [NamedNode(DATA.iri + node_id) for node_id in node_ids]
        facts = select_many(self.store, _WRITTEN_NODE, "node", nodes)
        if self.store.scans_fast:
            index = search_index(self.store)
            naming = {iri: index.trials_naming(node_kind(iri.removeprefix(DATA.iri)), iri, self.top) for iri in facts}
        else:
            every = {
                iri: sorted({str(r["nct"]) for r in rows})
                for iri, rows in select_many(self.store, _NAMING, "node", nodes).items()
            }
            naming = {iri: (ncts[: self.top], len(ncts)) for iri, ncts in every.items()}
        return {
            iri.removeprefix(DATA.iri): _Written(
                sorted({str(r["label"]) for r in rows}),
                next((str(r["type"]) for r in rows if r["type"]), None),
                *naming[iri],
            )
            for iri, rows in facts.items()
        }

    def _read_health(self, ncts: list[str]) -> dict[str, dict[str, Any]]:
        """Score, label and each component's points and explanation (the peer figures stay out of the page)."""
        summaries = {nct: rows[0] for nct in ncts if (rows := self._summaries[nct])}
        found: dict[str, dict[str, Any]] = {}
        for nct, health in summary_health(self.store, summaries, facts=self._facts).items():
            as_json = health.to_json()
            components = {
                name: {key: part[key] for key in ("points", "max_points", "explanation")}
                for name, part in as_json["components"].items()
            }
            found[nct] = {
                "score": as_json["score"],
                "label": as_json["label"],
                "as_of": as_json.get("as_of"),
                "components": components,
            }
        return found

    # --- nodes ---------------------------------------------------------------------------------------------------

    def node(self, node_id: str, *, role: str | None = None) -> Node:
        node_id = canonical_id(node_id)
        if node_id not in self._nodes:
            kind = node_kind(node_id)
            if kind == "trial":
                self._nodes[node_id] = self._trial(node_id)
            elif kind == "concept":
                self._nodes[node_id] = self._concept(node_id, role)
            else:
                self._nodes[node_id] = self._written_node(node_id, kind)
        return self._nodes[node_id]

    def _trial(self, nct: str) -> Node:
        self.want([nct])
        rows = self._summaries[nct]
        if not rows:
            raise QueryError(f"no trial {nct} in the store {self.store.spec}")
        row = rows[0]
        title = _text(row["title"])
        facts = {
            "nct_id": nct,
            "title": title,
            **{key: row[key] for key in _TRIAL_FACTS},
            "synthetic": bool(row["synthetic"]),
            "mesh_conditions": self._term_names(nct, "condition"),
            "mesh_interventions": self._term_names(nct, "intervention"),
            "health": self._health[nct],
            "url": f"{CTGOV_STUDY.iri}{nct}",
        }
        label = _trial_label(nct, title, _text(row["acronym"]))
        return {"id": nct, "kind": "trial", "group": "trial", "label": label, "name": title or nct, "facts": facts}

    def _term_names(self, nct: str, role: str) -> list[str]:
        """The names of the trial's own MeSH terms in a role, as their concept nodes say them (the preferred label,
        else the registry's term): the related-trials index holds both, so a trial shown needs no query for them."""
        index = self.index
        return sorted({index.labels[concept] for concept in index.terms[role][index.trial(nct)]})

    def _concept(self, ui: str, role: str | None) -> Node:
        rows = self._concepts[ui]
        types = {_MESH_KINDS[str(r["type"])] for r in rows if str(r["type"]) in _MESH_KINDS}
        registry = {str(r["registry"]) for r in rows if r["registry"]}
        trees = sorted({str(r["tree"]) for r in rows if r["tree"]})
        depths = [int(r["depth"]) for r in rows if isinstance(r["depth"], int)]
        counted = next((int(r["trials"]) for r in rows if isinstance(r["trials"], int)), None)
        ic = next((float(r["ic"]) for r in rows if isinstance(r["ic"], (int, float))), None)
        name = _concept_name(rows)
        if name is None:
            raise QueryError(f"no MeSH concept {ui} in the store {self.store.spec}")
        as_condition = any(bool(r["as_condition"]) for r in rows)
        facts = {
            "ui": ui,
            "label": name,
            "kind": min(types) if types else "MeSH term (from the registry)",
            "tree_numbers": trees,
            "depth": min(depths) if depths else None,
            "trials_at_or_under": counted if counted is not None else self._under[ui][1],
            "trials_source": "kg:trialsAtOrUnder" if counted is not None else "counted",
            "information_content": ic,
            "registry_terms": sorted(registry - {name}),
        }
        group = _concept_group(trees, ui, role or ("condition" if as_condition else "intervention"))
        return {"id": ui, "kind": "concept", "group": group, "label": _short(name), "name": name, "facts": facts}

    def _written_node(self, node_id: str, kind: str) -> Node:
        written = self._written[node_id]
        if not written.labels:
            raise QueryError(f"no {kind} {node_id!r} in the store {self.store.spec}")
        name = plain_text(written.labels[0])
        facts = {
            "label": name,
            "type": written.type,
            "trials": written.total,
            "spellings": sorted({plain_text(label) for label in written.labels} - {name}),
        }
        return {"id": node_id, "kind": kind, "group": kind, "label": _short(name), "name": name, "facts": facts}

    # --- relations -----------------------------------------------------------------------------------------------

    def terms(self, nct: str) -> Rows:
        """The trial's MeSH terms, and without the MeSH vocabulary the registry's ancestors (``trial_mesh``)."""
        return self._terms[nct]

    @property
    def index(self) -> RelatedIndex:
        if self._index is None:
            self._index = RELATED_INDEX.load(self.store)
        return self._index

    def related(self, nct: str) -> list[Neighbour]:
        if nct not in self._related:
            self._related[nct] = _ranked(self.store, self.index, nct, self.top)
        return self._related[nct]

    def parents(self, ui: str) -> list[tuple[str, str]]:
        """(relation, parent UI): broader descriptors, pharmacological actions, mapped descriptors."""
        rows = self._parents[ui]
        return sorted({(str(r["relation"]), str(r["parent"]).removeprefix(MESH.iri)) for r in rows})

    def trials_under(self, ui: str) -> tuple[list[tuple[str, str]], int]:
        """Up to ``top`` (NCT id, via terms) at or under a concept, those naming it first; and how many in all."""
        return self._under[ui]

    def trials_naming(self, node_id: str) -> list[str]:
        return self._written[node_id].first


def _ranked(store: Store, index: RelatedIndex, nct: str, top: int) -> list[Neighbour]:
    """:func:`rank`, remembered per store while its index stays the same (its fingerprint): the pages ``kg serve``
    draws for nearby trials share most of their rankings, and ranking is the costliest step of a page."""
    cached = _RANKED.get(store)
    if cached is None or cached[0] != index.fingerprint:
        cached = _RANKED[store] = (index.fingerprint, OrderedDict())
    ranks = cached[1]
    key = (nct, top)
    if key in ranks:
        ranks.move_to_end(key)
    else:
        ranks[key] = rank(index, nct, top)
        while len(ranks) > _RANKS_KEPT:
            ranks.popitem(last=False)
    return ranks[key]


_TRIAL_FACTS: Final = (
    "acronym",
    "status",
    "phases",
    "study_type",
    "start",
    "primary_completion",
    "completion",
    "enrollment",
    "lead_sponsor",
    "sponsor_class",
    "conditions",
    "interventions",
    "sites",
    "countries",
)


def _concept_name(rows: Rows) -> str | None:
    """A concept's name: its preferred label, else the registry's term for it (None: no such concept)."""
    labels = {str(r["label"]) for r in rows if r["label"]} or {str(r["registry"]) for r in rows if r["registry"]}
    return min(labels) if labels else None


def _concept_group(trees: list[str], ui: str, role: str) -> str:
    if trees:
        letters = {tree[0] for tree in trees}
        if letters & set(_DISEASE_TREES):
            return "disease"
        return "drug" if "D" in letters else "concept"
    if ui.startswith("C"):
        return "drug"
    return "disease" if role == "condition" else "drug"


# --- the centre view ------------------------------------------------------------------------------------------


def _centre(reader: _Reader, nct: str) -> Graph:
    """The trial, its conditions and interventions as written and as MeSH with their ancestors, its related trials.

    Every node's facts are asked for first (``want``) and read in one query per kind of fact; the graph is then
    built in the order the page shows."""
    summary = trial_summary(reader.store, nct)
    nct = str(summary["nct"])
    written = [
        (part, _written_id(part, str(item["label"]), item.get("detail")))
        for part in ("condition", "intervention")
        for item in summary["parts"].get(part, [])
    ]
    related = _related_links(reader, nct)
    reader.want([nct, *(link.node for link in related)])
    terms = _term_links(reader, nct)
    hierarchy = trial_hierarchy(reader.store, nct)
    chain = {
        str(item["id"]): role
        for role in ("condition", "intervention")
        for item in hierarchy[role]
        if isinstance(item.get("id"), str)
    }
    reader.want([nct, *(node_id for _, node_id in written), *(link.node for link in terms + related), *chain])
    graph = Graph()
    graph.node(reader.node(nct))
    for part, node_id in written:
        graph.node(reader.node(node_id))
        graph.edge(nct, node_id, part, part)
    _add_links(reader, graph, terms)
    for ui, role in chain.items():
        graph.node(reader.node(ui, role=role))
    if reader.mesh:
        _add_chain_edges(reader, graph, set(chain) | {n for n in graph.nodes if node_kind(n) == "concept"})
    _add_links(reader, graph, related)
    return graph


def _written_id(part: str, label: str, kind: object) -> str:
    """The id of a condition or intervention as written: its shared node's IRI below the data namespace."""
    if part == "condition":
        return f"condition/{slug(label)}"
    return f"intervention/{slug(str(kind or 'OTHER'))}/{slug(label)}"


def _term_links(reader: _Reader, nct: str) -> list[_Link]:
    """The trial's MeSH terms (and, without a MeSH file, the registry's ancestors) linked to it."""
    links = []
    for term in reader.terms(nct):
        role = str(term["role"])
        ui = str(term["mesh_id"])
        if role in _TERM_ROLES:
            links.append(_Link(ui, role, nct, ui, f"{role}-MeSH", f"MeSH {role}", f"MeSH {role} term of {nct}"))
        elif not reader.mesh:
            base = role.removesuffix(" ancestor")
            summary = f"the registry lists it as a {base} ancestor"
            links.append(_Link(ui, base, nct, ui, "registry-ancestor", "ancestor", summary))
    return links


def _related_links(reader: _Reader, nct: str) -> list[_Link]:
    return [
        _Link(
            neighbour.nct_id,
            None,
            nct,
            neighbour.nct_id,
            "related",
            f"related {neighbour.score:.1f}",
            f"rank {neighbour.rank}, score {neighbour.score:.2f}: {neighbour.explanation}",
        )
        for neighbour in reader.related(nct)
    ]


def _add_links(reader: _Reader, graph: Graph, links: Iterable[_Link]) -> None:
    for link in links:
        graph.node(reader.node(link.node, role=link.role))
        graph.edge(link.source, link.target, link.kind, link.label, link.summary)


def _add_chain_edges(reader: _Reader, graph: Graph, concepts: Iterable[str]) -> None:
    """Broader / pharmacological-action / mapping edges among concepts already in the graph."""
    present = set(concepts)
    reader.want_parents(present)
    for ui in sorted(present):
        for relation, parent in reader.parents(ui):
            if parent in present:
                graph.edge(ui, parent, relation.replace(" ", "-"), relation)


# --- expansions -----------------------------------------------------------------------------------------------


def _hop(reader: _Reader, node_id: str) -> list[_Link]:
    """One hop out: a trial's MeSH terms and related trials; a concept's broader concepts and the trials at or
    under it; a condition or intervention's trials."""
    kind = node_kind(node_id)
    if kind == "trial":
        return _term_links(reader, node_id) + _related_links(reader, node_id)
    if kind == "concept":
        links = [
            _Link(parent, None, node_id, parent, relation.replace(" ", "-"), relation)
            for relation, parent in reader.parents(node_id)
        ]
        found, total = reader.trials_under(node_id)
        return links + [
            _Link(nct, None, nct, node_id, "under", "at or under", f"{nct} via {via} ({total} trials at or under)")
            for nct, via in found
        ]
    return [_Link(nct, None, nct, node_id, kind, kind) for nct in reader.trials_naming(node_id)]


def _links(reader: _Reader, node_ids: list[str]) -> dict[str, list[_Link]]:
    """Each node's hop, all read together; then the facts of every node they reach are asked for at once."""
    reader.want_links(node_ids)
    links = {node_id: _hop(reader, node_id) for node_id in node_ids}
    reader.want(link.node for found in links.values() for link in found)
    return links


def _expansion(reader: _Reader, node_id: str, links: list[_Link]) -> Graph:
    graph = Graph()
    graph.node(reader.node(node_id))
    _add_links(reader, graph, links)
    return graph


def expand(store: Store, node_id: str, *, top: int = 10) -> dict[str, Any]:
    """One hop out from a node (see :func:`_hop`), as ``{"centre", "nodes", "edges"}``."""
    node_id = canonical_id(node_id)
    reader = _Reader(store, top)
    reader.node(node_id)
    return _expansion(reader, node_id, _links(reader, [node_id])[node_id]).to_json(node_id)


def explorer_data(store: Store, nct_id: str, *, depth: int = 2, top: int = 10) -> dict[str, Any]:
    """The centre view of a trial, plus the expansions of every node up to ``depth`` hops beyond it.

    ``nodes``/``edges`` are the first view; ``expansions`` maps a node id to the ids and edges its Expand adds;
    ``catalogue`` holds the nodes those expansions bring that the first view does not show. Each hop's relations,
    then the facts of every node it reaches, are read in one query per kind.
    """
    if depth < 0:
        raise QueryError(f"--depth must be 0 or more, not {depth}")
    with COLLECTOR_PAUSED:
        return _explorer_data(_Reader(store, top), nct_id, depth)


def _explorer_data(reader: _Reader, nct_id: str, depth: int) -> dict[str, Any]:
    first = _centre(reader, nct_id.strip().upper())
    centre = next(iter(first.nodes))
    known: dict[str, Node] = dict(first.nodes)
    expansions: dict[str, dict[str, Any]] = {}
    frontier = list(first.nodes)
    for _ in range(depth):
        reached: list[str] = []
        todo = [node_id for node_id in frontier if node_id not in expansions]
        for node_id, links in _links(reader, todo).items():
            hop = _expansion(reader, node_id, links)
            expansions[node_id] = {"nodes": list(hop.nodes), "edges": list(hop.edges.values())}
            for new_id, node in hop.nodes.items():
                if new_id not in known:
                    known[new_id] = node
                    reached.append(new_id)
        frontier = reached
    data = first.to_json(centre)
    data.update(
        depth=depth,
        top=reader.top,
        hierarchy="MeSH vocabulary (loaded)" if reader.mesh else "the registry's derived ancestor lists",
        expansions=expansions,
        catalogue={node_id: node for node_id, node in known.items() if node_id not in first.nodes},
    )
    return data
