"""MeSH records → a SKOS hierarchy: descriptors, the 16 top categories, supplementary concepts, pharmacological
actions, and the ancestor closure materialised as ``kg:ancestor`` (ancestor queries then cost one lookup)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Final

from pyoxigraph import Literal, NamedNode, Quad

from kg.graphs import MESH_GRAPH, MESH_SCHEME
from kg.mesh.files import Descriptor, MeshProblem, SupplementaryConcept, TreeEntry
from kg.vocab import DATA, DCTERMS, KG, MESH, RDF, SKOS, XSD

__all__ = ["CATEGORIES", "MeshIndex", "category_iri", "mesh_quads"]

logger = logging.getLogger(__name__)

#: The 16 top categories of the MeSH trees (the letter a tree number starts with).
CATEGORIES: Final[dict[str, str]] = {
    "A": "Anatomy",
    "B": "Organisms",
    "C": "Diseases",
    "D": "Chemicals and Drugs",
    "E": "Analytical, Diagnostic and Therapeutic Techniques, and Equipment",
    "F": "Psychiatry and Psychology",
    "G": "Phenomena and Processes",
    "H": "Disciplines and Occupations",
    "I": "Anthropology, Education, Sociology, and Social Phenomena",
    "J": "Technology, Industry, and Agriculture",
    "K": "Humanities",
    "L": "Information Science",
    "M": "Named Groups",
    "N": "Health Care",
    "V": "Publication Characteristics",
    "Z": "Geographicals",
}


def category_iri(letter: str) -> NamedNode:
    return DATA[f"mesh/category/{letter}"]


@dataclass
class MeshIndex:
    """Descriptors and supplementary concepts by UI, with parents from tree numbers and names resolved to UIs."""

    descriptors: dict[str, Descriptor]
    concepts: dict[str, SupplementaryConcept] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @classmethod
    def from_records(cls, records: Iterable[Descriptor | SupplementaryConcept | TreeEntry | MeshProblem]) -> MeshIndex:
        """Index records; an mtrees file only adds tree numbers to descriptors (matched by heading) that have none."""
        descriptors: dict[str, Descriptor] = {}
        concepts: dict[str, SupplementaryConcept] = {}
        trees: dict[str, list[str]] = {}
        problems: list[str] = []
        for record in records:
            if isinstance(record, Descriptor):
                descriptors[record.ui] = record
            elif isinstance(record, SupplementaryConcept):
                concepts[record.ui] = record
            elif isinstance(record, TreeEntry):
                trees.setdefault(record.name.casefold(), []).append(record.tree_number)
            else:
                problems.append(str(record))
        index = cls(descriptors, concepts, problems)
        for ui, descriptor in list(descriptors.items()):
            extra = trees.get(descriptor.heading.casefold())
            if extra and not descriptor.tree_numbers:
                descriptors[ui] = Descriptor(
                    ui,
                    descriptor.heading,
                    tuple(extra),
                    descriptor.entry_terms,
                    descriptor.pharmacological_actions,
                    descriptor.scope_note,
                )
        return index

    @cached_property
    def by_heading(self) -> dict[str, str]:
        return {descriptor.heading.casefold(): ui for ui, descriptor in self.descriptors.items()}

    @cached_property
    def by_tree_number(self) -> dict[str, str]:
        return {tree: ui for ui, descriptor in self.descriptors.items() for tree in descriptor.tree_numbers}

    @cached_property
    def parents(self) -> dict[str, set[str]]:
        """Parent descriptors of each descriptor (a polyhierarchy: one per tree number, often fewer)."""
        parents: dict[str, set[str]] = {}
        for ui, descriptor in self.descriptors.items():
            found = parents.setdefault(ui, set())
            for tree in descriptor.tree_numbers:
                parent_tree = tree.rpartition(".")[0]
                if parent_tree:
                    parent = self.by_tree_number.get(parent_tree)
                    if parent is None:
                        self.problems.append(
                            f"{ui} {descriptor.heading}: no descriptor has parent tree number {parent_tree}"
                        )
                    else:
                        found.add(parent)
        return parents

    def ancestors(self, ui: str) -> frozenset[str]:
        """All descriptors above ``ui`` through ``skos:broader`` (not ``ui`` itself, not the categories)."""
        return self._closure.get(ui, frozenset())

    @cached_property
    def _closure(self) -> dict[str, frozenset[str]]:
        """Everything reachable upwards from each descriptor: the transitive closure, as ``skos:broader+`` sees it
        (a search per descriptor, so a cycle in the tree numbers is reported, not looped on or cut)."""
        closure: dict[str, frozenset[str]] = {}
        for ui in self.descriptors:
            seen: set[str] = set()
            stack = list(self.parents.get(ui, ()))
            while stack:
                parent = stack.pop()
                if parent not in seen:
                    seen.add(parent)
                    stack.extend(self.parents.get(parent, ()))
            if ui in seen:
                self.problems.append(f"{ui} {self.descriptors[ui].heading}: tree numbers make it its own ancestor")
                seen.discard(ui)
            closure[ui] = frozenset(seen)
        return closure

    def resolve_heading(self, heading: str, *, owner: str) -> str | None:
        ui = self.by_heading.get(heading.casefold())
        if ui is None:
            self._unresolved.setdefault(heading, set()).add(owner)
        return ui

    @cached_property
    def _unresolved(self) -> dict[str, set[str]]:
        return {}

    def unresolved_headings(self) -> list[str]:
        """Headings named by PA or HM fields that no loaded descriptor has (often a renamed descriptor)."""
        return [
            f"no descriptor named {heading!r} (named by {len(owners)} record(s), e.g. {min(owners)})"
            for heading, owners in sorted(self._unresolved.items())
        ]

    def actions(self, ui: str) -> list[str]:
        """Pharmacological action descriptors of a descriptor or supplementary concept."""
        record = self.descriptors.get(ui) or self.concepts.get(ui)
        if record is None:
            return []
        found = (self.resolve_heading(name, owner=ui) for name in record.pharmacological_actions)
        return [action for action in found if action]

    def mapped(self, ui: str) -> list[str]:
        """Descriptors a supplementary concept maps to (``HM``; by its actions when it has no mapping)."""
        concept = self.concepts.get(ui)
        if concept is None:
            return []
        found = (self.resolve_heading(heading, owner=ui) for heading, _major in concept.mapped_to)
        return [descriptor for descriptor in found if descriptor]

    def hierarchy(self, ui: str) -> set[str]:
        """What a trial's MeSH term implies: for a descriptor its ancestors; for a supplementary concept its
        mapped descriptors and their ancestors; plus, for both, pharmacological actions and their ancestors
        (how ClinicalTrials.gov derives its intervention ancestors)."""
        roots = self.mapped(ui) if ui.startswith("C") else []
        found: set[str] = set(roots)
        for root in [ui, *roots]:
            found |= self.ancestors(root)
            for action in self.actions(root):
                found |= {action} | self.ancestors(action)
        found.discard(ui)
        return found

    def depth(self, ui: str) -> int:
        """Levels below the category of the shallowest tree number (a top heading such as C04 is 1)."""
        trees = self.descriptors[ui].tree_numbers if ui in self.descriptors else ()
        return min((tree.count(".") + 1 for tree in trees), default=0)


def mesh_quads(index: MeshIndex, *, version: str) -> Iterator[Quad]:
    """The whole vocabulary in the ``kgr:graph/mesh`` graph."""
    g = MESH_GRAPH

    def q(subject: NamedNode, predicate: NamedNode, obj: NamedNode | Literal) -> Quad:
        return Quad(subject, predicate, obj, g)

    yield q(MESH_SCHEME, RDF.type, SKOS.ConceptScheme)
    yield q(MESH_SCHEME, DCTERMS.title, Literal(f"Medical Subject Headings {version}"))
    yield q(MESH_SCHEME, DCTERMS.publisher, Literal("U.S. National Library of Medicine"))
    yield q(MESH_SCHEME, KG.meshVersion, Literal(version))
    for letter, name in CATEGORIES.items():
        category = category_iri(letter)
        yield q(category, RDF.type, SKOS.Concept)
        yield q(category, RDF.type, KG.MeshCategory)
        yield q(category, SKOS.prefLabel, Literal(name))
        yield q(category, SKOS.notation, Literal(letter))
        yield q(category, SKOS.topConceptOf, MESH_SCHEME)

    def concept(ui: str, kind: NamedNode, label: str, synonyms: tuple[str, ...]) -> Iterator[Quad]:
        node = MESH[ui]
        yield q(node, RDF.type, SKOS.Concept)
        yield q(node, RDF.type, kind)
        yield q(node, SKOS.inScheme, MESH_SCHEME)
        yield q(node, SKOS.prefLabel, Literal(label))
        yield q(node, SKOS.notation, Literal(ui))
        yield from (q(node, SKOS.altLabel, Literal(term)) for term in synonyms if term != label)
        yield from (q(node, KG.pharmacologicalAction, MESH[action]) for action in index.actions(ui))

    for ui, descriptor in index.descriptors.items():
        node = MESH[ui]
        yield from concept(ui, KG.MeshDescriptor, descriptor.heading, descriptor.entry_terms)
        yield q(node, KG.depth, Literal(str(index.depth(ui)), datatype=XSD.integer))
        if descriptor.scope_note:
            yield q(node, SKOS.scopeNote, Literal(descriptor.scope_note))
        for tree in descriptor.tree_numbers:
            yield q(node, KG.treeNumber, Literal(tree))
            if "." not in tree:
                yield q(node, SKOS.broader, category_iri(tree[0]))
        for parent in index.parents.get(ui, ()):
            yield q(node, SKOS.broader, MESH[parent])
        for ancestor in index.ancestors(ui):
            yield q(node, KG.ancestor, MESH[ancestor])
    for ui, record in index.concepts.items():
        node = MESH[ui]
        yield from concept(ui, KG.MeshSupplementaryConcept, record.name, record.synonyms)
        for heading, major in record.mapped_to:
            target = index.by_heading.get(heading.casefold())
            if target is not None:
                yield q(node, KG.majorMappedTo if major else KG.mappedTo, MESH[target])
        for ancestor in index.hierarchy(ui):
            yield q(node, KG.ancestor, MESH[ancestor])
