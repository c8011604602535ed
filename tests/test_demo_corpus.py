"""The offline demo corpus: the seed transcription, the curated vocabulary and the synthetic study generator."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tracemalloc
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from statistics import median
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kg.demo import SEED_NCT, seed_study, synthetic_studies, write_demo_corpus
from kg.demo.make_vocabulary import build_vocabulary, demo_mesh_ids, demo_mesh_subset, load_index, registry_id
from kg.demo.synthetic import REFERENCE_DATE
from tests.conftest import LUTETIUM, LUTETIUM_ANCESTORS, MESH_DATA, REPO, SHARED_DATA, needs_mesh

Study = dict[str, Any]

MESH_DIR = MESH_DATA
SEED_PAGE = SHARED_DATA.parent / "seeds" / "000_428202b05631b0cf.txt"
VOCABULARY = REPO / "kg" / "demo" / "data" / "vocabulary.json"
DEMO_MESH = REPO / "kg" / "demo" / "data" / "mesh-demo.bin"
REF = REFERENCE_DATE.isoformat()

needs_seed_page = pytest.mark.skipif(not SEED_PAGE.is_file(), reason=f"seed page not found at {SEED_PAGE}")

PHASES = {"EARLY_PHASE1", "PHASE1", "PHASE2", "PHASE3", "PHASE4", "NA"}
STATUSES = {
    "RECRUITING", "NOT_YET_RECRUITING", "ENROLLING_BY_INVITATION", "ACTIVE_NOT_RECRUITING", "COMPLETED",
    "TERMINATED", "WITHDRAWN", "SUSPENDED", "UNKNOWN",
}  # fmt: skip
SPONSOR_CLASSES = {"INDUSTRY", "OTHER", "NIH", "OTHER_GOV", "NETWORK", "FED", "INDIV", "UNKNOWN"}
INTERVENTION_TYPES = {"DRUG", "BIOLOGICAL", "DEVICE", "PROCEDURE", "BEHAVIORAL", "RADIATION", "OTHER"}
ARM_TYPES = {"EXPERIMENTAL", "ACTIVE_COMPARATOR", "PLACEBO_COMPARATOR", "SHAM_COMPARATOR", "NO_INTERVENTION", "OTHER"}
ONGOING = {"RECRUITING", "ENROLLING_BY_INVITATION", "ACTIVE_NOT_RECRUITING", "SUSPENDED"}


def _status(study: Study) -> dict[str, Any]:
    return study["protocolSection"]["statusModule"]


def _phase(study: Study) -> str:
    return "+".join(study["protocolSection"]["designModule"]["phases"])


def _dump(studies: list[Study]) -> bytes:
    return "\n".join(json.dumps(s, ensure_ascii=False) for s in studies).encode("utf-8")


def _date_problems(study: Study) -> list[str]:
    """Every way a record's status and dates could contradict each other as of the reference date."""
    s = _status(study)
    status = s["overallStatus"]
    start, primary, done = (
        s[k]["date"] for k in ("startDateStruct", "primaryCompletionDateStruct", "completionDateStruct")
    )
    kinds = {k: s[k]["type"] for k in ("startDateStruct", "primaryCompletionDateStruct", "completionDateStruct")}
    problems = [
        f"{k} ACTUAL after {REF}"
        for k, v in s.items()
        if isinstance(v, dict) and v.get("type") == "ACTUAL" and v["date"] > REF
    ]
    checks = {
        "start <= primary <= completion": start <= primary <= done,
        "submitted <= QC <= first posted <= ref": s["studyFirstSubmitDate"]
        <= s["studyFirstSubmitQcDate"]
        <= s["studyFirstPostDateStruct"]["date"]
        <= REF,
        "first posted <= last update <= ref": s["studyFirstPostDateStruct"]["date"] <= s["lastUpdateSubmitDate"] <= REF,
        "verified month is the last update's": s["statusVerifiedDate"] == s["lastUpdateSubmitDate"][:7],
        "COMPLETED/TERMINATED: all ACTUAL": status not in {"COMPLETED", "TERMINATED"}
        or set(kinds.values()) == {"ACTUAL"},
        "NOT_YET_RECRUITING: estimated future start": status != "NOT_YET_RECRUITING"
        or (kinds["startDateStruct"] == "ESTIMATED" and start > REF),
        "ongoing: started, completion estimated in the future": status not in ONGOING
        or (kinds["startDateStruct"] == "ACTUAL" and kinds["completionDateStruct"] == "ESTIMATED" and done > REF),
        "stopped: says why": status not in {"TERMINATED", "WITHDRAWN", "SUSPENDED"} or bool(s.get("whyStopped")),
        "WITHDRAWN: nobody enrolled": status != "WITHDRAWN"
        or study["protocolSection"]["designModule"]["enrollmentInfo"] == {"count": 0, "type": "ACTUAL"},
        "UNKNOWN: unverified for 2 years, completion passed": status != "UNKNOWN"
        or (
            date.fromisoformat(s["lastUpdateSubmitDate"]) <= REFERENCE_DATE - timedelta(days=730)
            and done <= REF
            and "lastKnownStatus" in s
        ),
    }
    return problems + [name for name, ok in checks.items() if not ok]


