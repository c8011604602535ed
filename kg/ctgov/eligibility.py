"""Eligibility text → inclusion and exclusion criteria, and ages → years.

The registry's criteria are free Markdown-ish text. :func:`split_criteria` splits it only when it is sure, because a
wrong split loses text on the page (a page shows the items when there are any, else the whole text):

- **Headings** name a kind (``inclusion``, ``exclusion``; "non-inclusion" is exclusion), in any case, with bullets,
  numbering or Markdown emphasis before them, qualifier words before ("Key", "Main", "Patient", "Other"; any other
  word makes the line text, not a heading) and a qualifier after ("(Patients)", "for healthy volunteers",
  "include"); ``Criteria`` may be left out only in a bare ``Inclusion:``. Text after the colon starts the first item.
- **Items**: a list marker (``*``, ``-``, ``•``, ``+``, ``1.``, ``1)``, ``(1)``, ``a.``, ``ii.``) at the section's
  own indentation starts one; so does a paragraph after a blank line (a sub-heading such as "Medical conditions:"
  is an item of its own). Deeper-indented lines (nested lists) and lines wrapped without a blank line stay with
  their parent, as Markdown text (newlines kept) so a page can render the nested list. A section that is a single
  lead-in item ("… all of the following criteria are met:") with a nested list gives the lead-in and each nested
  item. A heading of the kind already open ("Other exclusion criteria:") is a sub-heading: an item of its own.
- **Placeholders** (``-``, ``N/A``, ``None``, ``Nil``, ``.``, empty bullets) are never criteria; an exclusion
  section of placeholders only says there are none.
- **Unsure → no items at all** (the graph keeps only ``kg:criteriaText``, the page shows the whole text) when:
  there is no heading; text other than placeholders comes before the first heading; the inclusion heading has no
  criterion under it (nothing, or placeholders only); a kind comes back after the other one (sections per
  population: "Inclusion (patients)", "Exclusion (patients)", "Inclusion (volunteers)", …, which two flat lists
  cannot tell apart); or a heading is glued inside a line of text ("… consent Exclusion Criteria: …").
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

__all__ = ["Criterion", "age_in_years", "split_criteria"]

_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(Year|Month|Week|Day|Hour|Minute)s?\s*$", re.IGNORECASE)
_AGE_UNIT_YEARS: Final = {
    "year": 1.0,
    "month": 1 / 12,
    "week": 7 / 365.25,
    "day": 1 / 365.25,
    "hour": 1 / 8766,
    "minute": 1 / 525960,
}
#: A list marker: bullets, ``1.`` ``1)`` ``(1)`` (also Markdown-escaped ``1\.``), ``a.`` ``a)``, roman ``ii.``.
_MARKER = re.compile(
    r"[ \t]*(?:[*•\-+]|\\?[0-9]{1,3}\\?[.)]|\([0-9]{1,3}\)|[A-Za-z][.)]|[ivxIVX]{1,4}[.)])(?:[ \t]+|$)"
)
#: What may stand before a heading: markers, Markdown emphasis and heading marks, section numbers ("III.6").
_HEADING_LEAD = re.compile(
    r"^\s*(?:(?:[*•#>\-+]+|\\?[0-9]{1,3}(?:\.[0-9]+)*\\?[.)]?|[A-Za-z][.)]|[IVX]{1,4}(?:\.[0-9]+)*\.?)\s+)*"
)
_HEADING = re.compile(
    r"(?P<before>(?:\S+\s+){0,4}?)(?P<kind>non-?\s?inclusion|inclusion|exclusion)(?P<criteria>\s+cr?iteri?\w*)?"
    r"(?P<after>\s*\([^)]*\)|\s+(?:for|of|in|include|includes|were|are|prior|determined|after)\b[^:]*)?"
    r"\s*(?P<colon>:?)\s*(?P<rest>.*)",
    re.IGNORECASE,
)
#: The words a heading may have before its kind ("Key Inclusion Criteria:"); any other ("… relationship Exclusion
#: Criteria:", "Partner Inclusion Criteria:") makes the line text with a heading glued in, so the split is unsure.
_QUALIFIERS: Final = frozenset(
    {"key", "main", "major", "principal", "general", "specific", "other", "additional", "further", "common", "study"}
    | {"patient", "patients", "subject", "subjects", "participant", "participants"}
)
#: A capitalised heading; after other text on its line ("… relationship Exclusion Criteria:- Primary …") it is glued.
#: (Searched for alone, then the text before it checked: a leading ``\S.*?`` made each search quadratic in the line.)
_CAPITALISED_HEADING = re.compile(r"\b(?:Inclusion|Exclusion|INCLUSION|EXCLUSION) (?:Criteria|CRITERIA)\s*:")
_PLACEHOLDER = re.compile(r"[-\u2013\u2014.*•]*|n/?a\.?|none\.?|nil\.?|not applicable\.?", re.IGNORECASE)
_MAX_UNCOLONED_HEADING_WORDS: Final = 8


class Criterion(NamedTuple):
    """One criterion: ``inclusion`` or ``exclusion``, its position (from 1) in its kind, its text as Markdown."""

    kind: str
    position: int
    text: str


class _Unsure(Exception):
    """The text's structure is not clear enough to split without losing or misplacing some of it."""


