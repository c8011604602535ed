"""``kg serve``: the SPARQL 1.1 Protocol endpoint (formats, read-only guard, limits, CORS), the explorer routes and
JSON API, and SPARQLWrapper against a real uvicorn giving the same answers as ``kg sparql``."""

from __future__ import annotations

import csv
import html
import io
import json
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.error import HTTPError
from urllib.parse import quote

import httpx
import pyoxigraph as ox
import pytest
import rdflib
from rdflib.compare import isomorphic
from rdflib.plugins.sparql.parser import parseQuery
from SPARQLWrapper import CSV, JSON, POST, POSTDIRECTLY, XML, SPARQLWrapper
from typer.testing import CliRunner

from benchmarks.serve_load import kg_serve
from kg.analysis.related import related
from kg.cli.main import app as cli_app
from kg.identifiers import normalize_mesh_id
from kg.queries import Parameter, bind, list_queries
from kg.store import Store, open_store
from kg.store.base import python_value
from kg.web.app import create_app
from kg.web.guard import check_query, keywords
from kg.web.results import ResultFormat, chunks
from tests.browser_support import needs_chromium, screenshot, watch
from tests.conftest import LUTETIUM, NEOPLASMS, SEED_NCT
from tests.server_support import (  # noqa: F401 - fixtures
    HOSTILE_NCT,
    HOSTILE_SPONSOR,
    HOSTILE_TITLE,
    app_client,
    demo_corpus,
    demo_spec,
    served,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

SPARQL_NS = "{http://www.w3.org/2005/sparql-results#}"
TRIAL_TITLES = """PREFIX schema: <https://schema.org/>
PREFIX dcterms: <http://purl.org/dc/terms/>
SELECT ?nct ?title WHERE { ?trial a schema:MedicalTrial ; dcterms:identifier ?nct ; schema:name ?title }"""
#: Parameter values that have answers in the demo store, by parameter name, else by type.
DEMO_PARAMS = {
    "condition": NEOPLASMS,
    "intervention": LUTETIUM,
    "concept": "D009371",
    "label": "Neoplasms",
    "sponsor": "Halden Oncology AG",  # a synthetic lead sponsor of the demo with trials under D009371
}
DEMO_PARAMS_BY_KIND = {"nct": SEED_NCT, "mesh": "D009371", "mesh_or_text": NEOPLASMS, "text": "Neoplasms", "int": "3"}


@pytest.fixture(scope="module")
def store(demo_spec: str) -> Iterator[Store]:  # noqa: F811
    with open_store(demo_spec, read_only=True) as opened:
        yield opened


@pytest.fixture(scope="module")
def client(store: Store) -> Iterator[httpx.Client]:
    with app_client(create_app(store, query_timeout=10, max_rows=1_000)) as http:
        yield http


def _raw_records(paths: list[Path]) -> dict[str, dict[str, Any]]:
    """The corpus's records by NCT id, read with the standard library only."""
    records: dict[str, dict[str, Any]] = {}
    for path in paths:
        text = path.read_text(encoding="utf-8")
        studies = [json.loads(line) for line in text.splitlines() if line.strip()] if path.suffix == ".jsonl" else []
        for study in studies or [json.loads(text)]:
            records[study["protocolSection"]["identificationModule"]["nctId"]] = study
    return records


# --- the read-only guard ------------------------------------------------------------------------------------------
#: (query, has a SERVICE clause): the word in literals, comments, IRIs and names, and real clauses in many spellings.
GUARD_CASES = [
    ('SELECT * WHERE { ?s ?p "SERVICE <http://example.org/> { ?a ?b ?c }" }', False),
    ("SELECT * WHERE { ?s ?p 'customer service' }", False),
    ('SELECT * WHERE { ?s ?p """a long "SERVICE" string\nover lines""" }', False),
    ("SELECT * WHERE { ?s ?p '''it's SERVICE''' }", False),
    ('SELECT * WHERE { ?s ?p "escaped \\" quote SERVICE <x> {}" }', False),
    ("SELECT ?service WHERE { ?service ?p ?o }", False),
    ("PREFIX service: <http://example.org/service#> SELECT * WHERE { ?s service:SERVICE ?o }", False),
    ("SELECT * WHERE { ?s <http://example.org/SERVICE> ?o }", False),
    ("# a comment naming SERVICE <http://example.org/>\nSELECT * WHERE { ?s ?p ?o }", False),
    ("SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }", True),
    ("select * where { service silent <http://example.org/sparql> { ?s ?p ?o } }", True),
    ('SELECT * WHERE { ?s ?p "x # not a comment" . SERVICE <http://e.org/q> { ?s ?p ?o } }', True),
    ("SELECT * WHERE { \\u0053ERVICE <http://example.org/sparql> { ?s ?p ?o } }", True),
    ('SELECT * WHERE { ?s ?p "a\\"" . SERVICE <http://example.org/sparql> { ?s ?p ?o } }', True),
    ("SELECT * WHERE { ?s ?p '''x''' # SERVICE in a comment\n SERVICE <http://e.org/q> { ?s ?p ?o } }", True),
]
#: rdflib removes "comments" before parsing without skipping strings, so it cannot read a "#" inside a literal.
RDFLIB_CANNOT_PARSE = {GUARD_CASES[11][0]}


@pytest.mark.parametrize(("query", "has_service"), GUARD_CASES)
def test_service_guard_finds_exactly_the_service_clauses(query: str, has_service: bool) -> None:
    assert ("SERVICE" in keywords(query)) is has_service
    if query not in RDFLIB_CANNOT_PARSE:  # a second, independent opinion: rdflib's full SPARQL parser
        assert ("ServiceGraphPattern" in repr(parseQuery(query))) is has_service


@pytest.mark.parametrize("query", [query for query, has_service in GUARD_CASES if not has_service])
def test_the_word_service_outside_a_clause_is_answered(client: httpx.Client, query: str) -> None:
    response = client.get("/sparql", params={"query": query + " LIMIT 1"})
    assert response.status_code == 200, response.text
    assert "results" in response.json()


@pytest.mark.parametrize("query", [query for query, has_service in GUARD_CASES if has_service])
def test_service_clauses_are_refused(client: httpx.Client, query: str) -> None:
    response = client.get("/sparql", params={"query": query})
    assert response.status_code == 403
    assert "SERVICE" in response.text


def test_query_forms_are_read_past_the_prologue() -> None:
    assert check_query("PREFIX ex: <http://e.org/select#>\nBASE <http://e.org/>\n# INSERT\nASK {}") == "ASK"
    assert check_query("construct where { ?s ?p ?o }") == "CONSTRUCT"


@pytest.mark.parametrize(
    ("method", "kwargs"),
    [
        ("get", {"params": {"update": "DROP ALL"}}),
        ("post", {"data": {"update": "CLEAR ALL"}}),
        ("post", {"content": b"DROP ALL", "headers": {"content-type": "application/sparql-update"}}),
        ("get", {"params": {"query": "LOAD <http://example.org/data.ttl>"}}),
        ("post", {"data": {"query": 'INSERT DATA { <http://e.org/s> <http://e.org/p> "x" }'}}),
        ("post", {"content": b"DROP ALL", "headers": {"content-type": "application/sparql-query"}}),
        ("get", {"params": {"query": "PREFIX ex: <http://e.org/>\nDELETE WHERE { ?s ?p ?o }"}}),
    ],
)
def test_updates_and_load_are_refused_and_change_nothing(
    client: httpx.Client, store: Store, method: str, kwargs: dict[str, Any]
) -> None:
    before = len(store)
    response = getattr(client, method)("/sparql", **kwargs)
    assert response.status_code == 403
    assert "read-only" in response.text
    assert len(store) == before


# --- results formats ----------------------------------------------------------------------------------------------
def test_select_as_json_xml_csv_and_tsv_parse_with_standard_parsers(client: httpx.Client, store: Store) -> None:
    query = TRIAL_TITLES + " ORDER BY ?nct LIMIT 20"
    expected = [(row["nct"], row["title"]) for row in store.select(query).rows]
    assert len(expected) == 20

    data = client.get("/sparql", params={"query": query}, headers={"accept": "application/sparql-results+json"})
    assert data.headers["content-type"].startswith("application/sparql-results+json")
    bindings = data.json()["results"]["bindings"]
    assert [(b["nct"]["value"], b["title"]["value"]) for b in bindings] == expected

    xml = client.get("/sparql", params={"query": query, "format": "xml"})
    assert xml.headers["content-type"].startswith("application/sparql-results+xml")
    results = ET.fromstring(xml.content).findall(f"{SPARQL_NS}results/{SPARQL_NS}result")
    parsed = [{b.get("name"): "".join(b.itertext()) for b in result} for result in results]
    assert [(row["nct"], row["title"]) for row in parsed] == expected

    for accept, delimiter in (("text/csv", ","), ("text/tab-separated-values", "\t")):
        response = client.get("/sparql", params={"query": query}, headers={"accept": accept})
        assert response.headers["content-type"].startswith(accept)
        quoting = csv.QUOTE_MINIMAL if delimiter == "," else csv.QUOTE_NONE  # TSV cells are RDF terms, quotes kept
        rows = list(csv.reader(io.StringIO(response.text), delimiter=delimiter, quoting=quoting))
        assert rows[0] == (["nct", "title"] if delimiter == "," else ["?nct", "?title"])
        if delimiter == ",":
            assert [tuple(row) for row in rows[1:]] == expected
        else:  # TSV writes RDF terms: "literal" with N-Triples escapes
            assert [(json.loads(a), json.loads(b)) for a, b in rows[1:]] == expected


def test_format_parameter_beats_accept_and_q_values_rank(client: httpx.Client) -> None:
    query = "ASK { ?s ?p ?o }"
    csv_over_json = client.get("/sparql", params={"query": query, "format": "csv"}, headers={"accept": "text/xml"})
    assert csv_over_json.headers["content-type"].startswith("text/csv")
    ranked = client.get(
        "/sparql", params={"query": query}, headers={"accept": "text/csv;q=0.5, application/sparql-results+xml"}
    )
    assert ranked.headers["content-type"].startswith("application/sparql-results+xml")
    assert ET.fromstring(ranked.content).findtext(f"{SPARQL_NS}boolean") == "true"
    like_a_browser = client.get("/sparql", params={"query": query}, headers={"accept": "text/html,*/*;q=0.8"})
    assert like_a_browser.json() == {"head": {}, "boolean": True}


def test_construct_and_describe_answer_rdf(client: httpx.Client, store: Store) -> None:
    query = f"CONSTRUCT {{ ?t ?p ?o }} WHERE {{ ?t <http://purl.org/dc/terms/identifier> '{SEED_NCT}' ; ?p ?o }}"
    expected = rdflib.Graph().parse(data=store.construct(query).decode(), format="nt")
    assert len(expected) > 10
    turtle = client.get("/sparql", params={"query": query})
    assert turtle.headers["content-type"].startswith("text/turtle")
    assert isomorphic(rdflib.Graph().parse(data=turtle.text, format="turtle"), expected)
    ntriples = client.post("/sparql", data={"query": query}, headers={"accept": "application/n-triples"})
    assert isomorphic(rdflib.Graph().parse(data=ntriples.text, format="nt"), expected)
    described = client.get("/sparql", params={"query": f"DESCRIBE <https://clinicaltrials.gov/study/{SEED_NCT}>"})
    assert described.status_code == 200 and len(rdflib.Graph().parse(data=described.text, format="turtle")) > 10


def test_post_of_a_query_body_is_answered(client: httpx.Client) -> None:
    response = client.post(
        "/sparql",
        content=b"SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }",
        headers={"content-type": "application/sparql-query", "accept": "text/csv"},
    )
    assert response.status_code == 200
    assert int(response.text.splitlines()[1]) > 1000


# --- limits and errors --------------------------------------------------------------------------------------------
def test_row_limit_cuts_larger_answers_and_says_so(store: Store) -> None:
    with app_client(create_app(store, max_rows=5)) as small:
        ok = small.get("/sparql", params={"query": TRIAL_TITLES + " LIMIT 5"})
        assert ok.status_code == 200 and len(ok.json()["results"]["bindings"]) == 5
        assert "truncated" not in ok.json() and ok.headers["X-KG-Max-Rows"] == "5"
        cut = small.get("/sparql", params={"query": TRIAL_TITLES + " LIMIT 6"})
        assert cut.status_code == 200 and len(cut.json()["results"]["bindings"]) == 5
        assert cut.json()["truncated"]["reason"] == "rows"
        assert "limit of 5 rows" in cut.json()["truncated"]["message"]
        triples = small.get("/sparql", params={"query": "CONSTRUCT WHERE { ?s ?p ?o } LIMIT 6", "format": "nt"})
        assert triples.status_code == 200
        assert len(list(ox.parse(triples.content, format=ox.RdfFormat.N_TRIPLES))) == 5
        assert triples.text.splitlines()[-1].startswith("# truncated: the answer was cut at the endpoint's limit of 5")


def _cartesian_store(size: int) -> Store:
    from kg.store.oxigraph import OxigraphStore

    store = OxigraphStore()
    predicate = ox.NamedNode("http://example.org/p")
    store.add(ox.Quad(ox.NamedNode(f"http://example.org/{i}"), predicate, ox.Literal(str(i))) for i in range(size))
    return store


def test_timeout_cuts_a_streaming_answer() -> None:
    store = _cartesian_store(3_000)  # 9 million rows
    started = time.monotonic()
    json_format = ResultFormat("application/sparql-results+json", ox.QueryResultsFormat.JSON)
    sparql = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f }"
    answer = json.loads(b"".join(chunks(store, sparql, json_format, max_rows=10**9, timeout=0.3)))
    assert time.monotonic() - started < 2
    assert answer["truncated"]["reason"] == "time" and "0.3 s" in answer["truncated"]["message"]
    assert 0 < len(answer["results"]["bindings"]) == answer["truncated"]["rows"] < 9_000_000