# --- Synthetic studies ------------------------------------------------------------------------------------------


def test_same_seed_gives_byte_identical_json_and_another_seed_differs() -> None:
    first, second = list(synthetic_studies(200, seed=7)), list(synthetic_studies(200, seed=7))
    assert _dump(first) == _dump(second)
    other = list(synthetic_studies(200, seed=8))
    assert _dump(other) != _dump(first)
    assert sum(a == b for a, b in zip(first, other, strict=True)) == 0


def test_output_does_not_depend_on_hash_randomisation() -> None:
    """Iterating a set of strings would change the output between processes; two hash seeds must agree."""
    script = (
        "import hashlib, json; from kg.demo import synthetic_studies; "
        "print(hashlib.sha256(''.join(json.dumps(s) for s in synthetic_studies(300)).encode()).hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for hash_seed in ("1", "2")
    }
    expected = hashlib.sha256("".join(json.dumps(s) for s in synthetic_studies(300)).encode()).hexdigest()
    assert digests == {expected}


def test_first_records_do_not_depend_on_n() -> None:
    assert _dump(list(synthetic_studies(50, seed=3))) == _dump(list(synthetic_studies(120, seed=3))[:50])


def test_every_record_is_marked_synthetic_three_ways_with_unique_ids() -> None:
    studies = list(synthetic_studies(2000, seed=11))
    ids = [s["protocolSection"]["identificationModule"]["nctId"] for s in studies]
    assert len(set(ids)) == len(ids)
    for number, study in enumerate(studies, start=1):
        identification = study["protocolSection"]["identificationModule"]
        assert re.fullmatch(r"NCT99\d{6}", identification["nctId"])
        assert identification["orgStudyIdInfo"]["id"] == f"SYNTH-{number:06d}"
        assert identification["briefTitle"].startswith("[Synthetic] ")
        assert study["synthetic"] == {"generator": "kg.demo.synthetic", "seed": 11}
        assert study["derivedSection"]["miscInfoModule"]["versionHolder"] == "synthetic"


def test_statuses_are_consistent_with_dates() -> None:
    studies = list(synthetic_studies(5000))
    problems = Counter(p for s in studies for p in _date_problems(s))
    assert not problems
    statuses = Counter(_status(s)["overallStatus"] for s in studies)
    assert {"COMPLETED", "RECRUITING", "TERMINATED", "WITHDRAWN", "NOT_YET_RECRUITING", "UNKNOWN"} <= set(statuses)
    assert statuses.most_common(1)[0][0] == "COMPLETED"
    assert min(_status(s)["startDateStruct"]["date"] for s in studies) >= "2005-01-01"
    assert max(_status(s)["startDateStruct"]["date"] for s in studies) <= "2026-12-31"


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**63))
def test_any_seed_gives_consistent_dates(seed: int) -> None:
    for study in synthetic_studies(40, seed=seed):
        assert _date_problems(study) == [], study["protocolSection"]["identificationModule"]["nctId"]


def test_enrollment_grows_with_phase_and_phase_shares_are_plausible() -> None:
    studies = list(synthetic_studies(5000))
    by_phase: dict[str, list[int]] = {}
    for study in studies:
        by_phase.setdefault(_phase(study), []).append(
            study["protocolSection"]["designModule"]["enrollmentInfo"]["count"]
        )
    medians = {phase: median(counts) for phase, counts in by_phase.items()}
    assert medians["PHASE1"] < medians["PHASE2"] < medians["PHASE3"]
    assert medians["PHASE1"] < 60 and medians["PHASE3"] > 200
    shares = {phase: len(counts) / len(studies) for phase, counts in by_phase.items()}
    assert set(shares) == {
        "EARLY_PHASE1",
        "PHASE1",
        "PHASE1+PHASE2",
        "PHASE2",
        "PHASE2+PHASE3",
        "PHASE3",
        "PHASE4",
        "NA",
    }
    assert max(shares, key=shares.__getitem__) == "NA"
    assert all(0.01 <= share <= 0.45 for share in shares.values())


