"""Protocol, derived, document and annotation fields → the graph (issue 15, part A), checked against the raw JSON of
real records that have each field; what the real data lacks (violation events, available IPD, a PubMed id two trials
share) on synthetic records written here and marked synthetic."""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import pytest
from pyoxigraph import Literal, NamedNode
from typer.testing import CliRunner

import kg.pipeline.build
from kg.cli.main import app
from kg.ctgov.mapping import MappedTrial, RecordError, map_study, trial_iri
from kg.graphs import NODES_GRAPH
from kg.identifiers import slug
from kg.pipeline.build import build
from kg.pipeline.update import contacts_included
from kg.store import open_store
from kg.vocab import DATA, KG, PUBMED, RDF, RDFS, SCHEMA, SKOS, XSD, enum_iri
from tests.conftest import CTGOV_DATA

Study = dict[str, Any]
SYNTHETIC: Final = {"generator": "tests/test_mapping_protocol.py", "why": "fields the real records lack"}
#: Where contact persons' personal data sits in a record (``contactsLocationsModule``).
CONTACT_FIELDS: Final = ("name", "email", "phone", "phoneExt")


class Triples:
    """The quads of one mapped trial, looked up by subject and predicate."""

    def __init__(self, mapped: MappedTrial) -> None:
        self.mapped = mapped
        self.by_key: dict[tuple[NamedNode, NamedNode], list[Any]] = defaultdict(list)
        for quad in mapped.quads:
            self.by_key[(quad.subject, quad.predicate)].append(quad.object)  # type: ignore[index]

    def objects(self, subject: NamedNode, predicate: NamedNode) -> list[Any]:
        return self.by_key.get((subject, predicate), [])

    def values(self, subject: NamedNode, predicate: NamedNode) -> list[str]:
        return [term.value for term in self.objects(subject, predicate)]

    def one(self, subject: NamedNode, predicate: NamedNode) -> Any:
        (term,) = self.objects(subject, predicate)
        return term

    def graph_of(self, subject: NamedNode, predicate: NamedNode) -> set[Any]:
        return {q.graph_name for q in self.mapped.quads if q.subject == subject and q.predicate == predicate}


_MAPPED: dict[str, Triples] = {}


def triples_of(study: Study) -> Triples:
    """A real record mapped once for this module (several tests walk every record)."""
    nct_id = nct_of(study)
    if nct_id not in _MAPPED:
        _MAPPED[nct_id] = Triples(map_study(study))
    return _MAPPED[nct_id]


def get(study: Study, path: str) -> Any:
    """The value at a dotted path of a raw record (None when absent)."""
    node: Any = study
    for key in path.split("."):
        node = node.get(key) if isinstance(node, dict) else None
    return node


def having(real_studies: dict[str, Study], path: str, test: Callable[[Any], bool] = bool) -> Study:
    """The first real record (by NCT id) whose field at ``path`` passes ``test``."""
    for nct_id in sorted(real_studies):
        if test(get(real_studies[nct_id], path)):
            return real_studies[nct_id]
    pytest.skip(f"no real record has {path}")


def nct_of(study: Study) -> str:
    return str(study["protocolSection"]["identificationModule"]["nctId"])


def part(study: Study, path: str) -> NamedNode:
    return DATA[f"trial/{nct_of(study)}/{path}"]


def date_literal(value: str) -> Literal:
    return Literal(value, datatype={10: XSD.date, 7: XSD.gYearMonth, 4: XSD.gYear}[len(value)])


def synthetic(nct_id: str, **protocol: Any) -> Study:
    """A minimal synthetic record with the given protocol modules."""
    modules = {"identificationModule": {"nctId": nct_id, "briefTitle": f"[Synthetic] {nct_id}"}, **protocol}
    return {"synthetic": SYNTHETIC, "protocolSection": modules, "hasResults": False}


# --- identification ---------------------------------------------------------------------------------------


def test_org_study_id_type_link_and_aliases(real_studies: dict[str, Study]) -> None:
    study = having(real_studies, "protocolSection.identificationModule.orgStudyIdInfo.link")
    info = get(study, "protocolSection.identificationModule.orgStudyIdInfo")
    t, triples = trial_iri(nct_of(study)), triples_of(study)
    assert triples.values(t, KG.orgStudyId) == [info["id"]]
    assert triples.objects(t, KG.orgStudyIdType) == [enum_iri("idType", info["type"])]
    assert triples.objects(t, KG.orgStudyIdLink) == [Literal(info["link"], datatype=XSD.anyURI)]
    study = having(real_studies, "protocolSection.identificationModule.nctIdAliases")
    aliases = get(study, "protocolSection.identificationModule.nctIdAliases")
    assert sorted(triples_of(study).values(trial_iri(nct_of(study)), KG.nctIdAlias)) == sorted(aliases)


def test_the_registering_organisation_is_the_shared_sponsor_node(real_studies: dict[str, Study]) -> None:
    study = having(real_studies, "protocolSection.identificationModule.organization.fullName")
    organization = get(study, "protocolSection.identificationModule.organization")
    triples = triples_of(study)
    org = DATA[f"organization/{slug(organization['fullName'])}"]
    assert triples.objects(trial_iri(nct_of(study)), KG.organization) == [org]
    assert organization["fullName"] in triples.values(org, RDFS.label)
    assert enum_iri("sponsorClass", organization["class"]) in triples.objects(org, KG.sponsorClass)
    assert triples.graph_of(org, RDFS.label) == {NODES_GRAPH}


