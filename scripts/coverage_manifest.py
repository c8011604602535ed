"""Write ontologies/coverage.md: for every API v2 field path, the property chain that carries its values.

    python scripts/coverage_manifest.py [--output ontologies/coverage.md]

The manifest is a table written here by hand from the graph model (issue 15's contract), not discovered from what
the mapping emits: discovered, it would describe the mapping whatever it does (a value dropped for some trials, or
carried by the wrong property, would simply be "discovered"), and the test that checks the mapping against it
(tests/test_coverage.py) would be circular. Only the mapping's two flat tables (status dates, oversight flags) are
imported rather than copied: a field dropped from them would still fail the test, as a path no manifest row names.
tests/test_coverage.py also checks that the page holds what this script writes.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from kg.atomic import write_atomic
from kg.ctgov.mapping import OVERSIGHT_FLAGS, STATUS_DATES

ROOT: Final = Path(__file__).resolve().parents[1]
OUTPUT: Final = ROOT / "ontologies" / "coverage.md"

#: (field path under the group, property chain under the group's chain, kind) or with a fourth item, a note.
Row = tuple[str, str, str] | tuple[str, str, str, str]


@dataclass(frozen=True)
class Carrier:
    """One way a value can be in the graph: the objects of ``chain`` (CURIEs) from the trial, compared as ``kind``."""

    chain: tuple[str, ...]
    kind: str


@dataclass(frozen=True)
class Field:
    """One API v2 leaf path (``[]`` for list items) and the carriers any of which holds its value."""

    path: str
    carriers: tuple[Carrier, ...]
    note: str = ""


#: How a raw value is compared with the objects at the end of its chain.
KINDS: Final[dict[str, str]] = {
    "text": "verbatim (after the mapping's Unicode cleaning)",
    "url": "an `xsd:anyURI` literal, by its lexical form",
    "enum:NAME": "the IRI `kg:{NAME}/{CODE}`",
    "mesh": "the MeSH IRI of the normalised id (`D000008175` → `mesh:D008175`)",
    "nct": "the trial IRI `https://clinicaltrials.gov/study/{NCT}`",
    "pubmed": "the PubMed node `https://pubmed.ncbi.nlm.nih.gov/{pmid}` (PMIDs of digits only)",
    "malformed-pmid": "a PMID that is not all digits: the literal only",
    "boolean": "`xsd:boolean` by value",
    "integer": "`xsd:integer` by value",
    "double": "a number by value",
    "count": "a count the API writes as text: `xsd:integer` by value (text as written when not a whole number)",
    "date": "by lexical form (`2024-09`)",
    "estimated": "a date or enrollment type: `true` for ESTIMATED or ANTICIPATED, `false` otherwise",
    "name": "a label, case-folded",
    "typed-name": "a label, case-folded; `Drug: X` also matches `X` (the API prefixes the intervention type)",
}


def _group(prefix: str, chain: str, rows: list[Row]) -> list[tuple[str, tuple[str, ...], str, str]]:
    """Rows under one path prefix and one chain prefix, as (path, chain, kind, note)."""
    out = []
    for row in rows:
        field, tail, kind = row[:3]
        note = row[3] if len(row) == 4 else ""
        links = [*chain.split("/"), *tail.split("/")] if chain else tail.split("/")
        out.append((f"{prefix}.{field}" if prefix else field, tuple(links), kind, note))
    return out


_PS: Final = "protocolSection"
_DS: Final = "derivedSection"
_RS: Final = "resultsSection"
_CONTACT: Final[list[Row]] = [
    ("name", "schema:name", "text"),
    ("role", "kg:role", "enum:officialRole"),
    ("email", "schema:email", "text"),
    ("phone", "schema:telephone", "text"),
    ("phoneExt", "kg:phoneExtension", "text"),
]
_GROUP: Final[list[Row]] = [
    ("id", "skos:notation", "text"),
    ("title", "rdfs:label", "text"),
    ("description", "schema:description", "text"),
]


def _status_rows() -> list[Row]:
    rows: list[Row] = []
    for api_field, prop, is_struct in STATUS_DATES:
        if is_struct:
            rows.append((f"{api_field}.date", f"kg:{prop}", "date"))
            rows.append((f"{api_field}.type", f"kg:{prop}Estimated", "estimated"))
        else:
            rows.append((api_field, f"kg:{prop}", "date"))
    return rows


def _protocol() -> list[tuple[str, tuple[str, ...], str, str]]:
    ident = f"{_PS}.identificationModule"
    locations = f"{_PS}.contactsLocationsModule.locations[]"
    arms = f"{_PS}.armsInterventionsModule"
    return [
        *_group(
            ident,
            "",
            [
                ("nctId", "dcterms:identifier", "text"),
                ("nctIdAliases[]", "kg:nctIdAlias", "text"),
                ("orgStudyIdInfo.id", "kg:orgStudyId", "text"),
                ("orgStudyIdInfo.type", "kg:orgStudyIdType", "enum:idType"),
                ("orgStudyIdInfo.link", "kg:orgStudyIdLink", "url"),
                ("briefTitle", "schema:name", "text"),
                ("officialTitle", "kg:officialTitle", "text"),
                ("acronym", "schema:alternateName", "text"),
                ("organization.fullName", "kg:organization/rdfs:label", "text", "shared organisation node"),
                ("organization.class", "kg:organization/kg:sponsorClass", "enum:sponsorClass"),
            ],
        ),
        *_group(
            f"{ident}.secondaryIdInfos[]",
            "kg:secondaryIdInfo",
            [
                ("id", "skos:notation", "text", "also the shared node `kg:secondaryId`"),
                ("type", "kg:idType", "enum:idType"),
                ("domain", "kg:idDomain", "text"),
                ("link", "kg:idLink", "url"),
            ],
        ),
        *_group(
            f"{_PS}.statusModule",
            "",
            [
                ("overallStatus", "kg:overallStatus", "enum:status"),
                ("lastKnownStatus", "kg:lastKnownStatus", "enum:status"),
                ("whyStopped", "kg:whyStopped", "text"),
                ("delayedPosting", "kg:delayedPosting", "boolean"),
                ("expandedAccessInfo.hasExpandedAccess", "kg:hasExpandedAccess", "boolean"),
                ("expandedAccessInfo.nctId", "kg:expandedAccessRecord", "nct"),
                ("expandedAccessInfo.statusForNctId", "kg:expandedAccessStatus", "enum:status"),
                *_status_rows(),
            ],
        ),
        *_group(
            f"{_PS}.sponsorCollaboratorsModule",
            "",
            [
                ("leadSponsor.name", "kg:leadSponsor/rdfs:label", "text", "shared organisation node"),
                ("leadSponsor.class", "kg:leadSponsorClass", "enum:sponsorClass"),
                ("collaborators[].name", "kg:collaborator/rdfs:label", "text"),
                ("collaborators[].class", "kg:collaborator/kg:sponsorClass", "enum:sponsorClass"),
                ("responsibleParty.type", "kg:responsiblePartyType", "enum:responsiblePartyType"),
                ("responsibleParty.investigatorFullName", "kg:responsibleParty/schema:name", "text"),
                ("responsibleParty.investigatorTitle", "kg:responsibleParty/schema:jobTitle", "text"),
                ("responsibleParty.investigatorAffiliation", "kg:responsibleParty/kg:affiliation", "text"),
                ("responsibleParty.oldNameTitle", "kg:responsibleParty/kg:oldNameTitle", "text"),
                ("responsibleParty.oldOrganization", "kg:responsibleParty/kg:oldOrganization", "text"),
            ],
        ),
        *_group(f"{_PS}.oversightModule", "", [(name, f"kg:{name}", "boolean") for name in OVERSIGHT_FLAGS]),
        *_group(
            f"{_PS}.descriptionModule",
            "",
            [
                ("briefSummary", "schema:description", "text"),
                ("detailedDescription", "kg:detailedDescription", "text"),
            ],
        ),
        *_group(
            f"{_PS}.conditionsModule",
            "",
            [
                ("conditions[]", "kg:conditionMention/rdfs:label", "text", "as this trial writes it"),
                ("keywords[]", "schema:keywords", "text"),
            ],
        ),
        *_group(
            f"{_PS}.designModule",
            "",
            [
                ("studyType", "kg:studyType", "enum:studyType"),
                ("phases[]", "kg:phase", "enum:phase"),
                ("patientRegistry", "kg:patientRegistry", "boolean"),
                ("targetDuration", "kg:targetDuration", "text"),
                ("expandedAccessTypes.individual", "kg:expandedAccessIndividual", "boolean"),
                ("expandedAccessTypes.intermediate", "kg:expandedAccessIntermediate", "boolean"),
                ("expandedAccessTypes.treatment", "kg:expandedAccessTreatment", "boolean"),
                ("designInfo.allocation", "kg:allocation", "enum:allocation"),
                ("designInfo.interventionModel", "kg:interventionModel", "enum:interventionModel"),
                ("designInfo.interventionModelDescription", "kg:interventionModelDescription", "text"),
                ("designInfo.primaryPurpose", "kg:primaryPurpose", "enum:primaryPurpose"),
                ("designInfo.observationalModel", "kg:observationalModel", "enum:observationalModel"),
                ("designInfo.timePerspective", "kg:timePerspective", "enum:timePerspective"),
                ("designInfo.maskingInfo.masking", "kg:masking", "enum:masking"),
                ("designInfo.maskingInfo.maskingDescription", "kg:maskingDescription", "text"),
                ("designInfo.maskingInfo.whoMasked[]", "kg:whoMasked", "enum:whoMasked"),
                ("bioSpec.retention", "kg:bioSpecRetention", "enum:bioSpecRetention"),
                ("bioSpec.description", "kg:bioSpecDescription", "text"),
                ("enrollmentInfo.count", "kg:enrollment", "integer"),
                ("enrollmentInfo.type", "kg:enrollmentEstimated", "estimated"),
            ],
        ),
        *_group(
            f"{arms}.armGroups[]",
            "kg:arm",
            [
                ("label", "rdfs:label", "text"),
                ("type", "kg:armType", "enum:armType"),
                ("description", "schema:description", "text"),
                ("interventionNames[]", "kg:armIntervention/rdfs:label", "typed-name", "the resolved intervention"),
                ("interventionNames[]", "kg:interventionName", "text", "or, unresolved, the name as written"),
            ],
        ),
        *_group(
            f"{arms}.interventions[]",
            "kg:interventionUse",
            [
                ("type", "kg:interventionNode/kg:interventionType", "enum:interventionType"),
                ("name", "rdfs:label", "text", "as this trial writes it"),
                ("description", "schema:description", "text"),
                ("otherNames[]", "kg:otherName", "text"),
                ("armGroupLabels[]", "kg:armGroup/rdfs:label", "name", "the resolved arm"),
                ("armGroupLabels[]", "kg:armGroupLabel", "text", "or, unresolved, the label as written"),
            ],
        ),
        *(
            row
            for kind in ("primary", "secondary", "other")
            for row in _group(
                f"{_PS}.outcomesModule.{kind}Outcomes[]",
                f"kg:{kind}Outcome",
                [
                    ("measure", "kg:measure", "text"),
                    ("description", "schema:description", "text"),
                    ("timeFrame", "kg:timeFrame", "text"),
                ],
            )
        ),
        *_group(
            f"{_PS}.eligibilityModule",
            "kg:eligibility",
            [
                ("eligibilityCriteria", "kg:criteriaText", "text"),
                ("healthyVolunteers", "kg:healthyVolunteers", "boolean"),
                ("sex", "kg:sex", "enum:sex"),
                ("genderBased", "kg:genderBased", "boolean"),
                ("genderDescription", "kg:genderDescription", "text"),
                ("minimumAge", "kg:minimumAge", "text"),
                ("maximumAge", "kg:maximumAge", "text"),
                ("stdAges[]", "kg:ageGroup", "enum:ageGroup"),
                ("studyPopulation", "kg:studyPopulation", "text"),
                ("samplingMethod", "kg:samplingMethod", "enum:samplingMethod"),
            ],
        ),
        *_group(f"{_PS}.contactsLocationsModule.centralContacts[]", "kg:centralContact", _CONTACT),
        *_group(
            f"{_PS}.contactsLocationsModule.overallOfficials[]",
            "kg:overallOfficial",
            [
                ("name", "schema:name", "text"),
                ("affiliation", "kg:affiliation", "text"),
                ("role", "kg:role", "enum:officialRole"),
            ],
        ),
        *_group(
            locations,
            "kg:location",
            [
                ("facility", "kg:site/rdfs:label", "text", "shared site node"),
                ("status", "kg:recruitmentStatus", "enum:status"),
                ("city", "kg:site/schema:addressLocality", "text"),
                ("state", "kg:site/schema:addressRegion", "text"),
                ("zip", "kg:site/schema:postalCode", "text"),
                ("country", "kg:site/kg:country/rdfs:label", "text", "shared country node"),
                ("geoPoint.lat", "kg:site/schema:latitude", "double"),
                ("geoPoint.lon", "kg:site/schema:longitude", "double"),
            ],
        ),
        *_group(f"{locations}.contacts[]", "kg:location/kg:contact", _CONTACT),
        *_group(
            f"{_PS}.referencesModule.references[]",
            "kg:reference",
            [
                ("pmid", "kg:publication", "pubmed", "the PubMed node"),
                ("pmid", "kg:pmid", "malformed-pmid", "or, not all digits, the literal"),
                ("type", "kg:referenceType", "enum:referenceType"),
                ("citation", "kg:citation", "text"),
            ],
        ),
        *_group(
            f"{_PS}.referencesModule.references[].retractions[]",
            "kg:reference/kg:retraction",
            [("pmid", "kg:pmid", "text"), ("source", "kg:retractionSource", "text")],
        ),
        *_group(
            f"{_PS}.referencesModule.seeAlsoLinks[]",
            "kg:seeAlsoLink",
            [("label", "rdfs:label", "text"), ("url", "schema:url", "url")],
        ),
        *_group(
            f"{_PS}.referencesModule.availIpds[]",
            "kg:availableIpd",
            [
                ("id", "skos:notation", "text"),
                ("type", "kg:ipdType", "text"),
                ("url", "schema:url", "url"),
                ("comment", "rdfs:comment", "text"),
            ],
        ),
        *_group(
            f"{_PS}.ipdSharingStatementModule",
            "",
            [
                ("ipdSharing", "kg:ipdSharing", "enum:ipdSharing"),
                ("description", "kg:ipdSharingDescription", "text"),
                ("infoTypes[]", "kg:ipdInfoType", "enum:ipdInfoType"),
                ("timeFrame", "kg:ipdTimeFrame", "text"),
                ("accessCriteria", "kg:ipdAccessCriteria", "text"),
                ("url", "kg:ipdUrl", "url"),
            ],
        ),
    ]


def _documents_and_annotations() -> list[tuple[str, tuple[str, ...], str, str]]:
    annotations = "annotationSection.annotationModule"
    return [
        *_group("documentSection.largeDocumentModule", "", [("noSap", "kg:noSap", "boolean")]),
        *_group(
            "documentSection.largeDocumentModule.largeDocs[]",
            "kg:document",
            [
                ("typeAbbrev", "kg:documentType", "text"),
                ("hasProtocol", "kg:hasProtocol", "boolean"),
                ("hasSap", "kg:hasSap", "boolean"),
                ("hasIcf", "kg:hasIcf", "boolean"),
                ("label", "rdfs:label", "text"),
                ("date", "kg:documentDate", "date"),
                ("uploadDate", "kg:uploaded", "text"),
                ("filename", "kg:filename", "text"),
                ("size", "kg:fileSize", "integer"),
            ],
        ),
        *_group(
            f"{annotations}.unpostedAnnotation",
            "",
            [("unpostedResponsibleParty", "kg:unpostedResponsibleParty", "text")],
        ),
        *_group(
            f"{annotations}.unpostedAnnotation.unpostedEvents[]",
            "kg:unpostedEvent",
            [
                ("type", "kg:eventType", "enum:unpostedEventType"),
                ("date", "kg:eventDate", "date"),
                ("dateUnknown", "kg:dateUnknown", "boolean"),
            ],
        ),
        *_group(
            f"{annotations}.violationAnnotation.violationEvents[]",
            "kg:violationEvent",
            [
                ("type", "kg:eventType", "enum:violationEventType"),
                ("description", "schema:description", "text"),
                ("creationDate", "kg:creationDate", "date"),
                ("issuedDate", "kg:issuedDate", "date"),
                ("releaseDate", "kg:releaseDate", "date"),
                ("postedDate", "kg:postedDate", "date"),
            ],
        ),
    ]


def _browse(kind: str) -> list[tuple[str, tuple[str, ...], str, str]]:
    module = f"{_DS}.{kind}BrowseModule"
    title = kind.capitalize()
    return [
        *_group(
            module,
            "",
            [
                ("meshes[].id", f"kg:{kind}Mesh", "mesh"),
                ("meshes[].term", f"kg:{kind}Mesh/kg:registryTerm", "text"),
                ("ancestors[].id", f"kg:registry{title}Ancestor", "mesh"),
                ("ancestors[].term", f"kg:registry{title}Ancestor/kg:registryTerm", "text"),
            ],
        ),
        *_group(
            f"{module}.browseLeaves[]",
            f"kg:{kind}BrowseLeaf",
            [
                ("id", "kg:browseLeaf/skos:notation", "text", "shared browse-leaf node"),
                ("name", "kg:browseLeaf/rdfs:label", "text"),
                ("asFound", "kg:asFound", "text"),
                ("relevance", "kg:relevance", "enum:browseRelevance"),
            ],
        ),
        *_group(
            f"{module}.browseBranches[]",
            f"kg:{kind}BrowseBranch",
            [("abbrev", "skos:notation", "text", "shared browse-branch node"), ("name", "rdfs:label", "text")],
        ),
    ]


def _derived() -> list[tuple[str, tuple[str, ...], str, str]]:
    misc = f"{_DS}.miscInfoModule"
    tracking = f"{misc}.submissionTracking"
    return [
        *_group(
            misc,
            "",
            [
                ("versionHolder", "kg:dataVersion", "text"),
                ("removedCountries[]", "kg:removedCountry/rdfs:label", "text", "shared country node"),
                ("modelPredictions.bmiLimits.minBmi", "kg:predictedMinBmi", "double"),
                ("modelPredictions.bmiLimits.maxBmi", "kg:predictedMaxBmi", "double"),
            ],
        ),
        *_group(
            tracking,
            "",
            [
                ("estimatedResultsFirstSubmitDate", "kg:estimatedResultsFirstSubmitted", "date"),
                ("firstMcpInfo.postDateStruct.date", "kg:firstMcpPosted", "date"),
                ("firstMcpInfo.postDateStruct.type", "kg:firstMcpPostedEstimated", "estimated"),
            ],
        ),
        *_group(
            f"{tracking}.submissionInfos[]",
            "kg:submission",
            [
                ("releaseDate", "kg:releaseDate", "date"),
                ("unreleaseDate", "kg:unreleaseDate", "date"),
                ("unreleaseDateUnknown", "kg:unreleaseDateUnknown", "boolean"),
                ("resetDate", "kg:resetDate", "date"),
                ("mcpReleaseN", "kg:mcpReleaseNumber", "integer"),
            ],
        ),
        *_browse("condition"),
        *_browse("intervention"),
        ("hasResults", ("kg:hasResults",), "boolean", ""),
    ]


def _denoms(prefix: str, chain: str) -> list[tuple[str, tuple[str, ...], str, str]]:
    return _group(
        f"{prefix}.denoms[]",
        f"{chain}/kg:denominator",
        [
            ("units", "kg:units", "text"),
            ("counts[].groupId", "kg:count/kg:group/skos:notation", "text"),
            ("counts[].value", "kg:count/kg:value", "count"),
        ],
    )


def _measure(prefix: str, chain: str) -> list[tuple[str, tuple[str, ...], str, str]]:
    """A measure's denominators and classes (shared by baseline and outcome measures, as in the mapping)."""
    classes, class_chain = f"{prefix}.classes[]", f"{chain}/kg:measureClass"
    measurements = f"{classes}.categories[].measurements[]"
    return [
        *_denoms(prefix, chain),
        *_group(classes, class_chain, [("title", "rdfs:label", "text")]),
        *_denoms(classes, class_chain),
        *_group(f"{classes}.categories[]", f"{class_chain}/kg:category", [("title", "rdfs:label", "text")]),
        *_group(
            measurements,
            f"{class_chain}/kg:category/kg:measurement",
            [
                ("groupId", "kg:group/skos:notation", "text"),
                ("value", "rdf:value", "text", "verbatim; also `kg:numericValue` when a finite decimal"),
                ("spread", "kg:spread", "text"),
                ("lowerLimit", "kg:lowerLimit", "text"),
                ("upperLimit", "kg:upperLimit", "text"),
                ("comment", "rdfs:comment", "text"),
            ],
        ),
    ]


