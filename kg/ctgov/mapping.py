"""One ClinicalTrials.gov API v2 study record → RDF quads: the only place that knows both shapes.

A trial's own statements go into its named graph (``kgr:graph/NCT…``) so that re-loading an updated record
replaces them as a unit. Shared nodes (conditions, interventions, organisations, sites, countries, MeSH
labels from the registry, secondary ids, PubMed articles, browse leaves and branches) are described once, in the
``kgr:graph/nodes`` graph, so that queries over the union of graphs see each statement once on every backend.
One method per API module; flat fields come from the module tables below. Contact persons (central and site
contacts) are left out with ``include_contacts=False``.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterator
from typing import Final
from urllib.parse import quote

from pyoxigraph import Literal, NamedNode, Quad

from kg.ctgov.eligibility import age_in_years, split_criteria
from kg.ctgov.emitter import FALSE, TRUE, Emitter, MappedTrial, clean, trial_iri
from kg.ctgov.record import RawStudy, RecordError, RecordNode
from kg.ctgov.results_mapping import map_results
from kg.graphs import ENUM_GRAPH
from kg.identifiers import is_nct_id, normalize_mesh_id, slug
from kg.vocab import DATA, DCTERMS, ENUMERATIONS, KG, MESH, PUBMED, RDF, RDFS, SCHEMA, SKOS, XSD, enum_iri

__all__ = [
    "OVERSIGHT_FLAGS",
    "STATUS_DATES",
    "MappedTrial",
    "RawStudy",
    "RecordError",
    "enumeration_quads",
    "map_study",
    "nct_id_of",
    "study_last_update",
    "trial_iri",
]

logger = logging.getLogger(__name__)

_NCT_ID = re.compile(r"NCT[0-9]{8}\Z")
#: PubMed's own page for an article: NLM's IRI for it, as mesh: uses NLM's IRIs and a trial is its registry page.
#: The registry's copy of a document a record lists (``{NCT id's last two digits}/{NCT id}/{filename}``).
_LARGE_DOCS: Final = "https://cdn.clinicaltrials.gov/large-docs/"
_PMID: Final = re.compile(r"[0-9]{1,10}\Z")
_BROWSE_LEAF_ID: Final = re.compile(r"[A-Za-z0-9]{1,32}\Z")
#: statusModule date fields: (API field, our property, is it a ``{date, type}`` struct?)
STATUS_DATES: Final = (
    ("startDateStruct", "startDate", True),
    ("primaryCompletionDateStruct", "primaryCompletionDate", True),
    ("completionDateStruct", "completionDate", True),
    ("studyFirstSubmitDate", "firstSubmitted", False),
    ("studyFirstSubmitQcDate", "firstSubmittedQc", False),
    ("studyFirstPostDateStruct", "firstPosted", True),
    ("resultsFirstSubmitDate", "resultsFirstSubmitted", False),
    ("resultsFirstSubmitQcDate", "resultsFirstSubmittedQc", False),
    ("resultsFirstPostDateStruct", "resultsFirstPosted", True),
    ("dispFirstSubmitDate", "dispositionFirstSubmitted", False),
    ("dispFirstSubmitQcDate", "dispositionFirstSubmittedQc", False),
    ("dispFirstPostDateStruct", "dispositionFirstPosted", True),
    ("lastUpdateSubmitDate", "lastUpdateSubmitted", False),
    ("lastUpdatePostDateStruct", "lastUpdatePosted", True),
    ("statusVerifiedDate", "statusVerified", False),
)
_OUTCOME_KINDS: Final = (("primaryOutcomes", "primary"), ("secondaryOutcomes", "secondary"), ("otherOutcomes", "other"))
#: oversightModule: each boolean is ``kg:{field}`` on the trial.
OVERSIGHT_FLAGS: Final = (
    "oversightHasDmc",
    "isFdaRegulatedDrug",
    "isFdaRegulatedDevice",
    "isUnapprovedDevice",
    "isPpsd",
    "isUsExport",
    "fdaaa801Violation",
)
#: Flat text fields: (API field, property).
_RESPONSIBLE_PARTY_TEXTS: Final = (
    ("investigatorFullName", SCHEMA.name),
    ("investigatorTitle", SCHEMA.jobTitle),
    ("investigatorAffiliation", KG.affiliation),
    ("oldNameTitle", KG.oldNameTitle),
    ("oldOrganization", KG.oldOrganization),
)
_CONTACT_TEXTS: Final = (
    ("name", SCHEMA.name),
    ("email", SCHEMA.email),
    ("phone", SCHEMA.telephone),
    ("phoneExt", KG.phoneExtension),
)
_IPD_TEXTS: Final = (
    ("description", KG.ipdSharingDescription),
    ("timeFrame", KG.ipdTimeFrame),
    ("accessCriteria", KG.ipdAccessCriteria),
)
_ELIGIBILITY_TEXTS: Final = (("genderDescription", KG.genderDescription), ("studyPopulation", KG.studyPopulation))
_DOCUMENT_FLAGS: Final = ("hasProtocol", "hasSap", "hasIcf")
#: Dates of parts: (API field, property name).
_VIOLATION_DATES: Final = (
    ("creationDate", "creationDate"),
    ("issuedDate", "issuedDate"),
    ("releaseDate", "releaseDate"),
    ("postedDate", "postedDate"),
)
_SUBMISSION_DATES: Final = (
    ("releaseDate", "releaseDate"),
    ("unreleaseDate", "unreleaseDate"),
    ("resetDate", "resetDate"),
)
_BROWSE_MODULES: Final = (("conditionBrowseModule", "condition"), ("interventionBrowseModule", "intervention"))


def nct_id_of(study: object) -> str | None:
    """The NCT id of a raw record, or None when it has none (or is not a record at all)."""
    try:
        value = study["protocolSection"]["identificationModule"]["nctId"]  # type: ignore[index]
    except (KeyError, TypeError):
        return None
    return value if is_nct_id(value) and _NCT_ID.match(value) else None


def study_last_update(study: RawStudy) -> str:
    """``lastUpdatePostDateStruct.date`` ("" when absent): the registry's version of a record."""
    try:
        value = study["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"]
    except (KeyError, TypeError):
        return ""
    return value if isinstance(value, str) else ""


