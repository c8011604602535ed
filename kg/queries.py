"""Named SPARQL queries (``queries/NAME.rq``) run by name, with parameters bound as RDF terms.

A query declares its parameters in its header (``# param: NAME TYPE description``). Values are turned
into RDF terms by pyoxigraph (which escapes them) and bound through a ``VALUES`` block at the top level
of the query's outer ``WHERE`` group, never formatted into the query text, so a value cannot change
the query. Types: ``text``; ``int``; ``nct`` (an NCT id); ``mesh`` (a MeSH UI, normalised, bound as
its IRI); ``mesh_or_text`` (binds ``?NAME`` to the text and ``?NAME_mesh`` to the MeSH IRI when the
value is a MeSH UI).

SPARQL evaluates nested groups bottom-up: a parameter bound at the top level is *joined* with a ``UNION``
branch, ``OPTIONAL`` or sub-``SELECT`` after that group is evaluated, not seen inside it. So a query uses its
parameters in triple patterns or top-level ``FILTER``s, never in a ``BIND`` or ``FILTER`` inside a branch.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Final

from pyoxigraph import Literal, NamedNode

from kg.errors import KgError
from kg.identifiers import is_nct_id, normalize_mesh_id
from kg.resources import Traversable, query_file, query_names
from kg.store import QueryResult, Store, Value
from kg.store.base import inline_values
from kg.vocab import MESH, XSD

__all__ = [
    "NamedQuery",
    "Parameter",
    "QueryError",
    "bind",
    "bindings",
    "catalogue",
    "list_queries",
    "load_query",
    "run",
    "select_all",
    "select_many",
    "trial_terms",
]

_HEADER = re.compile(r"^#\s*(title|description|param):\s*(.*)$")
_WHERE = re.compile(r"\bWHERE\s*\{", re.IGNORECASE)
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_TYPES: Final = ("text", "int", "nct", "mesh", "mesh_or_text")
_SELECT: Final = re.compile(r"^SELECT\s+(?:DISTINCT\s+)?", re.MULTILINE | re.IGNORECASE)
_GROUP_BY: Final = re.compile(r"\bGROUP\s+BY\s+", re.IGNORECASE)
#: Values bound per query by :func:`select_many` (a few hundred keep a remote endpoint's request small).
CHUNK: Final = 400

Term = NamedNode | Literal | None


class QueryError(KgError, ValueError):
    """A named query that does not exist, or parameters that do not fit it."""


@dataclass(frozen=True)
class Parameter:
    name: str
    kind: str
    description: str


@dataclass(frozen=True)
class NamedQuery:
    name: str
    title: str
    description: str
    parameters: tuple[Parameter, ...]
    text: str
    path: Traversable


def list_queries() -> list[NamedQuery]:
    return [load_query(name) for name in query_names()]


def catalogue() -> QueryResult:
    """The named queries as one table (``name``, ``parameters`` as ``NAME:KIND``, ``description``): ``kg queries``."""
    rows: list[dict[str, Value]] = [
        {
            "name": query.name,
            "parameters": " ".join(f"{parameter.name}:{parameter.kind}" for parameter in query.parameters),
            "description": query.description,
        }
        for query in list_queries()
    ]
    return QueryResult(["name", "parameters", "description"], rows)


@cache
def _parse(stem: str, text: str) -> NamedQuery:
    """The text of query ``stem`` parsed (cached by text, so a query edited in a checkout is read anew)."""
    path = query_file(stem)
    fields: dict[str, str] = {"title": stem, "description": ""}
    parameters: list[Parameter] = []
    for line in text.splitlines():
        match = _HEADER.match(line)
        if match is None:
            continue
        key, value = match.groups()
        if key == "param":
            name, kind, *words = value.split()
            if kind not in _TYPES:
                raise QueryError(f"{path}: parameter {name} has unknown type {kind!r}")
            parameters.append(Parameter(name, kind, " ".join(words)))
        else:
            fields[key] = value.strip()
    if parameters and not _WHERE.search(text):
        raise QueryError(f"{path}: a query with parameters needs a WHERE {{ … }} group to bind them in")
    return NamedQuery(stem, fields["title"], fields["description"], tuple(parameters), text, path)


@functools.cache
def load_query(name: str) -> NamedQuery:
    """The named query ``name``, read and parsed once per process (the files ship with the package)."""
    if not _NAME.match(name):
        raise QueryError(f"{name!r} is not a query name (lower case letters, digits and _)")
    path = query_file(name)
    if not path.is_file():
        raise QueryError(f"no query named {name!r}; known: {', '.join(query_names())}")
    return _parse(name, path.read_text(encoding="utf-8"))


def _terms(parameter: Parameter, value: str) -> dict[str, Term]:
    """The variables one parameter binds, as RDF terms."""
    name, kind = parameter.name, parameter.kind
    if kind == "text":
        return {name: Literal(value)}
    if kind == "int":
        try:
            return {name: Literal(str(int(value)), datatype=XSD.integer)}
        except ValueError:
            raise QueryError(f"parameter {name} must be an integer, not {value!r}") from None
    if kind == "nct":
        if not is_nct_id(value.strip().upper()):
            raise QueryError(f"parameter {name} must be an NCT id like NCT07232407, not {value!r}")
        return {name: Literal(value.strip().upper())}
    try:
        mesh: NamedNode | None = MESH[normalize_mesh_id(value)]
    except ValueError:
        if kind == "mesh":
            raise QueryError(f"parameter {name} must be a MeSH id like D009369 or C447941, not {value!r}") from None
        mesh = None
    if kind == "mesh":
        return {name: mesh}
    return {name: Literal(value), f"{name}_mesh": mesh}


def bindings(query: NamedQuery, values: Mapping[str, str]) -> dict[str, Term]:
    """The RDF terms the given parameter values bind (None: the variable stays unbound)."""
    declared = {parameter.name for parameter in query.parameters}
    unknown = set(values) - declared
    if unknown:
        raise QueryError(
            f"{query.name} has no parameter {', '.join(sorted(unknown))}; it takes: "
            f"{', '.join(sorted(declared)) or 'none'}"
        )
    missing = declared - set(values)
    if missing:
        raise QueryError(f"{query.name} needs --param {' '.join(f'{name}=…' for name in sorted(missing))}")
    terms: dict[str, Term] = {}
    for parameter in query.parameters:
        terms.update(_terms(parameter, values[parameter.name]))
    return terms


def bind(query: NamedQuery, values: Mapping[str, str]) -> str:
    """The query text with its parameters bound in a ``VALUES`` block, as Oxigraph and remote endpoints get it."""
    return inline_values(query.text, bindings(query, values))


def run(store: Store, name: str, values: Mapping[str, str] | None = None) -> QueryResult:
    """Run a named query with its parameters against any store (each backend binds them its best way)."""
    query = load_query(name)
    return store.select(query.text, bindings(query, values or {}))


def select_many(
    store: Store, sparql: str, variable: str, terms: Sequence[NamedNode | Literal]
) -> dict[str, list[dict[str, Value]]]:
    """A one-subject query (a named query for one trial, say) run for many subjects at once, its rows by subject.

    ``?variable`` joins the projection and the grouping when the query lacks it, so each row says whose it is;
    the subjects are bound in one ``VALUES`` block at the top of the outer ``WHERE`` group (as
    :func:`kg.store.base.inline_values` binds one), each term serialised and escaped by pyoxigraph, never formatted
    from text. Rows keep the query's order within each subject.
    """
    head, tail = _split_for(sparql, variable)
    found: dict[str, list[dict[str, Value]]] = {str(term.value): [] for term in terms}
    for first in range(0, len(terms), CHUNK):
        values = " ".join(str(term) for term in terms[first : first + CHUNK])
        for row in store.select(f"{head}\n  VALUES ?{variable} {{ {values} }}\n{tail}").rows:
            found.setdefault(str(row[variable]), []).append(row)
    return found


def select_all(store: Store, sparql: str, variable: str, subjects: str) -> dict[str, list[dict[str, Value]]]:
    """:func:`select_many` for every subject ``subjects`` finds (a graph pattern binding ``?variable``), in one query:
    the same rows by subject, for an index that holds them all."""
    head, tail = _split_for(sparql, variable)
    found: dict[str, list[dict[str, Value]]] = {}
    text = f"{head}\n  {{ SELECT DISTINCT ?{variable} WHERE {{ {subjects} }} }}\n{tail}"
    for row in store.select(text).rows:
        found.setdefault(str(row[variable]), []).append(row)
    return found


def _split_for(sparql: str, variable: str) -> tuple[str, str]:
    """A one-subject query split where the subjects are bound: after the ``{`` of the outer ``WHERE``; with
    ``?variable`` added to the projection and the grouping when the query lacks it, so each row says whose it is."""
    select = _SELECT.search(sparql)
    where = _WHERE.search(sparql, select.end()) if select else None
    if select is None or where is None:
        raise QueryError("select_many and select_all need a SELECT … WHERE { … } query")
    if not re.search(rf"\?{variable}\b", sparql[select.end() : where.start()]):
        sparql = f"{sparql[: select.end()]}?{variable} {sparql[select.end() :]}"
        groups = list(_GROUP_BY.finditer(sparql))
        if groups and groups[-1].start() > sparql.rfind("}"):  # the outer query's own grouping, after its WHERE
            sparql = f"{sparql[: groups[-1].end()]}?{variable} {sparql[groups[-1].end() :]}"
        where = _WHERE.search(sparql, select.end() + len(variable) + 2)
        assert where is not None
    return sparql[: where.end()], sparql[where.end() :]


def trial_terms(query: str, nct_ids: Iterable[str]) -> dict[str, Literal]:
    """NCT id (normalised) → the term a named query binds ``?nct`` to, each id checked as that query checks it."""
    named = load_query(query)
    terms: dict[str, Literal] = {}
    for nct_id in nct_ids:
        term = bindings(named, {"nct": nct_id})["nct"]
        assert isinstance(term, Literal)
        terms[term.value] = term
    return terms
