"""The registry-scale synthetic generator (``kg.demo.registry``) and ``kg synth``."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from datetime import date
from pathlib import Path
from statistics import median
from typing import Any

import pytest
from typer.testing import CliRunner

from kg.cli.main import app
from kg.ctgov.mapping import enumeration_quads, map_study
from kg.demo import demo_mesh_file, synthetic_studies
from kg.demo.registry import read_mesh, registry_catalog, registry_studies, write_registry
from kg.demo.results import COMPLETED_SHARE, OTHER_SHARE, results_share
from kg.demo.synthetic import REFERENCE_DATE
from kg.identifiers import normalize_mesh_id
from kg.pipeline.validation import validate
from kg.store import open_store
from kg.vocab import KG
from tests.conftest import MESH_DATA, needs_mesh

Study = dict[str, Any]
FULL_MESH = [MESH_DATA / "d2024-reduced.bin", MESH_DATA / "c2024-reduced.bin"]
STATUSES = {
    "RECRUITING", "NOT_YET_RECRUITING", "ENROLLING_BY_INVITATION", "ACTIVE_NOT_RECRUITING", "COMPLETED",
    "TERMINATED", "WITHDRAWN", "SUSPENDED", "UNKNOWN",
}  # fmt: skip


def _dump(studies: list[Study]) -> str:
    return "\n".join(json.dumps(s, sort_keys=True) for s in studies)


def _refs(study: Study, module: str, key: str) -> list[dict[str, str]]:
    return list(study["derivedSection"].get(module, {}).get(key, []))


@pytest.fixture(scope="module")
def demo_registry() -> list[Study]:
    return list(registry_studies(600, seed=3))


def test_same_seed_same_records_other_seed_differs(demo_registry: list[Study]) -> None:
    assert _dump(list(registry_studies(600, seed=3))) == _dump(demo_registry)
    assert _dump(list(registry_studies(600, seed=4))) != _dump(demo_registry)
    assert _dump(list(registry_studies(100, seed=3))) == _dump(demo_registry[:100])


def test_every_record_is_marked_synthetic_with_ids_outside_the_real_range(demo_registry: list[Study]) -> None:
    ids = [s["protocolSection"]["identificationModule"]["nctId"] for s in demo_registry]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"NCT99\d{6}", nct) for nct in ids)
    for study in demo_registry:
        assert study["synthetic"] == {"generator": "kg.demo.registry", "seed": 3}
        assert study["protocolSection"]["identificationModule"]["briefTitle"].startswith("[Synthetic] ")
    for study in demo_registry[:100]:
        assert any(quad.predicate == KG.synthetic for quad in map_study(study).quads)


def test_differs_from_the_demo_world_but_keeps_its_shape(demo_registry: list[Study]) -> None:
    """Same generator, another catalog: the demo's own output is untouched (tests/test_demo_corpus.py pins it)."""
    demo = list(synthetic_studies(600, seed=3))
    assert _dump(demo) != _dump(demo_registry)
    assert not any(study["hasResults"] or "resultsSection" in study for study in demo)  # the demo posts none
    for study in demo_registry:
        assert set(study) - {"resultsSection"} == set(demo[0])
        assert study["protocolSection"]["statusModule"]["overallStatus"] in STATUSES
    statuses = Counter(s["protocolSection"]["statusModule"]["overallStatus"] for s in demo_registry)
    assert statuses.most_common(1)[0][0] == "COMPLETED"


def _tree_ancestor_ids(index: Any, ui: str) -> set[str]:
    """Independently of the generator: the descriptors at every proper prefix of ``ui``'s tree numbers."""
    prefixes = {
        tree[:cut] for tree in index.descriptors[ui].tree_numbers for cut in range(len(tree)) if tree[cut] == "."
    }
    return {index.by_tree_number[prefix] for prefix in prefixes if prefix in index.by_tree_number}


@pytest.fixture(scope="module")
def full_registry() -> list[Study]:
    return list(registry_studies(2000, seed=1, mesh=FULL_MESH))


