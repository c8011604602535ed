"""What every part of the mapping writes with: quads into the trial's graph or the shared nodes graph,
checked literals (dates, enumeration codes, numbers, text) and numbered parts of a trial."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Final

from pyoxigraph import Literal, NamedNode, Quad

from kg.ctgov.record import RecordError, RecordNode
from kg.graphs import NODES_GRAPH, trial_graph
from kg.identifiers import valid_unicode
from kg.vocab import CTGOV_STUDY, DATA, ENUMERATIONS, KG, RDF, RDFS, XSD, enum_iri

__all__ = ["FALSE", "TRUE", "Emitter", "MappedTrial", "trial_iri"]

# ``\Z`` and ``[0-9]``, not ``$`` and ``\d``: "2024-01-01\n" and Arabic-Indic digits are not dates (nor codes, ids)
_DATE = re.compile(r"[0-9]{4}(-(0[1-9]|1[0-2])(-[0-9]{2})?)?\Z")
_DATE_TYPES: Final = {10: XSD.date, 7: XSD.gYearMonth, 4: XSD.gYear}
_ENUM_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,63}\Z")
_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,18}\Z")
TRUE: Final = Literal("true", datatype=XSD.boolean)
FALSE: Final = Literal("false", datatype=XSD.boolean)


@dataclass
class MappedTrial:
    """The quads of one trial: its own graph plus statements about shared nodes."""

    nct_id: str
    quads: list[Quad] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def trial_iri(nct_id: str) -> NamedNode:
    """The trial's IRI: its ClinicalTrials.gov page."""
    return CTGOV_STUDY[nct_id]


