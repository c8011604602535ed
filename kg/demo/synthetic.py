"""Reproducible synthetic ClinicalTrials.gov API v2 studies, for demos, tests and benchmarks without the network.

Records have the shape of real registry downloads and realistic marginals (phases, statuses consistent with dates
as of a fixed ``REFERENCE_DATE``, log-normal enrollment by phase, skewed sponsors, countries and conditions), carry
real MeSH ids and ancestors from ``data/vocabulary.json``, and about a tenth share the seed trial's world
(digestive and solid tumours, lutetium-based radioligands, phase 1) so related-trial views have neighbours.
Every record is marked synthetic three ways: an ``NCT99…`` id (outside the real range), a top-level
``"synthetic"`` key and a ``"[Synthetic] "`` title prefix. Sponsors, facilities and people are fictional.
"""

from __future__ import annotations

import json
import logging
import math
import random
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from importlib import resources
from itertools import accumulate
from typing import Any, Final, Generic, TypeVar

__all__ = ["DEFAULT_SEED", "MAX_STUDIES", "REFERENCE_DATE", "RawStudy", "synthetic_studies"]

logger = logging.getLogger(__name__)

RawStudy = dict[str, Any]
T = TypeVar("T")

DEFAULT_SEED: Final[int] = 20251114
REFERENCE_DATE: Final[date] = date(2026, 1, 15)  # "today" for statuses, fixed so output never depends on the clock
MAX_STUDIES: Final[int] = 999_999  # NCT99 + 6 digits
GENERATOR: Final[str] = "kg.demo.synthetic"
TITLE_PREFIX: Final[str] = "[Synthetic] "
SEED_WORLD_SHARE: Final[float] = 0.10
FIRST_START_YEAR: Final[int] = 2005
LAST_START_YEAR: Final[int] = 2026
UNKNOWN_AFTER_DAYS: Final[int] = 2 * 365  # the registry calls a record UNKNOWN once unverified this long
_REF: Final[int] = REFERENCE_DATE.toordinal()
_DAYS_PER_MONTH: Final[float] = 30.44


class _Weighted(Generic[T]):
    """Items with fixed weights; one draw is a bisect on the cumulative weights (fast enough for 100k records)."""

    __slots__ = ("cum", "items", "total")

    def __init__(self, items: Sequence[T], weights: Sequence[float]) -> None:
        if not items or len(items) != len(weights):
            raise ValueError("need one weight per item and at least one item")
        self.items = tuple(items)
        self.cum = tuple(accumulate(weights))
        self.total = self.cum[-1]

    def pick(self, rng: random.Random) -> T:
        return self.items[bisect_right(self.cum, rng.random() * self.total)]

    def distinct(self, rng: random.Random, k: int) -> list[T]:
        """Up to ``k`` different items, popular ones first more often (a few tries, never an endless loop)."""
        chosen: list[T] = []
        for _ in range(4 * k):
            item = self.pick(rng)
            if item not in chosen:
                chosen.append(item)
                if len(chosen) == k:
                    break
        return chosen


def _zipf(n: int, s: float = 1.0) -> list[float]:
    """Rank-based popularity: the first item is the most common, as sponsors and conditions are in the registry."""
    return [1.0 / (rank + 1) ** s for rank in range(n)]


def _skewed(items: Sequence[T], s: float = 1.0) -> _Weighted[T]:
    return _Weighted(items, _zipf(len(items), s))


# --- Design tables ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PhaseProfile:
    """What a phase implies: its share, enrollment (log-normal median and spread), duration and site count."""

    phases: tuple[str, ...]
    weight: float
    median_enrollment: float
    sigma: float
    months: tuple[int, int]  # start to primary completion
    sites: tuple[int, int]
    label: str  # as titles write it


PHASE_PROFILES: Final[tuple[PhaseProfile, ...]] = (
    PhaseProfile(("EARLY_PHASE1",), 2, 20, 0.6, (6, 24), (1, 2), "Early Phase 1"),
    PhaseProfile(("PHASE1",), 14, 30, 0.7, (8, 36), (1, 6), "Phase 1"),
    PhaseProfile(("PHASE1", "PHASE2"), 5, 60, 0.7, (12, 48), (1, 12), "Phase 1/2"),
    PhaseProfile(("PHASE2",), 18, 80, 0.8, (12, 48), (1, 20), "Phase 2"),
    PhaseProfile(("PHASE2", "PHASE3"), 2, 250, 0.8, (18, 60), (3, 30), "Phase 2/3"),
    PhaseProfile(("PHASE3",), 13, 450, 0.9, (18, 72), (5, 30), "Phase 3"),
    PhaseProfile(("PHASE4",), 10, 150, 1.0, (6, 48), (1, 15), "Phase 4"),
    PhaseProfile(("NA",), 36, 80, 1.0, (6, 36), (1, 5), ""),
)
_EARLY: Final[frozenset[tuple[str, ...]]] = frozenset({("EARLY_PHASE1",), ("PHASE1",), ("PHASE1", "PHASE2")})
_SEED_PHASE_WEIGHTS: Final[dict[tuple[str, ...], float]] = {
    ("EARLY_PHASE1",): 10,
    ("PHASE1",): 70,
    ("PHASE1", "PHASE2"): 20,
}

