"""Keep the SPARQL endpoint read-only: find a request's query form and any ``SERVICE`` clause by tokenizing it.

A substring test would refuse ``"customer service"`` in a string literal and miss ``\\u0053ERVICE``. The SPARQL
grammar is simple enough at the token level to do this honestly: codepoint escapes are decoded first (SPARQL
applies them to the whole query text before parsing, and Oxigraph does too), then strings, IRIs, comments,
variables and prefixed names are consumed as whole tokens, so only a bare word can be a keyword, except that
``SERVICE:x {`` and ``FROM:g`` are read by the engines as the keyword followed by a prefixed name, and so are here.

The same tokens give cheap limits checked before any parser sees the text: Oxigraph crashes the whole process
(segfault) on a query nested a few thousand deep or a UNION of thousands of branches, and rdflib's parser fails
at a depth of 64. A second opinion comes from rdflib's full parser (:func:`confirm_parsed`), run where a slow parse
can be stopped; it cannot read every query (a ``#`` inside a literal), so the tokens stay the first judge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from kg.errors import KgError

__all__ = ["QUERY_FORMS", "Limits", "Refused", "Unsupported", "check_query", "confirm_parsed", "keywords"]

QUERY_FORMS: Final = frozenset({"SELECT", "ASK", "CONSTRUCT", "DESCRIBE"})
_UPDATES: Final = frozenset({"INSERT", "DELETE", "LOAD", "CLEAR", "CREATE", "DROP", "COPY", "MOVE", "ADD", "WITH"})
_PROLOGUE: Final = frozenset({"PREFIX", "BASE"})

_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_TOKEN = re.compile(
    r"""
      (?P<string>'''(?:[^'\\]|\\.|'(?!''))*''' | \"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"
                 | '(?:[^'\\\n\r]|\\.)*' | "(?:[^"\\\n\r]|\\.)*")
    | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
    | (?P<comment>\#[^\n\r]*)
    | (?P<variable>[?$]\w+)
    | (?P<name>(?:[A-Za-z_][\w.-]*)?:[\w.:%\\-]*)
    | (?P<word>[A-Za-z_]\w*)
    | (?P<other>\S)
    """,
    re.VERBOSE | re.DOTALL,
)


class Refused(KgError, ValueError):
    """A request this read-only endpoint will not run (403); the message says why."""

    status = 403


class Unsupported(Refused):
    """A query the endpoint does not run because of its shape or size (400): FROM, too long, deep or wide."""

    status = 400


@dataclass(frozen=True)
class Limits:
    """The most a query may be: bytes of UTF-8, nesting of ``{ ( [``, tokens, and UNION branches."""

    max_bytes: int = 64 * 1024
    max_depth: int = 32
    max_tokens: int = 10_000
    max_unions: int = 255
    #: rdflib's parser is slow on long operator chains (3,000 ``+`` take 8 s): larger queries get only the tokens.
    parse_tokens: int = 2_000


def _decode_escapes(text: str) -> str:
    def char(match: re.Match[str]) -> str:
        code = int(match.group(1) or match.group(2), 16)
        return chr(code) if code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else match.group(0)

    return _ESCAPE.sub(char, text)


def _tokens(text: str) -> list[tuple[str, str]]:
    """(kind, text) of each token but comments; ``SERVICE:x`` before ``{`` and any ``FROM:g`` split into a keyword
    and the name, as Oxigraph and rdflib read them."""
    tokens: list[tuple[str, str]] = []
    for match in _TOKEN.finditer(_decode_escapes(text)):
        kind, value = match.lastgroup or "other", match.group()
        if kind != "comment":
            tokens.append((kind, value))
    split: list[tuple[str, str]] = []
    for index, (kind, value) in enumerate(tokens):
        prefix = value.partition(":")[0].upper() if kind == "name" else ""
        following = tokens[index + 1][1] if index + 1 < len(tokens) else ""
        if prefix == "FROM" or (prefix == "SERVICE" and following == "{"):
            split.append(("word", prefix))
        split.append((kind, value))
    return split


def keywords(text: str) -> list[str]:
    """The bare words of a SPARQL request, upper-cased, in order: its keywords and function names."""
    return [value.upper() for kind, value in _tokens(text) if kind == "word"]


def _check_length(text: str, limits: Limits) -> None:
    size = len(text.encode("utf-8", errors="replace"))
    if size > limits.max_bytes:
        raise Unsupported(f"the query is {size:,} bytes long; the limit is {limits.max_bytes:,}")


def _check_shape(tokens: list[tuple[str, str]], limits: Limits) -> None:
    if len(tokens) > limits.max_tokens:
        raise Unsupported(f"the query has {len(tokens):,} tokens; the limit is {limits.max_tokens:,}")
    depth = deepest = unions = 0
    for kind, value in tokens:
        if kind == "other" and value in "{([":
            depth += 1
            deepest = max(deepest, depth)
        elif kind == "other" and value in "})]":
            depth -= 1
        elif kind == "word" and value.upper() == "UNION":
            unions += 1
    if deepest > limits.max_depth:
        raise Unsupported(f"the query is nested {deepest} deep (braces, parentheses); the limit is {limits.max_depth}")
    if unions > limits.max_unions:
        raise Unsupported(f"the query has {unions:,} UNIONs; the limit is {limits.max_unions}")


def check_query(text: str, limits: Limits | None = None) -> str:
    """The query form (``SELECT``, ``ASK``, ``CONSTRUCT``, ``DESCRIBE``) of a request sent as a query.

    Raises :class:`Refused` for an update (``INSERT``, ``LOAD``…) and for a federated query (``SERVICE``), which
    would make this server fetch URLs chosen by the client, and :class:`Unsupported` for ``FROM`` and for a query
    over the ``limits``. Syntax errors are left to the store's parser.
    """
    limits = limits or Limits()
    _check_length(text, limits)
    tokens = _tokens(text)
    _check_shape(tokens, limits)
    words = [value.upper() for kind, value in tokens if kind == "word"]
    form = next((word for word in words if word not in _PROLOGUE), "")
    if form in _UPDATES:
        raise Refused(f"the store is read-only here: {form} is a SPARQL Update operation and is refused")
    if "SERVICE" in words:
        raise Refused("federated queries are refused: this endpoint does not run SERVICE clauses")
    if "FROM" in words:
        raise Unsupported(_NO_FROM)
    return form


_NO_FROM: Final = "FROM is not supported: the default graph is the union of all graphs (use GRAPH <g> { … })"


def confirm_parsed(text: str, limits: Limits | None = None) -> None:
    """rdflib's full parser as a second judge of a query :func:`check_query` let through: refuse what its parse
    tree shows as a SERVICE clause, an update or a dataset clause. A query it cannot parse is left to Oxigraph."""
    from pyparsing import ParseException
    from rdflib.plugins.sparql.parser import parseQuery

    if len(_tokens(text)) > (limits or Limits()).parse_tokens:
        return
    try:
        tree = repr(parseQuery(text))
    except (ParseException, RecursionError, ValueError, TypeError):
        return
    if "ServiceGraphPattern" in tree:
        raise Refused("federated queries are refused: this endpoint does not run SERVICE clauses")
    if "datasetClause" in tree:
        raise Unsupported(_NO_FROM)
