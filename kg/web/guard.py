"""Keep the SPARQL endpoint read-only: find a request's query form and any ``SERVICE`` clause by tokenizing it.

A substring test would refuse ``"customer service"`` in a string literal and miss ``\\u0053ERVICE``. The SPARQL
grammar is simple enough at the token level to do this honestly: codepoint escapes are decoded first (SPARQL
applies them to the whole query text before parsing, and Oxigraph does too), then strings, IRIs, comments,
variables and prefixed names are consumed as whole tokens, so only a bare word can be a keyword.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["QUERY_FORMS", "Refused", "check_query", "keywords"]

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


class Refused(ValueError):
    """A request this read-only endpoint will not run; the message says why."""


def _decode_escapes(text: str) -> str:
    def char(match: re.Match[str]) -> str:
        code = int(match.group(1) or match.group(2), 16)
        return chr(code) if code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else match.group(0)

    return _ESCAPE.sub(char, text)


def keywords(text: str) -> list[str]:
    """The bare words of a SPARQL request, upper-cased, in order: its keywords and function names."""
    return [
        match.group("word").upper() for match in _TOKEN.finditer(_decode_escapes(text)) if match.lastgroup == "word"
    ]


def check_query(text: str) -> str:
    """The query form (``SELECT``, ``ASK``, ``CONSTRUCT``, ``DESCRIBE``) of a request sent as a query.

    Raises :class:`Refused` for an update (``INSERT``, ``LOAD``…) and for a federated query (``SERVICE``), which
    would make this server fetch URLs chosen by the client. Syntax errors are left to the store's parser.
    """
    words = keywords(text)
    form = next((word for word in words if word not in _PROLOGUE), "")
    if form in _UPDATES:
        raise Refused(f"this endpoint is read-only: {form} is a SPARQL Update operation and is refused")
    if "SERVICE" in words:
        raise Refused("federated queries are refused: this endpoint does not run SERVICE clauses")
    return form
