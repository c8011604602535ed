"""Reproducible synthetic ClinicalTrials.gov API v2 studies, for demos, tests and benchmarks without the network.

Records have the shape of real registry downloads and realistic marginals (phases, statuses consistent with dates
as of a fixed ``REFERENCE_DATE``, log-normal enrollment by phase, skewed sponsors, countries and conditions), carry
real MeSH ids and ancestors from ``data/vocabulary.json``, and about a tenth share the seed trial's world
(digestive and solid tumours, lutetium-based radioligands, phase 1) so related-trial views have neighbours.
With a catalog that asks for them (``kg synth``'s), a realistic share of finished trials also post results
(``kg.demo.results``). Every record is marked synthetic three ways: an ``NCT99…`` id (outside the real range), a
top-level ``"synthetic"`` key and a ``"[Synthetic] "`` title prefix. Sponsors, facilities and people are fictional.

This module is the generator; the tables it draws from are in ``kg.demo.tables`` (design, status, texts) and
``kg.demo.places`` (sponsors, sites, people), and weighted choice is in ``kg.demo.weighted``. What it draws concepts
and sponsors from is a :class:`Catalog`: the demo's is curated; ``kg.demo.registry`` builds a registry-scale one
from loaded MeSH files (``kg synth``).
"""

from __future__ import annotations

import json
import logging
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from importlib import resources
from typing import Any, Final

from kg.ctgov.mapping import RawStudy
from kg.demo.places import (
    COUNTRIES,
    FACILITY_KINDS,
    FACILITY_PATTERNS,
    FIRST_NAMES,
    LAST_NAMES,
    SEED_HOME_COUNTRY_SHARE,
    SEED_SPONSORS,
    SPONSOR_CLASS_WEIGHTS,
    SPONSORS,
    City,
)
from kg.demo.results import add_results
from kg.demo.tables import (
    AGE_LIMITS,
    AIMS,
    AREA_WEIGHTS,
    CHILD_AREAS,
    DESCRIPTION_BY_CONCEPT,
    EARLY_PHASES,
    EXCLUSION,
    FAMILY_BY_AREA,
    INCLUSION,
    INTERVENTION_DESCRIPTIONS,
    PHASE_PROFILES,
    PHASED_TYPES,
    PRIMARY_OUTCOMES,
    PURPOSE_BY_CONCEPT,
    PURPOSE_BY_TYPE,
    SECONDARY_OUTCOMES,
    SEED_CONDITION_AREAS,
    SEED_INTERVENTION_AREA,
    SEED_PHASE_WEIGHTS,
    SEX_BY_CONDITION,
    SHAM_NAMES,
    START_YEARS,
    STATUS_ENDED,
    STATUS_NOT_STARTED,
    STATUS_ONGOING,
    TITLE_TEMPLATES,
    TYPE_LABELS,
    WHO_MASKED,
    WHY_STOPPED,
    Outcome,
    PhaseProfile,
)
from kg.demo.weighted import Weighted, skewed

__all__ = [
    "DEFAULT_SEED",
    "MAX_STUDIES",
    "REFERENCE_DATE",
    "TITLE_PREFIX",
    "Catalog",
    "Concept",
    "RawStudy",
    "Sponsor",
    "stream_studies",
    "synthetic_studies",
]

logger = logging.getLogger(__name__)


DEFAULT_SEED: Final[int] = 20251114
REFERENCE_DATE: Final[date] = date(2026, 1, 15)  # "today" for statuses, fixed so output never depends on the clock
MAX_STUDIES: Final[int] = 999_999  # NCT99 + 6 digits
GENERATOR: Final[str] = "kg.demo.synthetic"
TITLE_PREFIX: Final[str] = "[Synthetic] "
SEED_WORLD_SHARE: Final[float] = 0.10
UNKNOWN_AFTER_DAYS: Final[int] = 2 * 365  # the registry calls a record UNKNOWN once unverified this long
_REF: Final[int] = REFERENCE_DATE.toordinal()
_DAYS_PER_MONTH: Final[float] = 30.44
SPONSORS_BY_CLASS: Final[dict[str, Weighted[tuple[str, str, str]]]] = {
    klass: skewed([s for s in SPONSORS if s[1] == klass], 0.8) for klass in SPONSOR_CLASS_WEIGHTS
}


# --- Vocabulary -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Concept:
    """A vocabulary entry as the generator uses it: the mesh and ancestor refs are written as-is."""

    id: str
    term: str
    type: str
    name: str
    variants: tuple[str, ...]
    ancestors: tuple[tuple[str, str], ...]


