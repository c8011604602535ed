"""Issue 15, "every field in the graph": every leaf value of every real record is looked up along the property chain
that ontologies/coverage.md gives for its path, the values of each list item must sit on one node, and the store's
counts of results rows equal the raw JSON's (both de-duplicated as the build does).

Set ``KG_COVERAGE_REPORT=FILE`` to also write the figures and the missing paths to FILE.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, Final, NamedTuple

import pytest
from pyoxigraph import NamedNode, Quad

from kg.ctgov.mapping import map_study
from kg.store import Store, open_store
from kg.vocab import KG, SCHEMA, SPARQL_PROLOGUE
from tests.conftest import REPO
from tests.coverage_support import (
    RARE_FIELDS,
    Coverage,
    GraphIndex,
    check_objects,
    check_record,
    deep_merge,
    is_excluded,
    leaves,
    list_items,
    load_manifest_script,
    merge,
)

SEED_RECORD: Final = REPO / "kg" / "demo" / "data" / "NCT07232407.json"
PMID: Final = "protocolSection.referencesModule.references[].pmid"
SECTIONS: Final = ("protocolSection", "derivedSection", "resultsSection", "documentSection", "annotationSection")
_AE: Final = "resultsSection.adverseEventsModule"
_OM: Final = "resultsSection.outcomeMeasuresModule.outcomeMeasures[]"
#: name → (list path in the raw JSON, the same items as a SPARQL pattern binding ?item from a trial ?t)
COUNTS: Final[dict[str, tuple[str, str]]] = {
    "outcome measurements": (
        f"{_OM}.classes[].categories[].measurements[]",
        "?t kg:outcomeResult/kg:measureClass/kg:category/kg:measurement ?item",
    ),
    "baseline measurements": (
        "resultsSection.baselineCharacteristicsModule.measures[].classes[].categories[].measurements[]",
        "?t kg:baseline/kg:baselineMeasure/kg:measureClass/kg:category/kg:measurement ?item",
    ),
    "analyses": (f"{_OM}.analyses[]", "?t kg:outcomeResult/kg:analysis ?item"),
    "serious events": (f"{_AE}.seriousEvents[]", "?t kg:adverseEvents/kg:seriousEvent ?item"),
    "serious event stats": (f"{_AE}.seriousEvents[].stats[]", "?t kg:adverseEvents/kg:seriousEvent/kg:count ?item"),
    "other events": (f"{_AE}.otherEvents[]", "?t kg:adverseEvents/kg:otherEvent ?item"),
    "other event stats": (f"{_AE}.otherEvents[].stats[]", "?t kg:adverseEvents/kg:otherEvent/kg:count ?item"),
    "references": ("protocolSection.referencesModule.references[]", "?t kg:reference ?item"),
}


@pytest.fixture(scope="module")
def manifest() -> ModuleType:
    return load_manifest_script()


@pytest.fixture(scope="module")
def coverage_store(real_store: Store) -> Store:
    """All real records, built once for the session (``real_store`` skips without ../shared/data)."""
    return real_store


#: The two checks, in the order of :class:`Checked`'s fields.
CHECKS: Final = (check_record, check_objects)


class Checked(NamedTuple):
    """Both checks over records: each leaf value along its chain, each list item's values on one node."""

    leaves: Coverage
    items: Coverage


@pytest.fixture(scope="module")
def checked(coverage_store: Store, real_studies: dict[str, dict[str, Any]], manifest: ModuleType) -> Checked:
    index = GraphIndex.read(coverage_store)

    def over_all(check: Callable[..., Coverage]) -> Coverage:
        return merge(
            [check(study, nct, index, manifest.MANIFEST, manifest.EXCLUDED) for nct, study in real_studies.items()]
        )

    result = Checked(*map(over_all, CHECKS))
    _report(result, manifest)
    return result


def _report(checked: Checked, manifest: ModuleType) -> None:
    """The figures, printed (``pytest -s``) and written to $KG_COVERAGE_REPORT when set."""
    lines = []
    for what, coverage in zip(("leaf values", "list items with all values on one node"), checked, strict=True):
        found, total = sum(coverage.found.values()), sum(coverage.total.values())
        lines.append(f"{what}: {found:,} of {total:,} ({coverage.share():.2%})")
        lines += [f"  {section}: {coverage.share(section):.2%}" for section in SECTIONS]
        lines.append("  missing (path: missing of all; first example):")
        lines += [f"    {path}: {gap:,} of {of:,}; {coverage.example[path]}" for path, gap, of in coverage.missing()]
    lines.append(f"PubMed ids: {checked.leaves.share(PMID):.2%}")
    unused = sorted(manifest.MANIFEST.keys() - checked.leaves.total.keys())
    lines.append(f"manifest paths no real record holds ({len(unused)}): {', '.join(unused)}")
    lines += [f"not in the manifest: {path} ({count})" for path, count in sorted(checked.leaves.unknown.items())]
    text = "\n".join(lines)
    print(text)
    if target := os.environ.get("KG_COVERAGE_REPORT"):
        Path(target).write_text(text + "\n", encoding="utf-8")


