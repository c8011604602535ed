"""One contract for every backend: embedded Oxigraph (disk and memory), rdflib in memory, and two remote SPARQL
engines started on 127.0.0.1 by the fixtures: a real ``oxigraph serve`` and Virtuoso open source. The remote stores
are tested as themselves (writes and queries over HTTP), not through a build's local staging store."""

from __future__ import annotations

import copy
import functools
import io
import json
import math
import shutil
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest
from requests.auth import HTTPDigestAuth

from kg.analysis.hierarchy import ancestors, trial_hierarchy
from kg.analysis.related import related
from kg.ctgov.mapping import enumeration_quads, map_study
from kg.demo import demo_mesh_file, write_demo_corpus
from kg.graphs import trial_graph
from kg.identifiers import normalize_mesh_id
from kg.pipeline.build import BuildReport, build, load_records
from kg.pipeline.changes import UpdateRun, event_quads, facts_from_quads, record_changes, stored_facts
from kg.pipeline.mesh_load import load_mesh
from kg.queries import list_queries, run
from kg.store import Store, StoreError, fresh_store, open_store
from kg.store.remote import RemoteStore
from tests.conftest import LUTETIUM, NEOPLASMS, SEED_NCT, raw_studies
from tests.virtuoso_support import (  # noqa: F401 - virtuoso_server is a fixture
    VirtuosoServer,
    drop_visible_graphs,
    run_oxigraph_server,
    virtuoso_server,
)

EX = "http://example.org/"
G1, G2 = ox.NamedNode(EX + "g1"), ox.NamedNode(EX + "g2")
S, P, Q = ox.NamedNode(EX + "s"), ox.NamedNode(EX + "p"), ox.NamedNode(EX + "q")


@pytest.fixture(scope="session")
def oxigraph_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An Oxigraph SPARQL server on loopback, queried with the union of its graphs as default graph."""
    if shutil.which("oxigraph") is None:
        pytest.skip("the oxigraph server is not installed (pip install oxigraph; it is in the test extras)")
    with run_oxigraph_server(tmp_path_factory.mktemp("server")) as url:
        yield url


REMOTES = ("sparql", "virtuoso")


@pytest.fixture(params=["oxigraph-disk", "oxigraph-memory", "rdflib", *REMOTES])
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store spec for each backend; a remote one starts empty for every test."""
    if request.param == "oxigraph-disk":
        return f"oxigraph:{tmp_path / 'store'}"
    if request.param == "oxigraph-memory":
        return "oxigraph:"
    if request.param == "rdflib":
        return "memory:"
    return _empty_remote(request, request.param)


@pytest.fixture(params=REMOTES)
def remote_spec(request: pytest.FixtureRequest) -> str:
    """An empty remote store of each engine."""
    return _empty_remote(request, request.param)


def _empty_remote(request: pytest.FixtureRequest, name: str) -> str:
    try:
        server = request.getfixturevalue("oxigraph_server" if name == "sparql" else "virtuoso_server")
    except pytest.FixtureLookupError:
        pytest.skip("import oxigraph_server and virtuoso_server from the contract into this module to test remotes")
    if isinstance(server, VirtuosoServer):
        drop_visible_graphs(RemoteStore(server.sparql_url))
        return f"sparql:{server.sparql_url}"
    RemoteStore(server).update("DROP ALL")
    return f"sparql:{server}"


@pytest.fixture
def store(spec: str) -> Iterator[Store]:
    """An empty, writable store of each backend: a remote one is written to over HTTP, as it is queried."""
    if spec.startswith("sparql:"):
        with open_store(spec) as remote:
            yield remote
        return
    with fresh_store(spec) as opened:
        yield opened


def _quad(obj: str, graph: ox.NamedNode, predicate: ox.NamedNode = P) -> ox.Quad:
    return ox.Quad(S, predicate, ox.Literal(obj), graph)


def _objects(store: Store) -> list[object]:
    return sorted(row["o"] for row in store.select(f"SELECT ?o WHERE {{ <{S.value}> ?p ?o }}").rows)  # type: ignore[type-var]


