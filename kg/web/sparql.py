"""A read-only SPARQL 1.1 Protocol endpoint over any store, for SPARQLWrapper, YASGUI, curl.

Queries arrive as ``GET ?query=``, a form-encoded ``POST`` or a ``POST`` of ``application/sparql-query``. The
answer format is chosen by a ``format``/``output`` parameter (what SPARQLWrapper and Virtuoso-style clients send),
else by the ``Accept`` header: SPARQL JSON (default), XML, CSV or TSV for SELECT and ASK; Turtle (default),
N-Triples, RDF/XML or JSON-LD for CONSTRUCT and DESCRIBE. Updates, ``LOAD`` and ``SERVICE`` are refused (403).

Each query is checked by :mod:`kg.web.guard` (size, depth, width, SERVICE, FROM) before any parser sees it, then
gets a time budget, a row limit and a byte limit. Over an on-disk store it runs in a child process
(:mod:`kg.web.workers`) that is killed at the deadline, so a timed-out query stops using the CPU; over a store held
in this process (tests, ``oxigraph:``) it runs in a thread that stops reading rows at the deadline but cannot be
interrupted inside one evaluation step. At most ``workers`` queries run at once.

Answers stream (:mod:`kg.web.results`): the status is sent with the first chunk, so an error before it (a bad
query, no answer within the time limit: 503) is an error status; a limit crossed after it cuts the answer, which
says so where its format has room, and the response headers give the limits. A failure after the first chunk
(the worker killed past its deadline, an evaluation error) ends the response without its final chunk, so no
client can take it for a whole answer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qs

import anyio
import pyoxigraph as ox
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response, StreamingResponse

from kg.store import Store, StoreError
from kg.web.guard import QUERY_FORMS, Limits, Refused, check_query
from kg.web.pages import sparql_form
from kg.web.relay import Relay
from kg.web.results import QueryTimeout, ResultFormat
from kg.web.workers import GRACE, Job, QueryWorkers

__all__ = ["NO_SNIFF", "SparqlEndpoint", "negotiate", "service_description"]

logger = logging.getLogger(__name__)

_MAX_BODY: Final = 1 << 20
#: Seconds a request may wait, on top of its query's budget, for a new worker process to start (about 0.3 s idle).
_CHILD_START: Final = 5.0
#: Most bytes of term text one answer may hold (the serialized answer is at most a few times that).
DEFAULT_MAX_BYTES: Final = 64 << 20
#: On plain-text errors that may quote the request: never let a browser guess they are HTML.
NO_SNIFF: Final = {"X-Content-Type-Options": "nosniff"}
_UPDATE_TYPE: Final = "application/sparql-update"
_QUERY_TYPE: Final = "application/sparql-query"
_FORM_TYPE: Final = "application/x-www-form-urlencoded"
_Q = ox.QueryResultsFormat
_R = ox.RdfFormat
_SOLUTION_FORMATS: Final = {
    "application/sparql-results+json": _Q.JSON,
    "application/json": _Q.JSON,
    "application/sparql-results+xml": _Q.XML,
    "application/xml": _Q.XML,
    "text/xml": _Q.XML,
    "text/csv": _Q.CSV,
    "text/tab-separated-values": _Q.TSV,
}
_GRAPH_FORMATS: Final = {
    "text/turtle": _R.TURTLE,
    "application/x-turtle": _R.TURTLE,
    "application/n-triples": _R.N_TRIPLES,
    "text/plain": _R.N_TRIPLES,
    "application/rdf+xml": _R.RDF_XML,
    "application/xml": _R.RDF_XML,
    "application/ld+json": _R.JSON_LD,
    "application/json": _R.JSON_LD,
}
#: ``format=`` short names, per answer kind.
_SOLUTION_NAMES: Final = {"json": _Q.JSON, "xml": _Q.XML, "csv": _Q.CSV, "tsv": _Q.TSV}
_GRAPH_NAMES: Final = {
    "turtle": _R.TURTLE,
    "ttl": _R.TURTLE,
    "n3": _R.TURTLE,
    "nt": _R.N_TRIPLES,
    "ntriples": _R.N_TRIPLES,
    "n-triples": _R.N_TRIPLES,
    "xml": _R.RDF_XML,
    "rdf+xml": _R.RDF_XML,
    "json-ld": _R.JSON_LD,
    "json": _R.JSON_LD,
}


class _BadRequest(ValueError):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _accepted(header: str) -> list[str]:
    """Media types of an ``Accept`` header, most wanted first (q=0 dropped, ties kept in order)."""
    ranked: list[tuple[float, int, str]] = []
    for index, item in enumerate(header.split(",")):
        media, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media and quality > 0:
            ranked.append((-quality, index, media.lower()))
    return [media for _, _, media in sorted(ranked)]


def negotiate(form: str, names: list[str], accept: str) -> ResultFormat:
    """The output format for a query ``form``: a known ``format=`` name or media type first, then ``Accept``,
    then the default (SPARQL JSON, or Turtle for triples). Unknown wishes fall back to the default."""
    graph = form in ("CONSTRUCT", "DESCRIBE")
    by_name = _GRAPH_NAMES if graph else _SOLUTION_NAMES
    by_type: dict[str, ox.QueryResultsFormat | ox.RdfFormat] = dict(_GRAPH_FORMATS if graph else _SOLUTION_FORMATS)
    for name in names:
        writer = by_name.get(name.strip().lower()) or by_type.get(name.strip().lower())
        if writer is not None:
            return ResultFormat(writer.media_type, writer)
    for media in _accepted(accept):
        writer = by_type.get(media)
        if writer is not None:
            return ResultFormat(writer.media_type, writer)
    default = _R.TURTLE if graph else _Q.JSON
    return ResultFormat(default.media_type, default)


@dataclass(frozen=True)
class _Request:
    query: str | None
    format_names: list[str]


async def _body(request: Request) -> bytes:
    """The request body, read no further than the size limit."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_BODY:
            raise _BadRequest(f"the request body is larger than {_MAX_BODY:,} bytes", 413)
    return bytes(body)