Sponsor = tuple[str, str, str]  # name, class, home country (one of ``COUNTRIES``)


@dataclass(frozen=True)
class Catalog:
    """The world studies are drawn from: therapeutic areas and their families, MeSH concepts by area, sponsors.
    The demo's is curated (``data/vocabulary.json``); ``kg.demo.registry`` builds one from loaded MeSH files."""

    conditions: dict[str, Weighted[Concept]]
    phased: dict[str, Weighted[Concept]]
    unphased: dict[str, Weighted[Concept]]
    seed_conditions: Weighted[Concept]
    seed_interventions: Weighted[Concept]
    lutetium: Concept | None
    areas: Weighted[str]
    families: dict[str, str]
    sponsors: dict[str, Weighted[Sponsor]]
    seed_sponsors: Weighted[Sponsor]
    seed_share: float = SEED_WORLD_SHARE
    generator: str = GENERATOR
    #: Campus names appended to facility names (more distinct sites at registry scale); none in the demo.
    campuses: Weighted[str] | None = None
    #: Finished trials post results sections (``kg.demo.results``) at the registry's rate; the demo's never do.
    results: bool = False


def _concept(entry: dict[str, Any]) -> Concept:
    term: str = entry["term"]
    variants = tuple(entry.get("variants", ()))
    readable = term if len(term) <= 40 or not variants else variants[0]
    return Concept(
        id=entry["id"],
        term=term,
        type=entry.get("type", ""),
        name=readable[0].upper() + readable[1:],
        variants=variants,
        ancestors=tuple((a["id"], a["term"]) for a in entry["ancestors"]),
    )


def _pools(concepts: Sequence[tuple[Concept, Sequence[str]]], areas: Sequence[str]) -> dict[str, Weighted[Concept]]:
    pools: dict[str, Weighted[Concept]] = {}
    for area in areas:
        members = [concept for concept, tags in concepts if area in tags]
        if members:
            pools[area] = skewed(members, 0.8)
    return pools


@lru_cache(maxsize=1)
def _catalog() -> Catalog:
    """Load ``data/vocabulary.json`` once per process; every later study reuses the same pools."""
    text = resources.files("kg.demo").joinpath("data/vocabulary.json").read_text(encoding="utf-8")
    vocabulary = json.loads(text)
    conditions = [(_concept(e), e["areas"]) for e in vocabulary["conditions"]]
    interventions = [(_concept(e), e["areas"]) for e in vocabulary["interventions"]]
    areas = (*AREA_WEIGHTS, SEED_INTERVENTION_AREA)
    seed_conditions = [c for c, tags in conditions if any(a in tags for a in SEED_CONDITION_AREAS)]
    seed_interventions = [c for c, tags in interventions if SEED_INTERVENTION_AREA in tags and c.type == "DRUG"]
    return Catalog(
        conditions=_pools(conditions, areas),
        phased=_pools([(c, t) for c, t in interventions if c.type in PHASED_TYPES], areas),
        unphased=_pools([(c, t) for c, t in interventions if c.type not in PHASED_TYPES], areas),
        seed_conditions=skewed(seed_conditions, 1.0),
        seed_interventions=skewed(seed_interventions, 1.2),
        lutetium=next(c for c in seed_interventions if c.term == "Lutetium"),
        areas=Weighted(list(AREA_WEIGHTS), list(AREA_WEIGHTS.values())),
        families=FAMILY_BY_AREA,
        sponsors=SPONSORS_BY_CLASS,
        seed_sponsors=skewed([next(s for s in SPONSORS if s[0] == name) for name in SEED_SPONSORS], 1.0),
    )


# --- One study --------------------------------------------------------------------------------------------------


@dataclass
class _Intervention:
    type: str
    name: str
    description: str
    concept: Concept | None = None
    other_names: tuple[str, ...] = ()


@dataclass
class _Arm:
    label: str
    type: str
    description: str
    interventions: list[_Intervention] = field(default_factory=list)


@dataclass
class _Plan:
    """The choices a study is drawn from, made first so the modules stay consistent with each other."""

    area: str
    family: str
    profile: PhaseProfile
    conditions: list[Concept]
    arms: list[_Arm]
    sponsor: tuple[str, str, str]
    seed_world: bool