AREA_WEIGHTS: Final[dict[str, float]] = {
    "cardiology": 10,
    "neurology": 9,
    "oncology": 8,
    "diabetes": 8,
    "infectious-disease": 8,
    "mental-health": 8,
    "digestive-oncology": 7,
    "lung-oncology": 6,
    "urology": 6,
    "pain": 6,
    "prostate-oncology": 4,
    "respiratory": 5,
    "immunology": 5,
}
FAMILY_BY_AREA: Final[dict[str, str]] = {
    "digestive-oncology": "oncology",
    "lung-oncology": "oncology",
    "prostate-oncology": "oncology",
    "oncology": "oncology",
    "solid-tumour": "oncology",
    "cardiology": "cardiometabolic",
    "diabetes": "cardiometabolic",
    "neurology": "neuro",
    "mental-health": "neuro",
    "pain": "neuro",
    "infectious-disease": "infectious",
    "urology": "chronic",
    "respiratory": "chronic",
    "immunology": "chronic",
}
SEED_CONDITION_AREAS: Final[tuple[str, ...]] = ("digestive-oncology", "solid-tumour")
SEED_INTERVENTION_AREA: Final[str] = "radioligand"
PHASED_TYPES: Final[frozenset[str]] = frozenset({"DRUG", "BIOLOGICAL", "RADIATION"})
TYPE_LABELS: Final[dict[str, str]] = {
    "DRUG": "Drug",
    "BIOLOGICAL": "Biological",
    "DEVICE": "Device",
    "PROCEDURE": "Procedure",
    "BEHAVIORAL": "Behavioral",
    "RADIATION": "Radiation",
    "OTHER": "Other",
}
INTERVENTION_DESCRIPTIONS: Final[dict[str, tuple[str, ...]]] = {
    "DRUG": (
        "Administered orally once daily.",
        "Administered orally twice daily in 28-day cycles.",
        "Administered by intravenous infusion every 3 weeks.",
        "Subcutaneous injection once weekly.",
    ),
    "BIOLOGICAL": ("Intravenous infusion every 3 weeks.", "Intramuscular injection on Day 1 and Day 29."),
    "RADIATION": ("Delivered in daily fractions over 5 weeks.", "Single treatment under image guidance."),
    "DEVICE": ("Used according to the instructions for use.", "Implanted during the index procedure."),
    "PROCEDURE": ("Performed according to institutional standard of care.",),
    "BEHAVIORAL": ("Weekly 60-minute sessions for 12 weeks.", "Eight group sessions with home practice."),
    "OTHER": ("Delivered remotely over 12 weeks.", "Standard follow-up visits every 3 months."),
}
SHAM_NAMES: Final[dict[str, str]] = {
    "DEVICE": "Sham Device",
    "PROCEDURE": "Sham Procedure",
    "BEHAVIORAL": "Attention Control",
    "OTHER": "Sham Intervention",
}
DESCRIPTION_BY_CONCEPT: Final[dict[str, str]] = {
    "D000086663": "Intramuscular injection on Day 1 and Day 29.",  # COVID-19 Vaccines
    "D007252": "Single intramuscular injection.",  # Influenza Vaccines
    "C000718244": "Single intravenous injection before PET/CT imaging.",  # gallium 68 PSMA-11
}
PURPOSE_BY_TYPE: Final[dict[str, str]] = {
    "DRUG": "TREATMENT",
    "BIOLOGICAL": "TREATMENT",
    "RADIATION": "TREATMENT",
    "DEVICE": "TREATMENT",
    "PROCEDURE": "TREATMENT",
    "BEHAVIORAL": "SUPPORTIVE_CARE",
    "OTHER": "HEALTH_SERVICES_RESEARCH",
}
PURPOSE_BY_CONCEPT: Final[dict[str, str]] = {
    "D000086663": "PREVENTION",  # COVID-19 Vaccines
    "D007252": "PREVENTION",  # Influenza Vaccines
    "C000718244": "DIAGNOSTIC",  # gallium 68 PSMA-11
}
SEX_BY_CONDITION: Final[dict[str, str]] = {
    "D011471": "MALE",  # Prostatic Neoplasms
    "D064129": "MALE",  # Prostatic Neoplasms, Castration-Resistant
    "D011470": "MALE",  # Prostatic Hyperplasia
    "D001943": "FEMALE",  # Breast Neoplasms
}
WHO_MASKED: Final[dict[str, tuple[str, ...]]] = {
    "SINGLE": ("OUTCOMES_ASSESSOR",),
    "DOUBLE": ("PARTICIPANT", "INVESTIGATOR"),
    "TRIPLE": ("PARTICIPANT", "INVESTIGATOR", "OUTCOMES_ASSESSOR"),
    "QUADRUPLE": ("PARTICIPANT", "CARE_PROVIDER", "INVESTIGATOR", "OUTCOMES_ASSESSOR"),
}
WHY_STOPPED: Final[dict[str, tuple[str, ...]]] = {
    "TERMINATED": (
        "Slow accrual",
        "Sponsor decision unrelated to safety",
        "Futility at interim analysis",
        "Funding ended",
        "Drug supply discontinued",
    ),
    "WITHDRAWN": (
        "No participants enrolled",
        "Study not funded",
        "Business decision; no participants were enrolled",
        "Protocol redesigned as a new study",
    ),
    "SUSPENDED": ("Temporary halt for a protocol amendment", "Enrollment paused pending a safety review"),
}
AGE_LIMITS: Final[_Weighted[tuple[int, int | None]]] = _Weighted(
    [(18, None), (18, 75), (18, 65), (18, 80), (18, 55), (20, None), (40, None), (50, 85), (12, None), (6, 17)],
    [46, 14, 8, 6, 4, 6, 8, 4, 5, 3],
)
CHILD_AREAS: Final[frozenset[str]] = frozenset({"infectious-disease", "respiratory", "diabetes"})

