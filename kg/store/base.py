"""The one small interface every backend implements, and the backend-neutral query result."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Final, TypeAlias

from kg.errors import KgError

if TYPE_CHECKING:  # pyoxigraph is imported by the backends, pandas on demand; `kg --help` must not pay for them
    import pandas
    from pyoxigraph import Literal, NamedNode, Quad, QueryBoolean, QuerySolutions, Triple

__all__ = [
    "Bindings",
    "QueryResult",
    "RawResult",
    "Store",
    "StoreError",
    "Value",
    "inline_values",
    "python_value",
    "query_form",
]

Value = str | int | float | bool | None
#: A query's answer as RDF terms, read lazily where the backend can (the SPARQL Protocol serialises it).
RawResult: TypeAlias = "QuerySolutions | QueryBoolean | Iterator[Triple]"
#: Variables pre-bound to RDF terms for a query (None leaves one unbound).
Bindings = Mapping[str, "NamedNode | Literal | None"]

_NUMERIC_TYPES: Final = {
    "http://www.w3.org/2001/XMLSchema#" + name: kind
    for names, kind in (
        (
            (
                "integer",
                "int",
                "long",
                "short",
                "byte",
                "nonNegativeInteger",
                "positiveInteger",
                "nonPositiveInteger",
                "negativeInteger",
                "unsignedInt",
                "unsignedLong",
                "unsignedShort",
                "unsignedByte",
            ),
            int,
        ),
        (("decimal", "double", "float"), float),
    )
    for name in names
}
_BOOLEAN: Final = "http://www.w3.org/2001/XMLSchema#boolean"
_WHERE = re.compile(r"\bWHERE\s*\{", re.IGNORECASE)
_FORM = re.compile(r"^\s*(?:(?:#[^\n]*|PREFIX\s+\S*\s*<[^>]*>|BASE\s*<[^>]*>)\s*)*(\w+)", re.IGNORECASE)


class StoreError(KgError, RuntimeError):
    """A store could not be opened, read or written; the message says which and why."""


@dataclass(frozen=True)
class QueryResult:
    """SELECT rows as plain Python values keyed by variable name (ASK: one row with ``ask``)."""

    variables: list[str]
    rows: list[dict[str, Value]]

    def column(self, name: str) -> list[Value]:
        return [row.get(name) for row in self.rows]

    def to_pandas(self) -> pandas.DataFrame:
        """The rows as a DataFrame with one column per variable, in the query's order (also when there is no row).

        >>> QueryResult(["nct", "trials"], [{"nct": "NCT07232407", "trials": 3}]).to_pandas().shape
        (1, 2)
        """
        import pandas

        return pandas.DataFrame(self.rows, columns=self.variables)


def python_value(kind: str, lexical: str, datatype: str | None) -> Value:
    """One RDF term as a Python value, the same for every backend: IRIs and plain text as ``str``,
    numbers as ``int``/``float``, booleans as ``bool``, everything else (dates…) by its lexical form."""
    if kind == "bnode":
        return f"_:{lexical}"
    if kind == "literal" and datatype:
        if datatype == _BOOLEAN:
            return lexical in ("true", "1")
        converter = _NUMERIC_TYPES.get(datatype)
        if converter is not None:
            try:
                return converter(lexical)
            except ValueError:
                return lexical
    return lexical


def inline_values(sparql: str, bindings: Bindings) -> str:
    """``sparql`` with ``bindings`` in a ``VALUES`` block at the top of its outer ``WHERE`` group.

    The terms are serialised by pyoxigraph, which escapes them: a value can never change the query.
    """
    if not bindings:
        return sparql
    match = _WHERE.search(sparql)
    if match is None:
        raise StoreError("a query with bindings needs a WHERE { … } group to bind them in")
    variables = " ".join(f"?{name}" for name in bindings)
    row = " ".join("UNDEF" if term is None else str(term) for term in bindings.values())
    return f"{sparql[: match.end()]}\n  VALUES ({variables}) {{ ({row}) }}\n{sparql[match.end() :]}"


def query_form(sparql: str) -> str:
    """``SELECT``, ``ASK``, ``CONSTRUCT``, ``DESCRIBE`` (or an update keyword), skipping the prologue."""
    match = _FORM.match(sparql)
    return match.group(1).upper() if match else ""


class Store(ABC):
    """A quad store: load trials graph by graph, query with SPARQL, dump, count.

    Every backend answers queries with the union of all named graphs as the default graph.
    """

    spec: str
    #: Whole-predicate reads are fast enough to build in-process indexes from (the landscape fact table): true of
    #: embedded Oxigraph, not of a remote engine, which would be read whole over HTTP.
    scans_fast: bool = False
    #: Loads can run in a background thread while the caller maps the next batch (an on-disk Oxigraph store).
    loads_in_background: bool = False

    def load_nquads(self, data: bytes) -> None:
        """Load a batch of N-Quads (a build's bulk path); backends with a faster parser override it."""
        from pyoxigraph import RdfFormat, parse

        self.add(parse(data, format=RdfFormat.N_QUADS))

    @abstractmethod
    def add(self, quads: Iterable[Quad]) -> None:
        """Add quads (a build's bulk path)."""

    @abstractmethod
    def replace_graphs(self, graphs: dict[NamedNode, list[Quad]]) -> None:
        """Replace each named graph's content with the given quads, as one unit per call."""

    @abstractmethod
    def remove_graph(self, graph: NamedNode) -> None:
        """Remove a named graph and all its quads (absent graphs are fine)."""

    @abstractmethod
    def update(self, sparql: str) -> None:
        """Run a SPARQL 1.1 Update request (the default graph being the union is a query-side convention)."""

    @abstractmethod
    def select(self, sparql: str, bindings: Bindings | None = None) -> QueryResult:
        """Run a SELECT or ASK query, with variables pre-bound to terms (None leaves one unbound)."""

    @abstractmethod
    def construct(self, sparql: str) -> bytes:
        """Run a CONSTRUCT or DESCRIBE query; N-Triples."""

    @abstractmethod
    def query_raw(self, sparql: str) -> RawResult:
        """Run any query and keep its answer as pyoxigraph terms (solutions, boolean or triples), so a server can
        stop reading at a row limit or deadline and write any SPARQL results format."""

    def solutions(self, sparql: str, *names: str) -> Iterator[tuple[str, ...]]:
        """The named variables of each SELECT solution as strings ("" when unbound), read lazily: at registry scale
        a materialised result (millions of rows as dicts) would take gigabytes."""
        from pyoxigraph import QuerySolutions

        result = self.query_raw(sparql)
        if not isinstance(result, QuerySolutions):
            raise StoreError("solutions() needs a SELECT query")
        variables = [variable.value for variable in result.variables]
        missing = [name for name in names if name not in variables]
        if missing:
            raise StoreError(f"solutions(): the query selects no {', '.join('?' + name for name in missing)}")
        positions = [variables.index(name) for name in names]
        # by position, into a list: a quarter less time than by name through a generator, at millions of rows
        for solution in result:
            yield tuple(["" if (term := solution[position]) is None else term.value for position in positions])

    @abstractmethod
    def dump(self, output: BinaryIO, media_type: str) -> None:
        """Write the whole dataset (N-Quads, TriG) or the union graph (Turtle, N-Triples, JSON-LD)."""

    @abstractmethod
    def __len__(self) -> int:
        """Number of quads."""

    def close(self) -> None:  # noqa: B027 - most backends hold nothing to release
        """Release files and connections."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
