"""The ontology and the shapes against what kg really builds: every kg: term declared, the real data
conforming, broken data failing with a message that names the path."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

import pytest
from pyoxigraph import Literal, NamedNode, Quad
from rdflib import Graph, URIRef
from rdflib.namespace import DCTERMS as DCTERMS_RDFLIB
from rdflib.namespace import OWL, RDF, RDFS

from kg.ctgov.mapping import enumeration_quads, map_study, trial_iri
from kg.graphs import trial_graph
from kg.pipeline.build import build
from kg.pipeline.validation import DEFAULT_SHAPES, ValidationResult, validate
from kg.resources import VOCABULARY_FILES
from kg.store import Store, open_store
from kg.vocab import DCTERMS, ENUMERATIONS, KG, MESH, enum_iri

REPO: Final = Path(__file__).resolve().parents[1]
CTGOV_DATA: Final = Path(__file__).resolve().parents[2] / "shared" / "data" / "ctgov"
ONTOLOGY: Final = [REPO / "ontologies" / name for name in VOCABULARY_FILES]
#: The human entry point, and its page for the results module.
READMES: Final = [REPO / "ontologies" / "README.md", REPO / "ontologies" / "results.md"]
#: A real record (hand-transcribed, shipped with the package), so the shape tests run without ../shared/data.
SEED_RECORD: Final = REPO / "kg" / "demo" / "data" / "NCT07232407.json"
SEED_NCT: Final = "NCT07232407"
#: A small MeSH file in the full NLM format, so the build also emits the MeSH graph's terms.
MESH_FIXTURE: Final = REPO / "tests" / "fixtures" / "mesh" / "full-format.bin"
_PROPERTY_TYPES: Final = (OWL.ObjectProperty, OWL.DatatypeProperty)


@pytest.fixture(scope="module")
def ontology() -> Graph:
    graph = Graph()
    for path in ONTOLOGY:
        graph.parse(path, format="turtle")
    return graph


@pytest.fixture(scope="module")
def real_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """All real records (and a small MeSH file, for the MeSH terms), built once for this module."""
    if not CTGOV_DATA.is_dir():
        pytest.skip(f"real ClinicalTrials.gov records not found at {CTGOV_DATA} (../shared/data beside the repo)")
    spec = f"oxigraph:{tmp_path_factory.mktemp('ontology') / 'store'}"
    build([CTGOV_DATA], spec, mesh=[MESH_FIXTURE])
    with open_store(spec, read_only=True) as store:
        yield store


def _undeclared(ontology: Graph, terms: set[str], kinds: tuple[URIRef, ...]) -> list[str]:
    """Terms without a declaration of one of ``kinds``, an rdfs:label or an rdfs:comment."""
    problems = []
    for term in sorted(terms):
        node = URIRef(term)
        if not any((node, RDF.type, kind) in ontology for kind in kinds):
            problems.append(f"{term}: not declared as {' or '.join(kind.n3() for kind in kinds)}")
        for annotation in (RDFS.label, RDFS.comment):
            if ontology.value(node, annotation) is None:
                problems.append(f"{term}: no {annotation.n3()}")
    return problems


# --- (a) the vocabulary covers what the mapping and the build emit ------------------------------------------


def test_every_kg_predicate_and_class_in_the_real_graph_is_declared(real_store: Store, ontology: Graph) -> None:
    """Fails as soon as the mapping or the build (MeSH included) emits a kg: term trialkg.ttl does not document."""
    in_kg = f'FILTER (STRSTARTS(STR(?term), "{KG}"))'
    predicates = {
        str(row["term"]) for row in real_store.select(f"SELECT DISTINCT ?term WHERE {{ ?s ?term ?o {in_kg} }}").rows
    }
    classes = {
        str(row["term"]) for row in real_store.select(f"SELECT DISTINCT ?term WHERE {{ ?s a ?term {in_kg} }}").rows
    }
    assert len(predicates) > 50 and len(classes) > 20, "the query found too few terms to be meaningful"
    assert _undeclared(ontology, predicates, _PROPERTY_TYPES) == []
    assert _undeclared(ontology, classes, (OWL.Class,)) == []


def test_object_and_datatype_properties_match_the_values_in_the_real_graph(real_store: Store, ontology: Graph) -> None:
    """An owl:ObjectProperty with literal values (or the reverse) means the mapping or the ontology is wrong."""
    rows = real_store.select(
        "SELECT ?term (MAX(isIRI(?o)) AS ?iri) (MAX(isLiteral(?o)) AS ?literal) "
        f'WHERE {{ ?s ?term ?o FILTER (STRSTARTS(STR(?term), "{KG}")) }} GROUP BY ?term'
    ).rows
    wrong = [
        str(row["term"])
        for row in rows
        if ((URIRef(str(row["term"])), RDF.type, OWL.ObjectProperty) in ontology and row["literal"])
        or ((URIRef(str(row["term"])), RDF.type, OWL.DatatypeProperty) in ontology and row["iri"])
    ]
    assert wrong == []


def test_every_enumeration_has_a_declared_class(ontology: Graph) -> None:
    classes = {f"{KG}{name[0].upper()}{name[1:]}" for name in ENUMERATIONS}
    assert _undeclared(ontology, classes, (OWL.Class,)) == []


def test_every_declared_term_is_in_the_readme(ontology: Graph) -> None:
    """The README's tables are the human entry point; a term added to the ontology must appear there too."""
    text = "\n".join(path.read_text(encoding="utf-8") for path in READMES)
    declared = {
        str(term)
        for kind in (OWL.Class, *_PROPERTY_TYPES)
        for term in ontology.subjects(RDF.type, kind)
        if str(term).startswith(str(KG))
    }
    assert sorted(term for term in declared if f"`kg:{term[len(str(KG)) :]}" not in text) == []