@needs_mesh
@pytest.mark.slow
def test_concepts_come_from_the_loaded_mesh_with_registry_style_ancestors(full_registry: list[Study]) -> None:
    index = read_mesh(FULL_MESH)
    conditions = Counter(ref["id"] for s in full_registry for ref in _refs(s, "conditionBrowseModule", "meshes"))
    curated = {ref["id"] for s in synthetic_studies(3000) for ref in _refs(s, "conditionBrowseModule", "meshes")}
    assert len(set(conditions) - curated) > 300  # far beyond the demo's curated vocabulary
    for study in full_registry[:300]:
        for ref in _refs(study, "conditionBrowseModule", "meshes"):
            descriptor = index.descriptors[ref["id"]]
            assert descriptor.heading == ref["term"]
            assert any(t.startswith(("C", "F03")) for t in descriptor.tree_numbers)
        terms = [ref["id"] for ref in _refs(study, "conditionBrowseModule", "meshes")]
        expected = set().union(*(_tree_ancestor_ids(index, ui) for ui in terms)) - set(terms)
        listed = {ref["id"] for ref in _refs(study, "conditionBrowseModule", "ancestors")}
        assert listed == expected
        for ref in _refs(study, "interventionBrowseModule", "meshes"):
            ui = normalize_mesh_id(ref["id"])
            assert ui in index.descriptors or ui in index.concepts, ref


@needs_mesh
@pytest.mark.slow
def test_popularity_is_skewed_and_sponsors_and_sites_have_long_tails(full_registry: list[Study]) -> None:
    counts = Counter(ref["id"] for s in full_registry for ref in _refs(s, "conditionBrowseModule", "meshes"))
    assert counts.most_common(1)[0][1] >= 10 * median(counts.values())
    sponsors = Counter(s["protocolSection"]["sponsorCollaboratorsModule"]["leadSponsor"]["name"] for s in full_registry)
    assert len(sponsors) > 300 and sponsors.most_common(1)[0][1] > 20
    sites = {
        loc["facility"] for s in full_registry for loc in s["protocolSection"]["contactsLocationsModule"]["locations"]
    }
    assert len(sites) > 2000


def test_a_vocabulary_without_diseases_is_refused(tmp_path: Path) -> None:
    drugs_only = tmp_path / "d-drugs.bin"
    drugs_only.write_text("*NEWRECORD\nRECTYPE = D\nMH = Aspirin\nMN = D02.065\nUI = D001241\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no disease descriptors"):
        registry_catalog([drugs_only])
    with pytest.raises(ValueError, match="between 0 and"):
        registry_studies(1_000_000)


def _shard_lines(paths: list[Path]) -> list[str]:
    return [line for path in paths for line in gzip.open(path, "rt", encoding="utf-8").read().splitlines()]


def test_write_registry_streams_gzip_shards_and_replaces_an_earlier_corpus(tmp_path: Path) -> None:
    first = write_registry(tmp_path, 130, seed=2, shard_size=50)
    assert [p.name for p in first] == [f"synthetic-registry-0000{i}.jsonl.gz" for i in range(3)]
    assert [json.loads(line) for line in _shard_lines(first)] == list(registry_studies(130, seed=2))
    again = write_registry(tmp_path, 40, seed=2, shard_size=50)
    assert sorted(tmp_path.iterdir()) == again and len(_shard_lines(again)) == 40


