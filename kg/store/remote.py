"""A remote SPARQL 1.1 endpoint (Oxigraph server, Virtuoso, GraphDB…) over the Protocol, with requests.

The endpoint must answer queries over the union of its named graphs (``oxigraph serve --union-default-graph``;
Virtuoso does so by default). Writes go in batches of whole graphs, by one of three methods (``load``):

* ``update``: SPARQL Update ``INSERT DATA`` (``DROP SILENT GRAPH`` first when replacing), one request per batch:
  works on every SPARQL 1.1 engine, and a batch is one transaction on Oxigraph and Virtuoso.
* ``graph-store``: the SPARQL 1.1 Graph Store Protocol, one ``PUT`` (replace) or ``POST`` (add) per graph, as
  N-Triples: Virtuoso's ``/sparql-graph-crud``, GraphDB, Fuseki, Neptune.
* ``nquads``: a whole batch as one N-Quads ``POST`` to a dataset endpoint (Oxigraph's ``/store``, GraphDB's
  ``/statements``); replacing drops the batch's graphs first, in a separate request.

A trial's graph is never split between requests, so a failed batch leaves each of its trials whole (old, new or,
with ``nquads``, absent) and the error says which. See ``docs/remote-engines.md``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO, Final

import pyoxigraph as ox
import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase, HTTPBasicAuth, HTTPDigestAuth
from urllib3.util.retry import Retry

from kg.config import remote_settings
from kg.store.base import (
    Bindings,
    QueryResult,
    RawResult,
    Store,
    StoreError,
    inline_values,
    python_value,
    query_form,
)
from kg.store.lock import WriterLock

__all__ = ["LOAD_METHODS", "RemoteStore"]

logger = logging.getLogger(__name__)

LOAD_METHODS: Final = ("update", "graph-store", "nquads")
#: One request carries at most this many quads and bytes: Virtuoso parses an ``INSERT DATA`` of 20k quads in
#: ~0.4 s, and the ``nquads`` and ``graph-store`` bodies stay small enough to retry and to report.
BATCH_QUADS: Final = 20_000
BATCH_BYTES: Final = 8_000_000
#: Virtuoso's SPARQL parser runs out of stack ("SP030 … memory exhausted") near 5,000 triples in one
#: ``GRAPH { }`` block; a long graph is written as several blocks of the same graph in one ``INSERT DATA``.
_BLOCK_TRIPLES: Final = 1_000
_TIMEOUT: Final = (10, 600)
_GRAPH_QUADS: Final = "SELECT ?g ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } }"
#: ``GRAPH ?g {}`` lists no graph on Virtuoso, and its shortcut for ``SELECT DISTINCT ?g … { GRAPH ?g { ?s ?p ?o } }``
#: lists graphs the user may not read (its system graphs): this form is answered from the quads themselves.
_NAMED_GRAPHS: Final = "SELECT ?g WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"
_VIRTUOSO_ASK: Final = "__ASK_RETVAL"
#: Default companions of a query URL: its update URL and Graph Store URL.
_COMPANIONS: Final = {
    "/query": ("/update", "/store"),  # oxigraph serve
    "/sparql": ("/sparql", "/sparql-graph-crud"),  # Virtuoso
    "/sparql-auth": ("/sparql-auth", "/sparql-graph-crud-auth"),  # Virtuoso, authenticated
}

Graph = ox.NamedNode | ox.DefaultGraph
#: Whole graphs, each as its N-Triples lines (terms in N-Triples form are valid SPARQL and Turtle).
Batch = list[tuple[Graph, list[str]]]


class RemoteStore(Store):
    """A SPARQL endpoint; the update and Graph Store URLs default to the query URL's companions (``_COMPANIONS``)."""

    def __init__(
        self,
        query_url: str,
        update_url: str | None = None,
        *,
        graph_store_url: str | None = None,
        load: str = "update",
        auth: AuthBase | None = None,
        lock: WriterLock | None = None,
    ) -> None:
        if load not in LOAD_METHODS:
            raise StoreError(f"unknown load method {load!r}: use one of {', '.join(LOAD_METHODS)}")
        self.spec = f"sparql:{query_url}"
        self.query_url = query_url
        base, update_path, store_path = _split_companions(query_url)
        self.update_url = update_url or (base + update_path if update_path else query_url)
        self.graph_store_url = graph_store_url or (base + store_path if store_path else None)
        if load != "update" and self.graph_store_url is None:
            raise StoreError(f"load method {load!r} needs a Graph Store URL: set KG_SPARQL_GRAPH_STORE_URL")
        self.load = load
        self._lock = lock
        self.session = requests.Session()
        self.session.auth = auth
        retry = Retry(total=3, connect=3, read=0, status=0, backoff_factor=0.5, allowed_methods=None)
        self.session.mount("http://", HTTPAdapter(max_retries=retry))
        self.session.mount("https://", HTTPAdapter(max_retries=retry))

    @classmethod
    def from_environment(cls, query_url: str, *, lock: WriterLock | None = None) -> RemoteStore:
        """Options from ``KG_SPARQL_UPDATE_URL``, ``KG_SPARQL_GRAPH_STORE_URL``, ``KG_SPARQL_LOAD`` and
        ``KG_SPARQL_USER``/``KG_SPARQL_PASSWORD`` (``KG_SPARQL_AUTH=digest`` for Virtuoso's ``-auth`` endpoints):
        credentials stay out of store specs, logs and saved settings."""
        settings = remote_settings()
        auth: AuthBase | None = None
        if settings.user:
            kind = HTTPDigestAuth if settings.digest else HTTPBasicAuth
            auth = kind(settings.user, settings.password)
        return cls(
            query_url,
            settings.update_url,
            graph_store_url=settings.graph_store_url,
            load=settings.load,
            auth=auth,
            lock=lock,
        )

    # --- protocol -------------------------------------------------------------------------------
    def _request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        try:
            response = self.session.request(method, url, timeout=_TIMEOUT, **kwargs)
        except requests.RequestException as error:
            raise StoreError(f"cannot reach the SPARQL endpoint {url}: {error}") from None
        if response.status_code >= 400:
            raise StoreError(f"the SPARQL endpoint {url} answered {response.status_code}: {_message(response)}")
        if "X-SQL-State" in response.headers:  # Virtuoso's "anytime" answer: partial results after a timeout
            raise StoreError(
                f"{url} cut its answer short ({response.headers.get('X-SQL-Message', 'timeout')}): "
                "raise MaxQueryExecutionTime in the [SPARQL] section of virtuoso.ini"
            )
        return response

    def _query(self, sparql: str, accept: str) -> requests.Response:
        return self._request("POST", self.query_url, data={"query": sparql}, headers={"Accept": accept})

    def update(self, sparql: str) -> None:
        """Run a SPARQL Update request (one transaction on Oxigraph and Virtuoso)."""
        self._request(
            "POST",
            self.update_url,
            data=sparql.encode("utf-8"),
            headers={"Content-Type": "application/sparql-update; charset=utf-8", "Accept": "*/*"},
        )

    # --- writing --------------------------------------------------------------------------------
    def add(self, quads: Iterable[ox.Quad]) -> None:
        for number, (batch, _) in enumerate(_batches(_by_graph(quads)), 1):
            self._write(batch, number, replace=False)

    def replace_graphs(self, graphs: dict[ox.NamedNode, list[ox.Quad]]) -> None:
        grouped = ((graph, [_line(quad) for quad in quads]) for graph, quads in graphs.items())
        for number, (batch, continued) in enumerate(_batches(grouped), 1):
            self._write(batch, number, replace=not continued)

    def remove_graph(self, graph: ox.NamedNode) -> None:
        self.update(f"DROP SILENT GRAPH {graph}")

    def _write(self, batch: Batch, number: int, *, replace: bool) -> None:
        """Send one batch by the store's load method; on failure, one error naming the batch and its state."""
        drops = "".join(f"DROP SILENT GRAPH {graph} ;\n" for graph, _ in batch if replace)
        state = "none of them was changed"
        try:
            if self.load == "update":
                self.update(drops + _insert_data(batch))
            elif self.load == "graph-store":
                state = "each of them is whole: written, unchanged, or (the failed one) absent"
                for graph, lines in batch:
                    self._graph_store("PUT" if replace else "POST", graph, lines)
            else:
                if drops:
                    self.update(drops)
                    state = "they are absent from the server"
                self._upload_nquads(batch)
        except StoreError as error:
            graphs = [str(graph) for graph, _ in batch]
            raise StoreError(
                f"writing batch {number} ({len(graphs)} graphs, {sum(len(lines) for _, lines in batch)} quads, "
                f"{graphs[0]} … {graphs[-1]}) failed, {state}; earlier batches are on the server: {error}"
            ) from None

    def _graph_store(self, method: str, graph: Graph, lines: list[str]) -> None:
        """One graph by the Graph Store Protocol. Virtuoso keeps what it parsed of a rejected upload, so a graph
        whose upload failed is dropped: absent, never half-written."""
        assert self.graph_store_url is not None
        params = {"default": ""} if isinstance(graph, ox.DefaultGraph) else {"graph": graph.value}
        body = "".join(line + "\n" for line in lines).encode("utf-8")
        headers = {"Content-Type": "application/n-triples"}
        try:
            self._request(method, self.graph_store_url, params=params, data=body, headers=headers)
        except StoreError as error:
            if isinstance(graph, ox.DefaultGraph):
                raise
            try:
                self.remove_graph(graph)
            except StoreError:
                raise StoreError(f"{graph} may be half-written (drop it, or publish again): {error}") from None
            raise StoreError(f"{graph} was dropped: {error}") from None

    def _upload_nquads(self, batch: Batch) -> None:
        assert self.graph_store_url is not None
        suffix = {graph: f" {graph} .\n" if isinstance(graph, ox.NamedNode) else " .\n" for graph, _ in batch}
        body = "".join(line[:-2] + suffix[graph] for graph, lines in batch for line in lines).encode("utf-8")
        self._request("POST", self.graph_store_url, data=body, headers={"Content-Type": "application/n-quads"})

    # --- reading --------------------------------------------------------------------------------
    def select(self, sparql: str, bindings: Bindings | None = None) -> QueryResult:
        payload = self._results(inline_values(sparql, bindings or {}))
        if "boolean" in payload:
            return QueryResult(["ask"], [{"ask": bool(payload["boolean"])}])
        names = list(payload["head"].get("vars", []))
        rows = [
            {name: _binding_value(binding.get(name)) for name in names} for binding in payload["results"]["bindings"]
        ]
        return QueryResult(names, rows)

    def construct(self, sparql: str) -> bytes:
        return self._query(sparql, "application/n-triples").content

    def query_raw(self, sparql: str) -> RawResult:
        """Any query's answer as pyoxigraph terms, parsed from the endpoint's SPARQL JSON results or N-Triples."""
        if query_form(sparql) in ("CONSTRUCT", "DESCRIBE"):
            triples = ox.parse(self.construct(sparql), format=ox.RdfFormat.N_TRIPLES)
            return (quad.triple for quad in triples)
        try:
            return ox.parse_query_results(json.dumps(self._results(sparql)), format=ox.QueryResultsFormat.JSON)
        except SyntaxError as error:
            raise StoreError(f"{self.query_url} did not answer with SPARQL JSON results: {error}") from None

    def _results(self, sparql: str) -> dict[str, Any]:
        """The SPARQL JSON results of a SELECT or ASK query. Virtuoso answers some ASK queries as a SELECT of
        ``?__ASK_RETVAL`` (one row ``1`` or no row): that is turned back into a boolean."""
        response = self._query(sparql, "application/sparql-results+json")
        try:
            payload: dict[str, Any] = response.json()
        except json.JSONDecodeError:
            raise StoreError(f"{self.query_url} did not answer with SPARQL JSON results") from None
        if payload.get("head", {}).get("vars") == [_VIRTUOSO_ASK]:
            rows = payload["results"]["bindings"]
            return {"head": {}, "boolean": bool(rows) and rows[0][_VIRTUOSO_ASK]["value"] not in ("0", "false")}
        return payload

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
        return list(self._query(sparql, "application/sparql-results+json").json()["results"]["bindings"])

    def named_graphs(self) -> set[str]:
        return {row["g"]["value"] for row in self._raw_bindings(_NAMED_GRAPHS)}

    def __len__(self) -> int:
        result = self.select("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }")
        return int(result.rows[0]["n"] or 0)

    def close(self) -> None:
        self.session.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None


