"""How the health score falls over a whole graph: each label by overall status and the score's distribution per
status, every trial scored as of its own record's data date (``kg:dataVersion``), so a record downloaded in 2023 is
judged as on that day, not on today's. This is the calibration table of ``docs/health-score.md``
(``python scripts/health_calibration.py`` regenerates it), and the check that the rules do what they say.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date

from kg.analysis.health import LABELS, ONGOING, STATUS_LABELS, Health, health_scores
from kg.analysis.timeline import parse_date
from kg.analysis.trial_facts import trial_facts
from kg.store import Store
from kg.vocab import SPARQL_PROLOGUE

__all__ = ["Calibration", "calibrate"]

_DATA_DATES = (
    SPARQL_PROLOGUE
    + "SELECT ?nct ?version WHERE { ?trial a schema:MedicalTrial ; dcterms:identifier ?nct . "
    + "OPTIONAL { ?trial kg:dataVersion ?version } }"
)
_BATCH = 200
#: Every label, the order of the table's columns.
LABEL_ORDER = (*(name for _, name in LABELS), *dict.fromkeys(STATUS_LABELS.values()))


@dataclass
class Calibration:
    """Labels and scores by overall status, and the trials that break a rule (both lists must stay empty)."""

    labels: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    scores: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    #: Trials under way a year or more past their estimated primary completion and still labelled On Track.
    late_on_track: list[str] = field(default_factory=list)
    #: Registry dates (submitted, posted, updated, verified) shown as overdue milestones.
    overdue_registry_dates: list[str] = field(default_factory=list)
    undated: int = 0  # trials without a data date, scored as of today

    def add(self, health: Health) -> None:
        status = health.status or "NONE"
        self.labels[status][health.label] += 1
        self.scores[status].append(health.score)
        primary = health.timeline.milestone("primary_completion")
        late = health.components["timeline"].value.get("months_late", 0)
        if (
            status in ONGOING
            and primary is not None
            and primary.state == "overdue"
            and late >= 12
            and health.label == "On Track"
        ):
            self.late_on_track.append(health.nct_id)
        for milestone in health.timeline.milestones:
            if milestone.info.registry and milestone.state == "overdue":
                self.overdue_registry_dates.append(f"{health.nct_id} {milestone.info.key}")

    def to_markdown(self) -> str:
        """Two tables: label by status (counts), and the score's distribution by status."""
        statuses = sorted(self.labels, key=lambda status: (-sum(self.labels[status].values()), status))
        lines = [
            "| status | trials | " + " | ".join(LABEL_ORDER) + " |",
            "|---|---:|" + "---:|" * len(LABEL_ORDER),
        ]
        for status in statuses:
            counts = self.labels[status]
            cells = " | ".join(str(counts[label]) if counts[label] else "·" for label in LABEL_ORDER)
            lines.append(f"| {status} | {sum(counts.values())} | {cells} |")
        lines += ["", "| status | min | P25 | median | P75 | max |", "|---|---:|---:|---:|---:|---:|"]
        for status in statuses:
            values = sorted(self.scores[status])
            quartiles = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else values * 3
            middle = " | ".join(f"{value:g}" for value in quartiles)
            lines.append(f"| {status} | {values[0]} | {middle} | {values[-1]} |")
        return "\n".join(lines) + "\n"


def calibrate(store: Store) -> Calibration:
    """Score every trial of ``store`` as of its record's data date (today's date where the record has none)."""
    by_day: dict[date | None, list[str]] = defaultdict(list)
    for row in store.select(_DATA_DATES).rows:
        day = parse_date(str(row["version"])[:10]) if row["version"] else None
        by_day[day].append(str(row["nct"]))
    result = Calibration(undated=len(by_day.get(None, [])))
    facts = trial_facts(store)
    for day, ncts in sorted(by_day.items(), key=lambda item: item[0] or date.max):
        for start in range(0, len(ncts), _BATCH):
            for health in health_scores(store, ncts[start : start + _BATCH], as_of=day, facts=facts).values():
                result.add(health)
    return result
