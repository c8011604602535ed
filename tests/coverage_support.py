"""The coverage instrument: every leaf value of a raw API v2 record with its path, looked up along the property chain
the manifest (scripts/coverage_manifest.py) gives for that path, in the trial's graph and the shared nodes graph."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Final

from pyoxigraph import Literal, NamedNode, QuerySolutions

from kg.ctgov.emitter import clean, trial_iri
from kg.graphs import NODES_GRAPH, TRIAL_GRAPH_PREFIX, trial_graph
from kg.identifiers import normalize_mesh_id
from kg.store import Store
from kg.vocab import MESH, PREFIXES, XSD, enum_iri

__all__ = [
    "RARE_FIELDS",
    "Coverage",
    "GraphIndex",
    "check_objects",
    "check_record",
    "deep_merge",
    "is_excluded",
    "leaves",
    "list_items",
    "list_objects",
    "load_manifest_script",
    "merge",
]

SCRIPT: Final = Path(__file__).resolve().parents[1] / "scripts" / "coverage_manifest.py"
PUBMED: Final = "https://pubmed.ncbi.nlm.nih.gov/"
#: A term as compared: ("I", iri), ("S", lexical form), ("N", number) or ("B", boolean).
Key = tuple[str, Any]
_NUMBERS: Final = {XSD.integer.value: int, XSD.decimal.value: float, XSD.double.value: float}
_ESTIMATED: Final = ("ESTIMATED", "ANTICIPATED")
_DIGITS: Final = re.compile(r"[0-9]+")


def load_manifest_script() -> ModuleType:
    """scripts/coverage_manifest.py as a module (registered first: its dataclasses look themselves up there)."""
    spec = importlib.util.spec_from_file_location("coverage_manifest", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def leaves(value: object, path: str = "") -> Iterator[tuple[str, object]]:
    """Every string, number and boolean under ``value`` with its path (``a.b[].c``); blank strings and nulls carry
    nothing and are left out."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for item in value:
            yield from leaves(item, f"{path}[]")
    elif value is not None and not (isinstance(value, str) and not value.strip()):
        yield path, value


def list_items(value: object, path: str) -> int:
    """How many items the list path ``a.b[].c[]`` reaches in ``value``: an independent count over the raw JSON."""
    head, _, rest = path.partition(".")
    key, is_list = head.removesuffix("[]"), head.endswith("[]")
    item = value.get(key) if isinstance(value, dict) else None
    if item is None:
        return 0
    if not is_list:
        return list_items(item, rest)
    return len(item) if not rest else sum(list_items(element, rest) for element in item)


def _text(value: object) -> frozenset[Key]:
    return frozenset({("S", clean(str(value), []))})


def _mesh(value: object) -> frozenset[Key]:
    """The concept's IRI; none for an id that is not one (the mapping refuses such a record)."""
    try:
        return frozenset({("I", MESH[normalize_mesh_id(str(value))].value)})
    except ValueError:
        return frozenset()


def _pmid(value: object) -> str | None:
    """The PMID when it is all (ASCII) digits after stripping, as the mapping decides whether to link PubMed."""
    digits = str(value).strip()
    return digits if _DIGITS.fullmatch(digits) else None


def _count(value: object) -> frozenset[Key]:
    text = str(value).strip()
    return frozenset({("N", int(text))}) if _DIGITS.fullmatch(text.removeprefix("-")) else _text(value)


def _typed_name(value: object) -> frozenset[Key]:
    written = str(value).casefold()
    return frozenset({("S", name) for name in (written, written.partition(": ")[2]) if name})


#: Manifest kind → the keys a raw value may have in the graph (None: this carrier does not apply to the value).
EXPECTED: Final[dict[str, Callable[[object], frozenset[Key] | None]]] = {
    "text": _text,
    "url": _text,
    "date": _text,
    "mesh": _mesh,
    "nct": lambda value: frozenset({("I", trial_iri(str(value)).value)}),
    "pubmed": lambda value: None if (pmid := _pmid(value)) is None else frozenset({("I", PUBMED + pmid)}),
    "malformed-pmid": lambda value: None if _pmid(value) is not None else _text(value),
    "boolean": lambda value: frozenset({("B", value)}),
    "integer": lambda value: frozenset({("N", value)}),
    "double": lambda value: frozenset({("N", float(str(value)))}),
    "count": _count,
    "estimated": lambda value: frozenset({("B", value in _ESTIMATED)}),
    "name": lambda value: frozenset({("S", str(value).casefold())}),
    "typed-name": _typed_name,
}
#: Kinds compared case-folded: the graph's labels are folded too.
FOLDED: Final = frozenset({"name", "typed-name"})


