"""The change feed: field-level changes ``kg update`` recorded (``kg:ChangeEvent``), read back and summarised.

Events live in their own graph and are only ever added to, so a trial's history survives its graph being replaced
or removed. Reading them takes two named queries: ``changes_since`` (the feed from a day on) and ``trial_changes``
(one trial's history). A scope (a condition subtree and/or an intervention concept, as in a landscape) keeps the
trials the scope pattern of :data:`kg.analysis.scope.SCOPES` finds, either in the store or, for a removed trial,
on its ``removed`` event (which keeps the MeSH links the trial had).

A *slip* of primary completion is an event whose new date is later than the old one (whole months between them,
:func:`kg.analysis.timeline.months_between`, at least 1).
"""

from __future__ import annotations

import logging
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Final

from kg.analysis.scope import Scope, make_scope, scope_bindings, scope_pattern
from kg.analysis.timeline import months_between, parse_date
from kg.change_fields import CHANGE_FIELDS
from kg.queries import QueryError, load_query, run, select_many, trial_terms
from kg.store import Store, Value
from kg.vocab import CTGOV_STUDY, SPARQL_PROLOGUE

if TYPE_CHECKING:
    import pandas

__all__ = [
    "FIELDS",
    "Change",
    "ChangeList",
    "changes",
    "check_fields",
    "histories",
    "newest",
    "scoped",
    "slip_months",
    "summary",
    "trial_history",
]

logger = logging.getLogger(__name__)

