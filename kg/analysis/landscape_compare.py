"""Two landscapes side by side (``kg landscape compare``): two indications, two mechanisms, or any two scopes.

Each count table of a landscape is joined on its key (a phase, a status, a country …): per key, each side's trials
and their share of that side's scope, and the difference, scope A minus scope B, in trials and in share (shares, not
counts, compare scopes of different sizes; a trial counts under every country it has a site in, so country shares
add up past 1). The benchmarks (medians and design shares, see :mod:`kg.analysis.landscape`) are set side by side
with A's figure minus B's. An overview compares the headline figures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from kg.analysis.landscape import PIPELINE_PHASES, Landscape

if TYPE_CHECKING:  # imported when a table is asked for as a DataFrame
    import pandas

__all__ = ["COMPARED", "Comparison", "compare"]

Rows = list[dict[str, Any]]
Key = tuple[Any, ...]
_PHASES: Final = (*PIPELINE_PHASES, "NA", "NONE")


def _sum(rows: Rows, *columns: str) -> dict[Key, int]:
    counts: dict[Key, int] = {}
    for row in rows:
        key = tuple(row[column] for column in columns)
        counts[key] = counts.get(key, 0) + int(row["trials"])
    return counts


#: Compared tables: their key columns and how each side's trials per key are read from its landscape.
COMPARED: Final[dict[str, tuple[tuple[str, ...], Callable[[Landscape], dict[Key, int]]]]] = {
    "phases": (("phase",), lambda result: _sum(result.phase_status, "phase")),
    "statuses": (("status",), lambda result: _sum(result.phase_status, "status")),
    "sponsor_classes": (("sponsor_class",), lambda result: _sum(result.sponsor_classes, "sponsor_class")),
    "start_years": (("year",), lambda result: _sum(result.start_years, "year")),
    "countries": (("country",), lambda result: _sum(result.countries, "country")),
    "mechanisms": (("action", "action_label"), lambda result: _sum(result.mechanisms, "action", "action_label")),
}


@dataclass
class Comparison:
    """Landscape A, landscape B and each compared table (by name, as CSV file stems)."""

    a: Landscape
    b: Landscape
    tables: dict[str, Rows]

    def to_pandas(self, name: str) -> pandas.DataFrame:
        """One of :attr:`tables` as a DataFrame."""
        import pandas

        if name not in self.tables:
            raise KeyError(f"no compared table {name!r}: one of {', '.join(self.tables)}")
        return pandas.DataFrame(self.tables[name])

    def to_json(self) -> dict[str, Any]:
        return {
            "a": {"scope": self.a.scope.describe(), "trials": self.a.trials},
            "b": {"scope": self.b.scope.describe(), "trials": self.b.trials},
            "notes": sorted(set(self.a.notes) | set(self.b.notes)),
            "tables": self.tables,
        }


def _share(trials: int, total: int) -> float:
    return round(trials / total, 4) if total else 0.0


def _order(name: str, key: Key, rows: dict[Key, tuple[int, int]]) -> tuple[Any, ...]:
    """Phases in phase order, years in time order, the rest by trials on both sides, most first."""
    if name == "phases":
        return (_PHASES.index(key[0]) if key[0] in _PHASES else len(_PHASES), str(key[0]))
    if name == "start_years":
        return (key[0],)
    return (-sum(rows[key]), *(str(part) for part in key))


def _joined(name: str, a: Landscape, b: Landscape) -> Rows:
    columns, counts = COMPARED[name]
    left, right = counts(a), counts(b)
    both = {key: (left.get(key, 0), right.get(key, 0)) for key in left.keys() | right.keys()}
    rows = []
    for key in sorted(both, key=lambda key: _order(name, key, both)):
        ours, theirs = both[key]
        a_share, b_share = _share(ours, a.trials), _share(theirs, b.trials)
        rows.append(
            {
                **dict(zip(columns, key, strict=True)),
                "a_trials": ours,
                "a_share": a_share,
                "b_trials": theirs,
                "b_share": b_share,
                "difference": ours - theirs,
                "share_difference": round(a_share - b_share, 4),
            }
        )
    return rows


def _difference(a: float | None, b: float | None) -> float | None:
    return round(a - b, 4) if a is not None and b is not None else None


def _overview(a: Landscape, b: Landscape) -> Rows:
    """The headline figures (trials, stopped and results shares, median enrollment and posting delay)."""
    figures: dict[str, Callable[[Landscape], float | None]] = {
        "trials": lambda result: result.trials,
        "terminated_or_withdrawn_share": lambda result: result.stopped.share,
        "results_posted_share": lambda result: result.results.share,
        "finished_with_results_share": lambda result: result.results.finished_share,
        "median_enrollment": lambda result: result.enrollment.quantiles.get("P50"),
        "median_months_to_results": lambda result: result.results.delay_months.get("P50"),
        "countries": lambda result: len(result.countries),
    }
    return [
        {"measure": name, "a": (found := figure(a)), "b": (other := figure(b)), "difference": _difference(found, other)}
        for name, figure in figures.items()
    ]


def _benchmarks(a: Landscape, b: Landscape) -> Rows:
    """The two scopes' benchmark figures per measure and group (each side's own, not the whole graph's)."""
    left = {(row["measure"], row["group"]): row for row in a.benchmarks if row["scope_trials"]}
    right = {(row["measure"], row["group"]): row for row in b.benchmarks if row["scope_trials"]}
    order = [(row["measure"], row["group"]) for row in a.benchmarks]  # both list the same graph's groups in order
    rows = []
    for key in [key for key in order if key in left or key in right]:
        ours, theirs = left.get(key, {}), right.get(key, {})
        rows.append(
            {
                "measure": key[0],
                "group": key[1],
                "a": ours.get("scope"),
                "a_trials": ours.get("scope_trials", 0),
                "b": theirs.get("scope"),
                "b_trials": theirs.get("scope_trials", 0),
                "difference": _difference(ours.get("scope"), theirs.get("scope")),
            }
        )
    return rows


def compare(a: Landscape, b: Landscape) -> Comparison:
    """Landscape ``a`` beside landscape ``b`` (both from the same store), differences as A minus B."""
    tables = {"overview": _overview(a, b), **{name: _joined(name, a, b) for name in COMPARED}}
    tables["benchmarks"] = _benchmarks(a, b)
    return Comparison(a, b, tables)
