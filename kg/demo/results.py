"""Synthetic results sections: a realistic share of finished synthetic trials post results shaped like the real ones.

The share and the delay are measured on the 1,102 real records (``../shared/data/ctgov``): 79 of 466 completed
interventional trials have results (by phase from 8 % in phase 1 to 35 % in phase 2), 12 of 36 terminated ones and
1 of 36 active, not recruiting; results are first posted a median 19.6 months after primary completion (quartiles
13.4 and 30.9). Here each completed, terminated or active-not-recruiting trial posts results with its status and
phase's probability (:func:`results_share`), after a log-normal delay with that median and spread; one whose
posting date would fall after ``REFERENCE_DATE`` has none yet, as in the registry.

A section is drawn from the record's own protocol (arms, enrollment, sex and ages, sites, outcomes, sponsor), so
its groups match the arms: a participant flow (STARTED, COMPLETED, NOT COMPLETED and withdrawal reasons), a
baseline with age, sex, region of enrollment and sometimes ethnicity (and a total group), one outcome measure per
primary and secondary outcome (most primary ones of two arms or more with a between-group analysis), adverse events
with serious and other events by organ system and statistics per group, and a point of contact (fictional). The
real records' long tail (a mean of 25 other adverse events, 10 outcome measures) is left out: a synthetic trial with
results has under a third of a real one's statements (``benchmarks/results/results-size.md``). Its random numbers
come from their own generator seeded by the corpus seed and the record number, so records without results are
exactly what they were before.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any, Final

__all__ = ["COMPLETED_SHARE", "DELAY_MEDIAN_MONTHS", "OTHER_SHARE", "add_results", "results_share"]

#: Probability that a completed trial posts results, by its phases joined with "/" (measured; see the docstring).
COMPLETED_SHARE: Final[dict[str, float]] = {
    "EARLY_PHASE1": 0.08,
    "PHASE1": 0.08,
    "PHASE1/PHASE2": 0.20,
    "PHASE2": 0.35,
    "PHASE2/PHASE3": 0.15,
    "PHASE3": 0.25,
    "PHASE4": 0.18,
    "NA": 0.11,
}
#: Probability for the other statuses that can have results (any phase); no other status posts results.
OTHER_SHARE: Final[dict[str, float]] = {"TERMINATED": 0.33, "ACTIVE_NOT_RECRUITING": 0.03}
DELAY_MEDIAN_MONTHS: Final = 19.6
DELAY_SIGMA: Final = 0.62  # log-normal: the real quartiles 13.4 and 30.9 months around the median
DELAY_MINIMUM_MONTHS: Final = 3.0
_DAYS_PER_MONTH: Final = 30.44

#: (term, MedDRA organ system, rate per participant): serious events are rare, other events common.
SERIOUS_EVENTS: Final = (
    ("Pneumonia", "Infections and infestations", 0.02),
    ("Sepsis", "Infections and infestations", 0.008),
    ("Urinary tract infection", "Infections and infestations", 0.01),
    ("Febrile neutropenia", "Blood and lymphatic system disorders", 0.015),
    ("Anaemia", "Blood and lymphatic system disorders", 0.008),
    ("Myocardial infarction", "Cardiac disorders", 0.006),
    ("Atrial fibrillation", "Cardiac disorders", 0.006),
    ("Pulmonary embolism", "Respiratory, thoracic and mediastinal disorders", 0.006),
    ("Dyspnoea", "Respiratory, thoracic and mediastinal disorders", 0.005),
    ("Vomiting", "Gastrointestinal disorders", 0.006),
    ("Small intestinal obstruction", "Gastrointestinal disorders", 0.004),
    ("Acute kidney injury", "Renal and urinary disorders", 0.006),
    ("Dehydration", "Metabolism and nutrition disorders", 0.005),
    ("Syncope", "Nervous system disorders", 0.004),
    ("Fall", "Injury, poisoning and procedural complications", 0.005),
    ("Deep vein thrombosis", "Vascular disorders", 0.004),
)
OTHER_EVENTS: Final = (
    ("Headache", "Nervous system disorders", 0.12),
    ("Dizziness", "Nervous system disorders", 0.07),
    ("Nausea", "Gastrointestinal disorders", 0.15),
    ("Diarrhoea", "Gastrointestinal disorders", 0.10),
    ("Fatigue", "General disorders", 0.14),
    ("Pyrexia", "General disorders", 0.06),
    ("Arthralgia", "Musculoskeletal and connective tissue disorders", 0.07),
    ("Back pain", "Musculoskeletal and connective tissue disorders", 0.06),
    ("Rash", "Skin and subcutaneous tissue disorders", 0.06),
    ("Nasopharyngitis", "Infections and infestations", 0.08),
    ("Cough", "Respiratory, thoracic and mediastinal disorders", 0.06),
    ("Hypertension", "Vascular disorders", 0.05),
)
#: Primary outcomes of trials with two arms or more that report a between-group analysis.
ANALYSED_SHARE: Final = 0.6
ETHNICITY: Final = ("Hispanic or Latino", "Not Hispanic or Latino", "Unknown or Not Reported")
WITHDRAWAL_REASONS: Final = ("Adverse Event", "Withdrawal by Subject", "Lost to Follow-up", "Physician Decision")
#: (paramType, dispersionType, unit) of an outcome measure, and the spread of its values.
_MEASURE_KINDS: Final = (
    ("MEAN", "STANDARD_DEVIATION", "score on a scale"),
    ("LEAST_SQUARES_MEAN", "STANDARD_ERROR", "score on a scale"),
    ("NUMBER", None, "percentage of participants"),
    ("COUNT_OF_PARTICIPANTS", None, "Participants"),
)
_METHODS: Final = {"COUNT_OF_PARTICIPANTS": "Fisher Exact", "NUMBER": "Cochran-Mantel-Haenszel"}


def results_share(status: str, phases: list[str]) -> float:
    """The probability that a trial with this status and these phases posts results (once enough time passed)."""
    if status == "COMPLETED":
        return COMPLETED_SHARE.get("/".join(phases), COMPLETED_SHARE["NA"])
    return OTHER_SHARE.get(status, 0.0)


def _posting_date(rng: random.Random, primary: date) -> date:
    months = max(DELAY_MINIMUM_MONTHS, rng.lognormvariate(math.log(DELAY_MEDIAN_MONTHS), DELAY_SIGMA))
    return primary + timedelta(days=round(months * _DAYS_PER_MONTH))


def add_results(study: dict[str, Any], seed: int, number: int, reference: date) -> None:
    """Give ``study`` (a synthetic record) results with its status and phases' probability, posted by
    ``reference``; its own generator, seeded by the corpus ``seed`` and record ``number``, draws them."""
    rng = random.Random(f"{seed}/{number}/results")
    protocol = study["protocolSection"]
    status = protocol["statusModule"]
    if rng.random() >= results_share(status["overallStatus"], protocol["designModule"]["phases"]):
        return
    posted = _posting_date(rng, date.fromisoformat(status["primaryCompletionDateStruct"]["date"]))
    if posted > reference:
        return  # not posted yet
    _post(status, posted, rng)
    study["hasResults"] = True
    study["resultsSection"] = _section(rng, protocol)


def _post(status: dict[str, Any], posted: date, rng: random.Random) -> None:
    """The results dates, and a last update no earlier than the posting (the registry updates a record then)."""
    qc = posted - timedelta(days=rng.randrange(1, 6))
    status["resultsFirstSubmitDate"] = (qc - timedelta(days=rng.randrange(0, 60))).isoformat()
    status["resultsFirstSubmitQcDate"] = qc.isoformat()
    status["resultsFirstPostDateStruct"] = {"date": posted.isoformat(), "type": "ACTUAL"}
    if status["lastUpdatePostDateStruct"]["date"] < posted.isoformat():
        submitted = max(status["lastUpdateSubmitDate"], qc.isoformat())
        status["lastUpdateSubmitDate"] = submitted
        status["lastUpdatePostDateStruct"] = {"date": posted.isoformat(), "type": "ACTUAL"}
        status["statusVerifiedDate"] = submitted[:7]


def _affected(rng: random.Random, at_risk: int, rate: float) -> int:
    """Participants affected among ``at_risk`` at about ``rate`` (a normal approximation of the binomial)."""
    expected = at_risk * rate
    return min(at_risk, max(0, round(rng.gauss(expected, math.sqrt(expected)))))


def _groups(prefix: str, arms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"id": f"{prefix}{index:03d}", "title": arm["label"], "description": arm.get("description", "")}
        for index, arm in enumerate(arms)
    ]


def _section(rng: random.Random, protocol: dict[str, Any]) -> dict[str, Any]:
    arms = protocol["armsInterventionsModule"]["armGroups"]
    enrolled = max(len(arms), protocol["designModule"]["enrollmentInfo"]["count"])
    started = [max(1, count) for count in _shares(rng, enrolled, [1.0] * len(arms))]
    terminated = protocol["statusModule"]["overallStatus"] == "TERMINATED"
    completed = [round(n * rng.uniform(0.3, 0.8) if terminated else n * rng.uniform(0.75, 0.98)) for n in started]
    sponsor = protocol["sponsorCollaboratorsModule"]["leadSponsor"]["name"]
    return {
        "participantFlowModule": _flow(rng, arms, started, completed),
        "baselineCharacteristicsModule": _baseline(rng, protocol, started),
        "outcomeMeasuresModule": {
            "outcomeMeasures": [
                _outcome(rng, arms, completed, outcome, kind)
                for key, kind in (("primaryOutcomes", "PRIMARY"), ("secondaryOutcomes", "SECONDARY"))
                for outcome in protocol["outcomesModule"].get(key, [])
            ]
        },
        "adverseEventsModule": _adverse_events(rng, arms, started),
        "moreInfoModule": {
            "certainAgreement": {"piSponsorEmployee": rng.random() < 0.5, "restrictiveAgreement": False},
            "pointOfContact": {
                "title": "Director, Clinical Trial Disclosure",
                "organization": sponsor,
                "email": "results@example.org",
                "phone": "555-0100",
            },
        },
    }


def _counts(groups: list[dict[str, Any]], values: list[int], key: str = "numSubjects") -> list[dict[str, Any]]:
    return [{"groupId": group["id"], key: str(value)} for group, value in zip(groups, values, strict=True)]


def _flow(rng: random.Random, arms: list[dict[str, Any]], started: list[int], completed: list[int]) -> dict[str, Any]:
    groups = _groups("FG", arms)
    missing = [s - c for s, c in zip(started, completed, strict=True)]
    reasons = rng.sample(WITHDRAWAL_REASONS, k=2)
    first = [round(n * rng.uniform(0.3, 0.7)) for n in missing]
    withdrawals = [(reasons[0], first), (reasons[1], [n - f for n, f in zip(missing, first, strict=True)])]
    return {
        "groups": groups,
        "periods": [
            {
                "title": "Overall Study",
                "milestones": [
                    {"type": kind, "achievements": _counts(groups, values)}
                    for kind, values in (("STARTED", started), ("COMPLETED", completed), ("NOT COMPLETED", missing))
                ],
                "dropWithdraws": [{"type": kind, "reasons": _counts(groups, values)} for kind, values in withdrawals],
            }
        ],
    }


def _denoms(groups: list[dict[str, Any]], values: list[int]) -> list[dict[str, Any]]:
    return [{"units": "Participants", "counts": _counts(groups, values, "value")}]


def _baseline(rng: random.Random, protocol: dict[str, Any], started: list[int]) -> dict[str, Any]:
    """Age (mean, SD), sex (within the eligibility's), region of enrollment (the sites' countries) and, in half
    the trials, ethnicity; per arm and, with two arms or more, in total."""
    arms = protocol["armsInterventionsModule"]["armGroups"]
    eligibility = protocol["eligibilityModule"]
    groups = _groups("BG", arms)
    if len(arms) > 1:
        groups.append({"id": f"BG{len(arms):03d}", "title": "Total", "description": "Total of all reporting groups"})
    low = int(eligibility["minimumAge"].split()[0])
    high = int(eligibility.get("maximumAge", "90 Years").split()[0])
    centre = rng.uniform(low + 0.3 * (high - low), low + 0.6 * (high - low))
    ages = [round(rng.gauss(centre, 2.0), 1) for _ in started]
    if len(arms) > 1:
        ages.append(round(sum(a * n for a, n in zip(ages, started, strict=True)) / sum(started), 1))
    female = {"FEMALE": 1.0, "MALE": 0.0}.get(eligibility["sex"], rng.uniform(0.3, 0.7))
    sites = protocol["contactsLocationsModule"]["locations"]
    countries = list(dict.fromkeys(site["country"] for site in sites))[:6]
    measures = [
        {
            "title": "Age, Continuous",
            "paramType": "MEAN",
            "dispersionType": "STANDARD_DEVIATION",
            "unitOfMeasure": "years",
            "classes": [{"categories": [{"measurements": _values(groups, ages, round(rng.uniform(6, 14), 1))}]}],
        },
        _counted(rng, "Sex: Female, Male", groups, started, {"Female": female, "Male": 1 - female}, classes=False),
        _counted(
            rng, "Region of Enrollment", groups, started, {c: rng.uniform(0.2, 1) for c in countries}, classes=True
        ),
    ]
    if rng.random() < 0.5:
        ethnicity = dict(zip(ETHNICITY, (rng.uniform(0.05, 0.25), rng.uniform(0.6, 0.9), 0.05), strict=True))
        measures.append(_counted(rng, "Ethnicity (NIH/OMB)", groups, started, ethnicity, classes=False))
    counts = [*started, sum(started)] if len(arms) > 1 else started
    return {"groups": groups, "denoms": _denoms(groups, counts), "measures": measures}


def _counted(
    rng: random.Random,
    title: str,
    groups: list[dict[str, Any]],
    started: list[int],
    weights: dict[str, float],
    *,
    classes: bool,
) -> dict[str, Any]:
    """A count of participants per category (``weights``: label → expected share), each arm's count split exactly
    and the total group summed; one class per category when ``classes`` ("Region of Enrollment" lists countries
    so), else one class of titled categories."""
    labels = list(weights)
    rows = [_shares(rng, count, list(weights.values())) for count in started]
    if len(groups) > len(started):
        rows.append([sum(column) for column in zip(*rows, strict=True)])
    columns = [[row[index] for row in rows] for index in range(len(labels))]
    if classes:
        body = [
            {"title": label, "categories": [{"measurements": _values(groups, column)}]}
            for label, column in zip(labels, columns, strict=True)
        ]
    else:
        categories = [
            {"title": label, "measurements": _values(groups, column)}
            for label, column in zip(labels, columns, strict=True)
        ]
        body = [{"categories": categories}]
    return {"title": title, "paramType": "COUNT_OF_PARTICIPANTS", "unitOfMeasure": "Participants", "classes": body}


def _shares(rng: random.Random, count: int, weights: list[float]) -> list[int]:
    """``count`` split over categories about in proportion to ``weights`` (a little noise), summing exactly."""
    noisy = [weight * rng.uniform(0.9, 1.1) for weight in weights]
    parts = [int(count * weight / sum(noisy)) for weight in noisy[:-1]]
    return [*parts, count - sum(parts)]


def _values(groups: list[dict[str, Any]], values: Sequence[float], spread: float | None = None) -> list[dict[str, Any]]:
    extra = {} if spread is None else {"spread": str(spread)}
    return [{"groupId": group["id"], "value": str(value), **extra} for group, value in zip(groups, values, strict=True)]


def _outcome(
    rng: random.Random, arms: list[dict[str, Any]], analysed: list[int], outcome: dict[str, str], kind: str
) -> dict[str, Any]:
    """An outcome's result per arm; for a primary outcome of two arms or more, often an analysis of the first two
    (the real records' median trial has no analysis, the mean one 11)."""
    param, dispersion, unit = rng.choice(_MEASURE_KINDS)
    groups = _groups("OG", arms)
    if param == "COUNT_OF_PARTICIPANTS":
        values: list[float] = [round(n * rng.uniform(0.2, 0.7)) for n in analysed]
    elif param == "NUMBER":
        values = [round(rng.uniform(20, 70), 1) for _ in analysed]
    else:
        values = [round(rng.gauss(-5, 3), 2) for _ in analysed]
    spread = round(rng.uniform(1, 8), 2) if dispersion else None
    measure: dict[str, Any] = {
        "type": kind,
        "title": outcome["measure"],
        "reportingStatus": "POSTED",
        "paramType": param,
        "unitOfMeasure": unit,
        "timeFrame": outcome["timeFrame"],
        "groups": groups,
        "denoms": _denoms(groups, analysed),
        "classes": [{"categories": [{"measurements": _values(groups, values, spread)}]}],
    }
    if "description" in outcome:
        measure["description"] = outcome["description"]
    if dispersion:
        measure["dispersionType"] = "Standard Deviation" if dispersion == "STANDARD_DEVIATION" else "Standard Error"
    if len(arms) > 1 and kind == "PRIMARY" and rng.random() < ANALYSED_SHARE:
        measure["analyses"] = [_analysis(rng, groups, values, param)]
    return measure


def _analysis(rng: random.Random, groups: list[dict[str, Any]], values: list[float], param: str) -> dict[str, Any]:
    difference = round(values[0] - values[1], 2)
    half_width = round(abs(difference) * rng.uniform(0.4, 1.6) + 0.1, 2)
    p_value = rng.betavariate(0.6, 2.0)
    return {
        "groupIds": [groups[0]["id"], groups[1]["id"]],
        "nonInferiorityType": "SUPERIORITY",
        "pValue": "<0.001" if p_value < 0.001 else f"{p_value:.3f}",
        "statisticalMethod": _METHODS.get(param, "ANCOVA"),
        "paramType": "Difference in proportions" if param in _METHODS else "Mean Difference (Final Values)",
        "paramValue": str(difference),
        "ciPctValue": "95",
        "ciNumSides": "TWO_SIDED",
        "ciLowerLimit": str(round(difference - half_width, 2)),
        "ciUpperLimit": str(round(difference + half_width, 2)),
    }


def _events(
    rng: random.Random,
    table: tuple[tuple[str, str, float], ...],
    k: int,
    groups: list[dict[str, Any]],
    at_risk: list[int],
) -> list[dict[str, Any]]:
    """``k`` events of ``table``, each with per-group participants affected at about its rate."""
    events = []
    for term, organ_system, rate in rng.sample(table, k=k):
        stats = []
        for group, n in zip(groups, at_risk, strict=True):
            affected = _affected(rng, n, rate * rng.uniform(0.5, 2.0))
            stats.append({"groupId": group["id"], "numEvents": affected, "numAffected": affected, "numAtRisk": n})
        events.append(
            {
                "term": term,
                "organSystem": organ_system,
                "sourceVocabulary": "MedDRA (26.0)",
                "assessmentType": "SYSTEMATIC_ASSESSMENT",
                "stats": stats,
            }
        )
    return events


def _adverse_events(rng: random.Random, arms: list[dict[str, Any]], at_risk: list[int]) -> dict[str, Any]:
    groups = _groups("EG", arms)
    # The real records: serious events median 0, mean 4; other events median 4, mean 25 (a long tail).
    serious = _events(rng, SERIOUS_EVENTS, rng.choice((0, 0, 0, 0, 0, 1, 2, 4, 8, 14)), groups, at_risk)
    other = _events(rng, OTHER_EVENTS, rng.choice((2, 3, 4, 4, 5, 6, 8, 12)), groups, at_risk)
    for index, group in enumerate(groups):
        group["deathsNumAffected"] = _affected(rng, at_risk[index], 0.003)
        group["deathsNumAtRisk"] = at_risk[index]
        for kind, events in (("serious", serious), ("other", other)):
            affected = sum(event["stats"][index]["numAffected"] for event in events)
            group[f"{kind}NumAffected"] = min(at_risk[index], affected)
            group[f"{kind}NumAtRisk"] = at_risk[index]
    return {
        "frequencyThreshold": "5",
        "timeFrame": "From the first dose to 30 days after the last dose",
        "description": "Adverse events were collected at every visit. All content of this record is synthetic.",
        "eventGroups": groups,
        "seriousEvents": serious,
        "otherEvents": other,
    }