class _TrialMapper(Emitter):
    """Walks one record once, module by module."""

    # --- modules --------------------------------------------------------------------------------
    def map(self, study: RecordNode) -> MappedTrial:
        protocol = study.obj("protocolSection")
        derived = study.obj("derivedSection")
        self.identification(protocol.obj("identificationModule"))
        self.description(protocol.obj("descriptionModule"))
        self.status(protocol.obj("statusModule"))
        self.sponsors(protocol.obj("sponsorCollaboratorsModule"))
        self.oversight(protocol.obj("oversightModule"))
        self.design(protocol.obj("designModule"))
        self.conditions(protocol.obj("conditionsModule"))
        self.arms_and_interventions(protocol.obj("armsInterventionsModule"))
        self.outcomes(protocol.obj("outcomesModule"))
        self.eligibility(protocol.obj("eligibilityModule"))
        self.contacts_and_locations(protocol.obj("contactsLocationsModule"))
        self.references(protocol.obj("referencesModule"))
        self.ipd_sharing(protocol.obj("ipdSharingStatementModule"))
        self.documents(study.obj("documentSection").obj("largeDocumentModule"))
        self.annotations(study.obj("annotationSection").obj("annotationModule"))
        self.misc_info(derived.obj("miscInfoModule"))
        for module_name, kind in _BROWSE_MODULES:
            self.browse(derived.obj(module_name), kind)
        self.flag(self.trial, KG.hasResults, study.flag("hasResults"))
        map_results(self, study.obj("resultsSection"))
        if study.data.get("synthetic"):
            self.add(self.trial, KG.synthetic, TRUE)
        return self.out

    def identification(self, module: RecordNode) -> None:
        t = self.trial
        self.add(t, RDF.type, SCHEMA.MedicalTrial)
        self.add(t, DCTERMS.identifier, Literal(self.nct_id))
        self.add(t, SCHEMA.url, t)
        org_study_id = module.obj("orgStudyIdInfo")
        self.text(t, KG.orgStudyId, org_study_id.text("id"))
        self.enum_at(t, KG.orgStudyIdType, "idType", org_study_id, "type")
        self.link(t, KG.orgStudyIdLink, org_study_id.text("link"))
        for alias in module.texts("nctIdAliases"):
            self.text(t, KG.nctIdAlias, alias)
        organization = module.obj("organization")
        org = self.organisation(organization.text("fullName"), organization)
        if org is not None:
            self.add(t, KG.organization, org)
        for index, item in enumerate(module.objs("secondaryIdInfos"), start=1):
            self.secondary_id(index, item)
        self.text(t, SCHEMA.name, module.text("briefTitle"))
        self.text(t, KG.officialTitle, module.text("officialTitle"))
        self.text(t, SCHEMA.alternateName, module.text("acronym"))

    def secondary_id(self, index: int, item: RecordNode) -> None:
        """A secondary id as listed, and the shared identifier node where trials citing one grant meet."""
        part = self.part(self.trial, KG.secondaryIdInfo, f"secondary-id/{index}", KG.SecondaryId)
        identifier = item.text("id")
        self.text(part, SKOS.notation, identifier)
        self.enum_at(part, KG.idType, "idType", item, "type")
        self.text(part, KG.idDomain, item.text("domain"))
        self.link(part, KG.idLink, item.text("link"))
        if identifier is not None:
            node = DATA[f"secondary-id/{slug(identifier)}"]
            self.label_node(node, KG.RegistryIdentifier, identifier)
            self.add(part, KG.identifierNode, node)
            self.add(self.trial, KG.secondaryId, node)

    def description(self, module: RecordNode) -> None:
        self.text(self.trial, SCHEMA.description, module.text("briefSummary"))
        self.text(self.trial, KG.detailedDescription, module.text("detailedDescription"))

    def status(self, module: RecordNode) -> None:
        t = self.trial
        self.enum_at(t, KG.overallStatus, "status", module, "overallStatus")
        self.enum_at(t, KG.lastKnownStatus, "status", module, "lastKnownStatus")
        self.text(t, KG.whyStopped, module.text("whyStopped"))
        self.flag(t, KG.delayedPosting, module.flag("delayedPosting"))
        for api_field, predicate, is_struct in STATUS_DATES:
            if is_struct:
                self.date_struct(predicate, module.obj(api_field))
            else:
                self.date(predicate, module.text(api_field), f"{module.path}.{api_field}")
        access = module.obj("expandedAccessInfo")
        self.flag(t, KG.hasExpandedAccess, access.flag("hasExpandedAccess"))
        record = access.text("nctId")
        if record is not None:
            if not is_nct_id(record):
                raise RecordError(f"{access.path}.nctId: {record!r:.60} is not an NCT id")
            self.add(t, KG.expandedAccessRecord, trial_iri(record))
        self.enum_at(t, KG.expandedAccessStatus, "status", access, "statusForNctId")

    def organisation(self, name: str | None, owner: RecordNode) -> NamedNode | None:
        """The shared organisation node called ``name``, with the sponsor class ``owner`` gives it."""
        if name is None:
            return None
        org = DATA[f"organization/{slug(name)}"]
        self.label_node(org, SCHEMA.Organization, name)
        self.enum_at(org, KG.sponsorClass, "sponsorClass", owner, "class", shared=True)
        return org

    def sponsors(self, module: RecordNode) -> None:
        lead = module.obj("leadSponsor")
        org = self.organisation(lead.text("name"), lead)
        if org is not None:
            self.add(self.trial, KG.leadSponsor, org)
        # The class is also kept on the trial: it is what the record says for this trial, even unnamed.
        self.enum_at(self.trial, KG.leadSponsorClass, "sponsorClass", lead, "class")
        for collaborator in module.objs("collaborators"):
            node = self.organisation(collaborator.text("name"), collaborator)
            if node is not None:
                self.add(self.trial, KG.collaborator, node)
        party = module.obj("responsibleParty")
        self.enum_at(self.trial, KG.responsiblePartyType, "responsiblePartyType", party, "type")
        if party.data:
            node = self.part(self.trial, KG.responsibleParty, "responsible-party", KG.ResponsibleParty)
            self.enum_at(node, KG.responsiblePartyType, "responsiblePartyType", party, "type")
            self.texts_at(node, party, _RESPONSIBLE_PARTY_TEXTS)

    def oversight(self, module: RecordNode) -> None:
        for key in OVERSIGHT_FLAGS:
            self.flag(self.trial, KG[key], module.flag(key))

    def design(self, module: RecordNode) -> None:
        t = self.trial
        self.enum_at(t, KG.studyType, "studyType", module, "studyType")
        self.enums_at(t, KG.phase, "phase", module, "phases")
        self.flag(t, KG.patientRegistry, module.flag("patientRegistry"))
        self.text(t, KG.targetDuration, module.text("targetDuration"))
        access = module.obj("expandedAccessTypes")
        for access_type in ("individual", "intermediate", "treatment"):
            self.flag(t, KG[f"expandedAccess{access_type.capitalize()}"], access.flag(access_type))
        info = module.obj("designInfo")
        self.enum_at(t, KG.allocation, "allocation", info, "allocation")
        self.enum_at(t, KG.interventionModel, "interventionModel", info, "interventionModel")
        self.text(t, KG.interventionModelDescription, info.text("interventionModelDescription"))
        self.enum_at(t, KG.primaryPurpose, "primaryPurpose", info, "primaryPurpose")
        self.enum_at(t, KG.observationalModel, "observationalModel", info, "observationalModel")
        self.enum_at(t, KG.timePerspective, "timePerspective", info, "timePerspective")
        masking = info.obj("maskingInfo")
        self.enum_at(t, KG.masking, "masking", masking, "masking")
        self.text(t, KG.maskingDescription, masking.text("maskingDescription"))
        self.enums_at(t, KG.whoMasked, "whoMasked", masking, "whoMasked")
        biospecimens = module.obj("bioSpec")
        self.enum_at(t, KG.bioSpecRetention, "bioSpecRetention", biospecimens, "retention")
        self.text(t, KG.bioSpecDescription, biospecimens.text("description"))
        enrollment = module.obj("enrollmentInfo")
        count = enrollment.integer("count")
        if count is not None:
            self.integer(t, KG.enrollment, count)
            kind = enrollment.text("type")
            if kind is not None:
                self.add(t, KG.enrollmentEstimated, TRUE if kind == "ESTIMATED" else FALSE)

    def conditions(self, module: RecordNode) -> None:
        """Each condition meets other trials at its shared node; the mention keeps this trial's spelling."""
        for index, name in enumerate(module.texts("conditions"), start=1):
            node = DATA[f"condition/{slug(name)}"]
            self.label_node(node, KG.Condition, name)
            self.add(self.trial, KG.condition, node)
            mention = self.part(self.trial, KG.conditionMention, f"condition/{index}", KG.ConditionMention, index)
            self.text(mention, RDFS.label, name)
            self.add(mention, KG.conditionNode, node)
        for keyword in module.texts("keywords"):
            self.text(self.trial, SCHEMA.keywords, keyword)

    def arms_and_interventions(self, module: RecordNode) -> None:
        arms = {
            label.casefold(): DATA[f"trial/{self.nct_id}/arm/{index}"]
            for index, arm in enumerate(module.objs("armGroups"), start=1)
            if (label := arm.text("label")) is not None
        }
        by_name: dict[str, NamedNode] = {}
        for index, item in enumerate(module.objs("interventions"), start=1):
            self.intervention(index, item, arms, by_name)
        for index, arm in enumerate(module.objs("armGroups"), start=1):
            self.arm(index, arm, by_name)

    def intervention(
        self, index: int, item: RecordNode, arms: dict[str, NamedNode], by_name: dict[str, NamedNode]
    ) -> None:
        """The shared intervention node and this trial's use of it; ``by_name`` learns how arms may name it."""
        name = item.text("name")
        if name is None:
            raise RecordError(f"{item.path}.name: an intervention without a name")
        kind = item.text("type") or "OTHER"
        node = DATA[f"intervention/{slug(kind)}/{slug(name)}"]
        self.label_node(node, KG.Intervention, name)
        self.enum(node, KG.interventionType, "interventionType", kind, f"{item.path}.type", shared=True)
        self.add(self.trial, KG.intervention, node)
        use = self.part(self.trial, KG.interventionUse, f"intervention/{index}", KG.InterventionUse)
        self.add(use, KG.interventionNode, node)
        self.text(use, RDFS.label, name)
        self.text(use, SCHEMA.description, item.text("description"))
        for other in item.texts("otherNames"):
            self.text(use, KG.otherName, other)
        for label in item.texts("armGroupLabels"):
            arm = arms.get(label.casefold())
            if arm is None:
                self.out.warnings.append(f"{item.path}: intervention names unknown arm {label!r:.80}")
                self.text(use, KG.armGroupLabel, label)
            else:
                self.add(use, KG.armGroup, arm)
        by_name[f"{kind}: {name}".casefold()] = node
        by_name.setdefault(name.casefold(), node)

    def arm(self, index: int, arm: RecordNode, by_name: dict[str, NamedNode]) -> None:
        node = self.part(self.trial, KG.arm, f"arm/{index}", KG.Arm, index)
        self.text(node, RDFS.label, arm.text("label"))
        self.enum_at(node, KG.armType, "armType", arm, "type")
        self.text(node, SCHEMA.description, arm.text("description"))
        for written in arm.texts("interventionNames"):
            target = by_name.get(written.casefold()) or by_name.get(written.partition(": ")[2].casefold())
            if target is None:
                self.out.warnings.append(f"{arm.path}: arm names unknown intervention {written!r:.80}")
                self.text(node, KG.interventionName, written)
            else:
                self.add(node, KG.armIntervention, target)

    def outcomes(self, module: RecordNode) -> None:
        for api_field, kind in _OUTCOME_KINDS:
            for index, item in enumerate(module.objs(api_field), start=1):
                node = self.part(self.trial, KG[f"{kind}Outcome"], f"outcome/{kind}/{index}", KG.Outcome, index)
                self.text(node, KG.measure, item.text("measure"))
                self.text(node, SCHEMA.description, item.text("description"))
                self.text(node, KG.timeFrame, item.text("timeFrame"))

    def eligibility(self, module: RecordNode) -> None:
        if not module.data:
            return
        node = self.part(self.trial, KG.eligibility, "eligibility", KG.Eligibility)
        criteria = module.text("eligibilityCriteria")
        self.text(node, KG.criteriaText, criteria)
        for kind, index, item in split_criteria(criteria or ""):
            criterion = self.part(node, KG[f"{kind}Criterion"], f"eligibility/{kind}/{index}", KG.Criterion, index)
            self.text(criterion, RDF.value, item)
        self.enum_at(node, KG.sex, "sex", module, "sex")
        self.flag(node, KG.genderBased, module.flag("genderBased"))
        self.texts_at(node, module, _ELIGIBILITY_TEXTS)
        for key, predicate in (("minimumAge", "minimumAge"), ("maximumAge", "maximumAge")):
            age = module.text(key)
            if age is None:
                continue
            self.text(node, KG[predicate], age)
            years = age_in_years(age)
            if years is not None:
                self.add(node, KG[predicate + "Years"], Literal(f"{years:.4f}", datatype=XSD.decimal))
        self.flag(node, KG.healthyVolunteers, module.flag("healthyVolunteers"))
        self.enums_at(node, KG.ageGroup, "ageGroup", module, "stdAges")
        self.enum_at(node, KG.samplingMethod, "samplingMethod", module, "samplingMethod")

    def contacts_and_locations(self, module: RecordNode) -> None:
        """Officials always; contact persons (central and per site) only when contacts are included."""
        for index, item in enumerate(module.objs("overallOfficials"), start=1):
            node = self.part(self.trial, KG.overallOfficial, f"official/{index}", KG.Official)
            self.text(node, SCHEMA.name, item.text("name"))
            self.enum_at(node, KG.role, "officialRole", item, "role")
            self.text(node, KG.affiliation, item.text("affiliation"))
        if self.include_contacts:
            for index, item in enumerate(module.objs("centralContacts"), start=1):
                self.contact(self.trial, KG.centralContact, f"contact/{index}", item)
        countries: set[NamedNode] = set()
        for index, item in enumerate(module.objs("locations"), start=1):
            country = self.location(index, item)
            if country is not None and country not in countries:
                countries.add(country)
                self.add(self.trial, KG.country, country)

    def contact(self, parent: NamedNode, predicate: NamedNode, path: str, item: RecordNode) -> None:
        node = self.part(parent, predicate, path, KG.Contact)
        self.enum_at(node, KG.role, "officialRole", item, "role")
        self.texts_at(node, item, _CONTACT_TEXTS)

    def location(self, index: int, item: RecordNode) -> NamedNode | None:
        """One trial site and its shared site node; returns the site's country node."""
        facility, city, state = item.text("facility"), item.text("city"), item.text("state")
        postal_code, country = item.text("zip"), item.text("country")
        # The zip code keeps apart sites with generic names ("Research Site") in one city.
        key = "|".join(part or "" for part in (facility, city, state, postal_code, country))
        site = DATA[f"site/{slug(key)}"]
        place = ", ".join(part for part in (city, state, country) if part)
        self.label_node(site, KG.Site, facility or place or "(site without name or place)")
        for predicate, value in (
            (SCHEMA.addressLocality, city),
            (SCHEMA.addressRegion, state),
            (SCHEMA.postalCode, postal_code),
        ):
            if value:
                self.shared(site, predicate, Literal(clean(value, self.out.warnings)))
        geo = item.obj("geoPoint")
        lat, lon = geo.number("lat"), geo.number("lon")
        if lat is not None and lon is not None and math.isfinite(lat) and math.isfinite(lon):
            self.shared(site, SCHEMA.latitude, Literal(repr(lat), datatype=XSD.double))
            self.shared(site, SCHEMA.longitude, Literal(repr(lon), datatype=XSD.double))
        country_node = self.country(country) if country else None
        if country_node is not None:
            self.shared(site, KG.country, country_node)
        location = self.part(self.trial, KG.location, f"location/{index}", KG.TrialSite)
        self.add(location, KG.site, site)
        self.enum_at(location, KG.recruitmentStatus, "status", item, "status")
        if self.include_contacts:
            for number, contact in enumerate(item.objs("contacts"), start=1):
                self.contact(location, KG.contact, f"location/{index}/contact/{number}", contact)
        return country_node

    def country(self, name: str) -> NamedNode:
        node = DATA[f"country/{slug(name)}"]
        self.label_node(node, SCHEMA.Country, name)
        return node

    def references(self, module: RecordNode) -> None:
        t = self.trial
        for index, item in enumerate(module.objs("references"), start=1):
            self.reference(index, item)
        for index, item in enumerate(module.objs("seeAlsoLinks"), start=1):
            node = self.part(t, KG.seeAlsoLink, f"link/{index}", KG.SeeAlsoLink)
            self.text(node, RDFS.label, item.text("label"))
            self.link(node, SCHEMA.url, item.text("url"))
        for index, item in enumerate(module.objs("availIpds"), start=1):
            node = self.part(t, KG.availableIpd, f"ipd/{index}", KG.AvailableIpd)
            self.text(node, SKOS.notation, item.text("id"))
            self.text(node, KG.ipdType, item.text("type"))
            self.link(node, SCHEMA.url, item.text("url"))
            self.text(node, RDFS.comment, item.text("comment"))

    def reference(self, index: int, item: RecordNode) -> None:
        """A reference; one with a PubMed id also points to the article node every trial citing it shares."""
        node = self.part(self.trial, KG.reference, f"reference/{index}", KG.Reference)
        self.text(node, KG.citation, item.text("citation"))
        self.enum_at(node, KG.referenceType, "referenceType", item, "type")
        pmid = item.text("pmid")
        if pmid is None:
            return
        self.text(node, KG.pmid, pmid)
        if not _PMID.match(pmid.strip()):
            self.out.warnings.append(f"{item.path}.pmid: {pmid!r:.40} is not a PubMed id, kept as text")
            return
        article = PUBMED[pmid.strip()]
        self.shared(article, RDF.type, SCHEMA.ScholarlyArticle)
        self.shared(article, KG.pmid, Literal(pmid.strip()))
        self.add(node, KG.publication, article)
        self.add(self.trial, KG.publication, article)
        for position, retraction in enumerate(item.objs("retractions"), start=1):
            notice = self.part(node, KG.retraction, f"reference/{index}/retraction/{position}", KG.Retraction)
            self.text(notice, KG.pmid, retraction.text("pmid"))
            self.text(notice, KG.retractionSource, retraction.text("source"))

    def ipd_sharing(self, module: RecordNode) -> None:
        t = self.trial
        self.enum_at(t, KG.ipdSharing, "ipdSharing", module, "ipdSharing")
        self.texts_at(t, module, _IPD_TEXTS)
        self.enums_at(t, KG.ipdInfoType, "ipdInfoType", module, "infoTypes")
        self.link(t, KG.ipdUrl, module.text("url"))

    def documents(self, module: RecordNode) -> None:
        self.flag(self.trial, KG.noSap, module.flag("noSap"))
        for index, item in enumerate(module.objs("largeDocs"), start=1):
            node = self.part(self.trial, KG.document, f"document/{index}", KG.Document)
            self.text(node, KG.documentType, item.text("typeAbbrev"))
            for key in _DOCUMENT_FLAGS:
                self.flag(node, KG[key], item.flag(key))
            self.text(node, RDFS.label, item.text("label"))
            self.date("documentDate", item.text("date"), f"{item.path}.date", subject=node)
            self.text(node, KG.uploaded, item.text("uploadDate"))
            self.integer(node, KG.fileSize, item.integer("size"))
            filename = item.text("filename")
            if filename is not None:
                self.text(node, KG.filename, filename)
                url = f"{_LARGE_DOCS}{self.nct_id[-2:]}/{self.nct_id}/{quote(filename, safe='')}"
                self.link(node, SCHEMA.url, url)

    def annotations(self, module: RecordNode) -> None:
        t = self.trial
        unposted = module.obj("unpostedAnnotation")
        self.text(t, KG.unpostedResponsibleParty, unposted.text("unpostedResponsibleParty"))
        for index, item in enumerate(unposted.objs("unpostedEvents"), start=1):
            node = self.part(t, KG.unpostedEvent, f"unposted-event/{index}", KG.UnpostedEvent)
            self.enum_at(node, KG.eventType, "unpostedEventType", item, "type")
            self.date("eventDate", item.text("date"), f"{item.path}.date", subject=node)
            self.flag(node, KG.dateUnknown, item.flag("dateUnknown"))
        for index, item in enumerate(module.obj("violationAnnotation").objs("violationEvents"), start=1):
            node = self.part(t, KG.violationEvent, f"violation-event/{index}", KG.ViolationEvent)
            self.enum_at(node, KG.eventType, "violationEventType", item, "type")
            self.text(node, SCHEMA.description, item.text("description"))
            self.dates_at(node, item, _VIOLATION_DATES)

    def misc_info(self, module: RecordNode) -> None:
        t = self.trial
        self.text(t, KG.dataVersion, module.text("versionHolder"))
        for name in module.texts("removedCountries"):
            self.add(t, KG.removedCountry, self.country(name))
        bmi = module.obj("modelPredictions").obj("bmiLimits")
        self.decimal(t, KG.predictedMinBmi, bmi.number("minBmi"))
        self.decimal(t, KG.predictedMaxBmi, bmi.number("maxBmi"))
        tracking = module.obj("submissionTracking")
        estimated = tracking.text("estimatedResultsFirstSubmitDate")
        self.date("estimatedResultsFirstSubmitted", estimated, f"{tracking.path}.estimatedResultsFirstSubmitDate")
        self.date_struct("firstMcpPosted", tracking.obj("firstMcpInfo").obj("postDateStruct"))
        for index, item in enumerate(tracking.objs("submissionInfos"), start=1):
            node = self.part(t, KG.submission, f"submission/{index}", KG.Submission)
            self.dates_at(node, item, _SUBMISSION_DATES)
            self.flag(node, KG.unreleaseDateUnknown, item.flag("unreleaseDateUnknown"))
            self.integer(node, KG.mcpReleaseNumber, item.integer("mcpReleaseN"))

    def browse(self, module: RecordNode, kind: str) -> None:
        """A browse module: the registry's MeSH terms and ancestors, and its own browse leaves and branches."""
        for api_field, predicate in (("meshes", f"{kind}Mesh"), ("ancestors", f"registry{kind.capitalize()}Ancestor")):
            for item in module.objs(api_field):
                self.add(self.trial, KG[predicate], self.mesh_concept(item))
        for index, item in enumerate(module.objs("browseLeaves"), start=1):
            use = self.part(self.trial, KG[f"{kind}BrowseLeaf"], f"{kind}-leaf/{index}", KG.BrowseLeafUse)
            self.add(use, KG.browseLeaf, self.browse_leaf(item))
            self.text(use, KG.asFound, item.text("asFound"))
            self.enum_at(use, KG.relevance, "browseRelevance", item, "relevance")
        for item in module.objs("browseBranches"):
            abbrev = item.text("abbrev")
            if abbrev is None:
                raise RecordError(f"{item.path}.abbrev: a browse branch without an abbreviation")
            branch = DATA[f"browse-branch/{kind}/{slug(abbrev)}"]
            self.typed_node(branch, KG.BrowseBranch, item.text("name"))
            self.shared(branch, SKOS.notation, Literal(clean(abbrev, self.out.warnings)))
            self.add(self.trial, KG[f"{kind}BrowseBranch"], branch)

    def typed_node(self, node: NamedNode, rdf_type: NamedNode, label: str | None) -> None:
        """A shared node with its type, and its label when the record gives one."""
        if label is None:
            self.shared(node, RDF.type, rdf_type)
        else:
            self.label_node(node, rdf_type, label)

    def mesh_concept(self, item: RecordNode) -> NamedNode:
        """A MeSH term of a browse module as NLM's IRI, with the registry's spelling on it."""
        raw_id, term = item.text("id"), item.text("term")
        if raw_id is None:
            raise RecordError(f"{item.path}.id: a MeSH term without an id")
        try:
            concept = MESH[normalize_mesh_id(raw_id)]
        except ValueError as error:
            raise RecordError(f"{item.path}.id: {error}") from None
        if term:
            self.shared(concept, RDF.type, SKOS.Concept)
            self.shared(concept, KG.registryTerm, Literal(clean(term, self.out.warnings)))
        return concept

    def browse_leaf(self, item: RecordNode) -> NamedNode:
        """The registry's browse leaf (``M15376``), shared by every trial it indexes."""
        leaf_id = item.text("id")
        if leaf_id is None or not _BROWSE_LEAF_ID.match(leaf_id):
            raise RecordError(f"{item.path}.id: {leaf_id!r:.60} is not a browse leaf id")
        leaf = DATA[f"browse-leaf/{leaf_id}"]
        self.typed_node(leaf, KG.BrowseLeaf, item.text("name"))
        self.shared(leaf, SKOS.notation, Literal(leaf_id))
        return leaf


def map_study(study: object, *, include_contacts: bool = True) -> MappedTrial:
    """All quads of one API v2 study record; raises RecordError for a record we cannot map faithfully.
    ``include_contacts=False`` leaves out contact persons' names, emails and phones."""
    nct_id = nct_id_of(study)
    if nct_id is None:
        raise RecordError("record has no valid protocolSection.identificationModule.nctId")
    return _TrialMapper(nct_id, include_contacts=include_contacts).map(RecordNode(study, nct_id))


def enumeration_quads() -> Iterator[Quad]:
    """The enumeration individuals (``kg:phase/PHASE1`` …) with notation and label, for the store."""
    for enumeration, codes in ENUMERATIONS.items():
        for code, label in codes.items():
            iri = enum_iri(enumeration, code)
            yield Quad(iri, RDF.type, KG[f"{enumeration[0].upper()}{enumeration[1:]}"], ENUM_GRAPH)
            yield Quad(iri, SKOS.notation, Literal(code), ENUM_GRAPH)
            yield Quad(iri, RDFS.label, Literal(label), ENUM_GRAPH)