# --- the manifest ---------------------------------------------------------------------------------------------


def test_the_manifest_page_is_what_the_script_writes(manifest: ModuleType) -> None:
    assert manifest.OUTPUT.read_text(encoding="utf-8") == manifest.render(), (
        "ontologies/coverage.md is stale: run python scripts/coverage_manifest.py"
    )


def test_every_manifest_kind_is_one_the_check_knows(manifest: ModuleType) -> None:
    """The page explains every kind of comparison the manifest uses."""
    kinds = {carrier.kind for field in manifest.MANIFEST.values() for carrier in field.carriers}
    documented = {kind for kind in manifest.KINDS if not kind.startswith("enum:")}
    assert {kind for kind in kinds if not kind.startswith("enum:")} <= documented


def test_every_path_of_the_real_records_is_in_the_manifest_or_left_out(
    real_studies: dict[str, dict[str, Any]], manifest: ModuleType
) -> None:
    """A field the API adds (or the mapping forgot to plan) fails here with its path."""
    paths = {path for study in real_studies.values() for path, _ in leaves(study)}
    unplanned = {path for path in paths - manifest.MANIFEST.keys() if not is_excluded(path, manifest.EXCLUDED)}
    assert sorted(unplanned) == []
    assert len(paths) > 300, "too few paths to be the real records"


def test_locations_nested_is_an_exact_copy_of_locations(real_studies: dict[str, dict[str, Any]]) -> None:
    """The reason coverage.md gives for leaving ``locations_nested`` out."""
    modules = [study["protocolSection"].get("contactsLocationsModule", {}) for study in real_studies.values()]
    nested = [module for module in modules if "locations_nested" in module]
    assert nested, "no record has locations_nested any more: drop it from the exclusions"
    assert [module for module in nested if module["locations_nested"] != module.get("locations")] == []


# --- the instrument itself, on the seed record (no ../shared/data needed) -----------------------------------


def _seed() -> dict[str, Any]:
    return json.loads(SEED_RECORD.read_text(encoding="utf-8"))


def _check(manifest: ModuleType, study: dict[str, Any], edit: Callable[[list[Quad]], list[Quad]] = list) -> Checked:
    """Both checks on one record, its quads edited first."""
    nct = study["protocolSection"]["identificationModule"]["nctId"]
    with open_store("oxigraph:") as store:
        store.add(edit(map_study(study).quads))
        index = GraphIndex.read(store)
    return Checked(*(check(study, nct, index, manifest.MANIFEST, manifest.EXCLUDED) for check in CHECKS))


def test_the_check_notices_a_value_the_graph_does_not_hold(manifest: ModuleType) -> None:
    """An arm's intervention name is found through the resolved intervention node (two hops, across graphs), and
    missing (with an example) once the arm's link is gone."""
    name = "protocolSection.armsInterventionsModule.armGroups[].interventionNames[]"
    kept = _check(manifest, _seed()).leaves
    cut = _check(
        manifest, _seed(), lambda quads: [quad for quad in quads if quad.predicate != KG.armIntervention]
    ).leaves
    assert kept.found[name] == kept.total[name] == 1 and name not in kept.example
    assert cut.found[name] == 0 and cut.example[name].startswith("NCT07232407")


def _move_description(quads: list[Quad]) -> list[Quad]:
    """The first primary outcome's description moved onto the second primary outcome."""
    first, second = [quad.object for quad in quads if quad.predicate == KG.primaryOutcome][:2]
    assert isinstance(second, NamedNode)
    return [
        Quad(second, quad.predicate, quad.object, quad.graph_name)
        if quad.subject == first and quad.predicate == SCHEMA.description
        else quad
        for quad in quads
    ]


def test_the_item_check_notices_a_value_carried_by_a_sibling(manifest: ModuleType) -> None:
    """Still found along its chain (the leaf check passes), no longer on its own outcome (the item check fails)."""
    outcomes = "protocolSection.outcomesModule.primaryOutcomes[]"
    kept, moved = _check(manifest, _seed()), _check(manifest, _seed(), _move_description)
    assert moved.leaves.found[f"{outcomes}.description"] == kept.leaves.total[f"{outcomes}.description"]
    assert kept.items.found[outcomes] == kept.items.total[outcomes] == moved.items.total[outcomes] > 1
    assert moved.items.found[outcomes] == kept.items.total[outcomes] - 1


