"""Namespaces, terms and enumeration tables shared by the mapping, the queries and the ontology."""

from __future__ import annotations

from typing import Final

from pyoxigraph import NamedNode

__all__ = [
    "CTGOV_STUDY",
    "DATA",
    "DCTERMS",
    "ENUMERATIONS",
    "KG",
    "MESH",
    "PREFIXES",
    "PROV",
    "PUBMED",
    "RDF",
    "RDFS",
    "SCHEMA",
    "SKOS",
    "SPARQL_PROLOGUE",
    "XSD",
    "Namespace",
    "enum_iri",
]


class Namespace:
    """An IRI prefix; ``NS["local"]`` or ``NS.local`` gives a pyoxigraph ``NamedNode``.

    Not a ``str`` subclass on purpose: ``DCTERMS.title`` must be the term, not ``str.title``.
    """

    def __init__(self, iri: str) -> None:
        self.iri = iri

    def __getitem__(self, local: str) -> NamedNode:
        return NamedNode(self.iri + local)

    def __getattr__(self, local: str) -> NamedNode:
        """Attribute terms (``KG.phase``) are named in code, so there are few: each is made on first use and kept as
        an attribute of the namespace, so that later uses are plain attribute reads that never reach this method
        (the mapping reads about 400 of them per trial). ``NS[local]`` takes data (ids), so it is never cached."""
        if local.startswith("__"):
            raise AttributeError(local)
        term = NamedNode(self.iri + local)
        setattr(self, local, term)
        return term

    def __str__(self) -> str:
        return self.iri

    def __repr__(self) -> str:
        return f"Namespace({self.iri!r})"


#: Our own classes and properties (documented in ``ontologies/trialkg.ttl``).
KG: Final = Namespace("https://w3id.org/trialkg/vocab/")
#: Our own resources: shared nodes (conditions, interventions, organisations, sites, countries),
#: the parts of a trial (arms, outcomes, …) and named graphs.
DATA: Final = Namespace("https://w3id.org/trialkg/id/")
#: A trial's IRI is its public ClinicalTrials.gov page: stable, derived from the NCT id, dereferenceable.
CTGOV_STUDY: Final = Namespace("https://clinicaltrials.gov/study/")
#: Official MeSH IRIs (descriptors ``D…``, supplementary concepts ``C…``).
MESH: Final = Namespace("http://id.nlm.nih.gov/mesh/")
#: A publication is NLM's own PubMed page for it, as a MeSH concept is NLM's IRI and a trial its registry page.
PUBMED: Final = Namespace("https://pubmed.ncbi.nlm.nih.gov/")

SCHEMA: Final = Namespace("https://schema.org/")
SKOS: Final = Namespace("http://www.w3.org/2004/02/skos/core#")
DCTERMS: Final = Namespace("http://purl.org/dc/terms/")
PROV: Final = Namespace("http://www.w3.org/ns/prov#")
RDF: Final = Namespace("http://www.w3.org/1999/02/22-rdf-syntax-ns#")
RDFS: Final = Namespace("http://www.w3.org/2000/01/rdf-schema#")
XSD: Final = Namespace("http://www.w3.org/2001/XMLSchema#")

#: Prefixes for Turtle output and for the prologue of named queries.
PREFIXES: Final[dict[str, str]] = {
    "kg": str(KG),
    "kgr": str(DATA),
    "ctgov": str(CTGOV_STUDY),
    "mesh": str(MESH),
    "pubmed": str(PUBMED),
    "schema": str(SCHEMA),
    "skos": str(SKOS),
    "dcterms": str(DCTERMS),
    "prov": str(PROV),
    "rdf": str(RDF),
    "rdfs": str(RDFS),
    "xsd": str(XSD),
}
#: The same prefixes as a SPARQL prologue: the one prefix block every query in the code starts with.
SPARQL_PROLOGUE: Final = "".join(f"PREFIX {prefix}: <{namespace}>\n" for prefix, namespace in PREFIXES.items())