def test_timeout_answers_the_client_while_oxigraph_still_evaluates() -> None:
    """A COUNT over a cross product yields no row before it is done: the client still hears at the deadline."""
    store = _cartesian_store(6_000)  # 36 million combinations to count: seconds of work
    with app_client(create_app(store, query_timeout=0.3)) as slow:
        started = time.monotonic()
        response = slow.get("/sparql", params={"query": "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f }"})
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert "0.3 s" in response.text
    assert elapsed < 1.5


def test_bad_requests_say_what_is_wrong(client: httpx.Client) -> None:
    syntax = client.get("/sparql", params={"query": "SELECT WHERE {"})
    assert syntax.status_code == 400 and "syntax" in syntax.text.lower()
    assert syntax.headers["x-content-type-options"] == "nosniff"
    dataset = client.get("/sparql", params={"query": "ASK {}", "default-graph-uri": "http://e.org/g"})
    assert dataset.status_code == 400 and "default-graph-uri" in dataset.text
    twice = client.get("/sparql?query=ASK%7B%7D&query=ASK%7B%7D")
    assert twice.status_code == 400
    form = client.post("/sparql", content=b"{}", headers={"content-type": "application/json"})
    assert form.status_code == 415
    huge = client.post("/sparql", data={"query": "ASK {}" + " " * (1 << 20)})
    assert huge.status_code == 413


