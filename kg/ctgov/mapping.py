"""One ClinicalTrials.gov API v2 study record → RDF quads: the only place that knows both shapes.

A trial's own statements go into its named graph (``kgr:graph/NCT…``) so that re-loading an updated record
replaces them as a unit. Shared nodes (conditions, interventions, organisations, sites, countries, MeSH
labels from the registry) are described once, in the ``kgr:graph/nodes`` graph, so that queries over the
union of graphs see each statement once on every backend.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterator
from typing import Final

from pyoxigraph import Literal, NamedNode, Quad

from kg.ctgov.eligibility import age_in_years, split_criteria
from kg.ctgov.emitter import FALSE, TRUE, Emitter, MappedTrial, clean, trial_iri
from kg.ctgov.record import RawStudy, RecordError, RecordNode
from kg.ctgov.results_mapping import map_results
from kg.graphs import ENUM_GRAPH
from kg.identifiers import is_nct_id, normalize_mesh_id, slug
from kg.vocab import DATA, DCTERMS, ENUMERATIONS, KG, MESH, RDF, RDFS, SCHEMA, SKOS, XSD, enum_iri

__all__ = [
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
#: statusModule date fields: (API field, our property, is it a ``{date, type}`` struct?)
_STATUS_DATES: Final = (
    ("startDateStruct", "startDate", True),
    ("primaryCompletionDateStruct", "primaryCompletionDate", True),
    ("completionDateStruct", "completionDate", True),
    ("studyFirstSubmitDate", "firstSubmitted", False),
    ("studyFirstSubmitQcDate", "firstSubmittedQc", False),
    ("studyFirstPostDateStruct", "firstPosted", True),
    ("lastUpdateSubmitDate", "lastUpdateSubmitted", False),
    ("lastUpdatePostDateStruct", "lastUpdatePosted", True),
    ("statusVerifiedDate", "statusVerified", False),
)
_OUTCOME_KINDS: Final = (("primaryOutcomes", "primary"), ("secondaryOutcomes", "secondary"), ("otherOutcomes", "other"))


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
        self.design(protocol.obj("designModule"))
        self.conditions(protocol.obj("conditionsModule"))
        self.arms_and_interventions(protocol.obj("armsInterventionsModule"))
        self.outcomes(protocol.obj("outcomesModule"))
        self.eligibility(protocol.obj("eligibilityModule"))
        self.locations(protocol.obj("contactsLocationsModule"))
        self.mesh(derived)
        has_results = study.flag("hasResults")
        if has_results is not None:
            self.add(self.trial, KG.hasResults, TRUE if has_results else FALSE)
        map_results(self, study.obj("resultsSection"))
        if study.data.get("synthetic"):
            self.add(self.trial, KG.synthetic, TRUE)
        return self.out

    def identification(self, module: RecordNode) -> None:
        t = self.trial
        self.add(t, RDF.type, SCHEMA.MedicalTrial)
        self.add(t, DCTERMS.identifier, Literal(self.nct_id))
        self.add(t, SCHEMA.url, t)
        self.text(t, KG.orgStudyId, module.obj("orgStudyIdInfo").text("id"))
        self.text(t, SCHEMA.name, module.text("briefTitle"))
        self.text(t, KG.officialTitle, module.text("officialTitle"))
        self.text(t, SCHEMA.alternateName, module.text("acronym"))

    def description(self, module: RecordNode) -> None:
        self.text(self.trial, SCHEMA.description, module.text("briefSummary"))
        self.text(self.trial, KG.detailedDescription, module.text("detailedDescription"))

    def status(self, module: RecordNode) -> None:
        self.enum(self.trial, KG.overallStatus, "status", module.text("overallStatus"), f"{module.path}.overallStatus")
        self.text(self.trial, KG.whyStopped, module.text("whyStopped"))
        for api_field, predicate, is_struct in _STATUS_DATES:
            path = f"{module.path}.{api_field}"
            if is_struct:
                struct = module.obj(api_field)
                kind = struct.text("type")
                estimated = None if kind is None else kind in ("ESTIMATED", "ANTICIPATED")
                self.date(predicate, struct.text("date"), path + ".date", estimated=estimated)
            else:
                self.date(predicate, module.text(api_field), path)

    def organisation(self, sponsor: RecordNode) -> NamedNode | None:
        name = sponsor.text("name")
        if name is None:
            return None
        org = DATA[f"organization/{slug(name)}"]
        self.label_node(org, SCHEMA.Organization, name)
        self.enum(org, KG.sponsorClass, "sponsorClass", sponsor.text("class"), f"{sponsor.path}.class", shared=True)
        return org

    def sponsors(self, module: RecordNode) -> None:
        lead = module.obj("leadSponsor")
        org = self.organisation(lead)
        if org is not None:
            self.add(self.trial, KG.leadSponsor, org)
        # The class is also kept on the trial: it is what the record says for this trial, even unnamed.
        self.enum(self.trial, KG.leadSponsorClass, "sponsorClass", lead.text("class"), f"{lead.path}.class")
        for collaborator in module.objs("collaborators"):
            node = self.organisation(collaborator)
            if node is not None:
                self.add(self.trial, KG.collaborator, node)
        party = module.obj("responsibleParty")
        self.enum(self.trial, KG.responsiblePartyType, "responsiblePartyType", party.text("type"), f"{party.path}.type")

    def design(self, module: RecordNode) -> None:
        t = self.trial
        self.enum(t, KG.studyType, "studyType", module.text("studyType"), f"{module.path}.studyType")
        for phase in module.texts("phases"):
            self.enum(t, KG.phase, "phase", phase, f"{module.path}.phases")
        info = module.obj("designInfo")
        self.enum(t, KG.allocation, "allocation", info.text("allocation"), f"{info.path}.allocation")
        self.enum(
            t,
            KG.interventionModel,
            "interventionModel",
            info.text("interventionModel"),
            f"{info.path}.interventionModel",
        )
        self.enum(t, KG.primaryPurpose, "primaryPurpose", info.text("primaryPurpose"), f"{info.path}.primaryPurpose")
        masking = info.obj("maskingInfo")
        self.enum(t, KG.masking, "masking", masking.text("masking"), f"{masking.path}.masking")
        enrollment = module.obj("enrollmentInfo")
        count = enrollment.integer("count")
        if count is not None:
            self.add(t, KG.enrollment, Literal(str(count), datatype=XSD.integer))
            kind = enrollment.text("type")
            if kind is not None:
                self.add(t, KG.enrollmentEstimated, TRUE if kind == "ESTIMATED" else FALSE)

    def conditions(self, module: RecordNode) -> None:
        for name in module.texts("conditions"):
            node = DATA[f"condition/{slug(name)}"]
            self.label_node(node, KG.Condition, name)
            self.add(self.trial, KG.condition, node)
        for keyword in module.texts("keywords"):
            self.text(self.trial, SCHEMA.keywords, keyword)

    def arms_and_interventions(self, module: RecordNode) -> None:
        by_name: dict[str, NamedNode] = {}
        for index, item in enumerate(module.objs("interventions"), start=1):
            name = item.text("name")
            if name is None:
                raise RecordError(f"{item.path}.name: an intervention without a name")
            kind = item.text("type") or "OTHER"
            node = DATA[f"intervention/{slug(kind)}/{slug(name)}"]
            self.label_node(node, KG.Intervention, name)
            self.enum(node, KG.interventionType, "interventionType", kind, f"{item.path}.type", shared=True)
            self.add(self.trial, KG.intervention, node)
            use = DATA[f"trial/{self.nct_id}/intervention/{index}"]
            self.add(self.trial, KG.interventionUse, use)
            self.add(use, RDF.type, KG.InterventionUse)
            self.add(use, KG.interventionNode, node)
            self.text(use, SCHEMA.description, item.text("description"))
            for other in item.texts("otherNames"):
                self.text(use, KG.otherName, other)
            by_name[f"{kind}: {name}".casefold()] = node
            by_name.setdefault(name.casefold(), node)
        for index, arm in enumerate(module.objs("armGroups"), start=1):
            node = DATA[f"trial/{self.nct_id}/arm/{index}"]
            self.add(self.trial, KG.arm, node)
            self.add(node, RDF.type, KG.Arm)
            self.add(node, KG.position, Literal(str(index), datatype=XSD.integer))
            self.text(node, RDFS.label, arm.text("label"))
            self.enum(node, KG.armType, "armType", arm.text("type"), f"{arm.path}.type")
            self.text(node, SCHEMA.description, arm.text("description"))
            for written in arm.texts("interventionNames"):
                target = by_name.get(written.casefold()) or by_name.get(written.partition(": ")[2].casefold())
                if target is None:
                    self.out.warnings.append(f"{arm.path}: arm names unknown intervention {written!r:.80}")
                else:
                    self.add(node, KG.armIntervention, target)

    def outcomes(self, module: RecordNode) -> None:
        for api_field, kind in _OUTCOME_KINDS:
            for index, item in enumerate(module.objs(api_field), start=1):
                node = DATA[f"trial/{self.nct_id}/outcome/{kind}/{index}"]
                self.add(self.trial, KG[f"{kind}Outcome"], node)
                self.add(node, RDF.type, KG.Outcome)
                self.add(node, KG.position, Literal(str(index), datatype=XSD.integer))
                self.text(node, KG.measure, item.text("measure"))
                self.text(node, SCHEMA.description, item.text("description"))
                self.text(node, KG.timeFrame, item.text("timeFrame"))

    def eligibility(self, module: RecordNode) -> None:
        if not module.data:
            return
        node = DATA[f"trial/{self.nct_id}/eligibility"]
        self.add(self.trial, KG.eligibility, node)
        self.add(node, RDF.type, KG.Eligibility)
        criteria = module.text("eligibilityCriteria")
        self.text(node, KG.criteriaText, criteria)
        for kind, index, item in split_criteria(criteria or ""):
            criterion = DATA[f"trial/{self.nct_id}/eligibility/{kind}/{index}"]
            self.add(node, KG[f"{kind}Criterion"], criterion)
            self.add(criterion, RDF.type, KG.Criterion)
            self.add(criterion, KG.position, Literal(str(index), datatype=XSD.integer))
            self.text(criterion, RDF.value, item)
        self.enum(node, KG.sex, "sex", module.text("sex"), f"{module.path}.sex")
        for key, predicate in (("minimumAge", "minimumAge"), ("maximumAge", "maximumAge")):
            age = module.text(key)
            if age is None:
                continue
            self.text(node, KG[predicate], age)
            years = age_in_years(age)
            if years is not None:
                self.add(node, KG[predicate + "Years"], Literal(f"{years:.4f}", datatype=XSD.decimal))
        volunteers = module.flag("healthyVolunteers")
        if volunteers is not None:
            self.add(node, KG.healthyVolunteers, TRUE if volunteers else FALSE)
        for group in module.texts("stdAges"):
            self.enum(node, KG.ageGroup, "ageGroup", group, f"{module.path}.stdAges")

    def locations(self, module: RecordNode) -> None:
        countries: set[str] = set()
        for index, item in enumerate(module.objs("locations"), start=1):
            facility, city = item.text("facility"), item.text("city")
            state, country = item.text("state"), item.text("country")
            # The zip code keeps apart sites with generic names ("Research Site") in one city.
            key = "|".join(part or "" for part in (facility, city, state, item.text("zip"), country))
            site = DATA[f"site/{slug(key)}"]
            place = ", ".join(part for part in (city, state, country) if part)
            self.label_node(site, KG.Site, facility or place or "(site without name or place)")
            for predicate, value in ((SCHEMA.addressLocality, city), (SCHEMA.addressRegion, state)):
                if value:
                    self.shared(site, predicate, Literal(clean(value, self.out.warnings)))
            geo = item.obj("geoPoint")
            lat, lon = geo.number("lat"), geo.number("lon")
            if lat is not None and lon is not None and math.isfinite(lat) and math.isfinite(lon):
                self.shared(site, SCHEMA.latitude, Literal(repr(lat), datatype=XSD.double))
                self.shared(site, SCHEMA.longitude, Literal(repr(lon), datatype=XSD.double))
            if country:
                country_node = DATA[f"country/{slug(country)}"]
                self.label_node(country_node, SCHEMA.Country, country)
                self.shared(site, KG.country, country_node)
                if country not in countries:
                    countries.add(country)
                    self.add(self.trial, KG.country, country_node)
            location = DATA[f"trial/{self.nct_id}/location/{index}"]
            self.add(self.trial, KG.location, location)
            self.add(location, RDF.type, KG.TrialSite)
            self.add(location, KG.site, site)
            self.enum(location, KG.recruitmentStatus, "status", item.text("status"), f"{item.path}.status")

    def mesh(self, derived: RecordNode) -> None:
        version = derived.obj("miscInfoModule").text("versionHolder")
        self.text(self.trial, KG.dataVersion, version)
        for module_name, kind in (("conditionBrowseModule", "condition"), ("interventionBrowseModule", "intervention")):
            module = derived.obj(module_name)
            for api_field, predicate in (
                ("meshes", f"{kind}Mesh"),
                ("ancestors", f"registry{kind.capitalize()}Ancestor"),
            ):
                for item in module.objs(api_field):
                    raw_id, term = item.text("id"), item.text("term")
                    if raw_id is None:
                        raise RecordError(f"{item.path}.id: a MeSH term without an id")
                    try:
                        concept = MESH[normalize_mesh_id(raw_id)]
                    except ValueError as error:
                        raise RecordError(f"{item.path}.id: {error}") from None
                    self.add(self.trial, KG[predicate], concept)
                    if term:
                        self.shared(concept, RDF.type, SKOS.Concept)
                        self.shared(concept, KG.registryTerm, Literal(clean(term, self.out.warnings)))


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