_MEASURE_HEAD: Final[list[Row]] = [
    ("title", "rdfs:label", "text"),
    ("description", "schema:description", "text"),
    ("populationDescription", "kg:populationDescription", "text"),
    ("paramType", "kg:paramType", "enum:measureParam"),
    ("dispersionType", "kg:dispersionType", "text"),
    ("unitOfMeasure", "kg:unitOfMeasure", "text"),
    ("calculatePct", "kg:calculatePct", "boolean"),
    ("denomUnitsSelected", "kg:denomUnitsSelected", "text"),
]


def _flow() -> list[tuple[str, tuple[str, ...], str, str]]:
    flow = f"{_RS}.participantFlowModule"
    period, period_chain = f"{flow}.periods[]", "kg:participantFlow/kg:period"
    milestone, milestone_chain = f"{period}.milestones[]", f"{period_chain}/kg:milestone"
    withdrawal, withdrawal_chain = f"{period}.dropWithdraws[]", f"{period_chain}/kg:withdrawal"
    return [
        *_group(
            flow,
            "kg:participantFlow",
            [
                ("recruitmentDetails", "kg:recruitmentDetails", "text"),
                ("preAssignmentDetails", "kg:preAssignmentDetails", "text"),
                ("typeUnitsAnalyzed", "kg:typeUnitsAnalyzed", "text"),
            ],
        ),
        *_group(f"{flow}.groups[]", "kg:participantFlow/kg:group", _GROUP),
        *_group(period, period_chain, [("title", "rdfs:label", "text")]),
        *_group(
            milestone, milestone_chain, [("type", "kg:milestoneType", "text"), ("comment", "rdfs:comment", "text")]
        ),
        *_group(
            f"{milestone}.achievements[]",
            f"{milestone_chain}/kg:count",
            [
                ("groupId", "kg:group/skos:notation", "text"),
                ("numSubjects", "kg:numSubjects", "count"),
                ("numUnits", "kg:numUnits", "count"),
                ("comment", "rdfs:comment", "text"),
            ],
        ),
        *_group(withdrawal, withdrawal_chain, [("type", "kg:reason", "text"), ("comment", "rdfs:comment", "text")]),
        *_group(
            f"{withdrawal}.reasons[]",
            f"{withdrawal_chain}/kg:count",
            [
                ("groupId", "kg:group/skos:notation", "text"),
                ("numSubjects", "kg:numSubjects", "count"),
                ("comment", "rdfs:comment", "text"),
            ],
        ),
    ]