_PHASES: Final[Weighted[PhaseProfile]] = Weighted(PHASE_PROFILES, [p.weight for p in PHASE_PROFILES])
_SEED_PHASES: Final[Weighted[PhaseProfile]] = Weighted(
    [p for p in PHASE_PROFILES if p.phases in SEED_PHASE_WEIGHTS],
    [SEED_PHASE_WEIGHTS[p.phases] for p in PHASE_PROFILES if p.phases in SEED_PHASE_WEIGHTS],
)
_SPONSOR_CLASSES: Final[Weighted[str]] = Weighted(list(SPONSOR_CLASS_WEIGHTS), list(SPONSOR_CLASS_WEIGHTS.values()))
_COUNTRIES: Final[Weighted[tuple[str, float, tuple[City, ...]]]] = Weighted(COUNTRIES, [c[1] for c in COUNTRIES])
_COUNTRY_BY_NAME: Final[dict[str, tuple[str, float, tuple[City, ...]]]] = {c[0]: c for c in COUNTRIES}
_CITIES: Final[dict[str, Weighted[City]]] = {name: skewed(cities, 0.7) for name, _, cities in COUNTRIES}
_ARM_COUNTS: Final[dict[str, Weighted[int]]] = {
    "early": Weighted([1, 2], [65, 35]),
    "NA": Weighted([1, 2, 3], [45, 45, 10]),
    "PHASE2": Weighted([1, 2, 3], [40, 45, 15]),
    "PHASE4": Weighted([1, 2, 3], [30, 60, 10]),
    "late": Weighted([2, 3], [80, 20]),
}


def _sponsor(rng: random.Random, catalog: Catalog) -> Sponsor:
    return catalog.sponsors[_SPONSOR_CLASSES.pick(rng)].pick(rng)


def _code_name(rng: random.Random) -> str:
    letters = "".join(rng.choice("ABCDEFGHJKLMNPRSTVXZ") for _ in range(2))
    return f"{letters}-{rng.randrange(100, 9999)}"


def _intervention(rng: random.Random, concept: Concept) -> _Intervention:
    other = (rng.choice(concept.variants),) if concept.variants and rng.random() < 0.4 else ()
    description = DESCRIPTION_BY_CONCEPT.get(concept.id) or rng.choice(INTERVENTION_DESCRIPTIONS[concept.type])
    return _Intervention(concept.type, concept.name, description, concept, other)


def _stage(profile: PhaseProfile) -> str:
    if profile.phases in EARLY_PHASES:
        return "early"
    if profile.phases in {("PHASE2",), ("NA",), ("PHASE4",)}:
        return profile.phases[0]
    return "late"


def _comparator(rng: random.Random, catalog: Catalog, plan_area: str, main: _Intervention) -> _Arm:
    """A control arm matching the main intervention: placebo, sham, no intervention or an active drug."""
    if main.type not in PHASED_TYPES:
        kind = rng.choice(("NO_INTERVENTION", "ACTIVE_COMPARATOR", "SHAM_COMPARATOR"))
        if kind == "NO_INTERVENTION":
            return _Arm("Usual Care", kind, "Participants continue usual care without the study intervention.")
        if kind == "SHAM_COMPARATOR":
            sham = _Intervention("OTHER", SHAM_NAMES[main.type], "Identical in form, without the active element.")
            return _Arm("Sham", kind, "Participants receive a sham intervention.", [sham])
        control = _Intervention("OTHER", "Standard of Care", "Care according to local guidelines.")
        return _Arm("Standard of Care", kind, "Participants receive standard care.", [control])
    placebo_share = 0.3 if catalog.families[plan_area] == "oncology" else 0.6
    if rng.random() < placebo_share:
        placebo = _Intervention("DRUG", "Placebo", "Matching placebo on the same schedule.")
        return _Arm("Placebo", "PLACEBO_COMPARATOR", "Participants receive a matching placebo.", [placebo])
    pool = catalog.phased[plan_area]
    others = [c for c in pool.distinct(rng, 3) if c.name != main.name]
    if not others:
        placebo = _Intervention("DRUG", "Placebo", "Matching placebo on the same schedule.")
        return _Arm("Placebo", "PLACEBO_COMPARATOR", "Participants receive a matching placebo.", [placebo])
    active = _intervention(rng, others[0])
    return _Arm(active.name, "ACTIVE_COMPARATOR", f"Participants receive {active.name}.", [active])