def test_secondary_ids_are_parts_and_shared_identifier_nodes(real_studies: dict[str, Study]) -> None:
    study = having(
        real_studies,
        "protocolSection.identificationModule.secondaryIdInfos",
        lambda infos: bool(infos) and all({"type", "domain"} <= set(info) for info in infos),
    )
    t, triples = trial_iri(nct_of(study)), triples_of(study)
    infos = get(study, "protocolSection.identificationModule.secondaryIdInfos")
    assert len(triples.objects(t, KG.secondaryIdInfo)) == len(infos)
    for n, info in enumerate(infos, start=1):
        node, shared = part(study, f"secondary-id/{n}"), DATA[f"secondary-id/{slug(info['id'])}"]
        assert triples.objects(node, RDF.type) == [KG.SecondaryId]
        assert triples.values(node, SKOS.notation) == [info["id"]]
        assert triples.objects(node, KG.idType) == [enum_iri("idType", info["type"])]
        assert triples.values(node, KG.idDomain) == [info["domain"]]
        assert triples.objects(node, KG.identifierNode) == [shared]
        assert shared in triples.objects(t, KG.secondaryId)
        assert triples.values(shared, RDFS.label) == [info["id"]]
        assert triples.objects(shared, RDF.type) == [KG.RegistryIdentifier]


# --- status -----------------------------------------------------------------------------------------------

_DATES: Final = (
    ("resultsFirstSubmitDate", "resultsFirstSubmitted"),
    ("resultsFirstSubmitQcDate", "resultsFirstSubmittedQc"),
    ("resultsFirstPostDateStruct", "resultsFirstPosted"),
    ("dispFirstSubmitDate", "dispositionFirstSubmitted"),
    ("dispFirstSubmitQcDate", "dispositionFirstSubmittedQc"),
    ("dispFirstPostDateStruct", "dispositionFirstPosted"),
)


@pytest.mark.parametrize(("api_field", "name"), _DATES)
def test_results_and_disposition_dates_keep_their_type(
    real_studies: dict[str, Study], api_field: str, name: str
) -> None:
    study = having(real_studies, f"protocolSection.statusModule.{api_field}")
    value = get(study, f"protocolSection.statusModule.{api_field}")
    t, triples = trial_iri(nct_of(study)), triples_of(study)
    date = value["date"] if isinstance(value, dict) else value
    assert triples.objects(t, KG[name]) == [date_literal(date)]
    estimated = triples.values(t, KG[f"{name}Estimated"])
    assert estimated == ([] if not isinstance(value, dict) else [str(value["type"] != "ACTUAL").lower()])


def test_a_date_struct_without_a_type_is_not_stated_estimated_or_actual() -> None:
    study = synthetic("NCT99100001", statusModule={"resultsFirstPostDateStruct": {"date": "2024-10"}})
    triples = triples_of(study)
    t = trial_iri("NCT99100001")
    assert triples.objects(t, KG.resultsFirstPosted) == [Literal("2024-10", datatype=XSD.gYearMonth)]
    assert triples.objects(t, KG.resultsFirstPostedEstimated) == []


def test_last_known_status_and_expanded_access(real_studies: dict[str, Study]) -> None:
    study = having(real_studies, "protocolSection.statusModule.lastKnownStatus")
    status = get(study, "protocolSection.statusModule.lastKnownStatus")
    t = trial_iri(nct_of(study))
    assert triples_of(study).objects(t, KG.lastKnownStatus) == [enum_iri("status", status)]
    study = having(real_studies, "protocolSection.statusModule.expandedAccessInfo.nctId")
    access = get(study, "protocolSection.statusModule.expandedAccessInfo")
    t, triples = trial_iri(nct_of(study)), triples_of(study)
    assert triples.objects(t, KG.hasExpandedAccess) == [
        Literal(str(access["hasExpandedAccess"]).lower(), datatype=XSD.boolean)
    ]
    assert triples.objects(t, KG.expandedAccessRecord) == [trial_iri(access["nctId"])]
    assert triples.objects(t, KG.expandedAccessStatus) == [enum_iri("status", access["statusForNctId"])]


# --- sponsors, officials, contacts, sites ---------------------------------------------------------------------


def test_responsible_party_is_a_part_and_its_type_stays_on_the_trial(real_studies: dict[str, Study]) -> None:
    study = having(
        real_studies,
        "protocolSection.sponsorCollaboratorsModule.responsibleParty",
        lambda party: isinstance(party, dict) and "investigatorFullName" in party and "type" in party,
    )
    party = get(study, "protocolSection.sponsorCollaboratorsModule.responsibleParty")
    t, triples = trial_iri(nct_of(study)), triples_of(study)
    node = part(study, "responsible-party")
    assert triples.objects(t, KG.responsibleParty) == [node]
    kind = enum_iri("responsiblePartyType", party["type"])
    assert triples.objects(t, KG.responsiblePartyType) == triples.objects(node, KG.responsiblePartyType) == [kind]
    assert triples.values(node, SCHEMA.name) == [party["investigatorFullName"]]
    assert triples.values(node, SCHEMA.jobTitle) == [party["investigatorTitle"]]
    assert triples.values(node, KG.affiliation) == [party["investigatorAffiliation"]]
    study = having(real_studies, "protocolSection.sponsorCollaboratorsModule.responsibleParty.oldNameTitle")
    party = get(study, "protocolSection.sponsorCollaboratorsModule.responsibleParty")
    triples = triples_of(study)
    assert triples.values(part(study, "responsible-party"), KG.oldNameTitle) == [party["oldNameTitle"]]
    assert triples.values(part(study, "responsible-party"), KG.oldOrganization) == [party["oldOrganization"]]