async def _read(request: Request) -> _Request:
    """The query and format wishes of a protocol request; updates are refused here, before any parsing."""
    params = {key: list(values) for key, values in parse_qs(request.url.query, keep_blank_values=True).items()}
    if request.method == "POST":
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        body = await _body(request)
        if content_type == _UPDATE_TYPE:
            raise Refused("this endpoint is read-only: SPARQL Update requests are refused")
        if content_type == _QUERY_TYPE:
            params["query"] = [body.decode("utf-8", errors="replace")]
        elif content_type == _FORM_TYPE:
            for key, values in parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True).items():
                params.setdefault(key, []).extend(values)
        else:
            raise _BadRequest(f"POST a form ({_FORM_TYPE}) or a query ({_QUERY_TYPE}), not {content_type!r}", 415)
    if "update" in params:
        raise Refused("this endpoint is read-only: SPARQL Update requests are refused")
    if "default-graph-uri" in params or "named-graph-uri" in params:
        raise _BadRequest("default-graph-uri and named-graph-uri are not supported: the default graph is the union")
    queries = params.get("query", [])
    if len(queries) > 1:
        raise _BadRequest("give exactly one query parameter")
    names = params.get("format", []) + params.get("output", [])
    return _Request(queries[0] if queries else None, names)


class SparqlEndpoint:
    """The ``/sparql`` route: one per app, sharing the store and a small pool of query threads."""

    def __init__(
        self,
        store: Store,
        *,
        timeout: float,
        max_rows: int,
        workers: int = 4,
        max_bytes: int = DEFAULT_MAX_BYTES,
        limits: Limits | None = None,
    ) -> None:
        self.store = store
        self.timeout = timeout
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.limits = limits or Limits()
        self.limiter = anyio.CapacityLimiter(workers)
        path = getattr(store, "path", None)
        #: Child processes for an on-disk store; None runs queries in threads of this process.
        self.workers = QueryWorkers(f"oxigraph:{path}") if path else None

    def use(self, store: Store) -> None:
        """Answer from ``store`` from now on (a rebuilt store swapped into the same folder): worker processes
        still holding the old one are retired."""
        self.store = store
        if self.workers is not None:
            self.workers.retire()

    async def handle(self, request: Request) -> Response:
        try:
            parsed = await _read(request)
            if parsed.query is None:
                return self._describe(request, parsed.format_names)
            form = check_query(parsed.query, self.limits)
            if form not in QUERY_FORMS:
                raise _BadRequest("not a SPARQL query: it must be a SELECT, ASK, CONSTRUCT or DESCRIBE query")
            fmt = negotiate(form, parsed.format_names, request.headers.get("accept", ""))
            return await self._run(parsed.query, fmt)
        except Refused as error:
            return _error(error.status, str(error))
        except _BadRequest as error:
            return _error(error.status, str(error))
        except StoreError as error:
            return _error(400, str(error))
        except QueryTimeout as error:
            return _error(503, str(error))

    def _describe(self, request: Request, names: list[str]) -> Response:
        """Without a query: a SPARQL 1.1 Service Description for an RDF client, a page with a form for anyone else."""
        accept = request.headers.get("accept", "")
        first = (names or _accepted(accept) or ["text/html"])[0].strip().lower()
        if first not in _GRAPH_FORMATS and first not in _GRAPH_NAMES:
            return HTMLResponse(sparql_form(str(request.url.path), self.timeout, self.max_rows))
        fmt = negotiate("DESCRIBE", names, accept)
        assert isinstance(fmt.writer, ox.RdfFormat)
        description = service_description(str(request.url.replace(query="")))
        return Response(ox.serialize(description, format=fmt.writer) or b"", media_type=fmt.media_type)

    async def _run(self, sparql: str, fmt: ResultFormat) -> Response:
        graph = isinstance(fmt.writer, ox.RdfFormat)
        job = Job(sparql, fmt.media_type, graph, self.max_rows, self.max_bytes, self.timeout, self.limits)
        store, workers = self.store, self.workers
        relay = Relay(lambda: workers.stream(job) if workers else job.chunks(store))
        # The query runs in a thread within the endpoint's limiter (one thread per running query, which streams its
        # answer into the relay); the response waits for the first chunk, so errors before it get their status.
        # A child times the query itself, so the wait allows it the time to start a new child as well.
        relay.start(self.limiter)
        budget = self.timeout + (_CHILD_START if workers else 0.0) + GRACE
        try:
            first = await relay.first(budget)
        except TimeoutError:
            relay.abandon()
            raise QueryTimeout(_too_slow(self.timeout)) from None
        headers = {"X-KG-Max-Rows": str(self.max_rows), "X-KG-Max-Bytes": str(self.max_bytes)}
        headers["X-KG-Timeout"] = f"{self.timeout:g}"
        return StreamingResponse(relay.rest(first, budget), media_type=fmt.media_type, headers=headers)