def _regular_arms(rng: random.Random, catalog: Catalog, area: str, profile: PhaseProfile, industry: bool) -> list[_Arm]:
    stage = _stage(profile)
    use_unphased = profile.phases == ("NA",) and area in catalog.unphased and rng.random() < 0.75
    pool = catalog.unphased[area] if use_unphased else catalog.phased[area]
    main = _intervention(rng, pool.pick(rng))
    if stage == "early" and industry and main.type == "DRUG" and rng.random() < 0.4:
        code = _code_name(rng)
        main = _Intervention(
            "DRUG", code, rng.choice(INTERVENTION_DESCRIPTIONS["DRUG"]), None, (code.replace("-", ""),)
        )
    arms = [_Arm(main.name, "EXPERIMENTAL", f"Participants receive {main.name}.", [main])]
    count = _ARM_COUNTS[stage].pick(rng)
    if count >= 2 and stage == "early":
        arms = [
            _Arm(f"Dose Escalation: {main.name}", "EXPERIMENTAL", "Ascending dose levels.", [main]),
            _Arm(f"Dose Expansion: {main.name}", "EXPERIMENTAL", "Recommended dose in expansion cohorts.", [main]),
        ]
    elif count >= 2:
        arms.append(_comparator(rng, catalog, area, main))
    if count == 3 and stage != "early":
        arms.insert(1, _Arm(f"{main.name} High Dose", "EXPERIMENTAL", f"Higher dose of {main.name}.", [main]))
        arms[0].label = f"{main.name} Low Dose"
    return arms


def _seed_arms(rng: random.Random, catalog: Catalog, lutetium: Concept) -> list[_Arm]:
    """Radioligand arms like the seed trial's: an investigational Lu-177 agent, or an approved one."""
    if rng.random() < 0.6:
        code = _code_name(rng)
        name = f"Lutetium [177Lu] {code}"
        description = "Administration by intravenous infusion for a cycle of 6 weeks."
        main = _Intervention("DRUG", name, description, lutetium, (f"[177Lu]-{code}",))
    else:
        main = _intervention(rng, catalog.seed_interventions.pick(rng))
    if rng.random() < 0.6:
        return [_Arm(main.name, "EXPERIMENTAL", f"Participants receive {main.name} in 6-week cycles.", [main])]
    return [
        _Arm("Phase Ia: Dose Escalation", "EXPERIMENTAL", f"Ascending activities of {main.name}.", [main]),
        _Arm("Phase Ib: Dose Expansion", "EXPERIMENTAL", f"{main.name} at the recommended dose.", [main]),
    ]


def _plan(rng: random.Random, catalog: Catalog) -> _Plan:
    if catalog.lutetium is not None and rng.random() < catalog.seed_share:
        profile = _SEED_PHASES.pick(rng)
        conditions = catalog.seed_conditions.distinct(rng, rng.choice((1, 1, 2)))
        arms = _seed_arms(rng, catalog, catalog.lutetium)
        seed_sponsor = catalog.seed_sponsors.pick(rng)
        return _Plan("digestive-oncology", "oncology", profile, conditions, arms, seed_sponsor, True)
    area = catalog.areas.pick(rng)
    profile = _PHASES.pick(rng)
    sponsor = _sponsor(rng, catalog)
    conditions = catalog.conditions[area].distinct(rng, rng.choice((1, 1, 1, 2, 2, 3)))
    arms = _regular_arms(rng, catalog, area, profile, sponsor[1] == "INDUSTRY")
    return _Plan(area, catalog.families[area], profile, conditions, arms, sponsor, False)


# --- Dates and status -------------------------------------------------------------------------------------------


@dataclass
class _Timeline:
    status: str
    start: int
    primary: int
    completion: int
    start_actual: bool
    primary_actual: bool
    completion_actual: bool
    first_submit: int
    qc: int
    first_post: int
    last_update: int


def _iso(ordinal: int) -> str:
    return date.fromordinal(ordinal).isoformat()


def _months(rng: random.Random, bounds: tuple[int, int]) -> int:
    return round(rng.uniform(*bounds) * _DAYS_PER_MONTH)


def _status(rng: random.Random, start: int, primary: int, completion: int) -> str:
    if start > _REF:
        return STATUS_NOT_STARTED.pick(rng)
    if completion <= _REF:
        return STATUS_ENDED.pick(rng)
    return "ACTIVE_NOT_RECRUITING" if primary <= _REF else STATUS_ONGOING.pick(rng)


def _registration(rng: random.Random, start: int) -> tuple[int, int, int]:
    """First submitted, QC'd and posted: mostly before the start, sometimes registered late; always by the ref."""
    offset = rng.randint(30, 900) if rng.random() < 0.15 else rng.randint(-180, 30)
    submit = min(start + offset, _REF - rng.randrange(5, 90))
    qc = min(submit + (0 if rng.random() < 0.6 else rng.randrange(1, 45)), _REF - 3)
    post = min(qc + rng.randrange(1, 5), _REF)
    return submit, qc, post


