"""networkx projections: the trial-concept and trial-trial graphs against independent SPARQL, Louvain, and GraphML
export through the command line (including a title built to break XML)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import networkx as nx
import pytest

from kg.analysis.networks import (
    DEFAULT_MIN_IC,
    bipartite_graph,
    centrality,
    clean_text,
    communities,
    components,
    similarity_graph,
    summary,
)
from kg.demo import demo_mesh_file, seed_study, write_demo_corpus
from kg.pipeline.build import build
from kg.store import Store, open_store
from tests.conftest import LUTETIUM, REPO, SEED_NCT

LANTHANOIDS = "D028581"
HOSTILE_TITLE = 'Dose <script>alert("x")</script> & ]]> end\x00\x07\x1b\ufffe\r\nline two\x85'
_PROLOGUE = """PREFIX kg: <https://w3id.org/trialkg/vocab/>
PREFIX dcterms: <http://purl.org/dc/terms/>
"""
_REACHED = (
    _PROLOGUE
    + """SELECT DISTINCT ?nct ?c WHERE {
  ?t dcterms:identifier ?nct ; kg:conditionMesh|kg:interventionMesh ?term . ?term kg:ancestor? ?c
}"""
)


def _build_home(home: Path, corpus: list[Path]) -> Path:
    build(corpus, f"oxigraph:{home / 'store'}", mesh=[demo_mesh_file()])
    return home


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """KG_HOME holding the demo (with its MeSH subset) built into ``store``."""
    home = tmp_path_factory.mktemp("networks-demo")
    return _build_home(home, write_demo_corpus(home / "corpus"))


@pytest.fixture(scope="module")
def demo_store(demo_home: Path) -> Iterator[Store]:
    with open_store(f"oxigraph:{demo_home / 'store'}", read_only=True) as store:
        yield store


@pytest.fixture(scope="module")
def bipartite(demo_store: Store) -> nx.Graph:
    return bipartite_graph(demo_store)


@pytest.fixture(scope="module")
def similarity(demo_store: Store) -> nx.Graph:
    return similarity_graph(demo_store)


def _trial_count(store: Store) -> int:
    return int(store.select("SELECT (COUNT(?t) AS ?n) WHERE { ?t a <https://schema.org/MedicalTrial> }").rows[0]["n"])


def _trials(graph: nx.Graph) -> set[str]:
    return {node for node, kind in graph.nodes(data="kind") if kind == "trial"}


def _export(home: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "KG_STORE"} | {"KG_HOME": str(home)}
    command = [sys.executable, "-m", "kg", "export", "--format", "graphml", "-o", str(out), *extra]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def test_bipartite_has_every_trial_once(demo_store: Store, bipartite: nx.Graph) -> None:
    assert len(_trials(bipartite)) == _trial_count(demo_store) == 301
    assert bipartite.nodes[SEED_NCT]["synthetic"] is False
    assert bipartite.nodes["NCT99000001"]["synthetic"] is True
    assert all(
        kind in ("condition", "intervention", "condition+intervention") for kind in _kinds(bipartite) - {"trial"}
    )


def _kinds(graph: nx.Graph) -> set[str]:
    return {str(kind) for _, kind in graph.nodes(data="kind")}


def test_bipartite_links_terms_and_their_ancestors(demo_store: Store, bipartite: nx.Graph) -> None:
    expected = {(str(row["nct"]), str(row["c"]).rsplit("/", 1)[-1]) for row in demo_store.select(_REACHED).rows}
    edges = {(trial, concept) for trial, concept in bipartite.edges if trial.startswith("NCT")}
    edges |= {(concept, trial) for trial, concept in bipartite.edges if concept.startswith("NCT")}
    assert edges == expected
    seed = bipartite[SEED_NCT]
    assert seed[LUTETIUM] == {"role": "intervention", "direct": True}
    assert seed[LANTHANOIDS] == {"role": "intervention", "direct": False}
    assert bipartite.nodes[LANTHANOIDS]["label"] == "Lanthanoid Series Elements"
    assert bipartite.nodes[LUTETIUM]["ic"] >= bipartite.nodes[LANTHANOIDS]["ic"] > bipartite.nodes["D009369"]["ic"] > 0
    assert bipartite.nodes["D009369"]["depth"] == 1  # Neoplasms, a tree top


def test_min_depth_drops_shallow_ancestors_but_keeps_terms(demo_store: Store) -> None:
    pruned = bipartite_graph(demo_store, min_depth=2)
    full = bipartite_graph(demo_store)
    assert full.has_edge(SEED_NCT, "D009369") and not pruned.has_edge(SEED_NCT, "D009369")  # Neoplasms, depth 1
    kept = {frozenset((a, b)) for a, b, direct in full.edges(data="direct") if direct}
    assert kept <= {frozenset(edge) for edge in pruned.edges} and pruned.number_of_edges() < full.number_of_edges()
    assert pruned.has_edge(SEED_NCT, LUTETIUM) and pruned.has_edge(SEED_NCT, LANTHANOIDS)


def test_similarity_links_the_seed_to_lutetium_trials(bipartite: nx.Graph, similarity: nx.Graph) -> None:
    neighbours = similarity[SEED_NCT]
    assert neighbours, "the seed trial has no similar trial"
    lutetium_trials = set(bipartite[LUTETIUM]) - {SEED_NCT}
    assert lutetium_trials and set(neighbours) <= lutetium_trials | set(bipartite[LANTHANOIDS])
    assert all(bipartite.nodes[other]["synthetic"] for other in neighbours)
    strongest = max(neighbours.values(), key=lambda edge: edge["weight"])
    assert strongest["shared"].startswith("Lutetium")


def test_similarity_weight_is_the_information_content_shared(demo_store: Store, similarity: nx.Graph) -> None:
    other, edge = max(similarity[SEED_NCT].items(), key=lambda item: item[1]["weight"])
    query = (
        _PROLOGUE
        + f"""SELECT (SUM(?ic) AS ?w) (COUNT(?c) AS ?n) WHERE {{
  {{ SELECT DISTINCT ?c WHERE {{
      ?a dcterms:identifier "{SEED_NCT}" ; kg:conditionMesh|kg:interventionMesh ?x . ?x kg:ancestor? ?c .
      ?b dcterms:identifier "{other}" ; kg:conditionMesh|kg:interventionMesh ?y . ?y kg:ancestor? ?c .
  }} }}
  ?c kg:informationContent ?ic FILTER(?ic >= {DEFAULT_MIN_IC})
}}"""
    )
    row = demo_store.select(query).rows[0]
    assert edge["weight"] == pytest.approx(float(row["w"]), abs=1e-5)
    assert edge["n_shared"] == row["n"] >= 2


def test_similarity_stays_sparse(similarity: nx.Graph) -> None:
    degrees = [degree for _, degree in similarity.degree()]
    assert similarity.number_of_edges() <= 10 * len(similarity)
    assert max(degrees) > 10  # kept for either end: hubs may exceed top_k, ...
    assert sorted(degrees)[len(degrees) // 2] >= 10  # ... and most trials get their full top_k


def test_louvain_is_reproducible_and_modular(similarity: nx.Graph) -> None:
    first, again = communities(similarity, seed=7), communities(similarity, seed=7)
    assert first == again and len(first) > 1
    assert set().union(*first) == set(similarity)
    facts = summary(similarity)
    assert facts["modularity"] > 0.3
    assert facts["components"] == len(components(similarity)) and facts["nodes"] == 301


def test_centrality_ranks_by_weighted_degree(similarity: nx.Graph) -> None:
    top = centrality(similarity, top=5, betweenness_sample=50)
    assert len(top) == 5
    assert [row["weighted_degree"] for row in top] == sorted((row["weighted_degree"] for row in top), reverse=True)
    assert all(0 <= row["betweenness"] <= 1 and row["label"] for row in top)


@pytest.mark.parametrize("kind", ["similarity", "bipartite"])
def test_graphml_export_round_trips(
    demo_home: Path, bipartite: nx.Graph, similarity: nx.Graph, tmp_path: Path, kind: str
) -> None:
    out = tmp_path / f"{kind}.graphml"
    result = _export(demo_home, out, "--graph", kind)
    assert result.returncode == 0, result.stderr
    expected = similarity if kind == "similarity" else bipartite
    back = nx.read_graphml(out)
    assert (back.number_of_nodes(), back.number_of_edges()) == (expected.number_of_nodes(), expected.number_of_edges())
    assert back.nodes[SEED_NCT]["kind"] == "trial"


def test_graphml_export_defaults_to_the_similarity_graph_and_is_stable(
    demo_home: Path, similarity: nx.Graph, tmp_path: Path
) -> None:
    """Two processes (two string-hash seeds) write the same file: node order and tie-breaking do not drift."""
    first, second = tmp_path / "first.graphml", tmp_path / "second.graphml"
    for out in (first, second):
        result = _export(demo_home, out)
        assert result.returncode == 0, result.stderr
    assert first.read_bytes() == second.read_bytes()
    assert nx.read_graphml(first).number_of_edges() == similarity.number_of_edges()


def test_clean_text_keeps_markup_and_drops_what_xml_cannot_hold() -> None:
    assert clean_text(HOSTILE_TITLE) == 'Dose <script>alert("x")</script> & ]]> end line two'
    assert clean_text(None) == ""


def test_hostile_title_survives_export(tmp_path: Path) -> None:
    corpus = write_demo_corpus(tmp_path / "corpus", n_synthetic=20)
    study = seed_study()
    study["protocolSection"]["identificationModule"]["briefTitle"] = HOSTILE_TITLE
    corpus[0].write_text(json.dumps(study), encoding="utf-8")
    home = _build_home(tmp_path, corpus)
    for kind in ("similarity", "bipartite"):
        out = tmp_path / f"{kind}.graphml"
        result = _export(home, out, "--graph", kind)
        assert result.returncode == 0, result.stderr
        back = nx.read_graphml(out)
        assert back.nodes[SEED_NCT]["title"] == clean_text(HOSTILE_TITLE)


def test_real_records_project_in_reasonable_time(real_store: Store) -> None:
    started = time.perf_counter()
    bipartite = bipartite_graph(real_store)
    middle = time.perf_counter()
    similarity = similarity_graph(real_store)
    ended = time.perf_counter()
    assert len(_trials(bipartite)) == _trial_count(real_store) == len(similarity)
    assert bipartite.number_of_edges() > len(similarity)
    assert middle - started < 10 and ended - middle < 10, (middle - started, ended - middle)
    assert summary(similarity)["modularity"] > 0