class Emitter:
    """Collects the quads of one trial; every value passes a check that names its field when it fails."""

    def __init__(self, nct_id: str, *, include_contacts: bool = True) -> None:
        #: False leaves out names, emails and phones of contact persons (``kg build --no-contacts``).
        self.include_contacts = include_contacts
        self.nct_id = nct_id
        self.trial = trial_iri(nct_id)
        self.graph = trial_graph(nct_id)
        self.out = MappedTrial(nct_id)
        self._append = self.out.quads.append  # the mapping's innermost call, hundreds of times per trial

    def add(self, subject: NamedNode, predicate: NamedNode, obj: NamedNode | Literal) -> None:
        self._append(Quad(subject, predicate, obj, self.graph))

    def shared(self, subject: NamedNode, predicate: NamedNode, obj: NamedNode | Literal) -> None:
        self._append(Quad(subject, predicate, obj, NODES_GRAPH))

    def part(
        self, parent: NamedNode, predicate: NamedNode, path: str, rdf_type: NamedNode, position: int | None = None
    ) -> NamedNode:
        """A new part of this trial, ``kgr:trial/{NCT id}/{path}``, linked from ``parent`` and typed."""
        node = DATA[f"trial/{self.nct_id}/{path}"]
        self.add(parent, predicate, node)
        self.add(node, RDF.type, rdf_type)
        if position is not None:
            self.add(node, KG.position, Literal(str(position), datatype=XSD.integer))
        return node

    def text(self, subject: NamedNode, predicate: NamedNode, value: str | None) -> None:
        if value:
            self.add(subject, predicate, Literal(clean(value, self.out.warnings)))

    def texts_at(self, subject: NamedNode, node: RecordNode, fields: Iterable[tuple[str, NamedNode]]) -> None:
        """Each ``(API field, predicate)`` of ``node`` that holds text, verbatim: for modules of flat fields."""
        for key, predicate in fields:
            self.text(subject, predicate, node.text(key))

    def link(self, subject: NamedNode, predicate: NamedNode, value: str | None) -> None:
        """A URL the record gives, as an xsd:anyURI literal: record text is never trusted as an IRI."""
        if value:
            self.add(subject, predicate, Literal(clean(value, self.out.warnings), datatype=XSD.anyURI))

    def flag(self, subject: NamedNode, predicate: NamedNode, value: bool | None) -> None:
        if value is not None:
            self.add(subject, predicate, TRUE if value else FALSE)

    def integer(self, subject: NamedNode, predicate: NamedNode, value: int | None) -> None:
        if value is not None:
            self.add(subject, predicate, Literal(str(value), datatype=XSD.integer))

    def decimal(self, subject: NamedNode, predicate: NamedNode, value: float | None) -> None:
        if value is not None:
            self.add(subject, predicate, Literal(repr(value), datatype=XSD.double))

    def count(self, subject: NamedNode, predicate: NamedNode, value: str | None, path: str) -> None:
        """A count the API writes as text ("194"): an integer when it is one, else the text as given (warned)."""
        if value is None:
            return
        if _WHOLE_NUMBER.match(value.strip()):
            self.add(subject, predicate, Literal(str(int(value)), datatype=XSD.integer))
        else:
            self.out.warnings.append(f"{path}: {value!r:.40} is not a whole number, kept as text")
            self.text(subject, predicate, value)

    def enum(
        self,
        subject: NamedNode,
        predicate: NamedNode,
        enumeration: str,
        code: str | None,
        path: str,
        *,
        shared: bool = False,
    ) -> None:
        if code is None:
            return
        if not _ENUM_CODE.match(code):
            raise RecordError(f"{path}: {code!r:.60} is not a {enumeration} code")
        if code not in ENUMERATIONS[enumeration]:
            self.out.warnings.append(f"{path}: unknown {enumeration} code {code!r}, kept as is")
        (self.shared if shared else self.add)(subject, predicate, enum_iri(enumeration, code))

    def enum_at(
        self,
        subject: NamedNode,
        predicate: NamedNode,
        enumeration: str,
        node: RecordNode,
        key: str,
        *,
        shared: bool = False,
    ) -> None:
        """:meth:`enum` for the field ``key`` of ``node``, so the path named on a mistake is always right."""
        self.enum(subject, predicate, enumeration, node.text(key), f"{node.path}.{key}", shared=shared)

    def enums_at(self, subject: NamedNode, predicate: NamedNode, enumeration: str, node: RecordNode, key: str) -> None:
        """One :meth:`enum` statement per code of the list field ``key`` of ``node``."""
        for code in node.texts(key):
            self.enum(subject, predicate, enumeration, code, f"{node.path}.{key}")

    def date(
        self,
        predicate: str,
        value: str | None,
        path: str,
        *,
        estimated: bool | None = None,
        subject: NamedNode | None = None,
    ) -> None:
        """``kg:{predicate}`` typed xsd:date, gYearMonth or gYear; ``kg:{predicate}Estimated`` only when the
        record gives the date's type (absent means "not stated", never "actual")."""
        if value is None:
            return
        if not _DATE.match(value) or (len(value) == 10 and not _is_calendar_date(value)):
            raise RecordError(f"{path}: {value!r:.60} is not a date (YYYY, YYYY-MM or YYYY-MM-DD)")
        subject = self.trial if subject is None else subject
        self.add(subject, KG[predicate], Literal(value, datatype=_DATE_TYPES[len(value)]))
        if estimated is not None:
            self.add(subject, KG[predicate + "Estimated"], TRUE if estimated else FALSE)

    def date_struct(self, predicate: str, struct: RecordNode, *, subject: NamedNode | None = None) -> None:
        """A ``{date, type}`` struct: :meth:`date`, estimated when the type is ESTIMATED (or the legacy
        ANTICIPATED), not when ACTUAL, and not stated when the type is absent."""
        kind = struct.text("type")
        estimated = None if kind is None else kind in ("ESTIMATED", "ANTICIPATED")
        self.date(predicate, struct.text("date"), f"{struct.path}.date", estimated=estimated, subject=subject)

    def dates_at(self, subject: NamedNode, node: RecordNode, fields: Iterable[tuple[str, str]]) -> None:
        """Each ``(API field, property name)`` date of ``node``, on ``subject``."""
        for key, predicate in fields:
            self.date(predicate, node.text(key), f"{node.path}.{key}", subject=subject)

    def label_node(self, node: NamedNode, rdf_type: NamedNode, label: str) -> None:
        self.shared(node, RDF.type, rdf_type)
        self.shared(node, RDFS.label, Literal(clean(label, self.out.warnings)))


def _is_calendar_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def clean(text: str, warnings: list[str]) -> str:
    """Text as RDF can hold it: lone UTF-16 surrogates (invalid Unicode some JSON carries) become U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        warnings.append(f"invalid Unicode replaced in {text[:40]!r}")
        return valid_unicode(text)
    return text