def test_about_a_tenth_share_the_seed_world() -> None:
    studies = list(synthetic_studies(3000))
    lutetium = [
        s
        for s in studies
        if any(m["id"] == LUTETIUM for m in s["derivedSection"].get("interventionBrowseModule", {}).get("meshes", []))
    ]
    assert 0.04 <= len(lutetium) / len(studies) <= 0.15
    assert all(_phase(s) in {"EARLY_PHASE1", "PHASE1", "PHASE1+PHASE2"} for s in lutetium)
    seed_condition_world = {"D004067", "D009371", "D009369", "D004066"}  # the seed's condition and its ancestors
    for study in lutetium:
        browse = study["derivedSection"]["conditionBrowseModule"]
        assert {ref["id"] for ref in browse["meshes"] + browse["ancestors"]} & seed_condition_world


def test_records_have_the_api_shape_and_enums() -> None:
    for study in synthetic_studies(1500, seed=5):
        protocol = study["protocolSection"]
        design = protocol["designModule"]
        assert set(design["phases"]) <= PHASES
        assert _status(study)["overallStatus"] in STATUSES
        assert protocol["sponsorCollaboratorsModule"]["leadSponsor"]["class"] in SPONSOR_CLASSES
        arms = protocol["armsInterventionsModule"]
        labels = {group["label"] for group in arms["armGroups"]}
        assert 1 <= len(labels) == len(arms["armGroups"]) <= 3
        assert {group["type"] for group in arms["armGroups"]} <= ARM_TYPES
        names = {f"{i['type']}:{i['name']}" for i in arms["interventions"]}
        for intervention in arms["interventions"]:
            assert intervention["type"] in INTERVENTION_TYPES
            assert set(intervention["armGroupLabels"]) <= labels
        for group in arms["armGroups"]:
            for written in group.get("interventionNames", []):
                label, name = written.split(": ", 1)
                assert f"{label.upper()}:{name}" in names
        single = len(arms["armGroups"]) == 1
        assert (design["designInfo"]["interventionModel"] == "SINGLE_GROUP") == single
        assert (design["designInfo"]["allocation"] == "NA") == single
        criteria = protocol["eligibilityModule"]["eligibilityCriteria"]
        assert re.fullmatch(r"Inclusion Criteria:\n\n(\* .+\n)+\nExclusion Criteria:\n\n(\* .+\n)*\* .+", criteria)
        _check_ages(protocol["eligibilityModule"])
        sites = protocol["contactsLocationsModule"]["locations"]
        assert 1 <= len(sites) <= 30
        assert all(-90 <= s["geoPoint"]["lat"] <= 90 and -180 <= s["geoPoint"]["lon"] <= 180 for s in sites)
        assert protocol["conditionsModule"]["conditions"]
        assert 1 <= len(study["derivedSection"]["conditionBrowseModule"]["meshes"]) <= 3


def _check_ages(eligibility: dict[str, Any]) -> None:
    minimum = int(eligibility["minimumAge"].removesuffix(" Years"))
    maximum = int(eligibility.get("maximumAge", "200 Years").removesuffix(" Years"))
    expected = [name for name, low, high in (("CHILD", 0, 17), ("ADULT", 18, 64), ("OLDER_ADULT", 65, 200))
                if minimum <= high and maximum >= low]  # fmt: skip
    assert eligibility["stdAges"] == expected
    assert eligibility["sex"] in {"ALL", "MALE", "FEMALE"}


def test_mesh_terms_come_from_the_vocabulary() -> None:
    vocabulary = json.loads(VOCABULARY.read_text(encoding="utf-8"))
    known = {
        ref["id"]: ref["term"]
        for entry in vocabulary["conditions"] + vocabulary["interventions"]
        for ref in [entry, *entry["ancestors"]]
    }
    for study in synthetic_studies(1000, seed=9):
        for module in ("conditionBrowseModule", "interventionBrowseModule"):
            browse = study["derivedSection"].get(module, {})
            for ref in browse.get("meshes", []) + browse.get("ancestors", []):
                assert known.get(ref["id"]) == ref["term"]
            mesh_ids = {m["id"] for m in browse.get("meshes", [])}
            assert not mesh_ids & {a["id"] for a in browse.get("ancestors", [])}


