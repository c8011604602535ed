"""Query answers read within a row limit and a deadline, written in the SPARQL results and RDF formats.

Rows are read one by one from the store's lazy answer, so a limit or deadline stops the reading (and the work
behind it) as soon as it is crossed. SELECT rows are written as SPARQL JSON here and converted to XML, CSV or TSV
by pyoxigraph's own writers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import pyoxigraph as ox

from kg.store import Store

__all__ = ["Answer", "QueryTimeout", "ResultFormat", "TooManyRows", "answer", "serialize"]

T = TypeVar("T")
_XSD_STRING: Final = "http://www.w3.org/2001/XMLSchema#string"

Term = ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple


class QueryTimeout(RuntimeError):
    """The query ran past its time budget."""


class TooManyRows(RuntimeError):
    """The answer has more rows (or triples) than the endpoint serves."""


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


def _read(items: Iterable[T], *, max_rows: int, deadline: float, timeout: float) -> list[T]:
    read: list[T] = []
    for item in items:
        if len(read) == max_rows:
            raise TooManyRows(f"the answer has more than {max_rows:,} rows; add a LIMIT or narrow the query")
        if time.monotonic() > deadline:
            raise QueryTimeout(f"the query ran longer than the endpoint's {timeout:g} s limit and was stopped")
        read.append(item)
    return read


def answer(store: Store, sparql: str, *, max_rows: int, timeout: float) -> Answer:
    """Run ``sparql`` and read its answer, raising :class:`TooManyRows` or :class:`QueryTimeout` past the limits
    (CONSTRUCT and DESCRIBE count triples as rows). Blocking: call it from a worker thread."""
    deadline = time.monotonic() + timeout
    result = store.query_raw(sparql)
    try:
        if isinstance(result, ox.QueryBoolean):
            return Answer(boolean=bool(result))
        if isinstance(result, ox.QuerySolutions):
            variables = tuple(variable.value for variable in result.variables)
            solutions = _read(result, max_rows=max_rows, deadline=deadline, timeout=timeout)
            return Answer(variables=variables, rows=tuple(tuple(row[name] for name in variables) for row in solutions))
        return Answer(triples=tuple(_read(result, max_rows=max_rows, deadline=deadline, timeout=timeout)))
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