def _timeline(rng: random.Random, profile: PhaseProfile) -> _Timeline:
    start = date(START_YEARS.pick(rng), 1, 1).toordinal() + rng.randrange(365)
    primary = start + _months(rng, profile.months)
    completion = primary + (0 if rng.random() < 0.5 else rng.randrange(30, 720))
    status = _status(rng, start, primary, completion)
    submit, qc, post = _registration(rng, start)
    if status == "UNKNOWN" and min(completion, _REF - UNKNOWN_AFTER_DAYS) <= post:
        status = "COMPLETED"  # too recent to have gone stale
    if status == "TERMINATED":
        stop = start + round(rng.uniform(0.1, 0.9) * (min(completion, _REF) - start))
        primary = completion = stop
    ended = status in {"COMPLETED", "TERMINATED"}
    if ended:
        last_update = min(_REF, max(post, completion + rng.randrange(0, 400)))
    elif status == "UNKNOWN":
        last_update = rng.randint(post, min(completion, _REF - UNKNOWN_AFTER_DAYS))
    elif status == "WITHDRAWN":
        last_update = min(_REF, post + rng.randrange(30, 700))
    else:
        last_update = max(post, _REF - rng.randrange(0, 365))
    return _Timeline(
        status=status,
        start=start,
        primary=primary,
        completion=completion,
        start_actual=start <= _REF and status not in {"WITHDRAWN", "NOT_YET_RECRUITING"},
        primary_actual=ended or (status == "ACTIVE_NOT_RECRUITING" and primary <= _REF),
        completion_actual=ended,
        first_submit=submit,
        qc=qc,
        first_post=post,
        last_update=last_update,
    )


def _date_struct(ordinal: int, actual: bool) -> dict[str, str]:
    return {"date": _iso(ordinal), "type": "ACTUAL" if actual else "ESTIMATED"}


def _status_module(rng: random.Random, t: _Timeline) -> dict[str, Any]:
    update_post = t.last_update + rng.randrange(1, 5)
    module: dict[str, Any] = {"statusVerifiedDate": _iso(t.last_update)[:7], "overallStatus": t.status}
    if t.status == "UNKNOWN":
        module["lastKnownStatus"] = rng.choice(("RECRUITING", "RECRUITING", "ACTIVE_NOT_RECRUITING"))
    if t.status in WHY_STOPPED:
        module["whyStopped"] = rng.choice(WHY_STOPPED[t.status])
    module |= {
        "expandedAccessInfo": {"hasExpandedAccess": False},
        "startDateStruct": _date_struct(t.start, t.start_actual),
        "primaryCompletionDateStruct": _date_struct(t.primary, t.primary_actual),
        "completionDateStruct": _date_struct(t.completion, t.completion_actual),
        "studyFirstSubmitDate": _iso(t.first_submit),
        "studyFirstSubmitQcDate": _iso(t.qc),
        "studyFirstPostDateStruct": _date_struct(t.first_post, True),
        "lastUpdateSubmitDate": _iso(t.last_update),
        "lastUpdatePostDateStruct": _date_struct(update_post, update_post <= _REF),
    }
    return module


def _enrollment(rng: random.Random, profile: PhaseProfile, status: str) -> dict[str, Any]:
    target = max(4, min(30_000, round(rng.lognormvariate(math.log(profile.median_enrollment), profile.sigma))))
    if status == "WITHDRAWN":
        return {"count": 0, "type": "ACTUAL"}
    if status == "COMPLETED":
        return {"count": max(1, round(target * rng.uniform(0.7, 1.1))), "type": "ACTUAL"}
    if status == "TERMINATED":
        return {"count": max(1, round(target * rng.uniform(0.05, 0.6))), "type": "ACTUAL"}
    return {"count": target, "type": "ACTUAL" if status == "ACTIVE_NOT_RECRUITING" else "ESTIMATED"}


# --- Modules ----------------------------------------------------------------------------------------------------


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def _sponsor_module(rng: random.Random, plan: _Plan, catalog: Catalog) -> dict[str, Any]:
    name, klass, _ = plan.sponsor
    module: dict[str, Any] = {}
    if klass == "OTHER" and rng.random() < 0.5:
        module["responsibleParty"] = {
            "type": "PRINCIPAL_INVESTIGATOR",
            "investigatorFullName": _person(rng),
            "investigatorTitle": rng.choice(("Principal Investigator", "Professor", "Chief Physician")),
            "investigatorAffiliation": name,
        }
    else:
        module["responsibleParty"] = {"type": "SPONSOR"}
    module["leadSponsor"] = {"name": name, "class": klass}
    if rng.random() < 0.25:
        drawn = dict.fromkeys(_sponsor(rng, catalog) for _ in range(rng.choice((1, 1, 2))))  # ordered, unlike a set
        others = [s for s in drawn if s[0] != name]
        if others:
            module["collaborators"] = [{"name": s[0], "class": s[1]} for s in others]
    return module