def test_officials_central_and_site_contacts(real_studies: dict[str, Study]) -> None:
    study = having(
        real_studies,
        "protocolSection.contactsLocationsModule",
        lambda module: (
            bool(module)
            and bool(module.get("overallOfficials"))
            and any(c.get("email") and c.get("phone") for c in module.get("centralContacts", []))
            and any(location.get("contacts") for location in module.get("locations", []))
        ),
    )
    module = get(study, "protocolSection.contactsLocationsModule")
    t, triples = trial_iri(nct_of(study)), triples_of(study)
    for n, official in enumerate(module["overallOfficials"], start=1):
        node = part(study, f"official/{n}")
        assert node in triples.objects(t, KG.overallOfficial)
        assert triples.values(node, SCHEMA.name) == [official["name"]]
        assert triples.objects(node, KG.role) == [enum_iri("officialRole", official["role"])]
        assert triples.values(node, KG.affiliation) == ([official["affiliation"]] if "affiliation" in official else [])
    for n, contact in enumerate(module["centralContacts"], start=1):
        node = part(study, f"contact/{n}")
        assert node in triples.objects(t, KG.centralContact)
        assert triples.objects(node, RDF.type) == [KG.Contact]
        for key, predicate in (("name", SCHEMA.name), ("email", SCHEMA.email), ("phone", SCHEMA.telephone)):
            assert triples.values(node, predicate) == ([contact[key]] if key in contact else [])
    i, location = next((i, loc) for i, loc in enumerate(module["locations"], start=1) if loc.get("contacts"))
    for n, contact in enumerate(location["contacts"], start=1):
        node = part(study, f"location/{i}/contact/{n}")
        assert node in triples.objects(part(study, f"location/{i}"), KG.contact)
        assert triples.values(node, SCHEMA.name) == ([contact["name"]] if "name" in contact else [])
        assert triples.objects(node, KG.role) == (
            [enum_iri("officialRole", contact["role"])] if "role" in contact else []
        )


def test_a_site_keeps_its_postal_code(real_studies: dict[str, Study]) -> None:
    study = having(
        real_studies, "protocolSection.contactsLocationsModule.locations", lambda ls: bool(ls) and "zip" in ls[0]
    )
    triples = triples_of(study)
    site = triples.one(part(study, "location/1"), KG.site)
    zip_code = get(study, "protocolSection.contactsLocationsModule.locations")[0]["zip"]
    assert triples.values(site, SCHEMA.postalCode) == [zip_code]
    assert triples.graph_of(site, SCHEMA.postalCode) == {NODES_GRAPH}


# --- oversight, design, conditions, arms, eligibility ------------------------------------------------------

_OVERSIGHT: Final = (
    "oversightHasDmc",
    "isFdaRegulatedDrug",
    "isFdaRegulatedDevice",
    "isUnapprovedDevice",
    "isUsExport",
)


@pytest.mark.parametrize("key", _OVERSIGHT)
def test_oversight_flags(real_studies: dict[str, Study], key: str) -> None:
    for study in real_studies.values():
        value = get(study, f"protocolSection.oversightModule.{key}")
        expected = [] if value is None else [str(value).lower()]
        assert triples_of(study).values(trial_iri(nct_of(study)), KG[key]) == expected, nct_of(study)


@pytest.mark.parametrize(
    ("path", "predicate", "enumeration"),
    [
        ("designModule.designInfo.observationalModel", KG.observationalModel, "observationalModel"),
        ("designModule.designInfo.timePerspective", KG.timePerspective, "timePerspective"),
        ("designModule.bioSpec.retention", KG.bioSpecRetention, "bioSpecRetention"),
        ("designModule.designInfo.interventionModelDescription", KG.interventionModelDescription, None),
        ("designModule.designInfo.maskingInfo.maskingDescription", KG.maskingDescription, None),
        ("designModule.bioSpec.description", KG.bioSpecDescription, None),
        ("designModule.targetDuration", KG.targetDuration, None),
        ("ipdSharingStatementModule.ipdSharing", KG.ipdSharing, "ipdSharing"),
        ("ipdSharingStatementModule.description", KG.ipdSharingDescription, None),
        ("ipdSharingStatementModule.timeFrame", KG.ipdTimeFrame, None),
        ("ipdSharingStatementModule.accessCriteria", KG.ipdAccessCriteria, None),
    ],
)
def test_single_valued_trial_fields_verbatim(
    real_studies: dict[str, Study], path: str, predicate: NamedNode, enumeration: str | None
) -> None:
    study = having(real_studies, f"protocolSection.{path}")
    value = get(study, f"protocolSection.{path}")
    expected = enum_iri(enumeration, value) if enumeration else Literal(value)
    assert triples_of(study).objects(trial_iri(nct_of(study)), predicate) == [expected]


