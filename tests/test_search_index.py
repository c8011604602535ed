"""The search index answers trials_by_condition / trials_by_intervention / trials_under / related_trials /
concepts_by_label exactly as their SPARQL does, and the explorer's title search as its documented word-by-word rule,
on the real records (``../shared/data``)."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator

import pytest
from pyoxigraph import BlankNode, Literal, NamedNode, Quad

from kg.analysis.answers import answer
from kg.analysis.search_index import SEARCH_INDEX, SearchIndex, search_index
from kg.queries import QueryError, run
from kg.store import QueryResult, Store, open_store
from kg.vocab import CTGOV_STUDY, DATA, DCTERMS, KG, MESH, RDFS, SKOS, SPARQL_PROLOGUE

FIELDS = {"condition": "trials_by_condition", "intervention": "trials_by_intervention"}
#: Each field's terms by the query's own UNION pattern, read once (the oracle the index is checked against).
PAIRS = {
    "condition": """{ ?trial kg:condition ?node . ?node rdfs:label ?matched }
      UNION { ?trial kg:conditionMesh ?node . ?node kg:registryTerm ?matched }
      UNION { ?trial kg:registryConditionAncestor ?node . ?node kg:registryTerm ?matched }""",
    "intervention": """{ ?trial kg:intervention ?node . ?node rdfs:label ?matched }
      UNION { ?trial kg:interventionUse ?node . ?node kg:otherName ?matched }
      UNION { ?trial kg:interventionMesh ?node . ?node kg:registryTerm ?matched }
      UNION { ?trial kg:registryInterventionAncestor ?node . ?node kg:registryTerm ?matched }""",
}
#: Awkward values: empty, one or two characters (below the trigram), FTS5 syntax, quotes, case, MeSH ids.
PROBES = {
    "condition": [
        "",
        "a",
        "ca",
        "CANCER",
        "Neoplasms",
        "D009369",
        "D000009369",
        '"x',
        "*",
        "AND",
        "NEAR(",
        "(",
        "ü",
        "D999999",
    ],
    "intervention": ["placebo", "ab", "D000068677", "C000000001", "Sildenafil Citrate", "-", "OR placebo"],
}

LABEL = SPARQL_PROLOGUE + "SELECT ?label WHERE { ?concept skos:prefLabel ?label }"
#: ``concepts_by_label``'s pattern with the predicate named, read once: the oracle for its rows.
CONCEPT_LABELS = (
    SPARQL_PROLOGUE
    + """SELECT ?concept ?p ?text WHERE {
  VALUES ?p { skos:prefLabel skos:altLabel kg:registryTerm } ?concept ?p ?text }"""
)
IRI_LABEL = "https://x.org/Label"
#: Labels whose case folding is awkward: Oxigraph's LCASE (Rust, Unicode 16) differs from Python's ``str.lower``
#: (Unicode 14 on 3.11) on U+A7CB, U+1C89 and U+10D50, and on the final sigma after U+1C89 ("ΑΣ\u1c89").
HOSTILE = ("İstanbul", "ΣΑΣ", "ǅ", "ß", "\u212a", "k", "", " ", "ΑΣ\u1c89", "\ua7cb", "\U00010d50", "Lung Neoplasms")
#: What is asked: each label, its cases, the engine's folds of the awkward ones, and texts that match nothing.
HOSTILE_PROBES = (
    *HOSTILE,
    *(text.upper() for text in HOSTILE),
    *(text.lower() for text in HOSTILE),
    *(
        "i̇stanbul",
        "istanbul",
        "σας",
        "Σας",
        "Ǆ",
        "ǆ",
        "SS",
        "ẞ",
        "K",
        "  ",
        "\u03b1\u03c3\u1c8a",
        "\u03b1\u03c2\u1c8a",
        "ɤ",
        "\U00010d70",
    ),
    *("no such label", "lung  neoplasms", '") } DROP ALL {', IRI_LABEL.upper()),
)


def _normalised(result: QueryResult) -> list[tuple[object, object, tuple[str, ...]]]:
    """Rows with each row's matched terms as a sorted tuple: GROUP_CONCAT's order is not defined by SPARQL."""
    return [(row["nct"], row["title"], tuple(sorted(str(row["matched_terms"]).split(" | ")))) for row in result.rows]


@pytest.fixture(scope="module")
def index(real_mesh_store: Store) -> SearchIndex:
    return search_index(real_mesh_store)


@pytest.mark.parametrize("field", FIELDS)
def test_answers_equal_the_named_query_for_awkward_values(
    real_mesh_store: Store, index: SearchIndex, field: str
) -> None:
    for value in PROBES[field]:
        sparql = run(real_mesh_store, FIELDS[field], {field: value})
        fast = index.trials_matching(field, value)
        assert fast.variables == sparql.variables
        assert _normalised(fast) == _normalised(sparql), value
    assert index.trials_matching(field, PROBES[field][0]).rows, "a probe that finds nothing proves little"


@pytest.mark.parametrize("field", FIELDS)
def test_every_real_trial_is_found_by_its_own_terms(real_mesh_store: Store, index: SearchIndex, field: str) -> None:
    """For every real trial: a random substring of one of its terms, and one of its MeSH nodes, answered as the
    query's FILTER defines, computed here from the query's own pattern read once."""
    query = f"SELECT DISTINCT ?nct ?node ?matched WHERE {{ {PAIRS[field]} ?trial dcterms:identifier ?nct }}"
    pairs = real_mesh_store.select(SPARQL_PROLOGUE + query).rows
    by_text: dict[str, set[tuple[str, str]]] = defaultdict(set)
    by_node: dict[str, set[tuple[str, str]]] = defaultdict(set)
    own: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for row in pairs:
        nct, node, matched = str(row["nct"]), str(row["node"]), str(row["matched"])
        by_text[matched.lower()].add((nct, matched))
        by_node[node].add((nct, matched))
        own[nct].append((node, matched))
    rng = random.Random(18)
    checked = 0
    for nct in sorted(own):
        node, matched = rng.choice(own[nct])
        start = rng.randrange(len(matched))
        needle = matched[start : start + rng.randint(3, 12)].swapcase()  # shorter ones: the awkward values
        expected: dict[str, set[str]] = defaultdict(set)
        for text, found in by_text.items():
            if needle.lower() in text:
                for trial, term in found:
                    expected[trial].add(term)
        got = {
            str(row["nct"]): set(str(row["matched_terms"]).split(" | "))
            for row in index.trials_matching(field, needle).rows
        }
        assert got == expected, (nct, needle)
        assert nct in got
        meshes = [node for node, _ in own[nct] if node.startswith("http://id.nlm.nih.gov/mesh/")]
        if meshes:
            concept = rng.choice(meshes)
            ui = concept.rsplit("/", 1)[1]
            by_mesh: dict[str, set[str]] = defaultdict(set)
            for trial, term in by_node[concept] | {
                pair for text, found in by_text.items() if ui.lower() in text for pair in found
            }:
                by_mesh[trial].add(term)
            got = {
                str(row["nct"]): set(str(row["matched_terms"]).split(" | "))
                for row in index.trials_matching(field, ui).rows
            }
            assert got == by_mesh, (nct, ui)
        checked += 1
    assert checked == len(own) > 1000


NAMING = (
    SPARQL_PROLOGUE
    + """SELECT ?node ?nct WHERE {
  ?trial kg:condition|kg:intervention ?node ; dcterms:identifier ?nct . ?node rdfs:label ?label }"""
)


def test_trials_naming_a_condition_or_intervention_as_written_equal_the_query(
    real_mesh_store: Store, index: SearchIndex
) -> None:
    """Every condition and intervention as written on the real records: how many trials name it and the first
    three by NCT id, as the explorer shows them, equal what the store's triples say; anything else names none."""
    naming: defaultdict[str, set[str]] = defaultdict(set)
    for row in real_mesh_store.select(NAMING).rows:
        naming[str(row["node"])].add(str(row["nct"]))
    assert len(naming) > 2000 and max(map(len, naming.values())) > 50
    for node, ncts in naming.items():
        field = node.removeprefix(DATA.iri).split("/", 1)[0]
        assert index.trials_naming(field, node, 3) == (sorted(ncts)[:3], len(ncts)), node
    for field, node in [
        ("condition", DATA.iri + "intervention/drug/placebo"),
        ("condition", "x"),
        ("intervention", ""),
    ]:
        assert index.trials_naming(field, node, 3) == ([], 0)