#: Enumerations of the API v2 (code → human label). Each becomes an individual
#: ``kg:{enumeration}/{CODE}`` with ``skos:notation`` and ``rdfs:label``; a code not listed here
#: (the registry adds some now and then) still gets an IRI, with a warning in the build report.
ENUMERATIONS: Final[dict[str, dict[str, str]]] = {
    "status": {
        "NOT_YET_RECRUITING": "Not yet recruiting",
        "RECRUITING": "Recruiting",
        "ENROLLING_BY_INVITATION": "Enrolling by invitation",
        "ACTIVE_NOT_RECRUITING": "Active, not recruiting",
        "SUSPENDED": "Suspended",
        "TERMINATED": "Terminated",
        "COMPLETED": "Completed",
        "WITHDRAWN": "Withdrawn",
        "UNKNOWN": "Unknown status",
        "AVAILABLE": "Available",
        "NO_LONGER_AVAILABLE": "No longer available",
        "TEMPORARILY_NOT_AVAILABLE": "Temporarily not available",
        "APPROVED_FOR_MARKETING": "Approved for marketing",
        "WITHHELD": "Withheld",
    },
    "phase": {
        "NA": "Not applicable",
        "EARLY_PHASE1": "Early phase 1",
        "PHASE1": "Phase 1",
        "PHASE2": "Phase 2",
        "PHASE3": "Phase 3",
        "PHASE4": "Phase 4",
    },
    "studyType": {
        "INTERVENTIONAL": "Interventional",
        "OBSERVATIONAL": "Observational",
        "EXPANDED_ACCESS": "Expanded access",
    },
    "allocation": {"RANDOMIZED": "Randomized", "NON_RANDOMIZED": "Non-randomized", "NA": "Not applicable"},
    "interventionModel": {
        "SINGLE_GROUP": "Single group",
        "PARALLEL": "Parallel",
        "CROSSOVER": "Crossover",
        "FACTORIAL": "Factorial",
        "SEQUENTIAL": "Sequential",
    },
    "masking": {
        "NONE": "None (open label)",
        "SINGLE": "Single",
        "DOUBLE": "Double",
        "TRIPLE": "Triple",
        "QUADRUPLE": "Quadruple",
    },
    "primaryPurpose": {
        "TREATMENT": "Treatment",
        "PREVENTION": "Prevention",
        "DIAGNOSTIC": "Diagnostic",
        "ECT": "Educational/counseling/training",
        "SUPPORTIVE_CARE": "Supportive care",
        "SCREENING": "Screening",
        "HEALTH_SERVICES_RESEARCH": "Health services research",
        "BASIC_SCIENCE": "Basic science",
        "DEVICE_FEASIBILITY": "Device feasibility",
        "OTHER": "Other",
    },
    "sponsorClass": {
        "NIH": "NIH",
        "FED": "U.S. federal",
        "OTHER_GOV": "Other government",
        "INDIV": "Individual",
        "INDUSTRY": "Industry",
        "NETWORK": "Network",
        "AMBIG": "Ambiguous",
        "OTHER": "Other",
        "UNKNOWN": "Unknown",
    },
    "responsiblePartyType": {
        "SPONSOR": "Sponsor",
        "PRINCIPAL_INVESTIGATOR": "Principal investigator",
        "SPONSOR_INVESTIGATOR": "Sponsor-investigator",
    },
    "armType": {
        "EXPERIMENTAL": "Experimental",
        "ACTIVE_COMPARATOR": "Active comparator",
        "PLACEBO_COMPARATOR": "Placebo comparator",
        "SHAM_COMPARATOR": "Sham comparator",
        "NO_INTERVENTION": "No intervention",
        "OTHER": "Other",
    },
    "interventionType": {
        "BEHAVIORAL": "Behavioral",
        "BIOLOGICAL": "Biological",
        "COMBINATION_PRODUCT": "Combination product",
        "DEVICE": "Device",
        "DIAGNOSTIC_TEST": "Diagnostic test",
        "DIETARY_SUPPLEMENT": "Dietary supplement",
        "DRUG": "Drug",
        "GENETIC": "Genetic",
        "PROCEDURE": "Procedure",
        "RADIATION": "Radiation",
        "OTHER": "Other",
    },
    "sex": {"ALL": "All", "FEMALE": "Female", "MALE": "Male"},
    "ageGroup": {"CHILD": "Child (birth-17)", "ADULT": "Adult (18-64)", "OLDER_ADULT": "Older adult (65+)"},
    # --- protocol fields beyond the basics ---
    "observationalModel": {
        "COHORT": "Cohort",
        "CASE_CONTROL": "Case-control",
        "CASE_ONLY": "Case-only",
        "CASE_CROSSOVER": "Case-crossover",
        "ECOLOGIC_OR_COMMUNITY": "Ecologic or community",
        "FAMILY_BASED": "Family-based",
        "DEFINED_POPULATION": "Defined population",
        "NATURAL_HISTORY": "Natural history",
        "OTHER": "Other",
    },
    "timePerspective": {
        "RETROSPECTIVE": "Retrospective",
        "PROSPECTIVE": "Prospective",
        "CROSS_SECTIONAL": "Cross-sectional",
        "OTHER": "Other",
    },
    "whoMasked": {
        "PARTICIPANT": "Participant",
        "CARE_PROVIDER": "Care provider",
        "INVESTIGATOR": "Investigator",
        "OUTCOMES_ASSESSOR": "Outcomes assessor",
    },
    "bioSpecRetention": {
        "NONE_RETAINED": "None retained",
        "SAMPLES_WITH_DNA": "Samples with DNA",
        "SAMPLES_WITHOUT_DNA": "Samples without DNA",
    },
    "samplingMethod": {"PROBABILITY_SAMPLE": "Probability sample", "NON_PROBABILITY_SAMPLE": "Non-probability sample"},
    "ipdSharing": {"YES": "Yes", "NO": "No", "UNDECIDED": "Undecided"},
    "ipdInfoType": {
        "STUDY_PROTOCOL": "Study protocol",
        "SAP": "Statistical analysis plan",
        "ICF": "Informed consent form",
        "CSR": "Clinical study report",
        "ANALYTIC_CODE": "Analytic code",
    },
    "referenceType": {"BACKGROUND": "Background", "RESULT": "Result", "DERIVED": "Derived"},
    "officialRole": {
        "STUDY_CHAIR": "Study chair",
        "STUDY_DIRECTOR": "Study director",
        "PRINCIPAL_INVESTIGATOR": "Principal investigator",
        "SUB_INVESTIGATOR": "Sub-investigator",
        "CONTACT": "Contact",
    },
    "idType": {
        "NIH": "U.S. NIH grant/contract",
        "FDA": "U.S. FDA grant/contract",
        "VA": "U.S. VA grant/contract",
        "CDC": "U.S. CDC grant/contract",
        "AHRQ": "U.S. AHRQ grant/contract",
        "SAMHSA": "U.S. SAMHSA grant/contract",
        "OTHER_GRANT": "Other grant/funding number",
        "EUDRACT_NUMBER": "EudraCT number",
        "CTIS": "EU CT number (CTIS)",
        "REGISTRY": "Registry identifier",
        "OTHER": "Other identifier",
    },
    "browseRelevance": {"LOW": "Low", "HIGH": "High"},
    "unpostedEventType": {"RESET": "Reset", "RELEASE": "Release", "UNRELEASE": "Unrelease"},
    "violationEventType": {
        "VIOLATION_IDENTIFIED": "Violation identified",
        "CORRECTION_CONFIRMED": "Correction confirmed",
        "PENALTY_IMPOSED": "Penalty imposed",
        "ISSUES_IN_LETTER_ADDRESSED_CONFIRMED": "Issues in letter addressed, confirmed",
    },
    # --- results ---
    "outcomeMeasureType": {
        "PRIMARY": "Primary",
        "SECONDARY": "Secondary",
        "OTHER_PRE_SPECIFIED": "Other pre-specified",
        "POST_HOC": "Post-hoc",
    },
    "reportingStatus": {"NOT_POSTED": "Not posted", "POSTED": "Posted"},
    "measureParam": {
        "GEOMETRIC_MEAN": "Geometric mean",
        "GEOMETRIC_LEAST_SQUARES_MEAN": "Geometric least squares mean",
        "LEAST_SQUARES_MEAN": "Least squares mean",
        "LOG_MEAN": "Log mean",
        "MEAN": "Mean",
        "MEDIAN": "Median",
        "NUMBER": "Number",
        "COUNT_OF_PARTICIPANTS": "Count of participants",
        "COUNT_OF_UNITS": "Count of units",
    },
    "nonInferiorityType": {
        "SUPERIORITY": "Superiority",
        "NON_INFERIORITY": "Non-inferiority",
        "EQUIVALENCE": "Equivalence",
        "OTHER": "Other",
        "NON_INFERIORITY_OR_EQUIVALENCE": "Non-inferiority or equivalence",
        "SUPERIORITY_OR_OTHER": "Superiority or other",
        "NON_INFERIORITY_OR_EQUIVALENCE_LEGACY": "Non-inferiority or equivalence (legacy)",
        "SUPERIORITY_OR_OTHER_LEGACY": "Superiority or other (legacy)",
    },
    "ciNumSides": {"ONE_SIDED": "One-sided", "TWO_SIDED": "Two-sided"},
    "eventAssessment": {
        "NON_SYSTEMATIC_ASSESSMENT": "Non-systematic assessment",
        "SYSTEMATIC_ASSESSMENT": "Systematic assessment",
    },
    "agreementRestrictionType": {
        "LTE60": "Embargo of 60 days or less",
        "GT60": "Embargo of more than 60 days",
        "OTHER": "Other",
    },
}


def enum_iri(enumeration: str, code: str) -> NamedNode:
    """IRI of an enumeration value, e.g. ``enum_iri("phase", "PHASE1")``."""
    return KG[f"{enumeration}/{code}"]