def expected_keys(kind: str, value: object) -> frozenset[Key] | None:
    if kind.startswith("enum:"):
        return frozenset({("I", enum_iri(kind.removeprefix("enum:"), str(value)).value)})
    return EXPECTED[kind](value)


def term_key(term: object) -> Key:
    """A store term as compared: numbers and booleans by value, other literals by lexical form, IRIs by IRI."""
    if isinstance(term, NamedNode):
        return ("I", term.value)
    if isinstance(term, Literal):
        datatype = term.datatype.value
        if datatype == XSD.boolean.value:
            return ("B", term.value in ("true", "1"))
        number = _NUMBERS.get(datatype)
        if number is not None:
            try:
                return ("N", number(term.value))
            except ValueError:
                pass
        return ("S", term.value)
    return ("X", str(term))


def expand(curie: str) -> str:
    prefix, _, local = curie.partition(":")
    return PREFIXES[prefix] + local


Edges = dict[str, dict[str, set[Key]]]


@dataclass
class GraphIndex:
    """Every trial graph and the shared nodes graph, read once: graph → subject → predicate → object keys."""

    trials: dict[str, Edges]
    nodes: Edges

    @classmethod
    def read(cls, store: Store) -> GraphIndex:
        """One query for all of it, not one per leaf (350,000 of them in the real records)."""
        query = (
            "SELECT ?g ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } "
            f'FILTER (?g = <{NODES_GRAPH.value}> || STRSTARTS(STR(?g), "{TRIAL_GRAPH_PREFIX}")) }}'
        )
        result = store.query_raw(query)
        assert isinstance(result, QuerySolutions)
        graphs: dict[str, Edges] = {}
        for graph, subject, predicate, obj in result:
            edges = graphs.setdefault(graph.value, {})
            by_predicate = edges.setdefault(subject.value, {})
            by_predicate.setdefault(sys.intern(predicate.value), set()).add(term_key(obj))
        nodes = graphs.pop(NODES_GRAPH.value, {})
        return cls(graphs, nodes)

    def reachable(self, nct_id: str, chain: tuple[str, ...], start: str | None = None) -> set[Key]:
        """The objects of ``chain`` from ``start`` (the trial by default), within the trial's graph and the shared
        nodes graph."""
        edges = self.trials.get(trial_graph(nct_id).value, {})
        frontier = {("I", start or trial_iri(nct_id).value)}
        for curie in chain:
            predicate = expand(curie)
            step: set[Key] = set()
            for kind, subject in frontier:
                if kind == "I":
                    step |= edges.get(subject, {}).get(predicate, set())
                    step |= self.nodes.get(subject, {}).get(predicate, set())
            frontier = step
        return frontier


@dataclass
class Coverage:
    """Counts per path (of leaves, or of list items): all, found in the graph, one example of a missing one each;
    and the leaves of paths the manifest does not know."""

    total: Counter[str] = field(default_factory=Counter)
    found: Counter[str] = field(default_factory=Counter)
    unknown: Counter[str] = field(default_factory=Counter)
    example: dict[str, str] = field(default_factory=dict)

    def share(self, prefix: str = "") -> float:
        total = sum(count for path, count in self.total.items() if path.startswith(prefix))
        found = sum(count for path, count in self.found.items() if path.startswith(prefix))
        return found / total if total else 1.0

    def missing(self) -> list[tuple[str, int, int]]:
        """(path, missing, of all) for every path with a value not found, most missing first."""
        gaps = [(path, total - self.found[path], total) for path, total in self.total.items()]
        return sorted((gap for gap in gaps if gap[1]), key=lambda gap: (-gap[1], gap[0]))


def is_excluded(path: str, excluded: dict[str, str]) -> bool:
    """``path`` is an excluded path or lies under one."""
    return any(path == prefix or path.startswith((f"{prefix}.", f"{prefix}[]")) for prefix in excluded)