def _free_text(rng: random.Random, concept: Concept) -> str:
    return rng.choice(concept.variants) if concept.variants and rng.random() < 0.5 else concept.term


def _conditions_module(rng: random.Random, plan: _Plan) -> dict[str, Any]:
    module: dict[str, Any] = {"conditions": [_free_text(rng, c) for c in plan.conditions]}
    candidates = [v for c in plan.conditions for v in c.variants]
    candidates += [i.name for arm in plan.arms for i in arm.interventions if i.concept is not None]
    keywords = list(dict.fromkeys(rng.sample(candidates, k=min(len(candidates), rng.randrange(0, 5)))))
    if keywords:
        module["keywords"] = keywords
    return module


def _design_module(rng: random.Random, plan: _Plan, enrollment: dict[str, Any]) -> dict[str, Any]:
    arms = plan.arms
    comparator = next((a.type for a in arms if a.type != "EXPERIMENTAL"), None)
    if len(arms) == 1:
        allocation, model, masking = "NA", "SINGLE_GROUP", "NONE"
    elif comparator is None:
        allocation, model, masking = "NON_RANDOMIZED", rng.choice(("SEQUENTIAL", "PARALLEL")), "NONE"
    else:
        allocation = "RANDOMIZED" if rng.random() < 0.9 else "NON_RANDOMIZED"
        model = "CROSSOVER" if rng.random() < 0.08 else "PARALLEL"
        blinded = comparator in {"PLACEBO_COMPARATOR", "SHAM_COMPARATOR"}
        masking = rng.choice(("DOUBLE", "TRIPLE", "QUADRUPLE")) if blinded else rng.choice(("NONE", "NONE", "SINGLE"))
    main = arms[0].interventions[0]
    concept_id = main.concept.id if main.concept else ""
    masking_info: dict[str, Any] = {"masking": masking}
    if masking in WHO_MASKED:
        masking_info["whoMasked"] = list(WHO_MASKED[masking])
    return {
        "studyType": "INTERVENTIONAL",
        "phases": list(plan.profile.phases),
        "designInfo": {
            "allocation": allocation,
            "interventionModel": model,
            "primaryPurpose": PURPOSE_BY_CONCEPT.get(concept_id, PURPOSE_BY_TYPE[main.type]),
            "maskingInfo": masking_info,
        },
        "enrollmentInfo": enrollment,
    }


def _arm_group(arm: _Arm) -> dict[str, Any]:
    group: dict[str, Any] = {"label": arm.label, "type": arm.type, "description": arm.description}
    if arm.interventions:
        group["interventionNames"] = [f"{TYPE_LABELS[i.type]}: {i.name}" for i in arm.interventions]
    return group


def _arms_module(plan: _Plan) -> dict[str, Any]:
    interventions: dict[str, tuple[_Intervention, list[str]]] = {}
    for arm in plan.arms:
        for item in arm.interventions:
            interventions.setdefault(item.name, (item, []))[1].append(arm.label)
    items = []
    for item, labels in interventions.values():
        entry: dict[str, Any] = {"type": item.type, "name": item.name, "description": item.description}
        entry["armGroupLabels"] = labels
        if item.other_names:
            entry["otherNames"] = list(item.other_names)
        items.append(entry)
    return {"armGroups": [_arm_group(arm) for arm in plan.arms], "interventions": items}


def _outcome(template: Outcome, drug: str) -> dict[str, str]:
    measure, description, time_frame = template
    entry = {"measure": measure.format(drug=drug)}
    if description:
        entry["description"] = description
    entry["timeFrame"] = time_frame
    return entry


def _outcomes_module(rng: random.Random, plan: _Plan, drug: str) -> dict[str, Any]:
    key = "early" if _stage(plan.profile) == "early" else plan.family
    primary = rng.sample(PRIMARY_OUTCOMES[key], k=rng.choice((1, 1, 2)))
    secondary_pool = SECONDARY_OUTCOMES["early"] if key == "early" else SECONDARY_OUTCOMES["common"]
    secondary = rng.sample(secondary_pool, k=rng.randrange(0, len(secondary_pool) + 1))
    module: dict[str, Any] = {"primaryOutcomes": [_outcome(o, drug) for o in primary]}
    if secondary:
        module["secondaryOutcomes"] = [_outcome(o, drug) for o in secondary]
    return module


