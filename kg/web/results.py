"""Query answers written as a stream of chunks, cut at a row limit, a byte limit and a deadline.

Rows are read one by one from the store's lazy answer and written in chunks of about :data:`CHUNK` bytes, so an
answer of any size passes through the server in bounded memory, and a limit stops the reading (and the work behind
it) as soon as it is crossed. A cut answer stays well-formed and says so where its format has room: a ``truncated``
member at the end of SPARQL JSON, a comment in XML, Turtle and N-Triples (CSV and TSV have no room; the limits are
in the response headers). Only a query that yields nothing before its deadline is an error (:class:`QueryTimeout`).

The byte limit counts the answer as SPARQL JSON (or N-Triples, for triples), the same for every output format.
SELECT rows are written as SPARQL JSON here; XML, CSV and TSV chunks are pyoxigraph's own writers' output for the
chunk's rows, without the document's opening and closing, which are written once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import pyoxigraph as ox

from kg.store import Store, StoreError
from kg.store.base import RawResult

__all__ = ["CHUNK", "QueryTimeout", "ResultFormat", "chunks"]

#: Bytes of answer gathered before a chunk is passed on.
CHUNK: Final = 64 << 10
_XSD_STRING: Final = "http://www.w3.org/2001/XMLSchema#string"
_Q = ox.QueryResultsFormat
#: The end of a document in each results format, after its last row (written once, after the chunks' rows).
_CLOSING: Final = {_Q.XML: b"</results></sparql>", _Q.CSV: b"", _Q.TSV: b""}
#: Triples formats written chunk by chunk (a chunk is a whole document of them); others are written once, whole.
_STREAMED_RDF: Final = (ox.RdfFormat.N_TRIPLES, ox.RdfFormat.TURTLE)

Term = ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple


class QueryTimeout(RuntimeError):
    """The query gave no answer within its time budget."""


@dataclass(frozen=True)
class ResultFormat:
    """One output format: the media type sent, and pyoxigraph's writer for it."""

    media_type: str
    writer: ox.QueryResultsFormat | ox.RdfFormat


@dataclass
class _Budget:
    """The limits of one answer, and what it has used of them."""

    max_rows: int
    max_bytes: int
    timeout: float
    deadline: float
    rows: int = 0
    size: int = 0
    cut: dict[str, Any] | None = None

    def admit(self, size: int) -> bool:
        """Whether one more row (or triple) of ``size`` bytes fits; if not, the answer is cut here and says why."""
        if self.rows >= self.max_rows:
            self._cut("rows", f"the answer was cut at the endpoint's limit of {self.max_rows:,} rows")
        elif self.size + size > self.max_bytes:
            self._cut("bytes", f"the answer was cut at the endpoint's limit of {self.max_bytes:,} bytes")
        elif time.monotonic() > self.deadline:
            if self.rows == 0:
                raise QueryTimeout(f"the query ran longer than the endpoint's {self.timeout:g} s limit and was stopped")
            self._cut("time", f"the answer was cut at the endpoint's limit of {self.timeout:g} s")
        else:
            self.rows += 1
            self.size += size
            return True
        return False

    def _cut(self, reason: str, message: str) -> None:
        self.cut = {"reason": reason, "rows": self.rows, "message": message + "; add a LIMIT or narrow the query"}


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


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _json_rows(solutions: ox.QuerySolutions, budget: _Budget) -> Iterator[list[str]]:
    """Batches of rows, each row its SPARQL JSON binding, within the budget."""
    variables = [variable.value for variable in solutions.variables]
    batch: list[str] = []
    size = 0
    for solution in solutions:
        row = _dumps({name: _json_term(term) for name in variables if (term := solution[name]) is not None})
        if not budget.admit(len(row.encode("utf-8")) + 1):
            break
        batch.append(row)
        size += len(row)
        if size >= CHUNK:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _select(solutions: ox.QuerySolutions, writer: ox.QueryResultsFormat, budget: _Budget) -> Iterator[bytes]:
    variables = [variable.value for variable in solutions.variables]
    head = _dumps({"vars": variables})
    if writer == _Q.JSON:
        yield f'{{"head":{head},"results":{{"bindings":['.encode()
        for number, batch in enumerate(_json_rows(solutions, budget)):
            yield (("," if number else "") + ",".join(batch)).encode("utf-8")
        cut = f',"truncated":{_dumps(budget.cut)}' if budget.cut else ""
        yield f"]}}{cut}}}".encode()
        return
    closing = _CLOSING[writer]
    empty = _document(head, [], writer)
    opening = empty[: len(empty) - len(closing)]
    yield opening
    for batch in _json_rows(solutions, budget):
        whole = _document(head, batch, writer)
        assert whole.startswith(opening) and whole.endswith(closing)
        yield whole[len(opening) : len(whole) - len(closing)]
    if budget.cut and writer == _Q.XML:
        yield f"<!-- truncated: {budget.cut['message']} -->".encode()
    yield closing