# --- Status and dates ---------------------------------------------------------------------------------------

STATUS_NOT_STARTED: Final[_Weighted[str]] = _Weighted(["NOT_YET_RECRUITING", "WITHDRAWN"], [93, 7])
STATUS_ENDED: Final[_Weighted[str]] = _Weighted(["COMPLETED", "TERMINATED", "UNKNOWN", "WITHDRAWN"], [72, 12, 12, 4])
STATUS_ONGOING: Final[_Weighted[str]] = _Weighted(
    ["RECRUITING", "ACTIVE_NOT_RECRUITING", "ENROLLING_BY_INVITATION", "SUSPENDED", "TERMINATED", "WITHDRAWN"],
    [70, 12, 5, 3, 6, 4],
)
_START_YEARS: Final[_Weighted[int]] = _Weighted(
    list(range(FIRST_START_YEAR, LAST_START_YEAR + 1)),
    [1.0 + 0.1 * (year - FIRST_START_YEAR) for year in range(FIRST_START_YEAR, LAST_START_YEAR + 1)],
)

# --- Sponsors, places, people (all fictional names; real cities and coordinates) ----------------------------

SPONSOR_CLASS_WEIGHTS: Final[dict[str, float]] = {  # lead sponsor classes, roughly as in registry downloads
    "OTHER": 52,
    "INDUSTRY": 40,
    "NIH": 3,
    "OTHER_GOV": 2.5,
    "NETWORK": 1.5,
    "FED": 1,
}
SPONSORS: Final[tuple[tuple[str, str, str], ...]] = (  # name, class, home country; most popular first per class
    ("Aldervale Pharmaceuticals, Inc.", "INDUSTRY", "United States"),
    ("Halden Oncology AG", "INDUSTRY", "Switzerland"),
    ("Northlake University Medical Center", "OTHER", "United States"),
    ("Kestrel Biologics Ltd.", "INDUSTRY", "United Kingdom"),
    ("Shenghua Pharmaceutical Group Co., Ltd.", "INDUSTRY", "China"),
    ("Lumenor Pharma GmbH", "INDUSTRY", "Germany"),
    ("National Institute for Cancer Research (NICR)", "NIH", "United States"),
    ("Huaxin Medical University", "OTHER", "China"),
    ("Meridian Cardiovascular Inc.", "INDUSTRY", "United States"),
    ("Norhaven Pharma A/S", "INDUSTRY", "Denmark"),
    ("Eastbridge University", "OTHER", "United States"),
    ("Orison Neuroscience, Inc.", "INDUSTRY", "United States"),
    ("Institut Clinique Val-de-Seine", "OTHER", "France"),
    ("Jiangnan Innovative Medicines Co., Ltd.", "INDUSTRY", "China"),
    ("Yamashiro Pharmaceutical Co., Ltd.", "INDUSTRY", "Japan"),
    ("Klinikum Rheinblick", "OTHER", "Germany"),
    ("Tessaly Therapeutics SAS", "INDUSTRY", "France"),
    ("Hangang University Hospital", "OTHER", "South Korea"),
    ("Pellucid Medical Devices", "INDUSTRY", "United States"),
    ("Atlantic Oncology Trials Network", "NETWORK", "United States"),
    ("Zhongshan Riverside Hospital", "OTHER", "China"),
    ("Brightwater Biosciences", "INDUSTRY", "United States"),
    ("St. Aldric's Hospital NHS Trust", "OTHER", "United Kingdom"),
    ("National Heart and Vascular Institute (NHVI)", "NIH", "United States"),
    ("Valemont Pharma S.p.A.", "INDUSTRY", "Italy"),
    ("Hospital Universitario del Norte", "OTHER", "Spain"),
    ("Hanbit Bio Co., Ltd.", "INDUSTRY", "South Korea"),
    ("Nile Valley University Hospitals", "OTHER", "Egypt"),
    ("Corvane Therapeutics", "INDUSTRY", "United States"),
    ("Kanto Metropolitan University Hospital", "OTHER", "Japan"),
    ("Ridgefield Vaccines Inc.", "INDUSTRY", "United States"),
    ("Amstel Academic Medical Centre", "OTHER", "Netherlands"),
    ("Calloway Diabetes Care Inc.", "INDUSTRY", "United States"),
    ("Western Plains Cancer Institute", "OTHER", "United States"),
    ("State Health Research Agency", "OTHER_GOV", "China"),
    ("Arvane Immunology Ltd.", "INDUSTRY", "United Kingdom"),
    ("Ospedale San Lorenzo Nuovo", "OTHER", "Italy"),
    ("Eastern Coast Cancer Hospital", "OTHER", "China"),
    ("European Cardiology Trials Consortium", "NETWORK", "France"),
    ("Zephyr Respiratory Ltd.", "INDUSTRY", "United Kingdom"),
    ("Harbourview Research Hospital", "OTHER", "Canada"),
    ("Veterans Health Research Service", "FED", "United States"),
    ("Anatolian Medical Faculty Hospital", "OTHER", "Turkey"),
    ("Pinecrest Generics Ltd.", "INDUSTRY", "India"),
    ("Southern Cross Medical Research Institute", "OTHER", "Australia"),
    ("National Institute of Neurological Health (NINH)", "NIH", "United States"),
    ("Sunbelt Medical Devices", "INDUSTRY", "United States"),
    ("Hospital das Clínicas do Sul", "OTHER", "Brazil"),
    ("Umbra Health Technologies", "INDUSTRY", "United States"),
    ("Galilee Medical Research Center", "OTHER", "Israel"),
    ("Commonwealth Health Research Office", "OTHER_GOV", "Australia"),
    ("Deccan Institute of Medical Sciences", "OTHER", "India"),
    ("Nordic Public Health Research Council", "OTHER_GOV", "Denmark"),
    ("Øresund University Hospital", "OTHER", "Denmark"),
    ("Pan-Asian Liver Cancer Group", "NETWORK", "China"),
    ("Federal Military Health Research Program", "FED", "United States"),
    ("West Sichuan University Hospital", "OTHER", "China"),
    ("Tianfu Nuclear Medicine Technology Co., Ltd.", "INDUSTRY", "China"),
    ("Isolux Radiopharma Co., Ltd.", "INDUSTRY", "China"),
    ("Betaray Theranostics GmbH", "INDUSTRY", "Germany"),
    ("Lutrix Radioligand Therapeutics, Inc.", "INDUSTRY", "United States"),
    ("Nordic Isotope Medicines AB", "INDUSTRY", "Sweden"),
)
SEED_SPONSORS: Final[tuple[str, ...]] = (  # who runs the radioligand trials, most active first
    "Tianfu Nuclear Medicine Technology Co., Ltd.",
    "Isolux Radiopharma Co., Ltd.",
    "Lutrix Radioligand Therapeutics, Inc.",
    "Betaray Theranostics GmbH",
    "West Sichuan University Hospital",
    "Nordic Isotope Medicines AB",
    "Huaxin Medical University",
)
SEED_HOME_COUNTRY_SHARE: Final[float] = 0.6