def _age(years: int) -> str:
    return f"{years} Years"


def _std_ages(minimum: int, maximum: int | None) -> list[str]:
    """ClinicalTrials.gov's age groups: child 0-17, adult 18-64, older adult 65+."""
    top = 200 if maximum is None else maximum
    groups = [("CHILD", 0, 17), ("ADULT", 18, 64), ("OLDER_ADULT", 65, 200)]
    return [name for name, low, high in groups if minimum <= high and top >= low]


def _eligibility_module(rng: random.Random, plan: _Plan) -> dict[str, Any]:
    families = [plan.family, "radioligand"] if plan.seed_world else [plan.family]
    inclusion = [*rng.sample(INCLUSION["common"], 2)]
    exclusion = [*rng.sample(EXCLUSION["common"], rng.randrange(2, 5))]
    for family in families:
        inclusion += rng.sample(INCLUSION[family], k=rng.randrange(1, len(INCLUSION[family]) + 1))
        exclusion += rng.sample(EXCLUSION[family], k=rng.randrange(1, len(EXCLUSION[family]) + 1))
    minimum, maximum = AGE_LIMITS.pick(rng)
    if minimum < 18 and plan.area not in CHILD_AREAS:
        minimum, maximum = 18, None
    sexes = {SEX_BY_CONDITION[c.id] for c in plan.conditions if c.id in SEX_BY_CONDITION}
    healthy = plan.area == "infectious-disease" and rng.random() < 0.5
    module: dict[str, Any] = {
        "eligibilityCriteria": "Inclusion Criteria:\n\n"
        + "\n".join(f"* {line}" for line in inclusion)
        + "\n\nExclusion Criteria:\n\n"
        + "\n".join(f"* {line}" for line in exclusion),
        "healthyVolunteers": healthy,
        "sex": sexes.pop() if len(sexes) == 1 else "ALL",
        "minimumAge": _age(minimum),
    }
    if maximum is not None:
        module["maximumAge"] = _age(maximum)
    module["stdAges"] = _std_ages(minimum, maximum)
    return module


def _site_count(rng: random.Random, profile: PhaseProfile) -> int:
    low, high = profile.sites
    return low + int((high - low + 1) * rng.random() ** 2)


def _locations(rng: random.Random, plan: _Plan, status: str, campuses: Weighted[str] | None) -> list[dict[str, Any]]:
    _, klass, home = plan.sponsor
    stay_home = klass != "INDUSTRY" or (plan.seed_world and rng.random() < SEED_HOME_COUNTRY_SHARE)
    main_country = _COUNTRY_BY_NAME[home] if stay_home else _COUNTRIES.pick(rng)
    abroad = 0.5 if plan.profile.phases in {("PHASE3",), ("PHASE2", "PHASE3")} else 0.1
    kinds = FACILITY_KINDS["oncology" if plan.family == "oncology" else "default"]
    site_status = {"RECRUITING": "RECRUITING", "NOT_YET_RECRUITING": "NOT_YET_RECRUITING"}.get(status)
    seen: set[tuple[str, str]] = set()
    sites: list[dict[str, Any]] = []
    for _ in range(_site_count(rng, plan.profile)):
        country = _COUNTRIES.pick(rng) if rng.random() < abroad else main_country
        city, state, lat, lon = _CITIES[country[0]].pick(rng)
        facility = rng.choice(FACILITY_PATTERNS).format(city=city, kind=rng.choice(kinds))
        if campuses is not None:
            facility = f"{facility}, {campuses.pick(rng)}"
        if (facility, city) in seen:
            continue
        seen.add((facility, city))
        site: dict[str, Any] = {"facility": facility}
        if site_status:
            site["status"] = site_status if rng.random() < 0.85 else "NOT_YET_RECRUITING"
        site["city"] = city
        if state:
            site["state"] = state
        site |= {"country": country[0], "geoPoint": {"lat": lat, "lon": lon}}
        sites.append(site)
    return sites


def _browse(concepts: Sequence[Concept]) -> dict[str, Any] | None:
    """A derived browse module as the registry writes it: the concepts, then their ancestors without repeats."""
    meshes: dict[str, str] = {}
    for concept in concepts:
        meshes.setdefault(concept.id, concept.term)
    if not meshes:
        return None
    ancestors: dict[str, str] = {}
    for concept in concepts:
        for ancestor_id, term in concept.ancestors:
            if ancestor_id not in meshes:
                ancestors.setdefault(ancestor_id, term)
    return {
        "meshes": [{"id": i, "term": t} for i, t in meshes.items()],
        "ancestors": [{"id": i, "term": t} for i, t in ancestors.items()],
    }