def test_the_fields_no_real_record_holds_are_in_the_graph_too(manifest: ModuleType) -> None:
    """Violation events, units analysed, IPD files …, written by hand onto the seed record: all found, each item's
    values on one node."""
    checked = _check(manifest, deep_merge(_seed(), RARE_FIELDS))
    assert {path for path, _ in leaves(RARE_FIELDS)} <= checked.leaves.total.keys()
    assert checked.leaves.missing() == []
    assert checked.items.missing() == []


def test_every_manifest_row_is_exercised_by_a_real_or_a_hand_made_record(
    real_studies: dict[str, dict[str, Any]], manifest: ModuleType
) -> None:
    held = {path for study in [*real_studies.values(), RARE_FIELDS] for path, _ in leaves(study)}
    assert sorted(manifest.MANIFEST.keys() - held) == []


def test_the_leaf_walker_names_list_items_and_skips_blank_values() -> None:
    record = {"a": {"b": [{"c": 1}, {"c": " "}], "d": [True, None], "e": "x"}}
    assert list(leaves(record)) == [("a.b[].c", 1), ("a.d[]", True), ("a.e", "x")]
    assert list_items(record, "a.b[]") == 2 and list_items(record, "a.missing[]") == 0


# --- the real records in the graph ---------------------------------------------------------------------------


def test_every_leaf_value_of_the_real_records_is_in_the_graph(checked: Checked) -> None:
    """≥ 99 % of all leaf values and of the results section's, every PubMed id; the figures are printed."""
    coverage = checked.leaves
    worst = coverage.missing()[:15]
    assert coverage.unknown == {}
    assert coverage.share(PMID) == 1.0, worst
    assert coverage.share("resultsSection") >= 0.99, worst
    assert coverage.share() >= 0.99, worst


def test_the_values_of_each_list_item_sit_on_one_node(checked: Checked) -> None:
    """A site's city and zip on one site, a measurement's group, value and spread on one measurement: values
    found only spread over sibling nodes would pass the leaf check and fail here."""
    assert checked.items.share("resultsSection") >= 0.99, checked.items.missing()[:15]
    assert checked.items.share() >= 0.99, checked.items.missing()[:15]


def test_the_store_holds_the_newest_version_of_each_trial(
    coverage_store: Store, real_studies: dict[str, dict[str, Any]]
) -> None:
    """The records checked above are the ones built: duplicates (mixed-2023-06.json) resolved the same way."""
    query = (
        f"{SPARQL_PROLOGUE}SELECT ?id ?updated "
        "WHERE { ?t a schema:MedicalTrial ; dcterms:identifier ?id ; kg:lastUpdatePosted ?updated }"
    )
    built = {(row["id"], str(row["updated"])) for row in coverage_store.select(query).rows}
    expected = {
        (nct, study["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"])
        for nct, study in real_studies.items()
    }
    assert built == expected


@pytest.mark.parametrize("name", COUNTS)
def test_results_rows_in_the_store_equal_those_of_the_raw_json(
    name: str, coverage_store: Store, real_studies: dict[str, dict[str, Any]]
) -> None:
    """An independent count (Python over the de-duplicated JSON) against SPARQL: merged or dropped rows show."""
    json_path, pattern = COUNTS[name]
    expected = sum(list_items(study, json_path) for study in real_studies.values())
    rows = coverage_store.select(f"{SPARQL_PROLOGUE}SELECT (COUNT(DISTINCT ?item) AS ?n) WHERE {{ {pattern} }}").rows
    assert expected > 0 and rows[0]["n"] == expected


def test_each_trial_links_the_pubmed_node_of_each_of_its_pmids(
    coverage_store: Store, real_studies: dict[str, dict[str, Any]]
) -> None:
    expected = sum(
        len({reference["pmid"].strip() for reference in references if reference.get("pmid", "").strip().isdigit()})
        for study in real_studies.values()
        for references in [study["protocolSection"].get("referencesModule", {}).get("references", [])]
    )
    query = f"{SPARQL_PROLOGUE}SELECT (COUNT(*) AS ?n) WHERE {{ ?t a schema:MedicalTrial ; kg:publication ?pub }}"
    assert expected > 0 and coverage_store.select(query).rows[0]["n"] == expected