@pytest.mark.slow
def test_generation_streams_without_growing_memory() -> None:
    def peak(n: int) -> int:
        tracemalloc.start()
        try:
            for _ in synthetic_studies(n):
                pass
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    next(synthetic_studies(1))  # load the vocabulary before measuring
    small, large = peak(2_000), peak(20_000)
    assert large < 1.5 * small + 256 * 1024, f"peak {large} bytes for 20k records vs {small} for 2k"


def test_bad_counts_fail_at_the_call() -> None:
    with pytest.raises(ValueError, match="between 0 and"):
        synthetic_studies(-1)
    with pytest.raises(ValueError, match="between 0 and"):
        synthetic_studies(1_000_000)
    assert list(synthetic_studies(0)) == []


# --- Seed transcription ---------------------------------------------------------------------------------------


def test_seed_study_has_what_the_page_shows() -> None:
    study = seed_study()
    protocol = study["protocolSection"]
    assert protocol["identificationModule"]["nctId"] == SEED_NCT
    assert protocol["designModule"]["enrollmentInfo"] == {"count": 22, "type": "ESTIMATED"}
    assert protocol["designModule"]["phases"] == ["PHASE1"]
    status = protocol["statusModule"]
    assert status["overallStatus"] == "RECRUITING"
    assert status["startDateStruct"] == {"date": "2025-11-14", "type": "ACTUAL"}
    assert status["completionDateStruct"] == {"date": "2027-12-01", "type": "ESTIMATED"}
    assert (status["statusVerifiedDate"], status["lastUpdateSubmitDate"]) == ("2026-01", "2026-01-04")
    outcomes = protocol["outcomesModule"]
    assert [o["timeFrame"] for o in outcomes["primaryOutcomes"]] == [
        "Up to 42 days after the first dose",
        "Up to 42 days after the first dose",
        "Up to approximately 24 months",
    ]
    assert len(outcomes["secondaryOutcomes"]) == 5
    arms = protocol["armsInterventionsModule"]
    assert [a["type"] for a in arms["armGroups"]] == ["EXPERIMENTAL"]
    assert arms["interventions"][0]["armGroupLabels"] == [arms["armGroups"][0]["label"]]
    (site,) = protocol["contactsLocationsModule"]["locations"]
    assert site == {
        "facility": "Sichuan Cancer Hospital",
        "status": "RECRUITING",
        "city": "Chengdu",
        "state": "Sichuan",
        "country": "China",
    }
    interventions = study["derivedSection"]["interventionBrowseModule"]
    assert {"id": LUTETIUM, "term": "Lutetium"} in interventions["meshes"]
    assert study["derivedSection"]["conditionBrowseModule"]["meshes"] == [
        {"id": "D004067", "term": "Digestive System Neoplasms"}
    ]
    assert "\\[177Lu\\]" in protocol["descriptionModule"]["briefSummary"]


def test_seed_study_invents_nothing_and_says_what_is_missing() -> None:
    study = seed_study()
    protocol = study["protocolSection"]
    assert "briefTitle" not in protocol["identificationModule"]
    assert "name" not in protocol["sponsorCollaboratorsModule"]["leadSponsor"]
    assert "conditionsModule" not in protocol
    assert "geoPoint" not in protocol["contactsLocationsModule"]["locations"][0]
    assert "miscInfoModule" not in study["derivedSection"]
    notes = study["transcriptionNotes"]
    assert all(isinstance(note, str) and note for note in notes)
    for gap in ("title", "sponsor's name", "8 ", "+1 more criteria", "geoPoint", "versionHolder", "Lutetium-177"):
        assert any(gap in note for note in notes), gap


def test_seed_study_is_a_fresh_copy() -> None:
    seed_study()["protocolSection"]["identificationModule"]["nctId"] = "changed"
    assert seed_study()["protocolSection"]["identificationModule"]["nctId"] == SEED_NCT