def test_kg_synth_writes_a_corpus_kg_build_reads(tmp_path: Path) -> None:
    out = tmp_path / "registry"
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "synth",
            "--trials",
            "60",
            "-o",
            str(out),
            "--seed",
            "9",
            "--shard-size",
            "25",
            "--mesh",
            str(demo_mesh_file()),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "60 SYNTHETIC trials" in result.output
    assert [json.loads(line) for line in _shard_lines(sorted(out.iterdir()))] == list(registry_studies(60, seed=9))
    built = runner.invoke(app, ["build", str(out), "--store", f"oxigraph:{tmp_path / 'store'}"])
    assert built.exit_code == 0, built.output
    assert "Built 60 trials" in built.output
    missing = runner.invoke(app, ["synth", "--trials", "5", "-o", str(out), "--mesh", str(tmp_path / "nope.bin")])
    assert missing.exit_code != 0
    too_many = runner.invoke(app, ["synth", "--trials", "1000000", "-o", str(out)])
    assert too_many.exit_code != 0 and "--trials" in too_many.output


# --- results sections ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def results_registry() -> list[Study]:
    return list(registry_studies(4000, seed=11))


def _status(study: Study) -> dict[str, Any]:
    return dict(study["protocolSection"]["statusModule"])


def test_the_share_with_results_is_the_chosen_one(results_registry: list[Study]) -> None:
    """Among trials whose primary completion is 8 years past (a posting delay that long is rarer than 1 in 100),
    as many post results as :func:`results_share` expects, within four standard deviations; the chosen shares are
    the real records' (79 of 466 completed interventional trials: 17 %; 12 of 36 terminated)."""
    assert 0.10 <= sum(COMPLETED_SHARE.values()) / len(COMPLETED_SHARE) <= 0.25 and OTHER_SHARE["TERMINATED"] == 0.33
    cutoff = (REFERENCE_DATE.replace(year=REFERENCE_DATE.year - 8)).isoformat()
    for statuses in (("COMPLETED",), ("TERMINATED",)):
        old = [
            s
            for s in results_registry
            if _status(s)["overallStatus"] in statuses and _status(s)["primaryCompletionDateStruct"]["date"] < cutoff
        ]
        chances = [
            results_share(_status(s)["overallStatus"], s["protocolSection"]["designModule"]["phases"]) for s in old
        ]
        posted = sum(s["hasResults"] for s in old)
        spread = sum(p * (1 - p) for p in chances) ** 0.5
        assert len(old) > 100 and abs(posted - sum(chances)) <= 4 * spread, (statuses, posted, sum(chances))
    posting = {"COMPLETED", "TERMINATED", "ACTIVE_NOT_RECRUITING"}
    assert all(_status(s)["overallStatus"] in posting for s in results_registry if s["hasResults"])
    share = sum(s["hasResults"] for s in results_registry) / len(results_registry)
    assert 0.05 <= share <= 0.15, share  # the real records: 94 of 1,102


def test_results_are_posted_after_primary_completion_and_by_the_reference_date(results_registry: list[Study]) -> None:
    delays = []
    for study in results_registry:
        status = _status(study)
        assert ("resultsSection" in study) == study["hasResults"] == ("resultsFirstPostDateStruct" in status)
        if study["hasResults"]:
            posted = status["resultsFirstPostDateStruct"]["date"]
            assert status["primaryCompletionDateStruct"]["date"] < posted <= REFERENCE_DATE.isoformat()
            assert status["resultsFirstSubmitDate"] <= status["resultsFirstSubmitQcDate"] < posted
            assert status["lastUpdatePostDateStruct"]["date"] >= posted
            assert status["statusVerifiedDate"] == status["lastUpdateSubmitDate"][:7]
            start = date.fromisoformat(status["primaryCompletionDateStruct"]["date"])
            delays.append((date.fromisoformat(posted) - start).days / 30.44)
    assert 12 <= median(delays) <= 26  # the real records' median: 19.6 months (recent completions cut it short)