def _document(head: str, rows: list[str], writer: ox.QueryResultsFormat) -> bytes:
    """``rows`` (SPARQL JSON bindings) as a whole document of pyoxigraph's ``writer``."""
    return _converted(f'{{"head":{head},"results":{{"bindings":[{",".join(rows)}]}}}}'.encode(), writer)


def _boolean(value: bool, writer: ox.QueryResultsFormat) -> bytes:
    return _converted(_dumps({"head": {}, "boolean": value}).encode(), writer)


def _converted(data: bytes, writer: ox.QueryResultsFormat) -> bytes:
    """A SPARQL JSON document in ``writer``'s format, by pyoxigraph's own writer."""
    return data if writer == _Q.JSON else ox.parse_query_results(data, format=_Q.JSON).serialize(format=writer) or b""


def _triples(triples: Iterable[ox.Triple], writer: ox.RdfFormat, budget: _Budget) -> Iterator[bytes]:
    batch: list[ox.Triple] = []
    size = 0
    for triple in triples:
        length = len(str(triple).encode("utf-8")) + 3
        if not budget.admit(length):
            break
        batch.append(triple)
        size += length
        if size >= CHUNK and writer in _STREAMED_RDF:
            yield ox.serialize(batch, format=writer) or b""
            batch, size = [], 0
    if batch or writer not in _STREAMED_RDF:
        yield ox.serialize(batch, format=writer) or b""
    if budget.cut and writer in _STREAMED_RDF:
        yield f"# truncated: {budget.cut['message']}\n".encode()


def _engine_error(store: Store, error: Exception) -> StoreError:
    """An engine's refusal (an unknown function, a failed evaluation) is the user's error, passed on without the
    store's file path."""
    path = str(getattr(store, "path", None) or "")
    message = str(error).replace(path, "<store>") if path else str(error)
    return StoreError(f"the query cannot be evaluated: {message}")


def chunks(
    store: Store, sparql: str, fmt: ResultFormat, *, max_rows: int, timeout: float, max_bytes: int = 1 << 62
) -> Iterator[bytes]:
    """The answer to ``sparql`` in ``fmt``, in chunks of about :data:`CHUNK` bytes, cut at the limits (CONSTRUCT
    and DESCRIBE count triples as rows). Blocking, and pyoxigraph's answers belong to the thread that made them:
    iterate it to the end (or close it) in one thread."""
    budget = _Budget(max_rows, max_bytes, timeout, time.monotonic() + timeout)
    try:
        result: RawResult = store.query_raw(sparql)
    except (RuntimeError, OSError, ValueError) as error:
        raise _engine_error(store, error) from None
    try:
        if isinstance(result, ox.QueryBoolean):
            assert isinstance(fmt.writer, ox.QueryResultsFormat)
            yield _boolean(bool(result), fmt.writer)
            return
        if isinstance(result, ox.QuerySolutions):
            assert isinstance(fmt.writer, ox.QueryResultsFormat)
            pieces = _select(result, fmt.writer, budget)
        else:
            assert isinstance(fmt.writer, ox.RdfFormat)
            pieces = _triples(result, fmt.writer, budget)
        pending = bytearray()
        for piece in pieces:
            pending += piece
            if len(pending) >= CHUNK:
                yield bytes(pending)
                pending.clear()
        if pending:
            yield bytes(pending)
    except QueryTimeout as error:
        raise error.with_traceback(None) from None  # its frames hold the answer, which this thread must free
    except (RuntimeError, OSError, ValueError) as error:  # an evaluation error met while reading the rows
        raise _engine_error(store, error) from None
    finally:
        del result
