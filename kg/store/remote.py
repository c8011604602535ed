"""A remote SPARQL 1.1 endpoint (Oxigraph server, Virtuoso, GraphDB…) over the Protocol, with requests.

The endpoint must answer queries over the union of its named graphs (``oxigraph serve
--union-default-graph``; Virtuoso does so by default). Writes are SPARQL Update requests, one
request per batch of whole trial graphs, so every trial on the server is always complete.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO, Final

import pyoxigraph as ox
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from kg.store.base import Bindings, QueryResult, Store, StoreError, inline_values, python_value

__all__ = ["RemoteStore"]

logger = logging.getLogger(__name__)

_BATCH_QUADS: Final = 20_000
_TIMEOUT: Final = (10, 600)
_GRAPH_QUADS: Final = "SELECT ?g ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } }"


class RemoteStore(Store):
    """A SPARQL endpoint; ``update_url`` defaults to the query URL with ``/query`` → ``/update``."""

    def __init__(self, query_url: str, update_url: str | None = None) -> None:
        self.spec = f"sparql:{query_url}"
        self.query_url = query_url
        self.update_url = update_url or (
            query_url[: -len("/query")] + "/update" if query_url.endswith("/query") else query_url
        )
        self.session = requests.Session()
        retry = Retry(total=3, connect=3, read=0, status=0, backoff_factor=0.5, allowed_methods=None)
        self.session.mount("http://", HTTPAdapter(max_retries=retry))
        self.session.mount("https://", HTTPAdapter(max_retries=retry))

    # --- protocol -------------------------------------------------------------------------------
    def _post(self, url: str, data: dict[str, str], accept: str) -> requests.Response:
        try:
            response = self.session.post(url, data=data, headers={"Accept": accept}, timeout=_TIMEOUT)
        except requests.RequestException as error:
            raise StoreError(f"cannot reach the SPARQL endpoint {url}: {error}") from None
        if response.status_code >= 400:
            raise StoreError(f"the SPARQL endpoint {url} answered {response.status_code}: {response.text[:300]}")
        return response

    def update(self, sparql: str) -> None:
        """Run a SPARQL Update request (one transaction on Oxigraph)."""
        self._post(self.update_url, {"update": sparql}, "*/*")

    # --- Store ----------------------------------------------------------------------------------
    def add(self, quads: Iterable[ox.Quad]) -> None:
        batch: list[ox.Quad] = []
        for quad in quads:
            batch.append(quad)
            if len(batch) >= _BATCH_QUADS:
                self.update(_insert_data(batch))
                batch = []
        if batch:
            self.update(_insert_data(batch))

    def replace_graphs(self, graphs: dict[ox.NamedNode, list[ox.Quad]]) -> None:
        drops = "".join(f"DROP SILENT GRAPH {graph} ;\n" for graph in graphs)
        quads = [quad for graph_quads in graphs.values() for quad in graph_quads]
        self.update(drops + _insert_data(quads))

    def remove_graph(self, graph: ox.NamedNode) -> None:
        self.update(f"DROP SILENT GRAPH {graph}")

    def select(self, sparql: str, bindings: Bindings | None = None) -> QueryResult:
        query = inline_values(sparql, bindings or {})
        response = self._post(self.query_url, {"query": query}, "application/sparql-results+json")
        try:
            payload = response.json()
        except json.JSONDecodeError:
            raise StoreError(f"{self.query_url} did not answer with SPARQL JSON results") from None
        if "boolean" in payload:
            return QueryResult(["ask"], [{"ask": bool(payload["boolean"])}])
        names = list(payload["head"].get("vars", []))
        rows = [
            {name: _binding_value(binding.get(name)) for name in names} for binding in payload["results"]["bindings"]
        ]
        return QueryResult(names, rows)

    def construct(self, sparql: str) -> bytes:
        return self._post(self.query_url, {"query": sparql}, "application/n-triples").content

    def dump(self, output: BinaryIO, media_type: str) -> None:
        quads = list(self._iter_quads())
        if media_type in ("application/n-quads", "application/trig"):
            fmt = ox.RdfFormat.N_QUADS if media_type == "application/n-quads" else ox.RdfFormat.TRIG
            ox.serialize(quads, output, fmt)
        else:
            triple_format = ox.RdfFormat.from_media_type(media_type)
            if triple_format is None:
                raise StoreError(f"cannot export as {media_type}")
            triples = {ox.Triple(quad.subject, quad.predicate, quad.object) for quad in quads}
            ox.serialize(sorted(triples, key=str), output, triple_format)

    def _iter_quads(self) -> Iterator[ox.Quad]:
        for row in self._raw_bindings(_GRAPH_QUADS):
            yield ox.Quad(_term(row["s"]), _term(row["p"]), _term(row["o"]), _term(row["g"]))  # type: ignore[arg-type]

    def _raw_bindings(self, sparql: str) -> list[dict[str, Any]]:
        response = self._post(self.query_url, {"query": sparql}, "application/sparql-results+json")
        return list(response.json()["results"]["bindings"])

    def named_graphs(self) -> set[str]:
        return {row["g"]["value"] for row in self._raw_bindings("SELECT DISTINCT ?g WHERE { GRAPH ?g {} }")}

    def __len__(self) -> int:
        result = self.select("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }")
        return int(result.rows[0]["n"] or 0)

    def close(self) -> None:
        self.session.close()


def _insert_data(quads: list[ox.Quad]) -> str:
    """``INSERT DATA`` with one ``GRAPH`` block per graph; terms in N-Triples form are valid SPARQL."""
    by_graph: dict[str, list[str]] = defaultdict(list)
    for quad in quads:
        by_graph[str(quad.graph_name)].append(f"{quad.subject} {quad.predicate} {quad.object} .")
    blocks = "\n".join(f"GRAPH {graph} {{\n" + "\n".join(lines) + "\n}" for graph, lines in by_graph.items())
    return f"INSERT DATA {{\n{blocks}\n}}"


def _binding_value(binding: dict[str, str] | None) -> Any:
    if binding is None:
        return None
    kind = {"uri": "iri", "typed-literal": "literal"}.get(binding["type"], binding["type"])
    return python_value(kind, binding["value"], binding.get("datatype"))


def _term(binding: dict[str, str]) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    kind, value = binding["type"], binding["value"]
    if kind == "uri":
        return ox.NamedNode(value)
    if kind == "bnode":
        return ox.BlankNode(value)
    if "xml:lang" in binding:
        return ox.Literal(value, language=binding["xml:lang"])
    datatype = binding.get("datatype")
    return ox.Literal(value, datatype=ox.NamedNode(datatype)) if datatype else ox.Literal(value)