def test_add_count_and_select(store: Store) -> None:
    store.add([_quad("a", G1), _quad("b", G2)])
    assert len(store) == 2
    assert _objects(store) == ["a", "b"]


def test_solutions_stream_strings_with_unbound_as_empty(store: Store) -> None:
    store.add([_quad("a", G1), _quad("b", G2)])
    sparql = "SELECT ?o ?missing WHERE { ?s ?p ?o OPTIONAL { ?o ?q ?missing } } ORDER BY ?o"
    assert list(store.solutions(sparql, "o", "missing")) == [("a", ""), ("b", "")]
    assert list(store.solutions(sparql, "missing", "o", "o")) == [("", "a", "a"), ("", "b", "b")]  # in the order asked
    with pytest.raises(StoreError):
        list(store.solutions("ASK { ?s ?p ?o }", "o"))
    with pytest.raises(StoreError, match=r"\?typo"):
        list(store.solutions(sparql, "o", "typo"))


def test_replacing_a_graph_leaves_no_stale_triple(store: Store) -> None:
    store.add([_quad("old title", G1), _quad("old extra", G1, Q), _quad("other trial", G2)])
    store.replace_graphs({G1: [_quad("new title", G1)]})
    assert _objects(store) == ["new title", "other trial"]
    assert len(store) == 2


def test_remove_graph(store: Store) -> None:
    store.add([_quad("a", G1), _quad("b", G2)])
    store.remove_graph(G1)
    store.remove_graph(ox.NamedNode(EX + "absent"))
    assert _objects(store) == ["b"]


def test_values_convert_the_same_everywhere(store: Store) -> None:
    xsd = "http://www.w3.org/2001/XMLSchema#"
    store.add(
        [
            ox.Quad(S, P, ox.Literal("42", datatype=ox.NamedNode(xsd + "integer")), G1),
            ox.Quad(S, Q, ox.Literal("2.5", datatype=ox.NamedNode(xsd + "decimal")), G1),
            ox.Quad(S, ox.NamedNode(EX + "b"), ox.Literal("true", datatype=ox.NamedNode(xsd + "boolean")), G1),
            ox.Quad(S, ox.NamedNode(EX + "d"), ox.Literal("2025-11", datatype=ox.NamedNode(xsd + "gYearMonth")), G1),
            ox.Quad(S, ox.NamedNode(EX + "t"), ox.Literal('<script>"x"</script>\n'), G1),
        ]
    )
    result = store.select(
        f"PREFIX ex: <{EX}> SELECT ?i ?dec ?b ?d ?t ?missing WHERE {{ ex:s ex:p ?i ; ex:q ?dec ; ex:b ?b ; ex:d ?d ; "
        "ex:t ?t OPTIONAL { ex:s ex:nothing ?missing } }"
    )
    assert result.variables == ["i", "dec", "b", "d", "t", "missing"]
    assert result.rows == [
        {"i": 42, "dec": 2.5, "b": True, "d": "2025-11", "t": '<script>"x"</script>\n', "missing": None}
    ]


def test_ask_and_construct(store: Store) -> None:
    store.add([_quad("a", G1)])
    assert store.select(f"ASK {{ <{S.value}> <{P.value}> 'a' }}").rows == [{"ask": True}]
    assert store.select(f"ASK {{ <{S.value}> <{P.value}> 'zzz' }}").rows == [{"ask": False}]
    triples = [
        quad.triple
        for quad in ox.parse(
            store.construct("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }"), format=ox.RdfFormat.N_TRIPLES
        )
    ]
    assert triples == [ox.Triple(S, P, ox.Literal("a"))]


@pytest.mark.parametrize(
    ("media_type", "fmt", "expected"),
    [
        ("application/n-quads", ox.RdfFormat.N_QUADS, 3),
        ("application/trig", ox.RdfFormat.TRIG, 3),
        ("text/turtle", ox.RdfFormat.TURTLE, 2),
        ("application/n-triples", ox.RdfFormat.N_TRIPLES, 2),
    ],
)
def test_dump_round_trips(store: Store, media_type: str, fmt: ox.RdfFormat, expected: int) -> None:
    """Dataset formats keep each graph's quads; triple formats give the union (the shared triple once)."""
    store.add([_quad("a", G1), _quad("a", G2), _quad("b", G2)])
    output = io.BytesIO()
    store.dump(output, media_type)
    assert len(list(ox.parse(output.getvalue(), format=fmt))) == expected


