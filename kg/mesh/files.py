"""MeSH from the U.S. National Library of Medicine: stream-parse the ASCII files.

Files: descriptors ``d{YEAR}.bin``, supplementary concepts ``c{YEAR}.bin`` (records of ``KEY = value`` lines
after ``*NEWRECORD``), and ``mtrees{YEAR}.bin`` (``Name;TreeNumber`` lines). Fields we do not use are ignored,
so the full NLM files and the reduced test files read alike. Malformed records are yielded as
:class:`MeshProblem` values naming the file and position, never raised.
"""

from __future__ import annotations

import gzip
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from kg.identifiers import normalize_mesh_id

__all__ = [
    "Descriptor",
    "MeshProblem",
    "SupplementaryConcept",
    "TreeEntry",
    "iter_mesh_file",
    "iter_trees",
]

logger = logging.getLogger(__name__)

_TREE_NUMBER = re.compile(r"^[A-Z]\d{2}(\.\d{3})*$")


@dataclass(frozen=True)
class Descriptor:
    """A MeSH descriptor (``RECTYPE = D``): the part of it the graph uses."""

    ui: str
    heading: str
    tree_numbers: tuple[str, ...] = ()
    entry_terms: tuple[str, ...] = ()
    pharmacological_actions: tuple[str, ...] = ()  # headings of the action descriptors, as NLM writes them
    scope_note: str | None = None


@dataclass(frozen=True)
class SupplementaryConcept:
    """A supplementary concept record (``RECTYPE = C``): a chemical or protocol mapped to descriptors."""

    ui: str
    name: str
    mapped_to: tuple[tuple[str, bool], ...] = ()  # (descriptor heading, is it a major mapping "*")
    pharmacological_actions: tuple[str, ...] = ()
    synonyms: tuple[str, ...] = ()


@dataclass(frozen=True)
class TreeEntry:
    """One ``Name;TreeNumber`` line of an mtrees file."""

    name: str
    tree_number: str


@dataclass(frozen=True)
class MeshProblem:
    source: str
    position: str
    message: str

    def __str__(self) -> str:
        return f"{self.source} [{self.position}]: {self.message}"


@dataclass
class _Record:
    start_line: int
    fields: dict[str, list[str]] = field(default_factory=dict)


def _open_text(path: Path) -> IO[str]:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return path.open("r", encoding="utf-8", errors="replace")


def _iter_raw_records(path: Path) -> Iterator[_Record | MeshProblem]:
    record: _Record | None = None
    with _open_text(path) as stream:
        for number, line in enumerate(stream, start=1):
            line = line.rstrip("\r\n")
            if line == "*NEWRECORD":
                if record is not None:
                    yield record
                record = _Record(number)
                continue
            if not line.strip():
                continue
            key, sep, value = line.partition(" = ")
            if record is None or not sep:
                yield MeshProblem(
                    str(path), f"line {number}", f"not a 'KEY = value' line inside a record: {line[:80]!r}"
                )
                continue
            record.fields.setdefault(key.strip(), []).append(value.strip())
    if record is not None:
        yield record


def _first_term(value: str) -> str:
    """``ENTRY`` and ``SY`` values carry ``|``-separated subfields; the term is the first."""
    return value.split("|", 1)[0].strip()


def _to_descriptor(record: _Record) -> Descriptor:
    fields = record.fields
    return Descriptor(
        ui=_ui(fields, "D"),
        heading=_one(fields, "MH"),
        tree_numbers=tuple(_tree_number(value) for value in fields.get("MN", [])),
        entry_terms=tuple(
            dict.fromkeys(_first_term(v) for v in fields.get("ENTRY", []) + fields.get("PRINT ENTRY", []))
        ),
        pharmacological_actions=tuple(fields.get("PA", [])),
        scope_note=next(iter(fields.get("MS", [])), None),
    )


def _to_supplementary(record: _Record) -> SupplementaryConcept:
    fields = record.fields
    mapped = tuple(
        (value.lstrip("*").split("/", 1)[0].strip(), value.startswith("*")) for value in fields.get("HM", [])
    )
    return SupplementaryConcept(
        ui=_ui(fields, "C"),
        name=_one(fields, "NM"),
        mapped_to=mapped,
        pharmacological_actions=tuple(fields.get("PA", [])),
        synonyms=tuple(dict.fromkeys(_first_term(v) for v in fields.get("SY", []))),
    )


def _one(fields: dict[str, list[str]], key: str) -> str:
    values = fields.get(key)
    if not values or not values[0]:
        raise ValueError(f"no {key} field")
    return values[0]


def _ui(fields: dict[str, list[str]], prefix: str) -> str:
    raw = _one(fields, "UI")
    if not raw.startswith(prefix):
        raise ValueError(f"UI {raw!r} does not start with {prefix}")
    return normalize_mesh_id(raw)


def _tree_number(value: str) -> str:
    if not _TREE_NUMBER.match(value):
        raise ValueError(f"malformed tree number {value!r}")
    return value


def iter_mesh_file(path: Path | str) -> Iterator[Descriptor | SupplementaryConcept | MeshProblem]:
    """Descriptors and supplementary concepts of one ASCII file (also gzip'd); other record types are skipped."""
    path = Path(path)
    index = 0
    for record in _iter_raw_records(path):
        if isinstance(record, MeshProblem):
            yield record
            continue
        index += 1
        kind = (record.fields.get("RECTYPE") or [""])[0]
        if kind not in ("D", "C"):
            if kind != "Q":  # qualifier records are valid MeSH, just not used
                yield MeshProblem(str(path), f"record {index} (line {record.start_line})", f"unknown RECTYPE {kind!r}")
            continue
        try:
            yield _to_descriptor(record) if kind == "D" else _to_supplementary(record)
        except ValueError as error:
            ui = (record.fields.get("UI") or ["?"])[0]
            yield MeshProblem(str(path), f"record {index} (line {record.start_line}, UI {ui})", f"{error}; skipped")


def iter_trees(path: Path | str) -> Iterator[TreeEntry | MeshProblem]:
    """``Name;TreeNumber`` lines of an mtrees file."""
    path = Path(path)
    with _open_text(path) as stream:
        for number, line in enumerate(stream, start=1):
            line = line.strip()
            if not line:
                continue
            name, sep, tree_number = line.rpartition(";")
            if not sep or not name or not _TREE_NUMBER.match(tree_number):
                yield MeshProblem(str(path), f"line {number}", f"not a 'Name;TreeNumber' line: {line[:80]!r}")
                continue
            yield TreeEntry(name, tree_number)