def _baseline() -> list[tuple[str, tuple[str, ...], str, str]]:
    baseline = f"{_RS}.baselineCharacteristicsModule"
    return [
        *_group(
            baseline,
            "kg:baseline",
            [
                ("populationDescription", "kg:populationDescription", "text"),
                ("typeUnitsAnalyzed", "kg:typeUnitsAnalyzed", "text"),
            ],
        ),
        *_group(f"{baseline}.groups[]", "kg:baseline/kg:group", _GROUP),
        *_denoms(baseline, "kg:baseline"),
        *_group(
            f"{baseline}.measures[]",
            "kg:baseline/kg:baselineMeasure",
            [(*_MEASURE_HEAD[0], "`kg:baselineMeasure`, not the spec's `kg:measure` (a protocol outcome's text)")],
        ),
        *_group(f"{baseline}.measures[]", "kg:baseline/kg:baselineMeasure", _MEASURE_HEAD[1:]),
        *_measure(f"{baseline}.measures[]", "kg:baseline/kg:baselineMeasure"),
    ]


_ANALYSIS: Final[list[Row]] = [
    ("groupIds[]", "kg:analysisGroup/skos:notation", "text"),
    ("groupDescription", "kg:groupDescription", "text"),
    ("nonInferiorityType", "kg:nonInferiorityType", "enum:nonInferiorityType"),
    ("nonInferiorityComment", "kg:nonInferiorityComment", "text"),
    ("testedNonInferiority", "kg:testedNonInferiority", "boolean"),
    ("pValue", "kg:pValue", "text"),
    ("pValueComment", "kg:pValueComment", "text"),
    ("statisticalMethod", "kg:statisticalMethod", "text"),
    ("statisticalComment", "kg:statisticalComment", "text"),
    ("paramType", "kg:estimateType", "text", "free text here (`kg:paramType` is an enumeration elsewhere)"),
    ("paramValue", "kg:estimate", "text"),
    ("dispersionType", "kg:dispersionType", "text"),
    ("dispersionValue", "kg:dispersionValue", "text"),
    ("ciPctValue", "kg:ciPercent", "text"),
    ("ciNumSides", "kg:ciSides", "enum:ciNumSides"),
    ("ciLowerLimit", "kg:ciLowerLimit", "text"),
    ("ciUpperLimit", "kg:ciUpperLimit", "text"),
    ("ciLowerLimitComment", "kg:ciLowerLimitComment", "text"),
    ("ciUpperLimitComment", "kg:ciUpperLimitComment", "text"),
    ("estimateComment", "kg:estimateComment", "text"),
    ("otherAnalysisDescription", "kg:otherAnalysisDescription", "text"),
]