City = tuple[str, str | None, float, float]  # city, state, lat, lon
# fmt: off
COUNTRIES: Final[tuple[tuple[str, float, tuple[City, ...]], ...]] = (  # name, popularity, cities
    ("United States", 30, (
        ("New York", "New York", 40.71427, -74.00597), ("Boston", "Massachusetts", 42.35843, -71.05977),
        ("Houston", "Texas", 29.76328, -95.36327), ("Chicago", "Illinois", 41.85003, -87.65005),
        ("Los Angeles", "California", 34.05223, -118.24368), ("Rochester", "Minnesota", 44.02163, -92.4699),
        ("Nashville", "Tennessee", 36.16589, -86.78444), ("Seattle", "Washington", 47.60621, -122.33207),
    )),
    ("China", 12, (
        ("Beijing", "Beijing", 39.9075, 116.39723), ("Shanghai", "Shanghai", 31.22222, 121.45806),
        ("Guangzhou", "Guangdong", 23.11667, 113.25), ("Chengdu", "Sichuan", 30.66667, 104.06667),
        ("Hangzhou", "Zhejiang", 30.29365, 120.16142), ("Wuhan", "Hubei", 30.58333, 114.26667),
        ("Nanjing", "Jiangsu", 32.06167, 118.77778),
    )),
    ("France", 5, (
        ("Paris", None, 48.85341, 2.3488), ("Lyon", None, 45.74846, 4.84671), ("Marseille", None, 43.29695, 5.38107),
        ("Toulouse", None, 43.60426, 1.44367),
    )),
    ("Germany", 5, (
        ("Berlin", None, 52.52437, 13.41053), ("Munich", None, 48.13743, 11.57549),
        ("Heidelberg", None, 49.40768, 8.69079), ("Hamburg", None, 53.57532, 10.01534),
    )),
    ("United Kingdom", 4, (
        ("London", None, 51.50853, -0.12574), ("Manchester", None, 53.48095, -2.23743),
        ("Birmingham", None, 52.48142, -1.89983), ("Glasgow", None, 55.86515, -4.25763),
    )),
    ("Canada", 3, (
        ("Toronto", "Ontario", 43.70011, -79.4163), ("Montreal", "Quebec", 45.50884, -73.58781),
        ("Vancouver", "British Columbia", 49.24966, -123.11934),
    )),
    ("Spain", 3, (
        ("Madrid", None, 40.4165, -3.70256), ("Barcelona", None, 41.38879, 2.15899),
        ("Valencia", None, 39.46975, -0.37739),
    )),
    ("Italy", 3, (
        ("Milan", None, 45.46427, 9.18951), ("Rome", None, 41.89193, 12.51133), ("Naples", None, 40.85216, 14.26811),
    )),
    ("Japan", 3, (
        ("Tokyo", None, 35.6895, 139.69171), ("Osaka", None, 34.69374, 135.50218),
        ("Nagoya", None, 35.18147, 136.90641),
    )),
    ("South Korea", 3, (
        ("Seoul", None, 37.566, 126.9784), ("Busan", None, 35.10168, 129.03004),
        ("Seongnam-si", None, 37.43861, 127.13778),
    )),
    ("Australia", 2, (
        ("Melbourne", "Victoria", -37.814, 144.96332), ("Sydney", "New South Wales", -33.86785, 151.20732),
        ("Brisbane", "Queensland", -27.46794, 153.02809),
    )),
    ("Netherlands", 2, (
        ("Amsterdam", None, 52.37403, 4.88969), ("Rotterdam", None, 51.9225, 4.47917),
        ("Utrecht", None, 52.09083, 5.12222),
    )),
    ("Belgium", 2, (
        ("Brussels", None, 50.85045, 4.34878), ("Leuven", None, 50.87959, 4.70093), ("Ghent", None, 51.05, 3.71667),
    )),
    ("Poland", 2, (
        ("Warsaw", None, 52.22977, 21.01178), ("Krakow", None, 50.06143, 19.93658),
        ("Gdansk", None, 54.35205, 18.64637),
    )),
    ("Brazil", 2, (
        ("São Paulo", "São Paulo", -23.5475, -46.63611), ("Rio de Janeiro", "Rio de Janeiro", -22.90642, -43.18223),
        ("Porto Alegre", "Rio Grande do Sul", -30.03306, -51.23),
    )),
    ("India", 2, (
        ("New Delhi", "Delhi", 28.63576, 77.22445), ("Mumbai", "Maharashtra", 19.07283, 72.88261),
        ("Bangalore", "Karnataka", 12.97194, 77.59369),
    )),
    ("Israel", 1.5, (
        ("Tel Aviv", None, 32.08088, 34.78057), ("Jerusalem", None, 31.76904, 35.21633),
        ("Haifa", None, 32.81841, 34.9885),
    )),
    ("Turkey", 1.5, (
        ("Istanbul", None, 41.01384, 28.94966), ("Ankara", None, 39.91987, 32.85427),
        ("Izmir", None, 38.41273, 27.13838),
    )),
    ("Egypt", 1.5, (
        ("Cairo", None, 30.06263, 31.24967), ("Alexandria", None, 31.20176, 29.91582),
        ("Assiut", None, 27.18096, 31.18368),
    )),
    ("Denmark", 1.2, (
        ("Copenhagen", None, 55.67594, 12.56553), ("Aarhus", None, 56.15674, 10.21076),
        ("Odense", None, 55.39594, 10.38831),
    )),
    ("Sweden", 1.2, (
        ("Stockholm", None, 59.32938, 18.06871), ("Gothenburg", None, 57.70716, 11.96679),
        ("Uppsala", None, 59.85882, 17.63889),
    )),
    ("Switzerland", 1, (
        ("Zurich", None, 47.36667, 8.55), ("Bern", None, 46.94809, 7.44744), ("Geneva", None, 46.20222, 6.14569),
    )),
    ("Austria", 1, (
        ("Vienna", None, 48.20849, 16.37208), ("Graz", None, 47.06667, 15.45),
        ("Innsbruck", None, 47.26266, 11.39454),
    )),
    ("Taiwan", 1, (
        ("Taipei", None, 25.04776, 121.53185), ("Taichung", None, 24.1469, 120.6839),
        ("Kaohsiung", None, 22.61626, 120.31333),
    )),
    ("Mexico", 1, (
        ("Mexico City", None, 19.42847, -99.12766), ("Guadalajara", None, 20.66682, -103.39182),
        ("Monterrey", None, 25.67507, -100.31847),
    )),
    ("Argentina", 0.8, (
        ("Buenos Aires", None, -34.61315, -58.37723), ("Córdoba", None, -31.4135, -64.18105),
        ("Rosario", None, -32.94682, -60.63932),
    )),
)
# fmt: on
FACILITY_KINDS: Final[dict[str, tuple[str, ...]]] = {
    "oncology": ("Cancer Hospital", "Cancer Center", "Oncology Institute", "University Hospital"),
    "default": ("University Hospital", "General Hospital", "Medical Center", "Clinical Research Center"),
}
FACILITY_PATTERNS: Final[tuple[str, ...]] = ("{city} {kind}", "{kind} of {city}", "{city} Central {kind}")
FIRST_NAMES: Final[tuple[str, ...]] = (
    "Anna", "Wei", "Maria", "James", "Yuki", "Ahmed", "Sofia", "Lukas", "Priya", "Min-jun",
    "Elena", "David", "Chen", "Fatima", "Jonas", "Laura", "Rafael", "Ingrid", "Kenji", "Olivia",
)  # fmt: skip
LAST_NAMES: Final[tuple[str, ...]] = (
    "Novak", "Zhang", "García", "Okafor", "Tanaka", "Hassan", "Rossi", "Schmidt", "Iyer", "Kim",
    "Petrov", "Cohen", "Liu", "Haddad", "Larsen", "Moreau", "Silva", "Berg", "Sato", "Walsh",
)  # fmt: skip

