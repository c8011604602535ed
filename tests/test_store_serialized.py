"""``Store.query_raw`` on every backend: the same RDF terms (not Python values) for SELECT, ASK and CONSTRUCT, with
the union of the named graphs as default graph, so ``kg serve`` answers the same over any store."""

from __future__ import annotations

import pyoxigraph as ox

from kg.store import Store
from tests.test_store_contract import oxigraph_server, spec, store  # noqa: F401 - the contract's backends
from tests.virtuoso_support import virtuoso_server  # noqa: F401 - the contract's Virtuoso backend

EX = "http://example.org/"
XSD = "http://www.w3.org/2001/XMLSchema#"
G1, G2 = ox.NamedNode(EX + "g1"), ox.NamedNode(EX + "g2")
S, P = ox.NamedNode(EX + "s"), ox.NamedNode(EX + "p")
OBJECTS = [
    ox.Literal('<script>"x"</script>\n'),
    ox.Literal("Lutécium", language="fr"),
    ox.Literal("42", datatype=ox.NamedNode(XSD + "integer")),
    ox.Literal("2025-11", datatype=ox.NamedNode(XSD + "gYearMonth")),
    ox.NamedNode(EX + "o"),
]


def _load(store: Store) -> None:  # noqa: F811
    store.add(ox.Quad(S, P, obj, G1 if index % 2 else G2) for index, obj in enumerate(OBJECTS))


def _key(term: object) -> str:
    """A term's N-Triples form: kind, value, datatype and language all count."""
    return str(term)


def test_select_gives_the_stored_terms(store: Store) -> None:  # noqa: F811
    _load(store)
    result = store.query_raw(f"SELECT ?o ?missing WHERE {{ <{S.value}> ?p ?o OPTIONAL {{ ?o ?q ?missing }} }}")
    assert isinstance(result, ox.QuerySolutions)
    assert [variable.value for variable in result.variables] == ["o", "missing"]
    rows = list(result)
    assert sorted(_key(row["o"]) for row in rows) == sorted(_key(term) for term in OBJECTS)
    assert all(row["missing"] is None for row in rows)


def test_ask_gives_a_boolean(store: Store) -> None:  # noqa: F811
    _load(store)
    yes = store.query_raw(f"ASK {{ <{S.value}> ?p 42 }}")
    no = store.query_raw(f"ASK {{ <{S.value}> ?p 43 }}")
    assert isinstance(yes, ox.QueryBoolean) and isinstance(no, ox.QueryBoolean)
    assert bool(yes) is True and bool(no) is False


def test_construct_gives_triples_of_every_graph(store: Store) -> None:  # noqa: F811
    _load(store)
    triples = list(store.query_raw("CONSTRUCT WHERE { ?s ?p ?o }"))  # type: ignore[arg-type]
    assert all(isinstance(triple, ox.Triple) for triple in triples)
    assert sorted(_key(triple.object) for triple in triples) == sorted(_key(term) for term in OBJECTS)


def test_describe_gives_triples_about_the_resource(store: Store, spec: str) -> None:  # noqa: F811
    """What DESCRIBE returns is up to the engine (SPARQL 1.1, 16.4): Virtuoso describes from its own default graph
    only, so a remote may say less; the local backends give every triple of the resource."""
    _load(store)
    triples = list(store.query_raw(f"DESCRIBE <{S.value}>"))  # type: ignore[arg-type]
    assert all(isinstance(triple, ox.Triple) and triple.subject == S for triple in triples)
    objects = sorted(_key(triple.object) for triple in triples)
    assert set(objects) <= {_key(term) for term in OBJECTS}
    if not spec.startswith("sparql:"):
        assert objects == sorted(_key(term) for term in OBJECTS)