def test_get_without_query_shows_how_to_use_the_endpoint(client: httpx.Client) -> None:
    html = client.get("/sparql")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert '<form action="/sparql" method="post">' in html.text and "1,000 rows" in html.text
    described = client.get("/sparql", headers={"accept": "text/turtle"})
    assert described.headers["content-type"].startswith("text/turtle")
    graph = rdflib.Graph().parse(data=described.text, format="turtle")
    sd = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
    endpoint = rdflib.URIRef(f"{client.base_url}/sparql")
    assert (endpoint, sd.endpoint, endpoint) in graph
    assert (endpoint, sd.feature, sd.UnionDefaultGraph) in graph
    formats = {str(fmt).rsplit("/", 1)[-1] for fmt in graph.objects(endpoint, sd.resultFormat)}
    assert {"SPARQL_Results_JSON", "SPARQL_Results_XML", "SPARQL_Results_CSV", "SPARQL_Results_TSV"} <= formats


def test_cors_lets_a_page_on_another_origin_query(client: httpx.Client) -> None:
    origin = {"origin": "https://yasgui.example"}
    simple = client.get("/sparql", params={"query": "ASK {}"}, headers=origin)
    assert simple.headers["access-control-allow-origin"] == "*"
    preflight = client.options(
        "/sparql",
        headers={
            **origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type, accept",
        },
    )
    assert preflight.status_code == 200
    assert "POST" in preflight.headers["access-control-allow-methods"]