# --- Text tables ----------------------------------------------------------------------------------------------

Outcome = tuple[str, str, str]  # measure, description ("" when none), time frame
PRIMARY_OUTCOMES: Final[dict[str, tuple[Outcome, ...]]] = {
    "early": (
        (
            "Incidence of dose-limiting toxicities (DLTs)",
            "DLTs assessed per NCI-CTCAE v5.0 during cycle 1.",
            "Up to 28 days after the first dose",
        ),
        (
            "Maximum tolerated dose (MTD)",
            "Highest dose at which no more than 1 in 6 participants has a DLT.",
            "Up to 6 weeks after the first dose",
        ),
        ("Number of participants with treatment-emergent adverse events", "", "Up to approximately 24 months"),
    ),
    "oncology": (
        (
            "Progression-free survival (PFS)",
            "Time from randomization to progression per RECIST v1.1 or death.",
            "Up to 36 months",
        ),
        ("Overall survival (OS)", "Time from randomization to death from any cause.", "Up to 60 months"),
        (
            "Objective response rate (ORR)",
            "Proportion of participants with a complete or partial response.",
            "Up to 24 months",
        ),
    ),
    "cardiometabolic": (
        ("Change from baseline in HbA1c", "", "Baseline and Week 26"),
        ("Time to first major adverse cardiovascular event (MACE)", "", "Up to 48 months"),
        ("Change from baseline in systolic blood pressure", "Seated office measurement.", "Baseline and Week 12"),
        ("Percent change in body weight", "", "Baseline and Week 68"),
    ),
    "neuro": (
        ("Change from baseline in the primary symptom scale total score", "", "Baseline and Week 12"),
        ("Change from baseline in pain intensity (0-10 numeric rating scale)", "", "Baseline and Week 8"),
        ("Annualized relapse rate", "", "Up to 96 weeks"),
    ),
    "infectious": (
        (
            "Proportion of participants with virologic suppression",
            "Plasma viral load below the assay limit.",
            "Week 48",
        ),
        ("Seroconversion rate", "Four-fold rise in antibody titre from baseline.", "Day 29"),
        ("Time to clinical recovery", "", "Up to Day 28"),
    ),
    "chronic": (
        ("Change from baseline in symptom score", "", "Baseline and Week 12"),
        ("Proportion of participants achieving treatment response", "", "Week 16"),
        ("Change from baseline in FEV1", "", "Baseline and Week 24"),
    ),
}
SECONDARY_OUTCOMES: Final[dict[str, tuple[Outcome, ...]]] = {
    "early": (
        ("Maximum plasma concentration (Cmax)", "", "Up to approximately 24 months"),
        ("Time to maximum plasma concentration (Tmax)", "", "Up to approximately 24 months"),
        ("Area under the concentration-time curve (AUC0-t)", "", "Up to approximately 24 months"),
        ("Terminal half-life (T1/2)", "", "Up to approximately 24 months"),
        ("Objective response rate (ORR)", "Per RECIST v1.1.", "Up to approximately 24 months"),
    ),
    "common": (
        ("Number of participants with adverse events", "Graded per NCI-CTCAE v5.0.", "Up to 24 months"),
        ("Health-related quality of life (EQ-5D-5L)", "", "Baseline to Month 12"),
        ("Treatment discontinuation due to adverse events", "", "Up to 24 months"),
        ("Duration of response", "", "Up to 36 months"),
        ("Change from baseline in patient-reported symptom burden", "", "Baseline to Week 24"),
    ),
}
INCLUSION: Final[dict[str, tuple[str, ...]]] = {
    "common": (
        "Provision of signed and dated informed consent",
        "Willing and able to comply with all study procedures",
        "Women of childbearing potential must use highly effective contraception",
    ),
    "oncology": (
        "Histologically or cytologically confirmed locally advanced or metastatic disease",
        "At least one measurable lesion per RECIST v1.1",
        "ECOG performance status of 0 or 1",
        "Adequate bone marrow, liver and renal function",
        "Life expectancy of at least 12 weeks",
    ),
    "radioligand": (
        "Target expression confirmed by PET imaging within 8 weeks before enrollment",
        "Progression after at least one prior line of standard therapy",
    ),
    "cardiometabolic": (
        "Diagnosis documented at least 6 months before screening",
        "Stable background therapy for at least 3 months",
        "Body mass index between 25 and 45 kg/m²",
    ),
    "neuro": (
        "Diagnosis confirmed by a specialist according to current criteria",
        "Stable dose of concomitant medication for at least 4 weeks",
    ),
    "infectious": ("Laboratory-confirmed infection", "Symptom onset within 5 days before randomization"),
    "chronic": ("Symptoms inadequately controlled on current treatment", "Disease duration of at least 6 months"),
}
EXCLUSION: Final[dict[str, tuple[str, ...]]] = {
    "common": (
        "Pregnant or breastfeeding",
        "Participation in another interventional study within 30 days",
        "Known hypersensitivity to the study treatment or its excipients",
        "Any condition that in the investigator's opinion makes participation unsafe",
    ),
    "oncology": (
        "Symptomatic central nervous system metastases",
        "Prior malignancy within 5 years",
        "Active autoimmune disease requiring systemic treatment",
    ),
    "radioligand": ("Prior radioligand therapy", "Creatinine clearance below 50 mL/min"),
    "cardiometabolic": ("Myocardial infarction or stroke within 3 months", "eGFR below 30 mL/min/1.73 m²"),
    "neuro": ("Current substance use disorder", "History of seizures unrelated to the study condition"),
    "infectious": ("Known immunodeficiency other than the study condition", "Receipt of an investigational vaccine"),
    "chronic": ("Systemic corticosteroids within 4 weeks", "Active infection requiring systemic treatment"),
}
AIMS: Final[dict[str, str]] = {  # as official titles capitalise them; summaries lower-case them
    "early": "Safety, Tolerability and Pharmacokinetics",
    "oncology": "Efficacy and Safety",
    "cardiometabolic": "Effect on Clinical Outcomes and Safety",
    "neuro": "Efficacy and Tolerability",
    "infectious": "Efficacy and Safety",
    "chronic": "Efficacy and Safety",
}
TITLE_TEMPLATES: Final[dict[str, tuple[str, ...]]] = {
    "early": (
        "First-in-Human Study of {drug} in {condition}",
        "Dose-Escalation Study of {drug} in Patients With {condition}",
        "A {phase} Study of {drug} in Participants With {condition}",
    ),
    "comparative": (
        "{drug} Versus {comparator} in {condition}",
        "A Study Comparing {drug} With {comparator} in Participants With {condition}",
    ),
    "single": (
        "A Study of {drug} in Participants With {condition}",
        "Safety and Efficacy of {drug} for {condition}",
        "{drug} for {condition}",
    ),
}