def _outcomes() -> list[tuple[str, tuple[str, ...], str, str]]:
    outcome, chain = f"{_RS}.outcomeMeasuresModule.outcomeMeasures[]", "kg:outcomeResult"
    return [
        *_group(
            outcome,
            chain,
            [
                ("type", "kg:outcomeType", "enum:outcomeMeasureType"),
                ("reportingStatus", "kg:reportingStatus", "enum:reportingStatus"),
                ("anticipatedPostingDate", "kg:anticipatedPostingDate", "date"),
                ("timeFrame", "kg:timeFrame", "text"),
                ("typeUnitsAnalyzed", "kg:typeUnitsAnalyzed", "text"),
                *_MEASURE_HEAD,
            ],
        ),
        *_group(f"{outcome}.groups[]", f"{chain}/kg:group", _GROUP),
        *_measure(outcome, chain),
        *_group(f"{outcome}.analyses[]", f"{chain}/kg:analysis", _ANALYSIS),
    ]


def _adverse_events() -> list[tuple[str, tuple[str, ...], str, str]]:
    module, chain = f"{_RS}.adverseEventsModule", "kg:adverseEvents"
    counts = ("deaths", "serious", "other")
    events = [
        row
        for kind in ("serious", "other")
        for row in (
            *_group(
                f"{module}.{kind}Events[]",
                f"{chain}/kg:{kind}Event",
                [
                    ("term", "rdfs:label", "text"),
                    ("organSystem", "kg:organSystem", "text"),
                    ("sourceVocabulary", "kg:sourceVocabulary", "text"),
                    ("assessmentType", "kg:assessmentType", "enum:eventAssessment"),
                    ("notes", "rdfs:comment", "text"),
                ],
            ),
            *_group(
                f"{module}.{kind}Events[].stats[]",
                f"{chain}/kg:{kind}Event/kg:count",
                [
                    ("groupId", "kg:group/skos:notation", "text"),
                    ("numAffected", "kg:numAffected", "integer"),
                    ("numAtRisk", "kg:numAtRisk", "integer"),
                    ("numEvents", "kg:numEvents", "integer"),
                ],
            ),
        )
    ]
    return [
        *_group(
            module,
            chain,
            [
                ("frequencyThreshold", "kg:frequencyThreshold", "text"),
                ("timeFrame", "kg:timeFrame", "text"),
                ("description", "schema:description", "text"),
                ("allCauseMortalityComment", "kg:allCauseMortalityComment", "text"),
            ],
        ),
        *_group(
            f"{module}.eventGroups[]",
            f"{chain}/kg:group",
            [
                *_GROUP,
                *(
                    (f"{kind}Num{what}", f"kg:{kind}Num{what}", "integer")
                    for kind in counts
                    for what in ("Affected", "AtRisk")
                ),
            ],
        ),
        *events,
    ]


