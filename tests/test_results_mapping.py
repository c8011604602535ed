"""The results section in the graph: counts equal to independent counts over the raw JSON of every real record with
results, chosen cells exact, verbatim values kept, bad input refused with the path of the field at fault."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any, Final

import pytest
from pyoxigraph import Literal, NamedNode, Quad

from kg.ctgov.emitter import MappedTrial
from kg.ctgov.mapping import enumeration_quads, map_study
from kg.ctgov.record import RecordError
from kg.pipeline.validation import validate
from kg.store import Store, open_store
from kg.vocab import DATA, KG, RDF, XSD, enum_iri

Raw = dict[str, Any]
#: A real record with every kind of result: flow, baseline, outcomes with analyses, adverse events, and "NA" values.
TADALAFIL: Final = "NCT01122264"
SYNTHETIC_NCT: Final = "NCT00000001"


# --- the real records with results ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def results_records(real_studies: dict[str, Raw]) -> dict[str, Raw]:
    """The ``resultsSection`` of every real record that has one (``real_studies`` skips without ../shared/data)."""
    return {nct: study["resultsSection"] for nct, study in real_studies.items() if study.get("resultsSection")}


@pytest.fixture(scope="module")
def mapped(real_studies: dict[str, Raw], results_records: dict[str, Raw]) -> dict[str, MappedTrial]:
    """Every real record with results, mapped: a RecordError here fails every test of this module."""
    return {nct: map_study(real_studies[nct]) for nct in results_records}


@pytest.fixture(scope="module")
def results_store(mapped: dict[str, MappedTrial]) -> Iterator[Store]:
    store = open_store("oxigraph:")
    for trial in mapped.values():
        store.add(trial.quads)
    yield store
    store.close()


def test_every_real_record_with_results_maps_without_warnings(
    results_records: dict[str, Raw], mapped: dict[str, MappedTrial]
) -> None:
    assert len(results_records) >= 90, "expected the 94 real records with results"
    assert {nct: [w for w in trial.warnings if ".resultsSection." in w] for nct, trial in mapped.items()} == {
        nct: [] for nct in mapped
    }


def _each(items: list[Raw], key: str) -> Iterator[Raw]:
    for item in items:
        yield from item.get(key, [])


def _measurements(measures: list[Raw]) -> Iterator[Raw]:
    return _each(list(_each(list(_each(measures, "classes")), "categories")), "measurements")


def _outcomes(results: Raw) -> list[Raw]:
    return list(results.get("outcomeMeasuresModule", {}).get("outcomeMeasures", []))


def _events(results: Raw, kind: str) -> list[Raw]:
    return list(results.get("adverseEventsModule", {}).get(f"{kind}Events", []))


def _periods(results: Raw) -> list[Raw]:
    return list(results.get("participantFlowModule", {}).get("periods", []))


def _baseline_measures(results: Raw) -> list[Raw]:
    return list(results.get("baselineCharacteristicsModule", {}).get("measures", []))


#: kind → (graph pattern binding ?x from the trial ?t, aggregate over ?x, the same number over the raw JSON)
_COUNTED: Final[dict[str, tuple[str, str, Callable[[Raw], int]]]] = {
    "outcome measurements": (
        "?t kg:outcomeResult ?o . ?o kg:measureClass ?c . ?c kg:category ?k . ?k kg:measurement ?x",
        "COUNT",
        lambda results: sum(1 for _ in _measurements(_outcomes(results))),
    ),
    "analyses": (
        "?t kg:outcomeResult ?o . ?o kg:analysis ?x",
        "COUNT",
        lambda results: sum(len(outcome.get("analyses", [])) for outcome in _outcomes(results)),
    ),
    "serious adverse events": (
        "?t kg:adverseEvents ?r . ?r kg:seriousEvent ?x",
        "COUNT",
        lambda results: len(_events(results, "serious")),
    ),
    "other adverse events": (
        "?t kg:adverseEvents ?r . ?r kg:otherEvent ?x",
        "COUNT",
        lambda results: len(_events(results, "other")),
    ),
    "serious adverse event stats": (
        "?t kg:adverseEvents ?r . ?r kg:seriousEvent ?e . ?e kg:count ?x",
        "COUNT",
        lambda results: sum(1 for _ in _each(_events(results, "serious"), "stats")),
    ),
    "other adverse event stats": (
        "?t kg:adverseEvents ?r . ?r kg:otherEvent ?e . ?e kg:count ?x",
        "COUNT",
        lambda results: sum(1 for _ in _each(_events(results, "other"), "stats")),
    ),
    "serious affected, summed": (
        "?t kg:adverseEvents ?r . ?r kg:seriousEvent ?e . ?e kg:count ?c . ?c kg:numAffected ?x",
        "SUM",
        lambda results: sum(stats["numAffected"] for stats in _each(_events(results, "serious"), "stats")),
    ),
    "other at risk, summed": (
        "?t kg:adverseEvents ?r . ?r kg:otherEvent ?e . ?e kg:count ?c . ?c kg:numAtRisk ?x",
        "SUM",
        lambda results: sum(stats["numAtRisk"] for stats in _each(_events(results, "other"), "stats")),
    ),
    "flow achievements": (
        "?t kg:participantFlow ?f . ?f kg:period ?p . ?p kg:milestone ?m . ?m kg:count ?x",
        "COUNT",
        lambda results: sum(1 for _ in _each(list(_each(_periods(results), "milestones")), "achievements")),
    ),
    "flow participants, summed": (
        "?t kg:participantFlow ?f . ?f kg:period ?p . ?p kg:milestone ?m . ?m kg:count ?c . ?c kg:numSubjects ?x",
        "SUM",
        lambda results: sum(
            int(item["numSubjects"]) for item in _each(list(_each(_periods(results), "milestones")), "achievements")
        ),
    ),
    "withdrawal reasons": (
        "?t kg:participantFlow ?f . ?f kg:period ?p . ?p kg:withdrawal ?w . ?w kg:count ?x",
        "COUNT",
        lambda results: sum(1 for _ in _each(list(_each(_periods(results), "dropWithdraws")), "reasons")),
    ),
    "baseline measurements": (
        "?t kg:baseline ?b . ?b kg:baselineMeasure ?m . ?m kg:measureClass ?c . ?c kg:category ?k . "
        "?k kg:measurement ?x",
        "COUNT",
        lambda results: sum(1 for _ in _measurements(_baseline_measures(results))),
    ),
}


@pytest.mark.parametrize("kind", list(_COUNTED))
def test_counts_per_record_and_in_total_equal_the_raw_json(
    kind: str, results_records: dict[str, Raw], results_store: Store
) -> None:
    pattern, aggregate, raw_count = _COUNTED[kind]
    rows = results_store.select(
        "PREFIX kg: <https://w3id.org/trialkg/vocab/> PREFIX dcterms: <http://purl.org/dc/terms/> "
        f"SELECT ?nct ({aggregate}(?x) AS ?n) WHERE {{ ?t dcterms:identifier ?nct . {pattern} }} GROUP BY ?nct"
    ).rows
    in_graph = {row["nct"]: row["n"] for row in rows if row["n"]}
    in_json = {nct: n for nct, results in results_records.items() if (n := raw_count(results))}
    assert in_graph == in_json
    assert sum(in_json.values()) > 10, f"too few {kind} in the real records for the comparison to mean anything"


def _objects(trial: MappedTrial, path: str, predicate: NamedNode) -> list[object]:
    """What ``kgr:trial/{NCT}/{path} predicate ?o`` holds, in mapping order."""
    subject = DATA[f"trial/{trial.nct_id}/{path}"]
    return [quad.object for quad in trial.quads if quad.subject == subject and quad.predicate == predicate]


def _texts(trial: MappedTrial, path: str, predicate: NamedNode) -> list[str]:
    return [term.value for term in _objects(trial, path, predicate) if isinstance(term, Literal)]


def _integer(value: int) -> Literal:
    return Literal(str(value), datatype=XSD.integer)


#: (part, property, its values) in the real record TADALAFIL, read off its JSON by hand.
_CELLS: Final[list[tuple[str, NamedNode, list[NamedNode | Literal]]]] = [
    # the first analysis of "Time to Discontinuation of Randomized Treatment": a Cox model, OG001 vs OG002
    ("results/outcome/1/analysis/1", KG.pValue, [Literal("<0.001")]),
    ("results/outcome/1/analysis/1", KG.estimate, [Literal("0.66")]),
    ("results/outcome/1/analysis/1", KG.estimateType, [Literal("Cox Proportional Hazard")]),
    ("results/outcome/1/analysis/1", KG.ciPercent, [Literal("97.3")]),
    ("results/outcome/1/analysis/1", KG.ciLowerLimit, [Literal("0.51")]),
    ("results/outcome/1/analysis/1", KG.ciUpperLimit, [Literal("0.85")]),
    ("results/outcome/1/analysis/1", KG.ciSides, [enum_iri("ciNumSides", "TWO_SIDED")]),
    (
        "results/outcome/1/analysis/1",
        KG.nonInferiorityType,
        [enum_iri("nonInferiorityType", "SUPERIORITY_OR_OTHER")],
    ),
    (
        "results/outcome/1/analysis/1",
        KG.analysisGroup,
        [DATA[f"trial/{TADALAFIL}/results/outcome/1/group/{group}"] for group in ("OG001", "OG002")],
    ),
    ("results/outcome/1/denom/1/OG002", KG.value, [_integer(261)]),
    # serious adverse event 1 in group EG000: 1 affected of 250 at risk, 1 event; the group's totals
    ("results/adverse-events/serious/1/EG000", KG.numAffected, [_integer(1)]),
    ("results/adverse-events/serious/1/EG000", KG.numAtRisk, [_integer(250)]),
    ("results/adverse-events/serious/1/EG000", KG.numEvents, [_integer(1)]),
    (
        "results/adverse-events/serious/1/EG000",
        KG.group,
        [DATA[f"trial/{TADALAFIL}/results/adverse-events/group/EG000"]],
    ),
    ("results/adverse-events/group/EG000", KG.seriousNumAffected, [_integer(8)]),
    ("results/adverse-events/group/EG000", KG.otherNumAffected, [_integer(106)]),
    # participant flow: 257 started in FG001; 7 left FG002 for an adverse event
    ("results/flow/period/1/milestone/1", KG.milestoneType, [Literal("STARTED")]),
    ("results/flow/period/1/milestone/1/FG001", KG.numSubjects, [_integer(257)]),
    ("results/flow/period/1/withdrawal/1", KG.reason, [Literal("Adverse Event")]),
    ("results/flow/period/1/withdrawal/1/FG002", KG.numSubjects, [_integer(7)]),
]


@pytest.mark.parametrize(
    ("path", "predicate", "expected"),
    _CELLS,
    ids=[f"{path} {predicate.value.rsplit('/', 1)[-1]}" for path, predicate, _ in _CELLS],
)
def test_chosen_cells_are_exact(
    mapped: dict[str, MappedTrial], path: str, predicate: NamedNode, expected: list[NamedNode | Literal]
) -> None:
    assert _objects(mapped[TADALAFIL], path, predicate) == expected


def test_a_value_written_na_stays_na_without_a_numeric_value(mapped: dict[str, MappedTrial]) -> None:
    """The median time to discontinuation was not estimable in OG000 ("NA"), and was 130 days in OG001."""
    trial = mapped[TADALAFIL]
    category = "results/outcome/1/class/1/category/1"
    assert _texts(trial, f"{category}/OG000", RDF.value) == ["NA"]
    assert _objects(trial, f"{category}/OG000", KG.numericValue) == []
    assert _texts(trial, f"{category}/OG000", KG.lowerLimit) == ["187"]
    assert _texts(trial, f"{category}/OG000", KG.upperLimit) == ["NA"]
    assert _texts(trial, f"{category}/OG001", RDF.value) == ["130"]
    assert _objects(trial, f"{category}/OG001", KG.numericValue) == [Literal("130", datatype=XSD.decimal)]


# --- small records: behaviour and bad input (no real data needed) -------------------------------------------

_RESULTS: Final[Raw] = {
    "participantFlowModule": {
        "groups": [{"id": "FG000", "title": "Drug"}],
        "periods": [
            {
                "title": "Overall Study",
                "milestones": [{"type": "STARTED", "achievements": [{"groupId": "FG000", "numSubjects": "12"}]}],
            }
        ],
    },
    "outcomeMeasuresModule": {
        "outcomeMeasures": [
            {
                "type": "PRIMARY",
                "title": "Pain",
                "reportingStatus": "POSTED",
                "paramType": "MEAN",
                "groups": [{"id": "OG000", "title": "Drug"}],
                "classes": [{"categories": [{"measurements": [{"groupId": "OG000", "value": "4.5", "spread": "1"}]}]}],
            }
        ]
    },
    "adverseEventsModule": {
        "frequencyThreshold": "5",
        "eventGroups": [{"id": "EG000", "title": "Drug", "seriousNumAffected": 1, "seriousNumAtRisk": 12}],
        "seriousEvents": [
            {
                "term": "Fall",
                "organSystem": "Injury",
                "assessmentType": "SYSTEMATIC_ASSESSMENT",
                "stats": [{"groupId": "EG000", "numAffected": 1, "numAtRisk": 12}],
            }
        ],
    },
    "moreInfoModule": {
        "certainAgreement": {"piSponsorEmployee": False, "restrictionType": "LTE60"},
        "pointOfContact": {"title": "Medical Director", "organization": "Sponsor", "email": "a@b.c", "phone": "555"},
    },
}


def _record(edit: Callable[[Raw], object] | None = None) -> Raw:
    """A small record with every kind of result, optionally edited in place."""
    results = copy.deepcopy(_RESULTS)
    if edit is not None:
        edit(results)
    return {
        "protocolSection": {"identificationModule": {"nctId": SYNTHETIC_NCT}},
        "hasResults": True,
        "resultsSection": results,
    }


def _results_part(path: str) -> NamedNode:
    return DATA[f"trial/{SYNTHETIC_NCT}/results/{path}"]


def _serious_stats(results: Raw) -> list[Any]:
    stats: list[Any] = results["adverseEventsModule"]["seriousEvents"][0]["stats"]
    return stats


_AT: Final = f"{SYNTHETIC_NCT}.resultsSection."


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        pytest.param(
            lambda results: _serious_stats(results)[0].update(numAffected="x"),
            f"{_AT}adverseEventsModule.seriousEvents[0].stats[0].numAffected: expected an integer, got str 'x'",
            id="numAffected-as-text",
        ),
        pytest.param(
            lambda results: _serious_stats(results).append("EG001: 3"),
            f"{_AT}adverseEventsModule.seriousEvents[0].stats[1]: expected an object, got str",
            id="stats-entry-not-an-object",
        ),
        pytest.param(
            lambda results: results["adverseEventsModule"]["eventGroups"][0].update(deathsNumAtRisk=12.5),
            f"{_AT}adverseEventsModule.eventGroups[0].deathsNumAtRisk: expected an integer",
            id="group-total-not-an-integer",
        ),
        pytest.param(
            lambda results: results["participantFlowModule"]["periods"][0]["milestones"][0]["achievements"][0].pop(
                "groupId"
            ),
            f"{_AT}participantFlowModule.periods[0].milestones[0].achievements[0].groupId: None is not a group id",
            id="achievement-without-group",
        ),
        pytest.param(
            lambda results: results["outcomeMeasuresModule"]["outcomeMeasures"][0]["groups"][0].update(id="OG/../1"),
            f"{_AT}outcomeMeasuresModule.outcomeMeasures[0].groups[0].id: 'OG/../1' is not a group id",
            id="group-id-unfit-for-an-iri",
        ),
        pytest.param(
            lambda results: results["participantFlowModule"]["groups"][0].update(id=".."),
            f"{_AT}participantFlowModule.groups[0].id: '..' is not a group id",
            id="group-id-a-relative-path",
        ),
        pytest.param(
            lambda results: results["outcomeMeasuresModule"]["outcomeMeasures"][0].update(reportingStatus="posted"),
            f"{_AT}outcomeMeasuresModule.outcomeMeasures[0].reportingStatus: 'posted' is not a reportingStatus code",
            id="enumeration-code-lower-case",
        ),
        pytest.param(
            lambda results: results["outcomeMeasuresModule"]["outcomeMeasures"][0].update(
                anticipatedPostingDate="soon"
            ),
            f"{_AT}outcomeMeasuresModule.outcomeMeasures[0].anticipatedPostingDate: 'soon' is not a date",
            id="posting-date-not-a-date",
        ),
        pytest.param(
            lambda results: results["moreInfoModule"]["certainAgreement"].update(restrictiveAgreement="no"),
            f"{_AT}moreInfoModule.certainAgreement.restrictiveAgreement: expected true or false",
            id="agreement-flag-as-text",
        ),
    ],
)
def test_bad_input_is_refused_naming_the_field(edit: Callable[[Raw], object], message: str) -> None:
    with pytest.raises(RecordError) as caught:
        map_study(_record(edit))
    assert str(caught.value).startswith(message)


def test_the_small_record_maps_to_the_documented_nodes() -> None:
    trial = map_study(_record())
    assert trial.warnings == []
    measurement = _results_part("outcome/1/class/1/category/1/OG000")
    statements = {(quad.subject, quad.predicate, quad.object) for quad in trial.quads}
    assert {
        (_results_part("flow/period/1/milestone/1/FG000"), KG.numSubjects, _integer(12)),
        (_results_part("flow/period/1/milestone/1/FG000"), KG.group, _results_part("flow/group/FG000")),
        (_results_part("outcome/1"), KG.paramType, enum_iri("measureParam", "MEAN")),
        (measurement, RDF.value, Literal("4.5")),
        (measurement, KG.numericValue, Literal("4.5", datatype=XSD.decimal)),
        (measurement, KG.spread, Literal("1")),
        (measurement, KG.group, _results_part("outcome/1/group/OG000")),
        (_results_part("adverse-events"), KG.frequencyThreshold, Literal("5")),
        (_results_part("adverse-events/group/EG000"), KG.seriousNumAtRisk, _integer(12)),
        (_results_part("more-info"), KG.restrictionType, enum_iri("agreementRestrictionType", "LTE60")),
        (_results_part("point-of-contact"), KG.affiliation, Literal("Sponsor")),
    } <= statements


def test_an_empty_results_section_adds_nothing() -> None:
    record = _record()
    record["resultsSection"] = {}
    assert [quad for quad in map_study(record).quads if "/results" in str(quad.subject)] == []


def test_contacts_left_out_drop_the_point_of_contacts_email_and_phone_only() -> None:
    contact = _results_part("point-of-contact")
    kept = {
        quad.predicate.value for quad in map_study(_record(), include_contacts=False).quads if quad.subject == contact
    }
    assert kept == {RDF.type.value, "https://schema.org/jobTitle", KG.affiliation.value}
    everything = {quad.predicate.value for quad in map_study(_record()).quads if quad.subject == contact}
    assert {"https://schema.org/email", "https://schema.org/telephone"} <= everything


def test_a_value_for_a_group_the_module_does_not_list_is_kept_and_warned_of() -> None:
    def edit(results: Raw) -> None:
        _serious_stats(results).append({"groupId": "EG009", "numAffected": 0, "numAtRisk": 3})

    trial = map_study(_record(edit))
    assert trial.warnings == [
        f"{_AT}adverseEventsModule.seriousEvents[0].stats[1].groupId: group 'EG009' is not among the module's groups"
    ]
    group = _results_part("adverse-events/group/EG009")
    assert Quad(_results_part("adverse-events/serious/1/EG009"), KG.group, group, trial.quads[0].graph_name) in (
        trial.quads
    )
    assert Quad(group, RDF.type, KG.ResultGroup, trial.quads[0].graph_name) in trial.quads


def test_a_count_that_is_not_a_whole_number_is_kept_as_text_with_a_warning() -> None:
    def edit(results: Raw) -> None:
        results["participantFlowModule"]["periods"][0]["milestones"][0]["achievements"][0]["numSubjects"] = "~12"

    trial = map_study(_record(edit))
    assert _objects(trial, "results/flow/period/1/milestone/1/FG000", KG.numSubjects) == [Literal("~12")]
    assert len(trial.warnings) == 1 and "numSubjects: '~12' is not a whole number" in trial.warnings[0]


# --- the shapes (ontologies/shapes-results.ttl) -------------------------------------------------------------


def _validate(quads: list[Quad]) -> list[str]:
    store = open_store("oxigraph:")
    store.add(enumeration_quads())
    store.add(quads)
    return validate(store).violations


def test_the_small_record_conforms_to_the_shapes() -> None:
    assert _validate(map_study(_record()).quads) == []


def _retyped(quads: list[Quad], subject: NamedNode, predicate: NamedNode, value: NamedNode | Literal) -> list[Quad]:
    """``quads`` with the value of ``subject predicate`` replaced."""
    return [
        Quad(quad.subject, quad.predicate, value, quad.graph_name)
        if (quad.subject, quad.predicate) == (subject, predicate)
        else quad
        for quad in quads
    ]


@pytest.mark.parametrize(
    ("subject", "predicate", "value", "expected"),
    [
        pytest.param(
            "flow/period/1/milestone/1/FG000",
            KG.numSubjects,
            Literal("12"),
            "flow/period/1/milestone/1/FG000 kg:numSubjects: ",
            id="count-as-text",
        ),
        pytest.param(
            "outcome/1/class/1/category/1/OG000",
            KG.group,
            _results_part("outcome/1"),
            "outcome/1/class/1/category/1/OG000 kg:group: ",
            id="measurement-pointing-to-a-non-group",
        ),
        pytest.param(
            "adverse-events/serious/1",
            KG.assessmentType,
            enum_iri("measureParam", "MEAN"),
            "adverse-events/serious/1 kg:assessmentType: ",
            id="enumeration-value-of-another-enumeration",
        ),
    ],
)
def test_a_broken_result_node_is_a_violation_naming_node_and_path(
    subject: str, predicate: NamedNode, value: NamedNode | Literal, expected: str
) -> None:
    quads = _retyped(map_study(_record()).quads, _results_part(subject), predicate, value)
    violations = _validate(quads)
    assert [line for line in violations if line.startswith(f"kgr:trial/{SYNTHETIC_NCT}/results/{expected}")], violations