def test_title_search_finds_every_word_in_id_and_title(index: SearchIndex) -> None:
    rng = random.Random(7)
    for number in rng.sample(range(len(index.ncts)), 60):
        words = (index.titles[number] or "x").split()
        query = " ".join(rng.sample(words, min(2, len(words)))).upper()
        if rng.random() < 0.3:
            query += f" {index.ncts[number][3:7]}"
        expected = [
            (nct, title or "")
            for nct, title in zip(index.ncts, index.titles, strict=True)
            if all(word in f"{nct} {title or ''}".casefold() for word in query.casefold().split())
        ]
        assert index.search_titles(query) == expected, query
        assert (index.ncts[number], index.titles[number] or "") in expected
    assert len(index.search_titles("")) == len(index.ncts)


def test_the_build_saves_the_index_beside_the_store(real_mesh_store: Store, index: SearchIndex) -> None:
    path = SEARCH_INDEX.path(real_mesh_store.spec)
    assert path is not None and path.is_file()
    saved = SEARCH_INDEX.read_saved(path, SEARCH_INDEX.fingerprint(real_mesh_store))
    assert saved is not None, "the saved index is the current one"
    assert _normalised(saved.trials_matching("condition", "lung")) == _normalised(
        index.trials_matching("condition", "lung")
    )
    assert saved.concepts_by_label("lung NEOPLASMS").rows == [{"id": "D008175"}], "the label table"