class _Trial:
    """One trial's side of the check: the manifest's chains followed from the trial or one of its nodes, cached."""

    def __init__(self, nct_id: str, index: GraphIndex) -> None:
        self.nct_id = nct_id
        self.index = index
        self._cache: dict[tuple[tuple[str, ...], bool, str | None], set[Key]] = {}
        self._holders: dict[tuple[int, tuple[str, ...]], dict[Key, set[str]]] = {}

    def objects(self, chain: tuple[str, ...], folded: bool, start: str | None = None) -> set[Key]:
        key = (chain, folded, start)
        if key not in self._cache:
            found = self.index.reachable(self.nct_id, chain, start)
            self._cache[key] = {(kind, value.casefold()) for kind, value in found if kind == "S"} if folded else found
        return self._cache[key]

    def holding(self, entry: Any, value: object, prefix: tuple[str, ...], depth: int) -> set[str]:
        """The nodes at ``prefix`` that hold ``value`` for ``entry`` (an index built once per field and prefix: a
        trial can have thousands of measurements)."""
        key = (id(entry), prefix)
        if key not in self._holders:
            holders: dict[Key, set[str]] = {}
            for kind, node in self.objects(prefix, False):
                for carrier in entry.carriers if kind == "I" else ():
                    for found in self.objects(carrier.chain[depth:], carrier.kind in FOLDED, node):
                        holders.setdefault(found, set()).add(node)
            self._holders[key] = holders
        keys = set().union(*(expected_keys(carrier.kind, value) or () for carrier in entry.carriers))
        return set().union(*(self._holders[key].get(found, set()) for found in keys))

    def holds(self, entry: Any, value: object, start: str | None = None, skip: int = 0) -> bool:
        """Any of the field's carriers (their chains less the first ``skip`` links, from ``start``) holds ``value``."""
        for carrier in entry.carriers:
            keys = expected_keys(carrier.kind, value)
            if keys is not None and keys & self.objects(carrier.chain[skip:], carrier.kind in FOLDED, start):
                return True
        return False


def check_record(
    study: dict[str, Any], nct_id: str, index: GraphIndex, manifest: dict[str, Any], excluded: dict[str, str]
) -> Coverage:
    """Each leaf of one record looked up along its manifest carriers; unknown paths counted apart."""
    coverage = Coverage()
    trial = _Trial(nct_id, index)
    for path, value in leaves(study):
        if is_excluded(path, excluded):
            continue
        entry = manifest.get(path)
        if entry is None:
            coverage.unknown[path] += 1
            continue
        coverage.total[path] += 1
        if trial.holds(entry, value):
            coverage.found[path] += 1
        else:
            coverage.example.setdefault(path, f"{nct_id}: {value!r:.80}")
    return coverage


