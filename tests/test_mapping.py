"""Record → triples: identifiers, criteria splitting, graph layout, and fidelity to the real records."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kg.ctgov.eligibility import age_in_years, split_criteria
from kg.ctgov.mapping import RecordError, map_study, trial_iri
from kg.graphs import NODES_GRAPH, trial_graph
from kg.identifiers import normalize_mesh_id, slug
from kg.store import Store


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("D008175", "D008175"),
        ("D000008175", "D008175"),
        ("D000086382", "D000086382"),
        ("D066331", "D066331"),
        ("D000066331", "D066331"),
        ("D000066388", "D000066388"),
        ("C447941", "C447941"),
        ("C000447941", "C447941"),
        ("C000712521", "C000712521"),
        (" D009369 ", "D009369"),
    ],
)
def test_mesh_ids_normalise_to_the_ui_mesh_uses(raw: str, expected: str) -> None:
    assert normalize_mesh_id(raw) == expected


@pytest.mark.parametrize("raw", ["", "D", "X123456", "D12a", "NCT0000001"])
def test_malformed_mesh_ids_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="not a MeSH"):
        normalize_mesh_id(raw)


def test_slug_merges_spellings_and_stays_iri_safe() -> None:
    assert slug("Docetaxel") == slug("  docetaxel ") == slug("DOCETAXEL")
    assert slug("Lung Cancer") != slug("Lung Cancers")
    hostile = slug('"><img src=x onerror=alert(1)> </script>' * 20)
    assert all(ch.isalnum() or ch in "%-~" for ch in hostile) and len(hostile) < 400


def test_criteria_split_into_items_with_nested_bullets_kept() -> None:
    text = (
        "Inclusion Criteria:\n\n* Age ≥ 18\n* Organ function:\n  * ANC ≥ 1.5\n  * platelets ≥ 100\n"
        "* ECOG 0-1\n\nExclusion Criteria:\n\n1. Pregnant\n2. Prior therapy\n   within 4 weeks\n"
    )
    assert split_criteria(text) == [
        ("inclusion", 1, "Age ≥ 18"),
        ("inclusion", 2, "Organ function:\n* ANC ≥ 1.5\n* platelets ≥ 100"),
        ("inclusion", 3, "ECOG 0-1"),
        ("exclusion", 1, "Pregnant"),
        ("exclusion", 2, "Prior therapy\nwithin 4 weeks"),
    ]


def test_criteria_without_headings_give_no_items() -> None:
    assert split_criteria("Adults with asthma.") == []


@pytest.mark.parametrize(
    ("text", "years"), [("18 Years", 18.0), ("6 Months", 0.5), ("2 Weeks", 14 / 365.25), ("N/A", None), ("", None)]
)
def test_ages_in_years(text: str, years: float | None) -> None:
    assert age_in_years(text) == (None if years is None else pytest.approx(years))


def test_trial_quads_go_to_its_graph_and_shared_nodes_to_the_nodes_graph(real_studies: dict[str, Any]) -> None:
    study = next(s for s in real_studies.values() if s["protocolSection"].get("conditionsModule"))
    mapped = map_study(study)
    graphs = {quad.graph_name for quad in mapped.quads}
    assert graphs == {trial_graph(mapped.nct_id), NODES_GRAPH}
    assert all(quad.subject != trial_iri(mapped.nct_id) for quad in mapped.quads if quad.graph_name == NODES_GRAPH)
    assert trial_iri(mapped.nct_id).value == f"https://clinicaltrials.gov/study/{mapped.nct_id}"


def test_no_triple_is_stated_in_two_graphs(real_store: Store) -> None:
    """Union queries count each statement once on every backend only if no two graphs repeat one."""
    rows = real_store.select(
        "SELECT ?s ?p ?o WHERE { GRAPH ?g1 { ?s ?p ?o } GRAPH ?g2 { ?s ?p ?o } FILTER(STR(?g1) < STR(?g2)) } LIMIT 5"
    ).rows
    assert rows == []


def test_duplicates_keep_the_latest_record(real_store: Store, real_studies: dict[str, Any]) -> None:
    from tests.conftest import raw_studies

    counts: dict[str, int] = {}
    for study in raw_studies():
        nct = study["protocolSection"]["identificationModule"]["nctId"]
        counts[nct] = counts.get(nct, 0) + 1
    duplicated = [nct for nct, n in counts.items() if n > 1]
    assert duplicated, "the real data is known to hold duplicates"
    for nct in duplicated:
        expected = real_studies[nct]["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"]
        rows = real_store.select(
            "SELECT ?d WHERE { ?t <http://purl.org/dc/terms/identifier> "
            f'"{nct}" ; <https://w3id.org/trialkg/vocab/lastUpdatePosted> ?d }}'
        ).rows
        assert [row["d"] for row in rows] == [expected]


def test_every_real_record_maps_without_warnings(real_studies: dict[str, Any]) -> None:
    warnings = [w for study in real_studies.values() for w in map_study(study).warnings]
    assert warnings == []


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            ("protocolSection", "designModule", "enrollmentInfo", "count"),
            "lots",
            "enrollmentInfo.count: expected an integer",
        ),
        (("protocolSection", "designModule", "phases"), "PHASE1", "designModule.phases: expected a list"),
        (("protocolSection", "statusModule", "startDateStruct", "date"), "soon", "is not a date"),
        (("protocolSection", "statusModule", "overallStatus"), "<b>open</b>", "is not a status code"),
        (("protocolSection", "conditionsModule", "conditions"), [1, 2], r"conditions\[0\]: expected a string"),
        (("derivedSection", "conditionBrowseModule", "meshes"), [{"id": "X1", "term": "?"}], "not a MeSH"),
    ],
)
def test_wrong_types_name_the_field(
    real_studies: dict[str, Any], path: tuple[str, ...], value: object, message: str
) -> None:
    study = copy.deepcopy(next(iter(real_studies.values())))
    node = study
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    with pytest.raises(RecordError, match=message):
        map_study(study)


def test_unknown_fields_and_enum_codes_are_kept_with_a_warning(real_studies: dict[str, Any]) -> None:
    study = copy.deepcopy(next(iter(real_studies.values())))
    study["protocolSection"]["brandNewModule"] = {"x": 1}
    study["protocolSection"]["designModule"]["phases"] = ["PHASE5"]
    mapped = map_study(study)
    assert any("unknown phase code 'PHASE5'" in w for w in mapped.warnings)
    assert any(quad.object.value.endswith("/phase/PHASE5") for quad in mapped.quads if hasattr(quad.object, "value"))