@pytest.mark.parametrize(
    ("path", "predicate", "enumeration"),
    [
        ("designModule.designInfo.maskingInfo.whoMasked", KG.whoMasked, "whoMasked"),
        ("ipdSharingStatementModule.infoTypes", KG.ipdInfoType, "ipdInfoType"),
    ],
)
def test_enumeration_lists_give_one_statement_each(
    real_studies: dict[str, Study], path: str, predicate: NamedNode, enumeration: str
) -> None:
    study = having(real_studies, f"protocolSection.{path}", lambda codes: bool(codes) and len(codes) > 1)
    codes = get(study, f"protocolSection.{path}")
    objects = triples_of(study).objects(trial_iri(nct_of(study)), predicate)
    assert sorted(objects, key=str) == sorted((enum_iri(enumeration, code) for code in codes), key=str)


def test_patient_registry_and_ipd_url(real_studies: dict[str, Study]) -> None:
    study = having(real_studies, "protocolSection.designModule.patientRegistry", lambda v: v is True)
    assert triples_of(study).values(trial_iri(nct_of(study)), KG.patientRegistry) == ["true"]
    study = having(real_studies, "protocolSection.ipdSharingStatementModule.url")
    url = get(study, "protocolSection.ipdSharingStatementModule.url")
    assert triples_of(study).objects(trial_iri(nct_of(study)), KG.ipdUrl) == [Literal(url, datatype=XSD.anyURI)]


def test_each_trial_keeps_its_own_spelling_of_conditions_and_interventions(real_studies: dict[str, Study]) -> None:
    study = having(real_studies, "protocolSection.conditionsModule.conditions", lambda c: bool(c) and len(c) > 2)
    conditions = get(study, "protocolSection.conditionsModule.conditions")
    t, triples = trial_iri(nct_of(study)), triples_of(study)
    assert len(triples.objects(t, KG.conditionMention)) == len(conditions)
    for n, name in enumerate(conditions, start=1):
        mention = part(study, f"condition/{n}")
        assert triples.values(mention, RDFS.label) == [name]
        assert triples.values(mention, KG.position) == [str(n)]
        assert triples.objects(mention, KG.conditionNode) == [DATA[f"condition/{slug(name)}"]]
    interventions = get(study, "protocolSection.armsInterventionsModule.interventions") or []
    for n, item in enumerate(interventions, start=1):
        assert triples.values(part(study, f"intervention/{n}"), RDFS.label) == [item["name"]]


def test_interventions_point_to_the_arms_they_are_given_in(real_studies: dict[str, Study]) -> None:
    study = having(
        real_studies,
        "protocolSection.armsInterventionsModule.interventions",
        lambda items: bool(items) and sum(len(i.get("armGroupLabels", [])) for i in items) > 2,
    )
    module = get(study, "protocolSection.armsInterventionsModule")
    arms = {arm["label"].casefold(): n for n, arm in enumerate(module["armGroups"], start=1)}
    triples = triples_of(study)
    for n, item in enumerate(module["interventions"], start=1):
        expected = {part(study, f"arm/{arms[label.casefold()]}") for label in item.get("armGroupLabels", [])}
        assert set(triples.objects(part(study, f"intervention/{n}"), KG.armGroup)) == expected


def test_unresolved_arm_labels_and_intervention_names_are_kept_and_warned() -> None:
    study = synthetic(
        "NCT99100002",
        armsInterventionsModule={
            "armGroups": [{"label": "Arm A", "interventionNames": ["Drug: Placebo", "Drug: Nothing Like It"]}],
            "interventions": [{"type": "DRUG", "name": "Placebo", "armGroupLabels": ["ARM A", "Arm Z"]}],
        },
    )
    mapped = map_study(study)
    triples = Triples(mapped)
    use, arm = part(study, "intervention/1"), part(study, "arm/1")
    assert triples.objects(use, KG.armGroup) == [arm]  # "ARM A": labels match case-folded
    assert triples.values(use, KG.armGroupLabel) == ["Arm Z"]
    assert triples.values(arm, KG.interventionName) == ["Drug: Nothing Like It"]
    assert len(mapped.warnings) == 2 and "'Arm Z'" in mapped.warnings[0] and "Nothing Like It" in mapped.warnings[1]


@pytest.mark.parametrize(
    ("key", "predicate", "enumeration"),
    [
        ("genderDescription", KG.genderDescription, None),
        ("studyPopulation", KG.studyPopulation, None),
        ("samplingMethod", KG.samplingMethod, "samplingMethod"),
        ("genderBased", KG.genderBased, None),
    ],
)
def test_eligibility_fields(
    real_studies: dict[str, Study], key: str, predicate: NamedNode, enumeration: str | None
) -> None:
    study = having(real_studies, f"protocolSection.eligibilityModule.{key}", lambda v: v is not None)
    value = get(study, f"protocolSection.eligibilityModule.{key}")
    expected: NamedNode | Literal = (
        Literal(value) if isinstance(value, str) else Literal(str(value).lower(), datatype=XSD.boolean)
    )
    if enumeration is not None:
        expected = enum_iri(enumeration, value)
    assert triples_of(study).objects(part(study, "eligibility"), predicate) == [expected]