# --- (b) the files parse ----------------------------------------------------------------------------------


def test_ontology_parses_with_its_header(ontology: Graph) -> None:
    header = URIRef("https://w3id.org/trialkg/vocab")
    assert (header, RDF.type, OWL.Ontology) in ontology
    for annotation in (DCTERMS_RDFLIB.title, DCTERMS_RDFLIB.description, DCTERMS_RDFLIB.license, OWL.versionInfo):
        assert ontology.value(header, annotation) is not None, annotation


def test_shapes_parse_and_use_only_declared_terms(ontology: Graph) -> None:
    """A misspelt path or class in a shape would match nothing and silently check nothing."""
    shapes = Graph()
    for part in DEFAULT_SHAPES:
        shapes.parse(data=part.read_text(encoding="utf-8"), format="turtle")
    assert len(set(shapes.subjects(RDF.type, URIRef("http://www.w3.org/ns/shacl#NodeShape")))) >= 15
    used = {str(term) for triple in shapes for term in triple if str(term).startswith(str(KG))}
    declared = {str(term) for term in ontology.subjects(RDF.type, None)}
    assert sorted(used - declared) == []


# --- (c) the real graph conforms --------------------------------------------------------------------------


def test_real_graph_conforms(real_store: Store) -> None:
    result = validate(real_store)
    assert result.conforms, result.report_text[:5000]
    assert result.warnings == []
    trials = real_store.select("SELECT (COUNT(*) AS ?n) WHERE { ?t a <https://schema.org/MedicalTrial> }").rows[0]["n"]
    assert isinstance(trials, int) and result.focus_nodes > 20 * trials


# --- (d) broken data fails, naming the node and the path --------------------------------------------------

_TRIAL = trial_iri(SEED_NCT)
_GRAPH = trial_graph(SEED_NCT)
Edit = Callable[[list[Quad]], list[Quad]]


def _without(predicate: NamedNode) -> Edit:
    return lambda quads: [quad for quad in quads if not (quad.subject == _TRIAL and quad.predicate == predicate)]


def _with(predicate: NamedNode, value: NamedNode | Literal) -> Edit:
    return lambda quads: [*quads, Quad(_TRIAL, predicate, value, _GRAPH)]


def _replace(predicate: NamedNode, value: NamedNode | Literal) -> Edit:
    return lambda quads: _with(predicate, value)(_without(predicate)(quads))


def _validate_seed(edit: Edit) -> ValidationResult:
    """The seed record mapped, edited and validated alone, with the enumeration individuals."""
    mapped = map_study(json.loads(SEED_RECORD.read_text(encoding="utf-8")))
    store = open_store("oxigraph:")
    store.add(enumeration_quads())
    store.add(edit(mapped.quads))
    return validate(store)


def test_the_unedited_seed_trial_conforms() -> None:
    """The baseline of the cases below: only their edit makes them fail."""
    assert _validate_seed(lambda quads: quads).conforms


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        pytest.param(_without(DCTERMS.identifier), f"ctgov:{SEED_NCT} dcterms:identifier: ", id="no-identifier"),
        pytest.param(
            _with(DCTERMS.identifier, Literal("NCT00000001")),
            f"ctgov:{SEED_NCT} dcterms:identifier: ",
            id="two-identifiers",
        ),
        pytest.param(_replace(KG.enrollment, Literal("22")), f"ctgov:{SEED_NCT} kg:enrollment: ", id="enrollment-text"),
        pytest.param(
            _replace(KG.phase, enum_iri("status", "RECRUITING")),
            f"ctgov:{SEED_NCT} kg:phase: ",
            id="phase-from-the-wrong-enumeration",
        ),
        pytest.param(
            _replace(KG.startDate, Literal("2025-11-14")), f"ctgov:{SEED_NCT} kg:startDate: ", id="untyped-date"
        ),
        pytest.param(_with(KG.interventionMesh, MESH["D000008187"]), "mesh:D000008187: ", id="unnormalised-mesh-id"),
    ],
)
def test_a_broken_trial_fails_with_a_readable_violation(edit: Edit, expected: str) -> None:
    result = _validate_seed(edit)
    assert not result.conforms
    assert [line for line in result.violations if line.startswith(expected)], result.report_text
    assert expected in result.report_text


def test_enrollment_as_text_shows_the_offending_value() -> None:
    result = _validate_seed(_replace(KG.enrollment, Literal("22")))
    assert f'ctgov:{SEED_NCT} kg:enrollment: enrollment is at most one xsd:integer ≥ 0 (value: "22"^^xsd:string)' in (
        result.violations
    )


def test_an_unknown_enumeration_code_is_a_warning_not_a_violation() -> None:
    """The registry adds codes now and then and the mapping keeps them: worth a look, not a failure."""
    result = _validate_seed(_replace(KG.overallStatus, enum_iri("status", "NEW_STATUS")))
    assert result.conforms, result.report_text
    assert any(line.startswith(f"ctgov:{SEED_NCT} kg:overallStatus: ") for line in result.warnings)