def split_criteria(text: str) -> list[Criterion]:
    """Split eligibility text into criteria by its headings; no items at all when unsure (rules in the module)."""
    try:
        sections = _sections(text.splitlines())
    except _Unsure:
        return []
    criteria: list[Criterion] = []
    for kind, lines in sections:
        items = [item for item in _items(lines) if not _PLACEHOLDER.fullmatch(item.strip())]
        if kind == "inclusion" and not items:
            return []
        criteria.extend(Criterion(kind, position, item) for position, item in enumerate(items, start=1))
    return criteria


def _sections(lines: list[str]) -> list[tuple[str, list[str]]]:
    """``(kind, lines)`` per heading, in order; raises :class:`_Unsure` for text before the first heading or a kind
    that comes back after the other one."""
    sections: list[tuple[str, list[str]]] = []
    for line in lines:
        heading = _heading(line)
        if _has_glued_heading(heading[1] if heading else line):
            raise _Unsure
        if heading is None:
            if sections:
                sections[-1][1].append(line)
            elif not _PLACEHOLDER.fullmatch(line.strip()):
                raise _Unsure
            continue
        kind, rest = heading
        if sections and sections[-1][0] == kind:
            sections[-1][1].extend(["", _HEADING_LEAD.sub("", line).strip()])  # a sub-heading: an item of its own
            continue
        if any(seen == kind for seen, _ in sections):
            raise _Unsure
        sections.append((kind, [rest] if rest else []))
    return sections


def _has_glued_heading(text: str) -> bool:
    """A capitalised heading with other text before it on the line."""
    return any(text[: match.start()].strip() for match in _CAPITALISED_HEADING.finditer(text))


def _heading(line: str) -> tuple[str, str] | None:
    """``(kind, text after the colon)`` when the line is a criteria heading."""
    candidate = _HEADING_LEAD.sub("", line).replace("**", "").replace("__", "").strip()
    match = _HEADING.fullmatch(candidate)
    if match is None:
        return None
    if any(word.casefold() not in _QUALIFIERS for word in match["before"].split()):
        return None
    rest = match["rest"].strip()
    if not match["colon"] and (rest or len(candidate.split()) > _MAX_UNCOLONED_HEADING_WORDS):
        return None
    if not match["criteria"] and (match["before"] or match["after"] or not match["colon"] or rest):
        return None  # a bare "Inclusion:" only; "Inclusion: has completed 4 weeks of …" is an item
    kind = "inclusion" if match["kind"].casefold() == "inclusion" else "exclusion"
    return kind, rest


def _items(lines: list[str]) -> list[str]:
    """The section's items as Markdown text, nested lines kept with their parent (rules in the module)."""
    indents = [_indent(line) for line in lines if line.strip()]
    if not indents:
        return []
    base = min(indents)
    groups: list[list[str]] = []
    blank_before = True
    for line in lines:
        if not line.strip():
            blank_before = True
            if groups:
                groups[-1].append("")
            continue
        top = _indent(line) <= base + 1
        if not groups or (top and (_MARKER.match(line) or blank_before)):
            groups.append([line])
        else:
            groups[-1].append(line)
        blank_before = False
    if len(groups) == 1 and _is_lead_in(groups[0]):
        return [_first_line(groups[0][0]), *_items(groups[0][1:])]
    return [_item_text(group) for group in groups]


def _is_lead_in(group: list[str]) -> bool:
    """A single item ending in a colon whose nested lines form a list: its nested items are the criteria."""
    return _first_line(group[0]).endswith(":") and any(_MARKER.match(line) for line in group[1:])


def _item_text(group: list[str]) -> str:
    """The item's first line without its marker, then its other lines dedented to their least indentation."""
    rest = group[1:]
    depth = min((_indent(line) for line in rest if line.strip()), default=0)
    lines = [_first_line(group[0]), *(line[depth:] if line.strip() else "" for line in rest)]
    return "\n".join(lines).strip()


def _first_line(line: str) -> str:
    match = _MARKER.match(line)
    return (line[match.end() :] if match else line).strip()


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def age_in_years(text: str) -> float | None:
    """``"18 Years"`` → 18.0, ``"6 Months"`` → 0.5; None for anything else."""
    match = _AGE.match(text)
    if match is None:
        return None
    return float(match.group(1)) * _AGE_UNIT_YEARS[match.group(2).lower()]