# --- references, links, documents, annotations -------------------------------------------------------------


def test_every_real_reference_and_pubmed_id_is_in_the_graph(real_studies: dict[str, Study]) -> None:
    """Counted independently over the raw JSON: every reference a part, every PubMed id an article node."""
    references = pmids = 0
    for study in real_studies.values():
        triples = triples_of(study)
        t = trial_iri(nct_of(study))
        items = get(study, "protocolSection.referencesModule.references") or []
        references += len(items)
        for n, item in enumerate(items, start=1):
            node = part(study, f"reference/{n}")
            assert node in triples.objects(t, KG.reference)
            assert triples.values(node, KG.citation) == ([item["citation"]] if item.get("citation") else [])
            assert triples.objects(node, KG.referenceType) == [enum_iri("referenceType", item["type"])]
            if "pmid" in item:
                pmids += 1
                article = PUBMED[item["pmid"].strip()]
                assert triples.values(node, KG.pmid) == [item["pmid"]]
                assert triples.objects(node, KG.publication) == [article]
                assert article in triples.objects(t, KG.publication)
                assert triples.values(article, KG.pmid) == [item["pmid"].strip()]
                assert triples.graph_of(article, RDF.type) == {NODES_GRAPH}
    assert references > 1000 and pmids > 1000  # the data holds 1,407 references, 1,350 PubMed ids


def test_two_trials_citing_one_article_meet_at_its_pubmed_node() -> None:
    reference = {"pmid": "26644527", "type": "RESULT", "citation": "Synthetic citation."}
    first = synthetic("NCT99100003", referencesModule={"references": [reference]})
    second = synthetic("NCT99100004", referencesModule={"references": [{**reference, "pmid": " 26644527 "}]})
    article = NamedNode("https://pubmed.ncbi.nlm.nih.gov/26644527")
    for study in (first, second):
        triples = triples_of(study)
        assert triples.objects(trial_iri(nct_of(study)), KG.publication) == [article]
        assert triples.objects(article, RDF.type) == [SCHEMA.ScholarlyArticle]
    assert Triples(map_study(second)).values(part(second, "reference/1"), KG.pmid) == [" 26644527 "]


def test_a_malformed_pubmed_id_is_kept_as_text_with_a_warning() -> None:
    study = synthetic("NCT99100005", referencesModule={"references": [{"pmid": "PMC12345", "type": "BACKGROUND"}]})
    mapped = map_study(study)
    triples = Triples(mapped)
    assert triples.values(part(study, "reference/1"), KG.pmid) == ["PMC12345"]
    assert triples.objects(part(study, "reference/1"), KG.publication) == []
    assert mapped.warnings == [
        "NCT99100005.protocolSection.referencesModule.references[0].pmid: 'PMC12345' is not a PubMed id, kept as text"
    ]


def test_see_also_links_and_available_ipd(real_studies: dict[str, Study]) -> None:
    study = having(real_studies, "protocolSection.referencesModule.seeAlsoLinks")
    link = get(study, "protocolSection.referencesModule.seeAlsoLinks")[0]
    triples = triples_of(study)
    assert triples.values(part(study, "link/1"), RDFS.label) == [link["label"]]
    assert triples.objects(part(study, "link/1"), SCHEMA.url) == [Literal(link["url"], datatype=XSD.anyURI)]
    ipd = {"id": "ABC-1", "type": "Individual Participant Data Set", "url": "https://example.org/x", "comment": "c"}
    study = synthetic("NCT99100006", referencesModule={"availIpds": [ipd]})
    triples = triples_of(study)
    node = part(study, "ipd/1")
    assert triples.objects(trial_iri("NCT99100006"), KG.availableIpd) == [node]
    assert triples.values(node, SKOS.notation) == ["ABC-1"]
    assert triples.values(node, KG.ipdType) == [ipd["type"]]
    assert triples.objects(node, SCHEMA.url) == [Literal(ipd["url"], datatype=XSD.anyURI)]
    assert triples.values(node, RDFS.comment) == ["c"]


def test_documents_link_to_the_registry_files(real_studies: dict[str, Study]) -> None:
    study = having(real_studies, "documentSection.largeDocumentModule.largeDocs")
    docs = get(study, "documentSection.largeDocumentModule.largeDocs")
    nct_id = nct_of(study)
    t, triples = trial_iri(nct_id), triples_of(study)
    assert len(triples.objects(t, KG.document)) == len(docs)
    doc, node = docs[0], part(study, "document/1")
    assert triples.values(node, KG.documentType) == [doc["typeAbbrev"]]
    assert triples.values(node, RDFS.label) == [doc["label"]]
    for key in ("hasProtocol", "hasSap", "hasIcf"):
        assert triples.values(node, KG[key]) == [str(doc[key]).lower()]
    assert triples.objects(node, KG.documentDate) == [date_literal(doc["date"])]
    assert triples.values(node, KG.uploaded) == [doc["uploadDate"]]
    assert triples.values(node, KG.filename) == [doc["filename"]]
    assert triples.objects(node, KG.fileSize) == [Literal(str(doc["size"]), datatype=XSD.integer)]
    url = f"https://cdn.clinicaltrials.gov/large-docs/{nct_id[-2:]}/{nct_id}/{doc['filename']}"
    assert triples.objects(node, SCHEMA.url) == [Literal(url, datatype=XSD.anyURI)]
    study = having(real_studies, "documentSection.largeDocumentModule.noSap", lambda v: v is True)
    assert triples_of(study).values(trial_iri(nct_of(study)), KG.noSap) == ["true"]