@needs_seed_page
def test_seed_text_is_verbatim_from_the_page() -> None:
    page = SEED_PAGE.read_text(encoding="utf-8")
    protocol = seed_study()["protocolSection"]
    criteria = protocol["eligibilityModule"]["eligibilityCriteria"]
    inclusion, exclusion = criteria.removeprefix("Inclusion Criteria:\n\n").split("\n\nExclusion Criteria:\n\n")
    bullets = [line.removeprefix("* ") for line in inclusion.splitlines() + exclusion.splitlines()]
    assert (len(inclusion.splitlines()), len(exclusion.splitlines())) == (14, 15)
    outcomes = protocol["outcomesModule"]["primaryOutcomes"] + protocol["outcomesModule"]["secondaryOutcomes"]
    texts = [*bullets, protocol["descriptionModule"]["briefSummary"]]
    texts += [o[k] for o in outcomes for k in ("measure", "description", "timeFrame") if k in o]
    texts += [protocol["armsInterventionsModule"]["armGroups"][0]["description"]]
    missing = [text for text in texts if text not in page]
    assert not missing


# --- Vocabulary and demo corpus ---------------------------------------------------------------------------------


@needs_mesh
def test_every_vocabulary_id_is_in_the_shared_mesh_files() -> None:
    index = load_index(MESH_DIR)
    real = {registry_id(ui) for ui in [*index.descriptors, *index.concepts]}
    vocabulary = json.loads(VOCABULARY.read_text(encoding="utf-8"))
    ids = {
        ref["id"]
        for entry in vocabulary["conditions"] + vocabulary["interventions"]
        for ref in [entry, *entry["ancestors"], *entry["pharmacologicalActions"]]
    }
    assert ids - real == set()
    assert len(vocabulary["conditions"]) >= 40 and len(vocabulary["interventions"]) >= 40
    seed_ids = {ref["id"] for module in seed_study()["derivedSection"].values() for key in ("meshes", "ancestors")
                for ref in module[key]}  # fmt: skip
    assert seed_ids - real == set()


@needs_mesh
def test_vocabulary_file_is_what_the_script_builds() -> None:
    index = load_index(MESH_DIR)
    built = build_vocabulary(index)
    assert json.loads(VOCABULARY.read_text(encoding="utf-8")) == built
    assert DEMO_MESH.read_text(encoding="utf-8") == demo_mesh_subset(index, demo_mesh_ids(built))


def test_demo_mesh_subset_carries_real_hierarchies() -> None:
    """The demo's MeSH file: every vocabulary concept with its real tree numbers and a closed hierarchy."""
    from kg.mesh.files import MeshProblem, iter_mesh_file
    from kg.mesh.mapping import MeshIndex

    items = list(iter_mesh_file(DEMO_MESH))
    assert [str(item) for item in items if isinstance(item, MeshProblem)] == []
    index = MeshIndex.from_records(items)
    assert {index.descriptors[a].heading for a in index.ancestors(LUTETIUM)} == LUTETIUM_ANCESTORS
    assert index.descriptors[LUTETIUM].tree_numbers == ("D01.268.558.362.562", "D01.268.956.311", "D01.552.550.399.562")
    _ = index.parents  # resolves every parent tree number, recording any it cannot
    assert index.problems == [] and index.unresolved_headings() == []


def test_vocabulary_lutetium_matches_the_seed_page_hierarchy() -> None:
    vocabulary = json.loads(VOCABULARY.read_text(encoding="utf-8"))
    (lutetium,) = [entry for entry in vocabulary["interventions"] if entry["id"] == LUTETIUM]
    assert lutetium["ancestors"] == seed_study()["derivedSection"]["interventionBrowseModule"]["ancestors"]
    assert lutetium["treeNumbers"] == ["D01.268.558.362.562", "D01.268.956.311", "D01.552.550.399.562"]
    dotatate = next(e for e in vocabulary["interventions"] if e["term"] == "lutetium Lu 177 dotatate")
    assert dotatate["id"] == "C000447941"
    assert dotatate["ancestors"][0] == {"id": "D019275", "term": "Radiopharmaceuticals"}


def test_write_demo_corpus_writes_the_seed_and_json_lines(tmp_path: Path) -> None:
    paths = write_demo_corpus(tmp_path / "corpus", n_synthetic=25, seed=4)
    assert [p.name for p in paths] == [f"{SEED_NCT}.json", "synthetic.jsonl"]
    assert json.loads(paths[0].read_text(encoding="utf-8")) == seed_study()
    lines = paths[1].read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == list(synthetic_studies(25, seed=4))