def test_results_have_the_real_shape_with_groups_matching_arms(results_registry: list[Study]) -> None:
    with_results = [s for s in results_registry if s["hasResults"]]
    assert len(with_results) > 200
    analysed = 0
    for study in with_results:
        arms = [arm["label"] for arm in study["protocolSection"]["armsInterventionsModule"]["armGroups"]]
        section = study["resultsSection"]
        flow = section["participantFlowModule"]
        assert [group["title"] for group in flow["groups"]] == arms
        milestones = {m["type"]: m["achievements"] for m in flow["periods"][0]["milestones"]}
        assert {"STARTED", "COMPLETED"} <= set(milestones)
        for started, completed in zip(milestones["STARTED"], milestones["COMPLETED"], strict=True):
            assert int(started["numSubjects"]) >= int(completed["numSubjects"]) >= 0
        baseline = section["baselineCharacteristicsModule"]
        assert [g["title"] for g in baseline["groups"]] == arms + (["Total"] if len(arms) > 1 else [])
        assert {m["title"] for m in baseline["measures"]} >= {"Age, Continuous", "Sex: Female, Male"}
        for measure in baseline["measures"][1:]:  # counts: each group's categories add up to its participants
            denominators = {c["groupId"]: int(c["value"]) for c in baseline["denoms"][0]["counts"]}
            totals: Counter[str] = Counter()
            for klass in measure["classes"]:
                for category in klass["categories"]:
                    totals.update({m["groupId"]: int(m["value"]) for m in category["measurements"]})
            assert totals == denominators, measure["title"]
        planned = study["protocolSection"]["outcomesModule"]
        outcomes = section["outcomeMeasuresModule"]["outcomeMeasures"]
        assert [o["title"] for o in outcomes] == [o["measure"] for o in planned["primaryOutcomes"]] + [
            o["measure"] for o in planned.get("secondaryOutcomes", [])
        ]
        for outcome in outcomes:
            assert [group["title"] for group in outcome["groups"]] == arms
            assert "analyses" not in outcome or (len(arms) > 1 and outcome["type"] == "PRIMARY")
        analysed += any("analyses" in outcome for outcome in outcomes)
        events = section["adverseEventsModule"]
        ids = [group["id"] for group in events["eventGroups"]]
        assert len(ids) == len(arms) and events["otherEvents"]
        for event in events.get("seriousEvents", []) + events["otherEvents"]:
            assert event["organSystem"] and [stat["groupId"] for stat in event["stats"]] == ids
            assert all(0 <= stat["numAffected"] <= stat["numAtRisk"] for stat in event["stats"])
    assert any(s["resultsSection"]["adverseEventsModule"]["seriousEvents"] for s in with_results)
    assert 0 < analysed < len(with_results)


def test_records_without_results_are_what_they_were(results_registry: list[Study]) -> None:
    """Results come from their own random numbers: the other records, and every record's protocol apart from
    the results and update dates, do not change when results are drawn."""
    from dataclasses import replace

    without = list(registry_studies(400, seed=11, catalog=replace(registry_catalog(), results=False)))
    moved = {"resultsFirstSubmitDate", "resultsFirstSubmitQcDate", "resultsFirstPostDateStruct"}
    moved |= {"lastUpdateSubmitDate", "lastUpdatePostDateStruct", "statusVerifiedDate"}
    for study, plain in zip(results_registry[:400], without, strict=True):
        if not study["hasResults"]:
            assert study == plain
        else:
            status, plain_status = _status(study), _status(plain)
            assert {k: v for k, v in status.items() if k not in moved} == {
                k: v for k, v in plain_status.items() if k not in moved
            }


def test_synthetic_results_map_without_warnings_and_conform_to_the_shapes(results_registry: list[Study]) -> None:
    with_results = [s for s in results_registry if s["hasResults"]][:12]
    store = open_store("oxigraph:")
    store.add(enumeration_quads())
    for study in with_results:
        mapped = map_study(study)
        assert mapped.warnings == [], mapped.warnings
        assert (
            any(q.predicate == KG.seriousEvent for q in mapped.quads)
            or not study["resultsSection"]["adverseEventsModule"]["seriousEvents"]
        )
        assert any(q.predicate == KG.synthetic for q in mapped.quads)
        store.add(mapped.quads)
    result = validate(store)
    assert result.conforms, result.violations[:5]
    assert result.focus_nodes > 12 * 20  # the result nodes were checked, not only the trials