def test_unposted_events(real_studies: dict[str, Study]) -> None:
    study = having(real_studies, "annotationSection.annotationModule.unpostedAnnotation.unpostedResponsibleParty")
    annotation = get(study, "annotationSection.annotationModule.unpostedAnnotation")
    t, triples = trial_iri(nct_of(study)), triples_of(study)
    assert triples.values(t, KG.unpostedResponsibleParty) == [annotation["unpostedResponsibleParty"]]
    assert len(triples.objects(t, KG.unpostedEvent)) == len(annotation["unpostedEvents"])
    for n, event in enumerate(annotation["unpostedEvents"], start=1):
        node = part(study, f"unposted-event/{n}")
        assert triples.objects(node, KG.eventType) == [enum_iri("unpostedEventType", event["type"])]
        assert triples.objects(node, KG.eventDate) == [date_literal(event["date"])]


def test_violation_events_and_the_rarer_flags() -> None:
    event = {
        "type": "VIOLATION_IDENTIFIED",
        "description": "Failure to submit required clinical trial information",
        "creationDate": "2021-04-27",
        "issuedDate": "2021-04-27",
        "releaseDate": "2021-05-26",
        "postedDate": "2021-05-27",
    }
    study = synthetic("NCT99100007", oversightModule={"isPpsd": False, "fdaaa801Violation": True})
    study["annotationSection"] = {
        "annotationModule": {
            "violationAnnotation": {"violationEvents": [event]},
            "unpostedAnnotation": {"unpostedEvents": [{"type": "RESET", "dateUnknown": True}]},
        }
    }
    t, triples = trial_iri("NCT99100007"), triples_of(study)
    assert triples.values(t, KG.isPpsd) == ["false"] and triples.values(t, KG.fdaaa801Violation) == ["true"]
    node = part(study, "violation-event/1")
    assert triples.objects(t, KG.violationEvent) == [node]
    assert triples.objects(node, KG.eventType) == [enum_iri("violationEventType", "VIOLATION_IDENTIFIED")]
    assert triples.values(node, SCHEMA.description) == [event["description"]]
    for key in ("creationDate", "issuedDate", "releaseDate", "postedDate"):
        assert triples.objects(node, KG[key]) == [date_literal(event[key])]
    assert triples.values(part(study, "unposted-event/1"), KG.dateUnknown) == ["true"]
    assert triples.objects(part(study, "unposted-event/1"), KG.eventDate) == []


# --- derived ------------------------------------------------------------------------------------------------


def test_removed_countries_and_predicted_bmi(real_studies: dict[str, Study]) -> None:
    study = having(real_studies, "derivedSection.miscInfoModule.removedCountries")
    countries = get(study, "derivedSection.miscInfoModule.removedCountries")
    t, triples = trial_iri(nct_of(study)), triples_of(study)
    assert sorted(triples.objects(t, KG.removedCountry), key=str) == sorted(
        (DATA[f"country/{slug(name)}"] for name in countries), key=str
    )
    assert countries[0] in triples.values(DATA[f"country/{slug(countries[0])}"], RDFS.label)
    study = having(real_studies, "derivedSection.miscInfoModule.modelPredictions.bmiLimits")
    limits = get(study, "derivedSection.miscInfoModule.modelPredictions.bmiLimits")
    t, triples = trial_iri(nct_of(study)), triples_of(study)
    assert [float(v) for v in triples.values(t, KG.predictedMinBmi)] == [limits["minBmi"]]
    assert [float(v) for v in triples.values(t, KG.predictedMaxBmi)] == [limits["maxBmi"]]
    assert triples.one(t, KG.predictedMaxBmi).datatype == XSD.double


def test_submission_tracking(real_studies: dict[str, Study]) -> None:
    study = having(real_studies, "derivedSection.miscInfoModule.submissionTracking.firstMcpInfo.postDateStruct")
    posted = get(study, "derivedSection.miscInfoModule.submissionTracking.firstMcpInfo.postDateStruct")
    t, triples = trial_iri(nct_of(study)), triples_of(study)
    assert triples.objects(t, KG.firstMcpPosted) == [date_literal(posted["date"])]
    assert triples.values(t, KG.firstMcpPostedEstimated) == [str(posted["type"] != "ACTUAL").lower()]
    study = having(
        real_studies,
        "derivedSection.miscInfoModule.submissionTracking.submissionInfos",
        lambda infos: bool(infos) and any("mcpReleaseN" in info for info in infos),
    )
    tracking = get(study, "derivedSection.miscInfoModule.submissionTracking")
    t, triples = trial_iri(nct_of(study)), triples_of(study)
    assert len(triples.objects(t, KG.submission)) == len(tracking["submissionInfos"])
    for n, info in enumerate(tracking["submissionInfos"], start=1):
        node = part(study, f"submission/{n}")
        for key in ("releaseDate", "unreleaseDate", "resetDate"):
            assert triples.objects(node, KG[key]) == ([date_literal(info[key])] if key in info else [])
        expected = [str(info["mcpReleaseN"])] if "mcpReleaseN" in info else []
        assert triples.values(node, KG.mcpReleaseNumber) == expected
    study = having(real_studies, "derivedSection.miscInfoModule.submissionTracking.estimatedResultsFirstSubmitDate")
    date = get(study, "derivedSection.miscInfoModule.submissionTracking.estimatedResultsFirstSubmitDate")
    assert triples_of(study).objects(trial_iri(nct_of(study)), KG.estimatedResultsFirstSubmitted) == [
        date_literal(date)
    ]


