"""Query answers read within a row limit and a deadline, written in the SPARQL results and RDF formats.

Rows are read one by one from the store's lazy answer, so a limit or deadline stops the reading (and the work
behind it) as soon as it is crossed. The byte limit counts the text of the terms read, so 100,000 rows of long
criteria text are refused before they are held in memory, not after. SELECT rows are written as SPARQL JSON here
and converted to XML, CSV or TSV by pyoxigraph's own writers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import pyoxigraph as ox

from kg.store import Store, StoreError
from kg.store.base import RawResult

__all__ = ["Answer", "QueryTimeout", "ResultFormat", "TooManyRows", "answer", "serialize"]

T = TypeVar("T")
_XSD_STRING: Final = "http://www.w3.org/2001/XMLSchema#string"

Term = ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple


class QueryTimeout(RuntimeError):
    """The query ran past its time budget."""


class TooManyRows(RuntimeError):
    """The answer has more rows (or triples), or more bytes of text, than the endpoint serves."""


@dataclass(frozen=True)
class ResultFormat:
    """One output format: the media type sent, and pyoxigraph's writer for it."""

    media_type: str
    writer: ox.QueryResultsFormat | ox.RdfFormat


@dataclass(frozen=True)
class Answer:
    """A query's answer held in memory, within the limits: a boolean, solutions, or triples."""

    boolean: bool | None = None
    variables: tuple[str, ...] = ()
    rows: tuple[tuple[Term | None, ...], ...] = ()
    triples: tuple[ox.Triple, ...] = ()


def _size(term: Term | None) -> int:
    """The text a term adds to an answer, near enough to bound memory (characters of its value and datatype)."""
    if term is None:
        return 0
    if isinstance(term, ox.Triple):
        return _size(term.subject) + _size(term.predicate) + _size(term.object)
    if isinstance(term, ox.Literal):
        return len(term.value) + len(term.datatype.value) + 16
    return len(term.value) + 16


@dataclass(frozen=True)
class _Limits:
    max_rows: int
    max_bytes: int
    deadline: float
    timeout: float


def _read(items: Iterable[T], terms: Callable[[T], Iterable[Term | None]], limits: _Limits) -> list[T]:
    read: list[T] = []
    size = 0
    for item in items:
        if len(read) == limits.max_rows:
            raise TooManyRows(f"the answer has more than {limits.max_rows:,} rows; add a LIMIT or narrow the query")
        if time.monotonic() > limits.deadline:
            raise QueryTimeout(f"the query ran longer than the endpoint's {limits.timeout:g} s limit and was stopped")
        size += sum(_size(term) for term in terms(item))
        if size > limits.max_bytes:
            raise TooManyRows(
                f"the answer is larger than {limits.max_bytes:,} bytes; add a LIMIT or select fewer or shorter values"
            )
        read.append(item)
    return read


def _query(store: Store, sparql: str) -> RawResult:
    """The store's lazy answer; an engine's refusal (an unknown function, a failed evaluation) is the user's
    error, passed on without the store's file path."""
    try:
        result = store.query_raw(sparql)
    except (RuntimeError, OSError, ValueError) as error:
        path = str(getattr(store, "path", None) or "") or None
        message = str(error).replace(path, "<store>") if path else str(error)
        raise StoreError(f"the query cannot be evaluated: {message}") from None
    return result


def answer(store: Store, sparql: str, *, max_rows: int, timeout: float, max_bytes: int = 1 << 62) -> Answer:
    """Run ``sparql`` and read its answer, raising :class:`TooManyRows` or :class:`QueryTimeout` past the limits
    (CONSTRUCT and DESCRIBE count triples as rows). Blocking: call it from a worker thread."""
    limits = _Limits(max_rows, max_bytes, time.monotonic() + timeout, timeout)
    result = _query(store, sparql)
    try:
        if isinstance(result, ox.QueryBoolean):
            return Answer(boolean=bool(result))
        if isinstance(result, ox.QuerySolutions):
            variables = tuple(variable.value for variable in result.variables)
            rows = (tuple(row[name] for name in variables) for row in result)
            return Answer(variables=variables, rows=tuple(_read(rows, lambda row: row, limits)))
        return Answer(triples=tuple(_read(result, lambda triple: (triple.subject, triple.object), limits)))
    except Exception as error:
        # pyoxigraph's result iterators must be freed by the thread that made them, and a traceback's frames
        # hold them: cut it here rather than let it carry them to the thread that handles the error.
        raise error.with_traceback(None) from None
    finally:
        del result


def _json_term(term: Term) -> dict[str, Any]:
    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, ox.Triple):
        parts = {"subject": term.subject, "predicate": term.predicate, "object": term.object}
        return {"type": "triple", "value": {key: _json_term(part) for key, part in parts.items()}}
    encoded: dict[str, Any] = {"type": "literal", "value": term.value}
    if term.language:
        encoded["xml:lang"] = term.language
    elif term.datatype.value != _XSD_STRING:
        encoded["datatype"] = term.datatype.value
    return encoded


def _sparql_json(result: Answer) -> bytes:
    if result.boolean is not None:
        payload: dict[str, Any] = {"head": {}, "boolean": result.boolean}
    else:
        bindings = [
            {name: _json_term(term) for name, term in zip(result.variables, row, strict=True) if term is not None}
            for row in result.rows
        ]
        payload = {"head": {"vars": list(result.variables)}, "results": {"bindings": bindings}}
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def serialize(result: Answer, fmt: ResultFormat) -> bytes:
    """The answer in ``fmt``: a SPARQL results format for SELECT/ASK, an RDF format for CONSTRUCT/DESCRIBE."""
    if isinstance(fmt.writer, ox.RdfFormat):
        return ox.serialize(result.triples, format=fmt.writer) or b""
    data = _sparql_json(result)
    if fmt.writer == ox.QueryResultsFormat.JSON:
        return data
    solutions = ox.parse_query_results(data, format=ox.QueryResultsFormat.JSON)
    return solutions.serialize(format=fmt.writer) or b""