def _more_info() -> list[tuple[str, tuple[str, ...], str, str]]:
    module, chain = f"{_RS}.moreInfoModule", "kg:moreInfo"
    return [
        *_group(
            module,
            chain,
            [
                ("limitationsAndCaveats.description", "kg:limitationsAndCaveats", "text"),
                ("certainAgreement.piSponsorEmployee", "kg:piSponsorEmployee", "boolean"),
                ("certainAgreement.restrictiveAgreement", "kg:restrictiveAgreement", "boolean"),
                ("certainAgreement.restrictionType", "kg:restrictionType", "enum:agreementRestrictionType"),
                ("certainAgreement.otherDetails", "kg:agreementDetails", "text"),
            ],
        ),
        *_group(
            f"{module}.pointOfContact",
            f"{chain}/kg:pointOfContact",
            [
                ("title", "schema:jobTitle", "text"),
                ("organization", "kg:affiliation", "text"),
                *(row for row in _CONTACT if row[0] in ("email", "phone", "phoneExt")),
            ],
        ),
    ]


def _fields() -> dict[str, Field]:
    """Every manifest row, rows for one path merged into one field (its alternative carriers)."""
    rows = [
        *_protocol(),
        *_documents_and_annotations(),
        *_derived(),
        *_flow(),
        *_baseline(),
        *_outcomes(),
        *_adverse_events(),
        *_more_info(),
    ]
    fields: dict[str, Field] = {}
    for path, chain, kind, note in rows:
        old = fields.get(path)
        carriers = (*old.carriers, Carrier(chain, kind)) if old else (Carrier(chain, kind),)
        notes = "; ".join(part for part in (old.note if old else "", note) if part)
        fields[path] = Field(path, carriers, notes)
    return fields