def test_the_front_door_answers_from_the_index_and_checks_parameters(real_mesh_store: Store) -> None:
    assert _normalised(answer(real_mesh_store, "trials_by_condition", {"condition": "D009369"})) == _normalised(
        run(real_mesh_store, "trials_by_condition", {"condition": "D009369"})
    )
    with pytest.raises(QueryError, match="needs --param"):
        answer(real_mesh_store, "trials_by_condition", {})
    with pytest.raises(QueryError, match="has no parameter"):
        answer(real_mesh_store, "trials_by_intervention", {"intervention": "x", "other": "y"})


@pytest.mark.parametrize("concept", ["D009369", "D009371", "D008175", "D007172", "D000068677", "D003920", "D999999"])
def test_trials_under_a_concept_equal_the_named_query(real_mesh_store: Store, index: SearchIndex, concept: str) -> None:
    def rows(result: QueryResult) -> list[tuple[object, object, tuple[str, ...]]]:
        return [(row["nct"], row["title"], tuple(sorted(str(row["via"]).split(" | ")))) for row in result.rows]

    sparql = run(real_mesh_store, "trials_under", {"concept": concept})
    fast = answer(real_mesh_store, "trials_under", {"concept": concept})
    assert fast.variables == sparql.variables
    assert rows(fast) == rows(sparql)
    if concept in ("D009369", "D007172"):
        assert len(fast.rows) > 10, "Neoplasms and Erectile Dysfunction have many real trials under them"
    # the explorer's glimpse: the trials having the concept itself as a term first, then by NCT id; the count
    label = next(iter(real_mesh_store.select(LABEL, {"concept": MESH[concept]}).column("label")), None)
    expected = sorted(rows(sparql), key=lambda row: (label not in row[2], row[0]))
    for top in (3, 10):
        shown, total = index.first_under(concept, top)
        assert total == len(sparql.rows)
        assert [(nct, tuple(sorted(via.split(" | ")))) for nct, via in shown] == [
            (nct, via) for nct, _, via in expected[:top]
        ]
    if concept == "D009369":
        naming = [label in via for _, _, via in expected]
        assert naming[0] and not naming[-1], "some real trials name Neoplasms itself, others only a descendant"


def test_related_trials_equal_the_named_query(real_mesh_store: Store, index: SearchIndex) -> None:
    """Same trials, order, scores (exact: SUM over xsd:decimal), counts and labels."""

    def rows(result: QueryResult) -> list[tuple[object, ...]]:
        return [
            (
                row["nct_id"],
                row["title"],
                row["score"],
                row["shared"],
                tuple(sorted(str(row["concepts"]).split(" | "))),
            )  # type: ignore[arg-type]
            for row in result.rows
        ]

    full = 0
    for nct in random.Random(20).sample(index.ncts, 25):
        fast = answer(real_mesh_store, "related_trials", {"nct": nct.lower()})
        sparql = run(real_mesh_store, "related_trials", {"nct": nct})
        assert fast.variables == sparql.variables
        assert rows(fast) == rows(sparql), nct
        full += len(fast.rows) == 50
    assert full > 5, "most sampled trials share specific concepts with 50 others or more"


@pytest.fixture(scope="module")
def hostile_store() -> Iterator[Store]:
    """An in-memory store of hostile labels, one per concept, under each of the query's predicates in turn, and one
    per trial as its condition as written; "ß" also
    on a concept outside the MeSH namespace and on a blank node (``STRAFTER`` gives "", ``STR`` fails); labels that
    are not literals: an IRI (``STR`` gives it) and a blank node (``STR`` fails: it matches nothing, not "")."""
    predicates = (SKOS.prefLabel, SKOS.altLabel, KG.registryTerm)
    graph = NamedNode("https://example.org/hostile")
    quads = [
        Quad(MESH[f"D{number:06d}"], predicates[number % 3], Literal(text), graph)
        for number, text in enumerate(HOSTILE, start=1)
    ]
    quads += [
        Quad(subject, SKOS.prefLabel, Literal("ß"), graph) for subject in (NamedNode("https://x.org/c"), BlankNode())
    ]
    quads += [
        Quad(MESH[ui], SKOS.altLabel, label, graph)
        for ui, label in (("D000098", NamedNode(IRI_LABEL)), ("D000099", BlankNode()))
    ]
    for number, text in enumerate(HOSTILE, start=1):  # and a trial with each as its condition, as written
        trial, condition = CTGOV_STUDY[f"NCT{number:08d}"], DATA[f"condition/{number}"]
        quads += [
            Quad(trial, DCTERMS.identifier, Literal(f"NCT{number:08d}"), graph),
            Quad(trial, KG.condition, condition, graph),
            Quad(condition, RDFS.label, Literal(text), graph),
        ]
    with open_store("oxigraph:") as store:
        store.add(quads)
        yield store