def _split_companions(query_url: str) -> tuple[str, str | None, str | None]:
    for path, (update_path, store_path) in _COMPANIONS.items():
        if query_url.endswith(path):
            return query_url[: -len(path)], update_path, store_path
    return query_url, None, None


def _line(quad: ox.Quad) -> str:
    return f"{quad.subject} {quad.predicate} {quad.object} ."


def _by_graph(quads: Iterable[ox.Quad]) -> Iterator[tuple[Graph, list[str]]]:
    """Consecutive quads of one graph as one group (a build adds a trial's quads together)."""
    graph: Graph | None = None
    lines: list[str] = []
    for quad in quads:
        if quad.graph_name != graph:
            if graph is not None:
                yield graph, lines
            graph, lines = quad.graph_name, []  # type: ignore[assignment]
        lines.append(_line(quad))
    if graph is not None:
        yield graph, lines


def _batches(groups: Iterable[tuple[Graph, list[str]]]) -> Iterator[tuple[Batch, bool]]:
    """Whole graphs gathered up to ``BATCH_QUADS`` quads and ``BATCH_BYTES`` bytes, each batch with whether it
    continues the previous one. A graph bigger than that alone (a vocabulary, never a trial) goes in slices: the
    first replaces the graph, the others continue it."""
    batch: Batch = []
    quads = size = 0
    for graph, lines in groups:
        weight = sum(len(line) for line in lines)
        if batch and (quads + len(lines) > BATCH_QUADS or size + weight > BATCH_BYTES):
            yield batch, False
            batch, quads, size = [], 0, 0
        if len(lines) > BATCH_QUADS or weight > BATCH_BYTES:
            logger.info("writing the %d quads of %s in slices (not one transaction)", len(lines), graph)
            step = max(1, len(lines) * BATCH_BYTES // (2 * weight)) if weight > BATCH_BYTES else BATCH_QUADS // 2
            for start in range(0, len(lines), step):
                yield [(graph, lines[start : start + step])], start > 0
            continue
        batch.append((graph, lines))
        quads, size = quads + len(lines), size + weight
    if batch:
        yield batch, False


def _insert_data(batch: Batch) -> str:
    """``INSERT DATA`` with one or more ``GRAPH`` blocks per graph (see ``_BLOCK_TRIPLES``)."""
    blocks = []
    for graph, lines in batch:
        for start in range(0, len(lines), _BLOCK_TRIPLES):
            body = "\n".join(lines[start : start + _BLOCK_TRIPLES])
            blocks.append(body if isinstance(graph, ox.DefaultGraph) else f"GRAPH {graph} {{\n{body}\n}}")
    return "INSERT DATA {\n" + "\n".join(blocks) + "\n}"


def _message(response: requests.Response) -> str:
    """The server's error text, without HTML markup, cut to a readable length."""
    text = re.sub(r"<[^>]+>", " ", response.text)
    return " ".join(text.split())[:400]


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