def test_update_inserts_and_deletes(store: Store) -> None:
    store.add([_quad("a", G1)])
    store.update(f"INSERT DATA {{ GRAPH <{G2.value}> {{ <{S.value}> <{P.value}> 'b' }} }}")
    assert _objects(store) == ["a", "b"]
    store.update(f"DELETE WHERE {{ GRAPH <{G1.value}> {{ ?s ?p ?o }} }}")
    assert _objects(store) == ["b"]


def test_bad_sparql_is_a_store_error(store: Store) -> None:
    with pytest.raises(StoreError):
        store.select("SELECT WHERE {")


@pytest.fixture(scope="module")
def sample_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Forty-odd real records (some sharing sponsors and countries, two a publication), as one JSON array file."""
    from tests.conftest import CTGOV_DATA

    if not CTGOV_DATA.is_dir():
        pytest.skip(f"real ClinicalTrials.gov records not found at {CTGOV_DATA} (../shared/data)")
    path = tmp_path_factory.mktemp("sample") / "sample.json"
    path.write_text(json.dumps(_sample()), encoding="utf-8")
    return [path]


@pytest.fixture(scope="module")
def reference_answers(sample_files: list[Path]) -> dict[str, tuple[dict[str, str], list[dict[str, object]]]]:
    """Every named query's parameters and answer on the in-memory Oxigraph build of the sample. Each query asks
    about the first sample trial (and concept) it has an answer for, so all of them are really compared."""
    with fresh_store("oxigraph:") as store:
        _load(store, sample_files)
        answers = {}
        for query in list_queries():
            choices = [{p.name: values[p.name] for p in query.parameters} for values in _sample_params()]
            params = next((params for params in choices if run(store, query.name, params).rows), choices[0])
            answers[query.name] = (params, _canonical(run(store, query.name, params).rows))
        return answers


def _load(store: Store, files: list[Path]) -> None:
    """The sample's records, plus the demo's MeSH subset so the hierarchy queries have answers too, and the change
    events of one record updated by hand (so the change queries have answers)."""
    store.add(enumeration_quads())
    load_records(store, files, BuildReport())
    load_mesh(store, [demo_mesh_file()])
    _record_a_change(store, json.loads(files[0].read_text(encoding="utf-8"))[0])


def _record_a_change(store: Store, study: dict[str, Any]) -> None:
    """What ``kg update`` records when the first sample record comes back with its primary completion slipped
    (a SYNTHETIC change, at a fixed time so every backend gets the same events)."""
    changed = copy.deepcopy(study)
    changed["protocolSection"]["statusModule"]["primaryCompletionDateStruct"] = {"date": "2099-01", "type": "ESTIMATED"}
    mapped = map_study(changed)
    run = UpdateRun(datetime(2026, 12, 1, tzinfo=timezone.utc), "contract-test")
    old = stored_facts(store, [mapped.nct_id])
    events = event_quads(old.get(mapped.nct_id), facts_from_quads(mapped.nct_id, mapped.quads), run, registry=None)
    assert record_changes(store, events, run) > 0


@functools.cache
def _sample() -> list[dict[str, Any]]:
    """Every 28th real record, and the first two records that cite one PubMed article (none of those do); read
    once (every named query asks for the sample's parameters)."""
    studies = raw_studies()
    sample, cited_by = studies[::28], {}
    for study in studies:
        for reference in study["protocolSection"].get("referencesModule", {}).get("references", []):
            other = cited_by.setdefault(reference.get("pmid") or id(reference), study)
            if other["protocolSection"]["identificationModule"] != study["protocolSection"]["identificationModule"]:
                return [*sample, other, study]
    return sample


def _sample_params() -> Iterator[dict[str, str]]:
    """Parameters about each sample trial in turn: the trial, the first condition MeSH term it has, its lead
    sponsor."""
    yield _PARAMS
    for study in _sample():
        meshes = study.get("derivedSection", {}).get("conditionBrowseModule", {}).get("meshes", [])
        concept = normalize_mesh_id(meshes[0]["id"]) if meshes else _PARAMS["concept"]
        lead = study["protocolSection"].get("sponsorCollaboratorsModule", {}).get("leadSponsor", {})
        nct = study["protocolSection"]["identificationModule"]["nctId"]
        yield {**_PARAMS, "nct": nct, "concept": concept, "sponsor": lead.get("name", _PARAMS["sponsor"])}


_PARAMS = {
    "nct": "NCT00000000",
    "condition": "neoplasms",
    "intervention": "placebo",
    "concept": "D009371",
    "label": "Neoplasms",
    "since": "2026-01-01",
    "sponsor": "Pfizer",
}


def _canonical(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """Rows in a fixed order, floats rounded, and GROUP_CONCAT lists (" | ") sorted: SPARQL 1.1 leaves their
    order to the engine. A GROUP_CONCAT over no values is "" on Virtuoso and unbound on Oxigraph: both None here."""

    def fix(value: object) -> object:
        if isinstance(value, float) and math.isfinite(value):
            return round(value, 6)
        if value == "":
            return None
        return " | ".join(sorted(value.split(" | "))) if isinstance(value, str) else value

    return sorted(({key: fix(value) for key, value in row.items()} for row in rows), key=repr)


def test_every_named_query_agrees_across_backends(
    store: Store, sample_files: list[Path], reference_answers: dict[str, tuple[dict[str, str], list[dict[str, object]]]]
) -> None:
    _load(store, sample_files)
    assert all(rows for _, rows in reference_answers.values()), [n for n, (_, r) in reference_answers.items() if not r]
    for name, (params, expected) in reference_answers.items():
        assert _canonical(run(store, name, params).rows) == expected, name


def test_rebuild_replaces_and_failed_build_keeps_previous(spec: str, sample_files: list[Path], tmp_path: Path) -> None:
    if spec in ("memory:", "oxigraph:"):
        pytest.skip("an in-memory store lives only as long as its process: there is no previous store to keep")
    studies = json.loads(sample_files[0].read_text())
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    first.write_text(json.dumps(studies[:10]))
    second.write_text(json.dumps(studies[5:15]))
    build([first], spec)
    with pytest.raises(RuntimeError, match="crash mid-build"), fresh_store(spec) as half:
        half.add(map_study(studies[20]).quads)
        raise RuntimeError("crash mid-build")
    count = "SELECT (COUNT(?t) AS ?n) WHERE { ?t a <https://schema.org/MedicalTrial> }"
    ids = "SELECT ?id WHERE { ?t <http://purl.org/dc/terms/identifier> ?id }"
    with open_store(spec) as store:
        assert store.select(count).rows == [{"n": 10}]
    build([second], spec)
    with open_store(spec) as store:
        assert {row["id"] for row in store.select(ids).rows} == {
            s["protocolSection"]["identificationModule"]["nctId"] for s in studies[5:15]
        }
        gone = studies[0]["protocolSection"]["identificationModule"]["nctId"]
        assert store.select(f"ASK {{ GRAPH <{trial_graph(gone).value}> {{ ?s ?p ?o }} }}").rows == [{"ask": False}]


# --- the same answers from a remote engine as from embedded Oxigraph --------------------------------------------


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The demo corpus: the seed trial and 150 synthetic ones (marked synthetic), with the demo's MeSH subset."""
    return write_demo_corpus(tmp_path_factory.mktemp("demo"), n_synthetic=150)


def _analyses(store: Store) -> dict[str, object]:
    """What the analyses answer on a store: related trials of a few trials, ancestors, a trial's hierarchy."""
    ncts = [SEED_NCT, *sorted(str(row["id"]) for row in store.select(_IDS).rows)[::40]]
    return {
        "related": {nct: [neighbour.to_json() for neighbour in related(store, nct, 15)] for nct in ncts},
        "ancestors": ancestors(store, [LUTETIUM, "Neoplasms", NEOPLASMS, "lutetium"]),
        "hierarchy": trial_hierarchy(store, SEED_NCT),
    }


_IDS = "SELECT ?id WHERE { ?t a <https://schema.org/MedicalTrial> ; <http://purl.org/dc/terms/identifier> ?id }"


@pytest.fixture(scope="module")
def embedded_analyses(demo_files: list[Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    spec = f"oxigraph:{tmp_path_factory.mktemp('embedded') / 'store'}"
    build(demo_files, spec, mesh=[demo_mesh_file()])
    with open_store(spec, read_only=True) as store:
        return _analyses(store)


@pytest.mark.slow
def test_related_trials_and_ancestors_agree_with_embedded(
    remote_spec: str, demo_files: list[Path], embedded_analyses: dict[str, object]
) -> None:
    """A build published to a remote engine answers related trials (scores, shared concepts, explanations),
    ancestors and trial hierarchies exactly as the embedded store does."""
    build(demo_files, remote_spec, mesh=[demo_mesh_file()])
    with open_store(remote_spec) as store:
        answers = _analyses(store)
    assert answers["related"][SEED_NCT], "the seed trial has related trials"  # type: ignore[index]
    assert answers == embedded_analyses


@pytest.mark.slow
def test_landscape_agrees_with_embedded(remote_spec: str, demo_files: list[Path], tmp_path: Path) -> None:
    landscape = pytest.importorskip("kg.analysis.landscape", reason="kg.analysis.landscape is not written yet")
    embedded = f"oxigraph:{tmp_path / 'store'}"
    for spec in (embedded, remote_spec):
        build(demo_files, spec, mesh=[demo_mesh_file()])
    answers = []
    for spec in (embedded, remote_spec):
        with open_store(spec) as store:
            answers.append(_landscape_json(landscape, store))
    assert answers[0] and answers[0] == answers[1]


def _landscape_json(module: Any, store: Store) -> object:
    """The landscape under Neoplasms (D009369), and under Neoplasms by Site with Antineoplastic Agents, as JSON
    without the time it took."""
    answers = []
    for condition, intervention in ((NEOPLASMS, None), ("D009371", "D000970")):
        result = module.landscape(store, condition, intervention).to_json()
        result.pop("seconds")
        answers.append(result)
    return json.loads(json.dumps(answers))


# --- loading: every method, and a failed batch ------------------------------------------------------------------

LOADS = {"sparql": ("update", "nquads", "graph-store"), "virtuoso": ("update", "graph-store")}


def _trial_graphs(store: Store) -> dict[str, set[tuple[object, ...]]]:
    """Each trial graph's statements as Python values (engines may normalise lexical forms, never values)."""
    rows = store.select(
        "SELECT ?g ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } "
        'FILTER(STRSTARTS(STR(?g), "https://w3id.org/trialkg/id/graph/NCT")) }'
    ).rows
    graphs: dict[str, set[tuple[object, ...]]] = {}
    for row in rows:
        graphs.setdefault(str(row["g"]), set()).add((row["s"], row["p"], row["o"]))
    return graphs


def _embedded_trial_graphs(files: list[Path], directory: Path) -> dict[str, set[tuple[object, ...]]]:
    spec = f"oxigraph:{directory / 'store'}"
    build(files, spec)
    with open_store(spec, read_only=True) as store:
        return _trial_graphs(store)


def _split_sample(sample_files: list[Path], tmp_path: Path) -> tuple[list[Path], list[Path]]:
    """Two overlapping builds: records 0-19 then 10-39, so the second replaces, adds and drops trials."""
    studies = json.loads(sample_files[0].read_text())
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    first.write_text(json.dumps(studies[:20]))
    second.write_text(json.dumps(studies[10:40]))
    return [first], [second]


@pytest.mark.slow
@pytest.mark.parametrize("load", ["update", "nquads", "graph-store"])
def test_every_load_method_publishes_the_same_trials(
    remote_spec: str, load: str, sample_files: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = "virtuoso" if remote_spec.endswith("/sparql") else "sparql"
    if load not in LOADS[engine]:
        pytest.skip(f"{engine} takes no {load} upload")
    monkeypatch.setenv("KG_SPARQL_LOAD", load)
    monkeypatch.setattr("kg.store.remote.BATCH_QUADS", 2_000)  # several batches, a few trials each
    first, second = _split_sample(sample_files, tmp_path)
    build(first, remote_spec)
    build(second, remote_spec)
    with open_store(remote_spec) as store:
        assert _trial_graphs(store) == _embedded_trial_graphs(second, tmp_path / "embedded")


@pytest.mark.slow
@pytest.mark.parametrize("load", ["update", "nquads", "graph-store"])
def test_a_failed_batch_is_one_error_and_leaves_no_half_trial(
    remote_spec: str, load: str, sample_files: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server rejects the third write request of a publish (its body is cut short): the build stops with one
    error naming the batch, and every trial graph on the server is one build's version whole, or absent."""
    engine = "virtuoso" if remote_spec.endswith("/sparql") else "sparql"
    if load not in LOADS[engine]:
        pytest.skip(f"{engine} takes no {load} upload")
    monkeypatch.setenv("KG_SPARQL_LOAD", load)
    monkeypatch.setattr("kg.store.remote.BATCH_QUADS", 2_000)
    first, second = _split_sample(sample_files, tmp_path)
    build(first, remote_spec)
    writes = 0
    send = RemoteStore._request

    def cut_third_write(self: RemoteStore, method: str, url: str, **kwargs: object) -> object:
        nonlocal writes
        body = kwargs.get("data")
        if isinstance(body, bytes) and (b"INSERT DATA" in body or body.endswith(b" .\n")):  # quads, not drops
            writes += 1
            if writes == 3:  # a broken upload: the server must reject all of it
                kwargs["data"] = body[: len(body) * 2 // 3] + b"<"
        return send(self, method, url, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(RemoteStore, "_request", cut_third_write)
    with pytest.raises(StoreError, match=r"writing batch \d+ \(\d+ graphs, \d+ quads, .+\) failed"):
        build(second, remote_spec)
    monkeypatch.undo()
    versions = (_embedded_trial_graphs(first, tmp_path / "a"), _embedded_trial_graphs(second, tmp_path / "b"))
    with open_store(remote_spec) as store:
        published = _trial_graphs(store)
    assert published, "the earlier batches are on the server"
    for graph, statements in published.items():
        assert any(statements == version.get(graph) for version in versions), f"{graph} is half-written"


def test_remote_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Companion URLs follow the engine's layout; credentials come from the environment, never the spec."""
    monkeypatch.setenv("KG_SPARQL_USER", "kg")
    monkeypatch.setenv("KG_SPARQL_PASSWORD", "s3cret")
    monkeypatch.setenv("KG_SPARQL_AUTH", "digest")
    monkeypatch.setenv("KG_SPARQL_LOAD", "graph-store")
    with open_store("sparql:http://127.0.0.1:9/sparql-auth") as store:
        assert isinstance(store, RemoteStore)
        assert store.update_url == "http://127.0.0.1:9/sparql-auth"
        assert store.graph_store_url == "http://127.0.0.1:9/sparql-graph-crud-auth"
        assert isinstance(store.session.auth, HTTPDigestAuth) and store.load == "graph-store"
        assert "s3cret" not in store.spec
    oxigraph = RemoteStore("http://127.0.0.1:9/query")
    assert (oxigraph.update_url, oxigraph.graph_store_url) == ("http://127.0.0.1:9/update", "http://127.0.0.1:9/store")
    with pytest.raises(StoreError, match="needs a Graph Store URL"):
        RemoteStore("http://127.0.0.1:9/repositories/kg", load="nquads")
    with pytest.raises(StoreError, match="unknown load method 'ftp'"):
        RemoteStore("http://127.0.0.1:9/query", load="ftp")