def test_concepts_by_label_equal_the_named_query_for_hostile_labels(hostile_store: Store) -> None:
    found = 0
    for label in HOSTILE_PROBES:
        fast = answer(hostile_store, "concepts_by_label", {"label": label})
        assert fast == run(hostile_store, "concepts_by_label", {"label": label}), label
        found += bool(fast.rows)
    assert SEARCH_INDEX.cached(hostile_store) is not None, "answered from the index"
    assert found > 30, "most probes name a hostile label in some case"
    # U+A7CB: Python's str.lower leaves it, the engine folds it to "ɤ"; the index answers as the engine does
    assert "\ua7cb".lower() != "ɤ"
    assert answer(hostile_store, "concepts_by_label", {"label": "ɤ"}).rows == [{"id": "D000010"}]
    assert answer(hostile_store, "concepts_by_label", {"label": ""}).rows == [{"id": "D000007"}]
    assert answer(hostile_store, "concepts_by_label", {"label": IRI_LABEL.lower()}).rows == [{"id": "D000098"}]
    assert answer(hostile_store, "concepts_by_label", {"label": "ß"}).rows == [
        {"id": None},
        {"id": ""},
        {"id": "D000004"},
    ]


def test_condition_text_is_lower_cased_as_the_engine_does(hostile_store: Store) -> None:
    """``trials_by_condition`` compares ``LCASE`` of both sides: the index folds the terms and the text asked for with
    the engine's ``LCASE`` too, so it finds what the SPARQL finds where Python's ``str.lower`` would not."""
    for label in HOSTILE_PROBES:
        fast = answer(hostile_store, "trials_by_condition", {"condition": label})
        assert fast == run(hostile_store, "trials_by_condition", {"condition": label}), label
    assert "\ua7cb".lower() != "ɤ"
    assert [row["nct"] for row in answer(hostile_store, "trials_by_condition", {"condition": "ɤ"}).rows] == [
        "NCT00000010"
    ]


def test_concepts_by_label_equal_the_named_query_on_real_labels(real_mesh_store: Store, index: SearchIndex) -> None:
    """Over 2,000 real labels (preferred and registry terms; the real MeSH files carry no entry terms) in varied case,
    the hostile ones and one matching nothing, against the query's pattern read once; a few of them against the
    SPARQL itself (each run folds every label: 85 ms here)."""
    rows = real_mesh_store.select(CONCEPT_LABELS).rows
    ids: dict[str, set[str]] = defaultdict(set)
    by_predicate: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        text = str(row["text"])
        ids[text.lower()].add(str(row["concept"]).partition(MESH[""].value)[2])  # STRAFTER: "" if not found
        by_predicate[str(row["p"])].append(text)
    rng = random.Random(22)
    preferred, registry = (
        sorted(set(by_predicate[predicate.value])) for predicate in (SKOS.prefLabel, KG.registryTerm)
    )
    # with every label only the registry spells so, naming several concepts, or a category outside MeSH (id "")
    awkward = {label for label in preferred + registry if len(ids[label.lower()]) > 1 or "" in ids[label.lower()]}
    sample = sorted(
        {*rng.sample(preferred, 1800), *rng.sample(registry, 300), *awkward} | set(registry) - set(preferred)
    )
    assert len(sample) > 2000 and {len(ids[label.lower()]) for label in sample} >= {1, 2}
    assert any("" in ids[label.lower()] for label in sample)
    cases = (str.upper, str.lower, str.swapcase, str.title, str)
    asked = [rng.choice(cases)(label) for label in sample] + [*HOSTILE, "no such label"]
    for number, label in enumerate(asked):
        fast = index.concepts_by_label(label)
        assert fast == QueryResult(["id"], [{"id": id_} for id_ in sorted(ids[label.lower()])]), label
        if number % 300 == 0 or label == asked[-1]:
            assert fast == run(real_mesh_store, "concepts_by_label", {"label": label}), label
    assert not index.concepts_by_label("no such label").rows
    with pytest.raises(QueryError, match="needs --param"):
        answer(real_mesh_store, "concepts_by_label", {})