#: API v2 field path → its carriers.
MANIFEST: Final = _fields()
#: Paths (and everything under them) deliberately not in the graph, with the reason.
EXCLUDED: Final[dict[str, str]] = {
    "protocolSection.contactsLocationsModule.locations_nested": (
        "not an API v2 field: the data's publisher added it to some files as an exact copy of `locations` "
        "(tests/test_coverage.py checks that it is one)"
    ),
}


def render() -> str:
    """The whole Markdown page."""
    lines = [
        "# Coverage manifest: every API v2 field and where the graph keeps it",
        "",
        "Generated by `python scripts/coverage_manifest.py` (do not edit by hand); `tests/test_coverage.py` checks",
        "that this page is what the script writes, walks every leaf value of every real record in",
        "`../shared/data/ctgov` and looks for it along the chain given here from the trial's IRI, in the trial's own",
        "graph and in the shared nodes graph (`kgr:graph/nodes`). A path of the records that is neither in the table",
        "nor excluded below fails that test. `[]` marks the items of a list; a chain reads from the trial",
        "(`kg:location/kg:site/schema:addressLocality`: the trial's locations, their sites, the sites' cities);",
        "`or` lists alternative carriers, any of which may hold the value. The test also checks that the values of",
        "one list item (a site, a measurement, a group's count) sit on one node at the chain they share, and that the",
        "store has as many outcome measurements, analyses, adverse-event rows and references as the JSON.",
        "",
        "Fields the model names that the real files never hold (violation events, `numUnits`, `typeUnitsAnalyzed`",
        "…) are listed too, so a record that has them is checked. Contact persons (`centralContacts`,",
        "`locations[].contacts`, the email and phone of `pointOfContact`) are left out by `kg build --no-contacts`;",
        "the test checks a default build.",
        "",
        "## How values are compared",
        "",
        "| kind | the value must be |",
        "|---|---|",
        *(f"| `{kind}` | {meaning} |" for kind, meaning in KINDS.items()),
        "",
        "## Fields",
        "",
        "| API v2 field | carried by | compared as | note |",
        "|---|---|---|---|",
    ]
    for field in MANIFEST.values():
        chains = " or ".join(f"`{'/'.join(carrier.chain)}`" for carrier in field.carriers)
        kinds = " or ".join(dict.fromkeys(f"`{carrier.kind}`" for carrier in field.carriers))
        lines.append(f"| `{field.path}` | {chains} | {kinds} | {field.note} |")
    lines += ["", "## Left out on purpose", "", "| API v2 field | why |", "|---|---|"]
    lines += [f"| `{path}` | {reason} |" for path, reason in EXCLUDED.items()]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    write_atomic(args.output, render())
    print(f"wrote {args.output}: {len(MANIFEST)} fields, {len(EXCLUDED)} left out")


if __name__ == "__main__":
    main()