@pytest.mark.parametrize("kind", ["condition", "intervention"])
def test_browse_leaves_and_branches(real_studies: dict[str, Study], kind: str) -> None:
    module_path = f"derivedSection.{kind}BrowseModule"
    study = having(
        real_studies,
        module_path,
        lambda m: (
            bool(m) and bool(m.get("browseBranches")) and any("asFound" in leaf for leaf in m.get("browseLeaves", []))
        ),
    )
    module = get(study, module_path)
    t, triples = trial_iri(nct_of(study)), triples_of(study)
    assert len(triples.objects(t, KG[f"{kind}BrowseLeaf"])) == len(module["browseLeaves"])
    for n, leaf in enumerate(module["browseLeaves"], start=1):
        use, node = part(study, f"{kind}-leaf/{n}"), DATA[f"browse-leaf/{leaf['id']}"]
        assert triples.objects(use, KG.browseLeaf) == [node]
        assert triples.values(use, KG.asFound) == ([leaf["asFound"]] if "asFound" in leaf else [])
        assert triples.objects(use, KG.relevance) == [enum_iri("browseRelevance", leaf["relevance"])]
        assert triples.values(node, RDFS.label) == [leaf["name"]]
        assert triples.values(node, SKOS.notation) == [leaf["id"]]
    for branch in module["browseBranches"]:
        node = DATA[f"browse-branch/{kind}/{slug(branch['abbrev'])}"]
        assert node in triples.objects(t, KG[f"{kind}BrowseBranch"])
        # "All" is in both modules, named "All Conditions" in one and "All Drugs and Chemicals" in the other: a
        # branch is keyed by its module, so each node has one name.
        assert set(triples.values(node, SKOS.notation)) == {branch["abbrev"]}
        assert triples.values(node, RDFS.label) == [branch["name"]]


# --- contacts left out ----------------------------------------------------------------------------------------


def _contact_values(study: Study, keys: tuple[str, ...]) -> Iterator[str]:
    module = get(study, "protocolSection.contactsLocationsModule") or {}
    contacts = [
        *module.get("centralContacts", []),
        *(c for loc in module.get("locations", []) for c in loc.get("contacts", [])),
    ]
    yield from (contact[key] for contact in contacts for key in keys if contact.get(key))


def _other_text(study: Study) -> set[str]:
    """Every string of a record outside its contact persons (a contact named like the sponsor is not a leak)."""
    found: set[str] = set()

    def walk(node: Any, in_contact: bool) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, in_contact or key in ("centralContacts", "contacts", "locations_nested"))
        elif isinstance(node, list):
            for value in node:
                walk(value, in_contact)
        elif isinstance(node, str) and not in_contact:
            found.add(node)

    walk(study, False)
    return found


@pytest.mark.slow
def test_kg_build_no_contacts_leaves_no_contact_person_in_the_store(
    real_studies: dict[str, Study], tmp_path: Path
) -> None:
    if not CTGOV_DATA.is_dir():
        pytest.skip(f"real ClinicalTrials.gov records not found at {CTGOV_DATA}")
    spec = f"oxigraph:{tmp_path / 'store'}"
    result = CliRunner().invoke(app, ["build", str(CTGOV_DATA), "--store", spec, "--no-contacts"])
    assert result.exit_code == 0, result.output
    with open_store(spec, read_only=True) as store:
        literals = {
            str(row["o"]) for row in store.select("SELECT DISTINCT ?o WHERE { ?s ?p ?o FILTER(isLiteral(?o)) }").rows
        }
        used = {str(row["p"]) for row in store.select("SELECT DISTINCT ?p WHERE { ?s ?p ?o }").rows}
        assert contacts_included(store) is False
    assert not {SCHEMA.email.value, SCHEMA.telephone.value, KG.phoneExtension.value} & used
    assert KG.centralContact.value not in used and KG.contact.value not in used
    # What only contact persons' fields hold: a contact may be another trial's official, or a record may write an
    # email as an official's affiliation, and those stay.
    elsewhere = set().union(*(_other_text(study) for study in real_studies.values()))
    personal = {v for study in real_studies.values() for v in _contact_values(study, ("name", "email", "phone"))}
    assert len(personal - elsewhere) > 1000 and not (personal - elsewhere) & literals