def list_objects(value: object, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object that is an item of a list, with the list's path (``a.b[]``)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from list_objects(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                yield f"{path}[]", item
            yield from list_objects(item, f"{path}[]")


def _shared_depth(chains: list[tuple[str, ...]]) -> int:
    """How many leading links all chains share, leaving each at least one link of its own."""
    depth = 0
    while depth < min(map(len, chains)) - 1 and len({chain[depth] for chain in chains}) == 1:
        depth += 1
    return depth


def check_objects(
    study: dict[str, Any], nct_id: str, index: GraphIndex, manifest: dict[str, Any], excluded: dict[str, str]
) -> Coverage:
    """Each list item with two values or more (a site, a measurement, a group's count): one node at the chain its
    fields share must hold all its values, so a value carried by a sibling (another group's count) shows."""
    coverage = Coverage()
    trial = _Trial(nct_id, index)
    for list_path, item in list_objects(study):
        fields = [
            (manifest[path], value)
            for path, value in leaves(item, list_path)
            if "[]" not in path[len(list_path) :] and path in manifest and not is_excluded(path, excluded)
        ]
        if len(fields) < 2:
            continue
        depth = _shared_depth([carrier.chain for entry, _ in fields for carrier in entry.carriers])
        prefix = fields[0][0].carriers[0].chain[:depth]
        coverage.total[list_path] += 1
        first, first_value = fields[0]
        nodes = trial.holding(first, first_value, prefix, depth)
        if any(all(trial.holds(entry, value, node, depth) for entry, value in fields[1:]) for node in nodes):
            coverage.found[list_path] += 1
        else:
            coverage.example.setdefault(list_path, f"{nct_id}: {json.dumps(item)[:100]}")
    return coverage


def merge(parts: list[Coverage]) -> Coverage:
    whole = Coverage()
    for part in parts:
        whole.total.update(part.total)
        whole.found.update(part.found)
        whole.unknown.update(part.unknown)
        for path, example in part.example.items():
            whole.example.setdefault(path, example)
    return whole


#: What no real record holds, written by hand on top of the seed record, so the manifest's every row is exercised.
RARE_FIELDS: Final[dict[str, Any]] = {
    "protocolSection": {
        "oversightModule": {"fdaaa801Violation": True, "isPpsd": False},
        "statusModule": {"delayedPosting": False},
        "designModule": {"expandedAccessTypes": {"individual": True, "intermediate": False, "treatment": True}},
        "referencesModule": {
            "references": [
                {
                    "pmid": "11111111",
                    "type": "RESULT",
                    "citation": "A retracted report.",
                    "retractions": [{"pmid": "22222222", "source": "J Retractions"}],
                }
            ],
            "availIpds": [
                {"id": "IPD-1", "type": "Study Protocol", "url": "https://example.org/ipd", "comment": "On request"}
            ],
        },
    },
    "derivedSection": {
        "miscInfoModule": {
            "submissionTracking": {"submissionInfos": [{"releaseDate": "2020-01-02", "unreleaseDateUnknown": True}]}
        }
    },
    "annotationSection": {
        "annotationModule": {
            "unpostedAnnotation": {"unpostedEvents": [{"type": "UNRELEASE", "dateUnknown": True}]},
            "violationAnnotation": {
                "violationEvents": [
                    {
                        "type": "VIOLATION_IDENTIFIED",
                        "description": "Failure to submit results",
                        "creationDate": "2021-01-04",
                        "issuedDate": "2021-01-05",
                        "releaseDate": "2021-01-06",
                        "postedDate": "2021-01-07",
                    }
                ]
            },
        }
    },
    "hasResults": True,
    "resultsSection": {
        "participantFlowModule": {
            "typeUnitsAnalyzed": "Eyes",
            "groups": [{"id": "FG000", "title": "Lutetium"}],
            "periods": [
                {
                    "title": "Overall Study",
                    "milestones": [
                        {
                            "type": "STARTED",
                            "achievements": [{"groupId": "FG000", "numSubjects": "11", "numUnits": "22"}],
                        }
                    ],
                    "dropWithdraws": [
                        {
                            "type": "Withdrawal by Subject",
                            "comment": "After the first cycle",
                            "reasons": [{"groupId": "FG000", "numSubjects": "1", "comment": "Moved away"}],
                        }
                    ],
                }
            ],
        },
        "baselineCharacteristicsModule": {
            "typeUnitsAnalyzed": "Eyes",
            "groups": [{"id": "BG000", "title": "Lutetium"}],
            "measures": [
                {
                    "title": "Age, Continuous",
                    "paramType": "MEAN",
                    "unitOfMeasure": "years",
                    "denomUnitsSelected": "Eyes",
                    "denoms": [{"units": "Eyes", "counts": [{"groupId": "BG000", "value": "22"}]}],
                    "classes": [{"categories": [{"measurements": [{"groupId": "BG000", "value": "61.5"}]}]}],
                }
            ],
        },
        "outcomeMeasuresModule": {
            "outcomeMeasures": [
                {
                    "type": "PRIMARY",
                    "title": "Dose limiting toxicity",
                    "reportingStatus": "NOT_POSTED",
                    "anticipatedPostingDate": "2027-12",
                    "typeUnitsAnalyzed": "Eyes",
                    "groups": [{"id": "OG000", "title": "Low dose"}, {"id": "OG001", "title": "High dose"}],
                    "analyses": [
                        {
                            "groupIds": ["OG000", "OG001"],
                            "ciLowerLimitComment": "Lower limit not estimable",
                            "ciUpperLimitComment": "Upper limit not estimable",
                            "otherAnalysisDescription": "Exploratory",
                        }
                    ],
                }
            ]
        },
        "adverseEventsModule": {
            "allCauseMortalityComment": "No deaths",
            "eventGroups": [{"id": "EG000", "title": "Lutetium", "deathsNumAffected": 0, "deathsNumAtRisk": 11}],
        },
    },
}


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra``'s keys added, objects merged key by key."""
    merged = dict(base)
    for key, value in extra.items():
        old = merged.get(key)
        merged[key] = deep_merge(old, value) if isinstance(old, dict) and isinstance(value, dict) else value
    return merged