# --- explorer routes and JSON API ---------------------------------------------------------------------------------
def test_health(client: httpx.Client, demo_spec: str) -> None:  # noqa: F811
    health = client.get("/healthz").json()
    assert health.pop("opened")[:4] == str(datetime.now(timezone.utc).year)  # since when this store is served
    assert health == {"status": "ok", "store": "oxigraph:store"}


def test_api_trial_reports_the_record(client: httpx.Client, demo_corpus: list[Path]) -> None:  # noqa: F811
    records = _raw_records(demo_corpus)
    nct = sorted(nct for nct in records if nct != SEED_NCT and nct != HOSTILE_NCT)[3]
    identification = records[nct]["protocolSection"]["identificationModule"]
    summary = client.get(f"/api/trial/{nct.lower()}").json()
    assert summary["nct"] == nct
    assert summary["title"] == identification["briefTitle"]
    assert summary["synthetic"] is True


def test_api_refuses_bad_ids_and_reports_unknown_trials(client: httpx.Client) -> None:
    for path in ("/api/trial/NCT123", "/api/related/DROP%20ALL", "/trial/%3Cscript%3E"):
        response = client.get(path)
        assert response.status_code == 400, path
        assert response.headers["content-type"].startswith("text/plain")
        assert response.headers["x-content-type-options"] == "nosniff"
    for path in ("/api/trial/NCT00000000", "/api/related/NCT00000000", "/trial/NCT00000000"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "NCT00000000" in response.text
    assert client.get(f"/api/related/{SEED_NCT}?top=0").status_code == 400
    assert client.get(f"/api/related/{SEED_NCT}?top=x").status_code == 400


def test_api_related_matches_the_analysis(client: httpx.Client, store: Store) -> None:
    served_list = client.get(f"/api/related/{SEED_NCT}?top=5").json()
    assert served_list == [neighbour.to_json() for neighbour in related(store, SEED_NCT, 5)]
    assert len(served_list) == 5


def test_index_lists_trials_and_escapes_their_titles(client: httpx.Client) -> None:
    html = client.get("/", params={"q": "hostile"})
    assert html.status_code == 200
    assert HOSTILE_NCT in html.text
    assert "<script>" not in html.text and "<img" not in html.text
    assert "&lt;script&gt;alert(" in html.text
    assert f'href="/trial/{SEED_NCT}"' in client.get("/").text
    redirect = client.get("/", params={"q": SEED_NCT.lower()}, follow_redirects=False)
    assert redirect.status_code == 303 and redirect.headers["location"] == f"/trial/{SEED_NCT}"


@pytest.mark.slow
def test_trial_page_is_the_explorer_and_escapes_a_hostile_record(client: httpx.Client) -> None:
    explorer = pytest.importorskip("kg.views.explorer")
    seed = client.get(f"/trial/{SEED_NCT}")
    assert seed.status_code == 200 and seed.headers["content-type"].startswith("text/html")
    assert SEED_NCT in seed.text and "/api" in seed.text
    hostile = client.get(f"/trial/{HOSTILE_NCT}", params={"depth": 2, "top": 5})
    assert hostile.status_code == 200
    for raw in (HOSTILE_TITLE, HOSTILE_SPONSOR, "<img src=x onerror", 'alert("title")</script>'):
        assert raw not in hostile.text
    # ...yet both are there, as text: HTML-escaped in the title, \u-escaped in the embedded data
    assert html.escape(HOSTILE_TITLE, quote=False) in hostile.text.replace("&#34;", '"')
    assert str(explorer.script_json(HOSTILE_TITLE)) in hostile.text
    assert str(explorer.script_json(HOSTILE_SPONSOR)) in hostile.text
    assert '"depth":1' in seed.text and '"depth":2' in hostile.text  # the served default, and ?depth= honoured
    assert client.get(f"/trial/{SEED_NCT}", params={"depth": 9}).status_code == 400
    tags = [(text.lower().count("<script"), text.lower().count("</script")) for text in (seed.text, hostile.text)]
    assert tags[0] == tags[1]  # the hostile record added no script element (the library's own text has some)


@pytest.mark.slow
def test_api_expand_returns_nodes_and_edges(client: httpx.Client, store: Store) -> None:
    """Node ids carry %XX escapes of their own: the client escapes them once more, the server decodes once (against
    a real uvicorn: Starlette's TestClient decodes paths twice)."""
    explorer = pytest.importorskip("kg.views.explorer")
    data = explorer.explorer_data(store, SEED_NCT, depth=1, top=3)
    ids = [node["id"] for node in data["nodes"]]
    assert any("%" in node_id for node_id in ids) and any(node_id.startswith("D") for node_id in ids)
    for node_id in ids[:8]:
        response = client.get(f"/api/expand/{quote(node_id, safe='')}", params={"top": 3})
        assert response.status_code == 200, (node_id, response.text)
        assert response.json() == explorer.expand(store, node_id, top=3)
    assert client.get("/api/expand/nonsense-id").status_code == 400
    assert client.get("/api/expand/%3Cscript%3E").status_code == 400
    unknown = client.get("/api/expand/NCT00000000")
    assert unknown.status_code == 404 and "NCT00000000" in unknown.text
    assert client.get(f"/api/expand/{SEED_NCT}", params={"top": 1000}).status_code == 400


@pytest.mark.slow
@needs_chromium
def test_served_page_expands_through_the_api_in_a_browser(served: str, page: Page, store: Store) -> None:  # noqa: F811
    """The page from the server embeds no expansion (depth 0): each Expand is a request to /api/expand."""
    explorer = pytest.importorskip("kg.views.explorer")
    log = watch(page, allowed_prefixes=(served,))
    answered: list[tuple[str, int]] = []
    page.on("response", lambda response: answered.append((response.url, response.status)))
    page.goto(f"{served}/trial/{SEED_NCT}?depth=0&top=5")
    page.wait_for_function("window.kgExplorer !== undefined")
    first = page.evaluate("window.kgExplorer.nodes.length")
    ids = [node["id"] for node in explorer.explorer_data(store, SEED_NCT, depth=0, top=5)["nodes"]]
    escaped = next(node_id for node_id in ids if "%" in node_id)  # an id with escapes of its own

    def adds_nodes(node_id: str) -> bool:
        return not {n["id"] for n in explorer.expand(store, node_id, top=5)["nodes"]} <= set(ids)

    concept = next(node_id for node_id in ids if node_id.startswith("D") and adds_nodes(node_id))
    for node_id in (escaped, concept):
        page.evaluate("id => window.kgExplorer.expandNode(id)", node_id)
    expected = {n["id"] for node_id in (escaped, concept) for n in explorer.expand(store, node_id, top=5)["nodes"]}
    assert page.evaluate("window.kgExplorer.nodes.length") == len(set(ids) | expected) > first
    expansions = [(url, status) for url, status in answered if "/api/expand/" in url]
    assert len(expansions) == 2 and all(status == 200 for _, status in expansions)
    screenshot(page, "served-explorer-expanded")
    assert log.requests == []  # nothing but the server itself was asked for anything
    assert log.console_errors == [] and log.page_errors == [] and log.dialogs == []


# --- a real server, a real client ---------------------------------------------------------------------------------
def _python_rows(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """SPARQL JSON bindings as the plain values ``kg sparql --format json`` prints (unbound: None)."""
    names = payload["head"]["vars"]
    rows = []
    for binding in payload["results"]["bindings"]:
        row = {}
        for name in names:
            term = binding.get(name)
            kind = {"uri": "iri", "typed-literal": "literal"}.get(term["type"], term["type"]) if term else None
            row[name] = None if term is None else python_value(kind, term["value"], term.get("datatype"))
        rows.append(row)
    return rows


def _value(parameter: Parameter, params: dict[str, str]) -> str:
    """The value given for a parameter's name if it suits the parameter's type, else the demo's value."""
    value = params.get(parameter.name)
    if value is None or (parameter.kind == "mesh" and not _is_mesh_id(value)):
        return DEMO_PARAMS.get(parameter.name) or DEMO_PARAMS_BY_KIND[parameter.kind]
    return value


def _is_mesh_id(value: str) -> bool:
    try:
        normalize_mesh_id(value)
    except ValueError:
        return False
    return True


def _compare_every_named_query(base: str, spec: str, params: dict[str, str], tmp_path: Path) -> list[str]:
    """Each named query, bound, through SPARQLWrapper and through ``kg sparql --format json``: the same rows.
    Returns the names of the queries whose answer was empty."""
    runner = CliRunner()
    queries = list_queries()
    assert len(queries) >= 17
    empty = []
    for query in queries:
        given = {**params, **_PARAMS_BY_QUERY.get(query.name, {})}
        text = bind(query, {p.name: _value(p, given) for p in query.parameters})
        client = SPARQLWrapper(f"{base}/sparql")
        client.setQuery(text)
        # SPARQLWrapper sniffs the query form after a comment stripping that skips every second comment line, so
        # "(kg mesh load)" in a header reads as LOAD: tell it the form, as a user of these files has to.
        client.queryType = check_query(text)
        client.setReturnFormat(JSON)
        over_http = _python_rows(client.queryAndConvert())  # type: ignore[arg-type]
        path = tmp_path / f"{query.name}.rq"
        path.write_text(text, encoding="utf-8")
        printed = runner.invoke(cli_app, ["sparql", str(path), "--store", spec, "--format", "json"])
        assert printed.exit_code == 0, printed.output
        assert over_http == json.loads(printed.stdout), query.name
        if not over_http:
            empty.append(query.name)
    return empty


@pytest.mark.slow
def test_sparqlwrapper_gets_what_kg_sparql_prints_for_every_named_query(
    served: str,  # noqa: F811
    demo_spec: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    empty = _compare_every_named_query(served, demo_spec, {**DEMO_PARAMS, "nct": SEED_NCT}, tmp_path)
    print(f"demo store: {len(list_queries()) - len(empty)} named queries answered, empty: {empty}")
    # The demo corpus posts no results, cites no publications and has seen no update: tests/test_store_contract.py
    # answers those on real records (and a recorded change) on every backend.
    unanswerable = [name for name in empty if name not in _NOT_IN_THE_DEMO]
    assert len(unanswerable) <= 1, f"named queries without an answer on the demo store: {unanswerable}"


#: The demo indexes no trial to Neoplasms by Site itself: this query's row is a condition's own trials.
_PARAMS_BY_QUERY = {"landscape_mechanism_root": {"concept": "D008175"}}
#: Named queries over results sections, references and change events.
_NOT_IN_THE_DEMO = {
    "trial_changes",
    "changes_since",
    "trial_participant_flow",
    "trial_baseline",
    "trial_outcome_results",
    "trial_outcome_analyses",
    "trial_adverse_events",
    "trial_publications",
    "trials_sharing_publication",
    "landscape_serious_events",
    "landscape_publications",
}


@pytest.mark.slow
def test_sparqlwrapper_gets_what_kg_sparql_prints_on_the_real_records(
    real_build: tuple[str, Any], real_studies: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    """The real records (no MeSH file loaded, so the hierarchy queries answer nothing on either side)."""

    def has_everything(study: dict[str, Any]) -> bool:
        """MeSH terms of both kinds, posted results and a cited PubMed article."""
        derived = study.get("derivedSection", {})
        references = study["protocolSection"].get("referencesModule", {}).get("references", [])
        return (
            bool(derived.get("conditionBrowseModule", {}).get("meshes"))
            and bool(derived.get("interventionBrowseModule", {}).get("meshes"))
            and "resultsSection" in study
            and any(reference.get("pmid") for reference in references)
        )

    nct = next(nct for nct, study in sorted(real_studies.items()) if has_everything(study))
    params = {
        "nct": nct,
        "condition": "neoplasms",
        "intervention": "placebo",
        "concept": "D009371",
        "label": "Neoplasms",
    }
    with kg_serve(real_build[0]) as base:
        empty = _compare_every_named_query(base, real_build[0], params, tmp_path)
    print(f"real records, {nct}: {len(list_queries()) - len(empty)} named queries answered, empty: {empty}")
    assert len(empty) <= len(list_queries()) // 2, empty


@pytest.mark.slow
def test_sparqlwrapper_reads_xml_and_csv_by_get_and_post(served: str, store: Store) -> None:  # noqa: F811
    query = TRIAL_TITLES + " ORDER BY ?nct LIMIT 25"
    expected = [(row["nct"], row["title"]) for row in store.select(query).rows]
    for method, request_method in (("GET", None), (POST, None), (POST, POSTDIRECTLY)):
        client = SPARQLWrapper(f"{served}/sparql")
        client.setQuery(query)
        client.setMethod(method)
        if request_method:
            client.setRequestMethod(request_method)
        client.setReturnFormat(XML)
        document = client.queryAndConvert()  # xml.dom.minidom
        results = document.getElementsByTagName("result")  # type: ignore[union-attr]
        values = [
            tuple(binding.getElementsByTagName("literal")[0].firstChild.data for binding in result.childNodes)
            for result in results
        ]
        assert values == expected, (method, request_method)
        client.setReturnFormat(CSV)
        rows = list(csv.reader(io.StringIO(client.queryAndConvert().decode("utf-8"))))  # type: ignore[union-attr]
        assert [tuple(row) for row in rows[1:]] == expected


@pytest.mark.slow
def test_sparqlwrapper_update_is_refused(served: str) -> None:  # noqa: F811
    client = SPARQLWrapper(f"{served}/sparql")
    client.setMethod(POST)
    client.setQuery("DROP ALL")
    with pytest.raises(HTTPError) as refused:
        client.query()
    assert refused.value.code == 403


def test_serve_binds_loopback_by_default_and_warns_otherwise(demo_spec: str, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    import uvicorn

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: calls.append(kwargs))
    runner = CliRunner()
    quiet = runner.invoke(cli_app, ["serve", "--store", demo_spec, "--port", "8123"])
    assert quiet.exit_code == 0, quiet.output
    assert calls[-1]["host"] == "127.0.0.1" and calls[-1]["port"] == 8123
    assert "warning" not in quiet.output
    loud = runner.invoke(cli_app, ["serve", "--store", demo_spec, "--host", "0.0.0.0"])
    assert loud.exit_code == 0, loud.output
    assert calls[-1]["host"] == "0.0.0.0"
    assert "warning: binding 0.0.0.0" in loud.output