# --- Vocabulary -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Concept:
    """A vocabulary entry as the generator uses it: the mesh and ancestor refs are written as-is."""

    id: str
    term: str
    type: str
    name: str
    variants: tuple[str, ...]
    ancestors: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class _Catalog:
    conditions: dict[str, _Weighted[_Concept]]
    phased: dict[str, _Weighted[_Concept]]
    unphased: dict[str, _Weighted[_Concept]]
    seed_conditions: _Weighted[_Concept]
    seed_interventions: _Weighted[_Concept]
    lutetium: _Concept


def _concept(entry: dict[str, Any]) -> _Concept:
    term: str = entry["term"]
    variants = tuple(entry.get("variants", ()))
    readable = term if len(term) <= 40 or not variants else variants[0]
    return _Concept(
        id=entry["id"],
        term=term,
        type=entry.get("type", ""),
        name=readable[0].upper() + readable[1:],
        variants=variants,
        ancestors=tuple((a["id"], a["term"]) for a in entry["ancestors"]),
    )


def _pools(concepts: Sequence[tuple[_Concept, Sequence[str]]], areas: Sequence[str]) -> dict[str, _Weighted[_Concept]]:
    pools: dict[str, _Weighted[_Concept]] = {}
    for area in areas:
        members = [concept for concept, tags in concepts if area in tags]
        if members:
            pools[area] = _skewed(members, 0.8)
    return pools


