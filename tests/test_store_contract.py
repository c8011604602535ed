"""One contract for every backend: embedded Oxigraph (disk and memory), rdflib in memory, and a remote SPARQL
endpoint (a real ``oxigraph serve`` started on 127.0.0.1 by the fixture)."""

from __future__ import annotations

import io
import json
import math
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pyoxigraph as ox
import pytest
import requests

from kg.build import BuildReport, build, load_records
from kg.build_mesh import load_mesh
from kg.demo import demo_mesh_file
from kg.mapping import enumeration_quads, map_study, trial_graph
from kg.queries import list_queries, run
from kg.store import Store, StoreError, fresh_store, open_store
from kg.store.remote import RemoteStore
from tests.conftest import raw_studies

EX = "http://example.org/"
G1, G2 = ox.NamedNode(EX + "g1"), ox.NamedNode(EX + "g2")
S, P, Q = ox.NamedNode(EX + "s"), ox.NamedNode(EX + "p"), ox.NamedNode(EX + "q")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def oxigraph_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An Oxigraph SPARQL server on loopback, queried with the union of its graphs as default graph."""
    binary = shutil.which("oxigraph")
    if binary is None:
        pytest.skip("the oxigraph server is not installed (pip install oxigraph; it is in the test extras)")
    port = _free_port()
    process = subprocess.Popen(
        [
            binary,
            "serve",
            "--location",
            str(tmp_path_factory.mktemp("server")),
            "--bind",
            f"127.0.0.1:{port}",
            "--union-default-graph",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/query"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(url, params={"query": "ASK {}"}, timeout=1)
            break
        except requests.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"oxigraph serve did not start: {process.stderr.read()!r}") from None  # type: ignore[union-attr]
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(params=["oxigraph-disk", "oxigraph-memory", "rdflib", "sparql"])
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store spec for each backend; the remote one starts empty for every test."""
    if request.param == "oxigraph-disk":
        return f"oxigraph:{tmp_path / 'store'}"
    if request.param == "oxigraph-memory":
        return "oxigraph:"
    if request.param == "rdflib":
        return "memory:"
    url = request.getfixturevalue("oxigraph_server")
    RemoteStore(url).update("DROP ALL")
    return f"sparql:{url}"


@pytest.fixture
def store(spec: str) -> Iterator[Store]:
    """An empty, writable store of each backend."""
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
    """Forty real records (some sharing sponsors and countries), as one JSON array file."""
    from tests.conftest import CTGOV_DATA

    if not CTGOV_DATA.is_dir():
        pytest.skip(f"real ClinicalTrials.gov records not found at {CTGOV_DATA} (../shared/data)")
    path = tmp_path_factory.mktemp("sample") / "sample.json"
    path.write_text(json.dumps(raw_studies()[::28]), encoding="utf-8")
    return [path]


@pytest.fixture(scope="module")
def reference_answers(sample_files: list[Path]) -> dict[str, tuple[dict[str, str], list[dict[str, object]]]]:
    """Every named query's parameters and answer on the in-memory Oxigraph build of the sample. The trial asked
    about is one for which every trial query has an answer, so all of them are really compared."""
    with fresh_store("oxigraph:") as store:
        _load(store, sample_files)
        trial_queries = [q for q in list_queries() if any(p.name == "nct" for p in q.parameters)]
        nct = next(
            (nct for nct in _sample_ncts() if all(run(store, q.name, {"nct": nct}).rows for q in trial_queries)),
            None,
        )
        assert nct is not None, "no sample trial has an answer to every trial query"
        answers = {}
        for query in list_queries():
            params = {p.name: {**_PARAMS, "nct": nct}[p.name] for p in query.parameters}
            answers[query.name] = (params, _canonical(run(store, query.name, params).rows))
        return answers


def _load(store: Store, files: list[Path]) -> None:
    """The sample's records, plus the demo's MeSH subset so the hierarchy queries have answers too."""
    store.add(enumeration_quads())
    load_records(store, files, BuildReport())
    load_mesh(store, [demo_mesh_file()])


def _sample_ncts() -> list[str]:
    return [str(study["protocolSection"]["identificationModule"]["nctId"]) for study in raw_studies()[::28]]


_PARAMS = {"condition": "neoplasms", "intervention": "placebo", "concept": "D009371", "label": "Neoplasms"}


def _canonical(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """Rows in a fixed order, floats rounded, and GROUP_CONCAT lists (" | ") sorted: SPARQL 1.1 leaves their
    order to the engine."""

    def fix(value: object) -> object:
        if isinstance(value, float) and math.isfinite(value):
            return round(value, 6)
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
