"""Hand-written tables for the synthetic study generator: study design, status, and the texts records quote.

``kg.demo.synthetic`` draws from them; sponsors, countries, sites and people are in ``kg.demo.places``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kg.demo.weighted import Weighted

__all__ = [
    "AGE_LIMITS",
    "AIMS",
    "AREA_WEIGHTS",
    "CHILD_AREAS",
    "DESCRIPTION_BY_CONCEPT",
    "EARLY_PHASES",
    "EXCLUSION",
    "FAMILY_BY_AREA",
    "FIRST_START_YEAR",
    "INCLUSION",
    "INTERVENTION_DESCRIPTIONS",
    "LAST_START_YEAR",
    "PHASED_TYPES",
    "PHASE_PROFILES",
    "PRIMARY_OUTCOMES",
    "PURPOSE_BY_CONCEPT",
    "PURPOSE_BY_TYPE",
    "SECONDARY_OUTCOMES",
    "SEED_CONDITION_AREAS",
    "SEED_INTERVENTION_AREA",
    "SEED_PHASE_WEIGHTS",
    "SEX_BY_CONDITION",
    "SHAM_NAMES",
    "START_YEARS",
    "STATUS_ENDED",
    "STATUS_NOT_STARTED",
    "STATUS_ONGOING",
    "TITLE_TEMPLATES",
    "TYPE_LABELS",
    "WHO_MASKED",
    "WHY_STOPPED",
    "Outcome",
    "PhaseProfile",
]


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
EARLY_PHASES: Final[frozenset[tuple[str, ...]]] = frozenset({("EARLY_PHASE1",), ("PHASE1",), ("PHASE1", "PHASE2")})
SEED_PHASE_WEIGHTS: Final[dict[tuple[str, ...], float]] = {
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
AGE_LIMITS: Final[Weighted[tuple[int, int | None]]] = Weighted(
    [(18, None), (18, 75), (18, 65), (18, 80), (18, 55), (20, None), (40, None), (50, 85), (12, None), (6, 17)],
    [46, 14, 8, 6, 4, 6, 8, 4, 5, 3],
)
CHILD_AREAS: Final[frozenset[str]] = frozenset({"infectious-disease", "respiratory", "diabetes"})

# --- Status and dates ---------------------------------------------------------------------------------------

STATUS_NOT_STARTED: Final[Weighted[str]] = Weighted(["NOT_YET_RECRUITING", "WITHDRAWN"], [93, 7])
STATUS_ENDED: Final[Weighted[str]] = Weighted(["COMPLETED", "TERMINATED", "UNKNOWN", "WITHDRAWN"], [72, 12, 12, 4])
STATUS_ONGOING: Final[Weighted[str]] = Weighted(
    ["RECRUITING", "ACTIVE_NOT_RECRUITING", "ENROLLING_BY_INVITATION", "SUSPENDED", "TERMINATED", "WITHDRAWN"],
    [70, 12, 5, 3, 6, 4],
)
FIRST_START_YEAR: Final[int] = 2005
LAST_START_YEAR: Final[int] = 2026
START_YEARS: Final[Weighted[int]] = Weighted(
    list(range(FIRST_START_YEAR, LAST_START_YEAR + 1)),
    [1.0 + 0.1 * (year - FIRST_START_YEAR) for year in range(FIRST_START_YEAR, LAST_START_YEAR + 1)],
)


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