@lru_cache(maxsize=1)
def _catalog() -> _Catalog:
    """Load ``data/vocabulary.json`` once per process; every later study reuses the same pools."""
    text = resources.files("kg.demo").joinpath("data/vocabulary.json").read_text(encoding="utf-8")
    vocabulary = json.loads(text)
    conditions = [(_concept(e), e["areas"]) for e in vocabulary["conditions"]]
    interventions = [(_concept(e), e["areas"]) for e in vocabulary["interventions"]]
    areas = (*AREA_WEIGHTS, SEED_INTERVENTION_AREA)
    seed_conditions = [c for c, tags in conditions if any(a in tags for a in SEED_CONDITION_AREAS)]
    seed_interventions = [c for c, tags in interventions if SEED_INTERVENTION_AREA in tags and c.type == "DRUG"]
    return _Catalog(
        conditions=_pools(conditions, areas),
        phased=_pools([(c, t) for c, t in interventions if c.type in PHASED_TYPES], areas),
        unphased=_pools([(c, t) for c, t in interventions if c.type not in PHASED_TYPES], areas),
        seed_conditions=_skewed(seed_conditions, 1.0),
        seed_interventions=_skewed(seed_interventions, 1.2),
        lutetium=next(c for c in seed_interventions if c.term == "Lutetium"),
    )


# --- One study --------------------------------------------------------------------------------------------------


@dataclass
class _Intervention:
    type: str
    name: str
    description: str
    concept: _Concept | None = None
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
    conditions: list[_Concept]
    arms: list[_Arm]
    sponsor: tuple[str, str, str]
    seed_world: bool


_AREAS: Final[_Weighted[str]] = _Weighted(list(AREA_WEIGHTS), list(AREA_WEIGHTS.values()))
_PHASES: Final[_Weighted[PhaseProfile]] = _Weighted(PHASE_PROFILES, [p.weight for p in PHASE_PROFILES])
_SEED_PHASES: Final[_Weighted[PhaseProfile]] = _Weighted(
    [p for p in PHASE_PROFILES if p.phases in _SEED_PHASE_WEIGHTS],
    [_SEED_PHASE_WEIGHTS[p.phases] for p in PHASE_PROFILES if p.phases in _SEED_PHASE_WEIGHTS],
)
_SPONSOR_CLASSES: Final[_Weighted[str]] = _Weighted(list(SPONSOR_CLASS_WEIGHTS), list(SPONSOR_CLASS_WEIGHTS.values()))
_SPONSORS_BY_CLASS: Final[dict[str, _Weighted[tuple[str, str, str]]]] = {
    klass: _skewed([s for s in SPONSORS if s[1] == klass], 0.8) for klass in SPONSOR_CLASS_WEIGHTS
}
_SEED_SPONSORS: Final[_Weighted[tuple[str, str, str]]] = _skewed(
    [next(s for s in SPONSORS if s[0] == name) for name in SEED_SPONSORS], 1.0
)
_COUNTRIES: Final[_Weighted[tuple[str, float, tuple[City, ...]]]] = _Weighted(COUNTRIES, [c[1] for c in COUNTRIES])
_COUNTRY_BY_NAME: Final[dict[str, tuple[str, float, tuple[City, ...]]]] = {c[0]: c for c in COUNTRIES}
_CITIES: Final[dict[str, _Weighted[City]]] = {name: _skewed(cities, 0.7) for name, _, cities in COUNTRIES}
_ARM_COUNTS: Final[dict[str, _Weighted[int]]] = {
    "early": _Weighted([1, 2], [65, 35]),
    "NA": _Weighted([1, 2, 3], [45, 45, 10]),
    "PHASE2": _Weighted([1, 2, 3], [40, 45, 15]),
    "PHASE4": _Weighted([1, 2, 3], [30, 60, 10]),
    "late": _Weighted([2, 3], [80, 20]),
}


def _sponsor(rng: random.Random) -> tuple[str, str, str]:
    return _SPONSORS_BY_CLASS[_SPONSOR_CLASSES.pick(rng)].pick(rng)


def _code_name(rng: random.Random) -> str:
    letters = "".join(rng.choice("ABCDEFGHJKLMNPRSTVXZ") for _ in range(2))
    return f"{letters}-{rng.randrange(100, 9999)}"