def test_map_study_without_contacts_keeps_officials(real_studies: dict[str, Study]) -> None:
    study = having(
        real_studies,
        "protocolSection.contactsLocationsModule",
        lambda m: bool(m) and bool(m.get("overallOfficials")) and bool(m.get("centralContacts")),
    )
    with_contacts, without = triples_of(study), Triples(map_study(study, include_contacts=False))
    t = trial_iri(nct_of(study))
    assert with_contacts.objects(t, KG.centralContact) and not without.objects(t, KG.centralContact)
    assert without.objects(t, KG.overallOfficial) == with_contacts.objects(t, KG.overallOfficial)
    assert not [q for q in without.mapped.quads if q.predicate in (SCHEMA.email, SCHEMA.telephone, KG.contact)]


@pytest.mark.slow
def test_worker_processes_leave_contacts_out_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The option reaches the mapping processes: most chunks here are mapped in two workers."""
    contact = {"name": "Synthetic Person", "role": "CONTACT", "email": "person@example.org", "phone": "555-0100"}
    studies = [
        synthetic(
            f"NCT991{n:05d}",
            contactsLocationsModule={
                "centralContacts": [contact],
                "locations": [{"facility": "Synthetic Site", "country": "Nowhere", "contacts": [contact]}],
            },
        )
        for n in range(60)
    ]
    corpus = tmp_path / "contacts.jsonl"
    corpus.write_text("".join(json.dumps(s) + "\n" for s in studies), encoding="utf-8")
    monkeypatch.setattr(kg.pipeline.build, "_CHUNK", 5)
    monkeypatch.setattr(kg.pipeline.build, "_IN_PROCESS_CHUNKS", 1)
    for include, spec in ((False, f"oxigraph:{tmp_path / 'without'}"), (True, f"oxigraph:{tmp_path / 'with'}")):
        report = build([corpus], spec, workers=2, include_contacts=include)
        assert report.trials == 60 and report.include_contacts is include
        with open_store(spec, read_only=True) as store:
            emails = store.select("SELECT (COUNT(*) AS ?n) WHERE { ?c <https://schema.org/email> ?e }").rows[0]["n"]
            assert emails == (120 if include else 0)
            assert contacts_included(store) is include


# --- bad input ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            ("protocolSection", "identificationModule", "secondaryIdInfos"),
            {"id": "X"},
            "secondaryIdInfos: expected a list",
        ),
        (
            ("protocolSection", "identificationModule", "orgStudyIdInfo", "type"),
            "nih grant",
            "orgStudyIdInfo.type: 'nih grant' is not a idType code",
        ),
        (
            ("protocolSection", "statusModule", "resultsFirstPostDateStruct", "date"),
            "soon",
            r"resultsFirstPostDateStruct\.date: 'soon' is not a date",
        ),
        (
            ("protocolSection", "statusModule", "expandedAccessInfo", "nctId"),
            "NCT1",
            r"expandedAccessInfo\.nctId: 'NCT1' is not an NCT id",
        ),
        (
            ("protocolSection", "oversightModule", "oversightHasDmc"),
            "yes",
            r"oversightModule\.oversightHasDmc: expected true or false",
        ),
        (
            ("protocolSection", "designModule", "designInfo", "maskingInfo", "whoMasked"),
            [1],
            r"whoMasked\[0\]: expected a string",
        ),
        (
            ("protocolSection", "contactsLocationsModule", "overallOfficials"),
            [["x"]],
            r"overallOfficials\[0\]: expected an object",
        ),
        (
            ("protocolSection", "contactsLocationsModule", "centralContacts"),
            [{"email": 7}],
            r"centralContacts\[0\]\.email: expected a string",
        ),
        (
            ("protocolSection", "referencesModule", "references"),
            [{"pmid": 123}],
            r"references\[0\]\.pmid: expected a string",
        ),
        (
            ("documentSection", "largeDocumentModule", "largeDocs"),
            [{"size": "big"}],
            r"largeDocs\[0\]\.size: expected an integer",
        ),
        (
            ("annotationSection", "annotationModule", "unpostedAnnotation", "unpostedEvents"),
            [{"date": "2024-13-01"}],
            r"unpostedEvents\[0\]\.date: '2024-13-01' is not a date",
        ),
        (
            ("derivedSection", "miscInfoModule", "modelPredictions", "bmiLimits", "minBmi"),
            "low",
            r"bmiLimits\.minBmi: expected a number",
        ),
        (
            ("derivedSection", "miscInfoModule", "submissionTracking", "submissionInfos"),
            [{"mcpReleaseN": 1.5}],
            r"submissionInfos\[0\]\.mcpReleaseN: expected an integer",
        ),
        (
            ("derivedSection", "conditionBrowseModule", "browseLeaves"),
            [{"id": "M1/../x"}],
            r"browseLeaves\[0\]\.id: 'M1/\.\./x' is not a browse leaf id",
        ),
        (
            ("derivedSection", "interventionBrowseModule", "browseBranches"),
            [{"name": "No abbreviation"}],
            r"browseBranches\[0\]\.abbrev: a browse branch without",
        ),
    ],
)
def test_a_wrong_type_in_a_new_field_names_its_path(path: tuple[str, ...], value: object, message: str) -> None:
    study = copy.deepcopy(synthetic("NCT99100008"))
    node = study
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    with pytest.raises(RecordError, match=message):
        map_study(study)


def test_a_store_built_before_the_option_counts_as_with_contacts() -> None:
    with open_store("oxigraph:") as store:
        assert contacts_included(store) is True