def service_description(endpoint: str) -> list[ox.Triple]:
    """The endpoint described in the SPARQL 1.1 Service Description vocabulary: what it speaks and answers in."""
    sd = "http://www.w3.org/ns/sparql-service-description#"
    service, dataset, graph = ox.NamedNode(endpoint), ox.BlankNode(), ox.BlankNode()
    a = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
    formats = {writer.iri for writer in _SOLUTION_FORMATS.values()} | {writer.iri for writer in _GRAPH_FORMATS.values()}
    triples = [
        ox.Triple(service, a, ox.NamedNode(sd + "Service")),
        ox.Triple(service, ox.NamedNode(sd + "endpoint"), service),
        ox.Triple(service, ox.NamedNode(sd + "supportedLanguage"), ox.NamedNode(sd + "SPARQL11Query")),
        ox.Triple(service, ox.NamedNode(sd + "feature"), ox.NamedNode(sd + "UnionDefaultGraph")),
        ox.Triple(service, ox.NamedNode(sd + "defaultDataset"), dataset),
        ox.Triple(dataset, a, ox.NamedNode(sd + "Dataset")),
        ox.Triple(dataset, ox.NamedNode(sd + "defaultGraph"), graph),
        ox.Triple(graph, a, ox.NamedNode(sd + "Graph")),
    ]
    triples += [ox.Triple(service, ox.NamedNode(sd + "resultFormat"), ox.NamedNode(iri)) for iri in sorted(formats)]
    return triples


def _too_slow(timeout: float) -> str:
    return f"the query did not finish within the endpoint's {timeout:g} s limit (or the server was busy)"


def _error(status: int, message: str) -> Response:
    logger.info("SPARQL request refused (%d): %s", status, message)
    return PlainTextResponse(message + "\n", status_code=status, headers=NO_SNIFF)