def _intervention(rng: random.Random, concept: _Concept) -> _Intervention:
    other = (rng.choice(concept.variants),) if concept.variants and rng.random() < 0.4 else ()
    description = DESCRIPTION_BY_CONCEPT.get(concept.id) or rng.choice(INTERVENTION_DESCRIPTIONS[concept.type])
    return _Intervention(concept.type, concept.name, description, concept, other)


def _stage(profile: PhaseProfile) -> str:
    if profile.phases in _EARLY:
        return "early"
    if profile.phases in {("PHASE2",), ("NA",), ("PHASE4",)}:
        return profile.phases[0]
    return "late"


def _comparator(rng: random.Random, catalog: _Catalog, plan_area: str, main: _Intervention) -> _Arm:
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
    placebo_share = 0.3 if FAMILY_BY_AREA[plan_area] == "oncology" else 0.6
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


def _regular_arms(
    rng: random.Random, catalog: _Catalog, area: str, profile: PhaseProfile, industry: bool
) -> list[_Arm]:
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


def _seed_arms(rng: random.Random, catalog: _Catalog) -> list[_Arm]:
    """Radioligand arms like the seed trial's: an investigational Lu-177 agent, or an approved one."""
    if rng.random() < 0.6:
        code = _code_name(rng)
        name = f"Lutetium [177Lu] {code}"
        description = "Administration by intravenous infusion for a cycle of 6 weeks."
        main = _Intervention("DRUG", name, description, catalog.lutetium, (f"[177Lu]-{code}",))
    else:
        main = _intervention(rng, catalog.seed_interventions.pick(rng))
    if rng.random() < 0.6:
        return [_Arm(main.name, "EXPERIMENTAL", f"Participants receive {main.name} in 6-week cycles.", [main])]
    return [
        _Arm("Phase Ia: Dose Escalation", "EXPERIMENTAL", f"Ascending activities of {main.name}.", [main]),
        _Arm("Phase Ib: Dose Expansion", "EXPERIMENTAL", f"{main.name} at the recommended dose.", [main]),
    ]


def _plan(rng: random.Random, catalog: _Catalog) -> _Plan:
    if rng.random() < SEED_WORLD_SHARE:
        profile = _SEED_PHASES.pick(rng)
        conditions = catalog.seed_conditions.distinct(rng, rng.choice((1, 1, 2)))
        arms = _seed_arms(rng, catalog)
        return _Plan("digestive-oncology", "oncology", profile, conditions, arms, _SEED_SPONSORS.pick(rng), True)
    area = _AREAS.pick(rng)
    profile = _PHASES.pick(rng)
    sponsor = _sponsor(rng)
    conditions = catalog.conditions[area].distinct(rng, rng.choice((1, 1, 1, 2, 2, 3)))
    arms = _regular_arms(rng, catalog, area, profile, sponsor[1] == "INDUSTRY")
    return _Plan(area, FAMILY_BY_AREA[area], profile, conditions, arms, sponsor, False)


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
    start = date(_START_YEARS.pick(rng), 1, 1).toordinal() + rng.randrange(365)
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


def _sponsor_module(rng: random.Random, plan: _Plan) -> dict[str, Any]:
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
        drawn = dict.fromkeys(_sponsor(rng) for _ in range(rng.choice((1, 1, 2))))  # ordered, unlike a set
        others = [s for s in drawn if s[0] != name]
        if others:
            module["collaborators"] = [{"name": s[0], "class": s[1]} for s in others]
    return module


def _free_text(rng: random.Random, concept: _Concept) -> str:
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


def _locations(rng: random.Random, plan: _Plan, status: str) -> list[dict[str, Any]]:
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


def _browse(concepts: Sequence[_Concept]) -> dict[str, Any] | None:
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


def _study(rng: random.Random, number: int, seed: int, catalog: _Catalog) -> RawStudy:
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
        "sponsorCollaboratorsModule": _sponsor_module(rng, plan),
        "descriptionModule": {
            "briefSummary": f"This {phase_text}study evaluates the {_aim(plan).lower()} of {drug} in participants with "
            f"{plan.conditions[0].term}. All content of this record is synthetic.",
        },
        "conditionsModule": _conditions_module(rng, plan),
        "designModule": _design_module(rng, plan, _enrollment(rng, plan.profile, timeline.status)),
        "armsInterventionsModule": _arms_module(plan),
        "outcomesModule": _outcomes_module(rng, plan, drug),
        "eligibilityModule": _eligibility_module(rng, plan),
        "contactsLocationsModule": {"locations": _locations(rng, plan, timeline.status)},
    }
    return {
        "protocolSection": protocol,
        "derivedSection": derived,
        "hasResults": False,
        "synthetic": {"generator": GENERATOR, "seed": seed},
    }


def synthetic_studies(n: int, *, seed: int = DEFAULT_SEED) -> Iterator[RawStudy]:
    """Stream ``n`` synthetic studies; the same ``n`` and ``seed`` always give the same records, in order.

    One ``random.Random(seed)`` drives everything and nothing is kept between records, so memory does not grow
    with ``n`` and the first ``k`` records do not depend on ``n``. A bad ``n`` fails here, not at first use.
    """
    if not 0 <= n <= MAX_STUDIES:
        raise ValueError(f"n must be between 0 and {MAX_STUDIES} (NCT99 + 6 digits), got {n}")
    logger.debug("generating %d synthetic studies with seed %d", n, seed)
    return _stream(n, seed, _catalog())


def _stream(n: int, seed: int, catalog: _Catalog) -> Iterator[RawStudy]:
    rng = random.Random(seed)
    for number in range(1, n + 1):
        yield _study(rng, number, seed, catalog)