#: The field vocabulary of change events (documented in ontologies/README.md and ``kg changes --help``).
FIELDS: Final = CHANGE_FIELDS
#: The first day the feed can start on: ``changes`` without ``since`` reads every event.
_EVER: Final = date(1, 1, 1)
#: Statuses a trial is "recruiting" in (what "newly recruiting" means).
_RECRUITING: Final = frozenset({"RECRUITING", "ENROLLING_BY_INVITATION"})
#: Trials in scope that have events: the scope pattern (``?trial``) first, then how its subject has events: a trial in
#: the store has them, and a removed trial's ``removed`` event keeps its MeSH links (under names of their own, so that
#: no query counts the event as a trial), so the event is the pattern's subject, read with those names.
_SCOPED: Final = (
    SPARQL_PROLOGUE
    + """SELECT DISTINCT ?nct WHERE {
%s%s  BIND(STRAFTER(STR(?changed), "https://clinicaltrials.gov/study/") AS ?nct)
}"""
)
_IN_STORE: Final = "  ?event kg:changedTrial ?trial .\n  BIND(?trial AS ?changed)\n"
_REMOVED: Final = '  ?trial kg:changedField "removed" ; kg:changedTrial ?changed .\n'
#: A scope pattern's links as a ``removed`` event keeps them.
_REMOVED_LINKS: Final = (
    ("kg:conditionMesh", "kg:removedConditionMesh"),
    ("kg:interventionMesh", "kg:removedInterventionMesh"),
)
_NEWEST: Final = (
    SPARQL_PROLOGUE + "SELECT (MAX(?detected) AS ?newest) WHERE { ?event a kg:ChangeEvent ; kg:detected ?detected }"
)
_TRIAL_BLOCK: Final = re.compile(r"^[ \t]*# trial \{\n.*?^[ \t]*# \}\n", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Change:
    """One field-level change of one trial; ``country`` only for site events (not part of the JSON row)."""

    nct_id: str
    field: str
    old: str | None
    new: str | None
    detected: str
    data_version_before: str | None
    data_version_after: str | None
    country: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return {
            "nct_id": self.nct_id,
            "field": self.field,
            "old": self.old,
            "new": self.new,
            "detected": self.detected,
            "data_version_before": self.data_version_before,
            "data_version_after": self.data_version_after,
        }


class ChangeList(list[Change]):
    """Changes as a list, with :meth:`to_pandas` as the front door's other results have."""

    def to_pandas(self) -> pandas.DataFrame:
        import pandas

        return pandas.DataFrame([change.to_json() for change in self], columns=list(_COLUMNS))


_COLUMNS: Final = tuple(Change("", "", None, None, "", None, None).to_json())


def check_fields(fields: Iterable[str]) -> list[str]:
    """The fields, each checked against :data:`FIELDS` (a one-line QueryError naming the wrong one)."""
    checked = list(fields)
    for name in checked:
        if name not in FIELDS:
            raise QueryError(f"no change field {name!r}; one of: {', '.join(FIELDS)}")
    return checked


def _text(value: Value) -> str | None:
    return None if value is None else str(value)


def _change(row: dict[str, Value], nct: str | None = None) -> Change:
    return Change(
        nct_id=nct or str(row["nct"]),
        field=str(row["field"]),
        old=_text(row["old"]),
        new=_text(row["new"]),
        detected=str(row["detected"]),
        data_version_before=_text(row["version_before"]),
        data_version_after=_text(row["version_after"]),
        country=_text(row["country"]),
    )


def changes(
    store: Store,
    *,
    since: date | None = None,
    condition: str | None = None,
    intervention: str | None = None,
    fields: Sequence[str] = (),
) -> ChangeList:
    """The change feed: every event detected on or after ``since`` (UTC day), of the given fields, of the trials in
    the scope (a condition and/or intervention MeSH id), ordered by detected, trial and field."""
    wanted = set(check_fields(fields))
    rows = run(store, "changes_since", {"since": (since or _EVER).isoformat()}).rows
    found = [_change(row) for row in rows if not wanted or row["field"] in wanted]
    if condition or intervention:
        found = scoped(store, found, make_scope(store, condition, intervention))
    return ChangeList(sorted(found, key=lambda change: (change.detected, change.nct_id, change.field)))


def newest(store: Store) -> date | None:
    """The day the newest change event was detected (None: no event), without reading the events."""
    rows = store.select(_NEWEST).rows
    return date.fromisoformat(str(rows[0]["newest"])[:10]) if rows and rows[0]["newest"] else None


def scoped(store: Store, found: list[Change], scope: Scope) -> list[Change]:
    """The changes of the trials in ``scope`` (in the store, or removed with the scope's MeSH links)."""
    pattern = scope_pattern(scope)
    on_removal = pattern
    for link, kept_as in _REMOVED_LINKS:
        on_removal = on_removal.replace(link, kept_as)
    bindings = scope_bindings(scope)
    queries = (_SCOPED % (pattern, _IN_STORE), _SCOPED % (on_removal, _REMOVED))
    inside = {str(row["nct"]) for query in queries for row in store.select(query, bindings).rows}
    return [change for change in found if change.nct_id in inside]


def trial_history(store: Store, nct_id: str) -> ChangeList:
    """One trial's changes, oldest first (also for a trial no longer in the store)."""
    return next(iter(histories(store, [nct_id]).values()))


def histories(store: Store, nct_ids: Iterable[str]) -> dict[str, ChangeList]:
    """NCT id (normalised) → its history, for many trials with one query per few hundred (``trial_changes``).

    The query's ``# trial {`` block (its NCT id made the trial's IRI) gives way to the trial IRIs bound directly:
    Oxigraph then looks each trial's events up instead of scanning every event (0.2 ms, not 50, at 20k events).
    """
    query = load_query("trial_changes")
    text, replaced = _TRIAL_BLOCK.subn("", query.text, count=1)
    if replaced != 1:
        raise QueryError(f"{query.path}: no '# trial {{' … '# }}' block to bind the trials in")
    ncts = list(trial_terms(query.name, nct_ids))
    rows = select_many(store, text, "trial", [CTGOV_STUDY[nct] for nct in ncts])
    return {nct: ChangeList(_change(row, nct) for row in rows[CTGOV_STUDY[nct].value]) for nct in ncts}


def slip_months(change: Change) -> int | None:
    """Whole months a primary completion moved later (None for any other change, an earlier or unreadable date)."""
    if change.field != "primary_completion":
        return None
    old, new = parse_date(change.old or ""), parse_date(change.new or "")
    if old is None or new is None:
        return None
    months = months_between(old, new)
    return months if months >= 1 else None


def summary(found: Sequence[Change]) -> dict[str, Any]:
    """What a monitor reads first: primary-completion slips (trials, total and median months per trial), status
    transitions, newly recruiting trials, sites opened and closed by country, removed trials."""
    slips: dict[str, int] = defaultdict(int)
    for change in found:
        months = slip_months(change)
        if months is not None:
            slips[change.nct_id] += months
    transitions = Counter((c.old, c.new) for c in found if c.field == "overall_status")
    return {
        "changes": len(found),
        "trials": len({change.nct_id for change in found}),
        "primary_completion_slips": {
            "trials": len(slips),
            "total_months": sum(slips.values()),
            "median_months": statistics.median(slips.values()) if slips else None,
        },
        "status_transitions": [
            {"old": old, "new": new, "changes": count} for (old, new), count in sorted(transitions.items(), key=_order)
        ],
        "newly_recruiting": sorted({c.nct_id for c in found if _starts_recruiting(c)}),
        "sites_by_country": _sites_by_country(found),
        "removed": sorted({c.nct_id for c in found if c.field == "removed"}),
    }


def _order(item: tuple[tuple[str | None, str | None], int]) -> tuple[int, str, str]:
    (old, new), count = item
    return -count, old or "", new or ""


def _starts_recruiting(change: Change) -> bool:
    """A status change into recruiting from anything else, or a new trial that is recruiting."""
    if change.field not in ("overall_status", "added"):
        return False
    return change.new in _RECRUITING and change.old not in _RECRUITING


def _sites_by_country(found: Sequence[Change]) -> list[dict[str, Any]]:
    opened: Counter[str] = Counter()
    closed: Counter[str] = Counter()
    for change in found:
        if change.field == "sites":
            (opened if change.old is None else closed)[change.country or "not stated"] += 1
    return [
        {"country": country, "opened": opened[country], "closed": closed[country]}
        for country in sorted(opened.keys() | closed.keys(), key=lambda name: (-opened[name] - closed[name], name))
    ]