def _aim(plan: _Plan) -> str:
    return AIMS["early" if _stage(plan.profile) == "early" else plan.family]


def _titles(rng: random.Random, plan: _Plan, drug: str) -> tuple[str, str]:
    condition = plan.conditions[0].term if rng.random() < 0.5 else _free_text(rng, plan.conditions[0])
    comparator = next((a.label for a in plan.arms if a.type in {"ACTIVE_COMPARATOR", "PLACEBO_COMPARATOR"}), None)
    stage = _stage(plan.profile)
    kind = "early" if stage == "early" else ("comparative" if comparator else "single")
    brief = rng.choice(TITLE_TEMPLATES[kind]).format(
        drug=drug, condition=condition, comparator=comparator, phase=plan.profile.label
    )
    phase = f"{plan.profile.label}, " if plan.profile.label else ""
    design = "Randomized, Controlled" if comparator else "Open-label, Single-arm"
    official = f"A {phase}{design} Study to Evaluate the {_aim(plan)} of {drug} in Participants With {condition}"
    return TITLE_PREFIX + brief, official


def _study(rng: random.Random, number: int, seed: int, catalog: Catalog) -> RawStudy:
    plan = _plan(rng, catalog)
    timeline = _timeline(rng, plan.profile)
    drug = plan.arms[0].interventions[0].name
    brief_title, official_title = _titles(rng, plan, drug)
    phase_text = f"{plan.profile.label} " if plan.profile.label else ""
    concepts = [i.concept for a in plan.arms for i in a.interventions if i.concept is not None]
    derived: dict[str, Any] = {"miscInfoModule": {"versionHolder": "synthetic"}}
    for key, browse in (
        ("conditionBrowseModule", _browse(plan.conditions)),
        ("interventionBrowseModule", _browse(concepts)),
    ):
        if browse:
            derived[key] = browse
    protocol: dict[str, Any] = {
        "identificationModule": {
            "nctId": f"NCT99{number:06d}",
            "orgStudyIdInfo": {"id": f"SYNTH-{number:06d}"},
            "organization": {"fullName": plan.sponsor[0], "class": plan.sponsor[1]},
            "briefTitle": brief_title,
            "officialTitle": official_title,
        },
        "statusModule": _status_module(rng, timeline),
        "sponsorCollaboratorsModule": _sponsor_module(rng, plan, catalog),
        "descriptionModule": {
            "briefSummary": f"This {phase_text}study evaluates the {_aim(plan).lower()} of {drug} in participants with "
            f"{plan.conditions[0].term}. All content of this record is synthetic.",
        },
        "conditionsModule": _conditions_module(rng, plan),
        "designModule": _design_module(rng, plan, _enrollment(rng, plan.profile, timeline.status)),
        "armsInterventionsModule": _arms_module(plan),
        "outcomesModule": _outcomes_module(rng, plan, drug),
        "eligibilityModule": _eligibility_module(rng, plan),
        "contactsLocationsModule": {"locations": _locations(rng, plan, timeline.status, catalog.campuses)},
    }
    study = {
        "protocolSection": protocol,
        "derivedSection": derived,
        "hasResults": False,
        "synthetic": {"generator": catalog.generator, "seed": seed},
    }
    if catalog.results:
        add_results(study, seed, number, REFERENCE_DATE)
    return study


def synthetic_studies(n: int, *, seed: int = DEFAULT_SEED) -> Iterator[RawStudy]:
    """Stream ``n`` synthetic studies; the same ``n`` and ``seed`` always give the same records, in order.

    One ``random.Random(seed)`` drives everything and nothing is kept between records, so memory does not grow
    with ``n`` and the first ``k`` records do not depend on ``n``. A bad ``n`` fails here, not at first use.
    """
    if not 0 <= n <= MAX_STUDIES:
        raise ValueError(f"n must be between 0 and {MAX_STUDIES} (NCT99 + 6 digits), got {n}")
    logger.debug("generating %d synthetic studies with seed %d", n, seed)
    return stream_studies(n, seed, _catalog())


def stream_studies(n: int, seed: int, catalog: Catalog) -> Iterator[RawStudy]:
    """The studies of any catalog (see :func:`synthetic_studies`; ``n`` is checked by the caller)."""
    rng = random.Random(seed)
    for number in range(1, n + 1):
        yield _study(rng, number, seed, catalog)
