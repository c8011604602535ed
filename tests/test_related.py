"""Related trials: ranking and explanations on the demo, the CLI's JSON, the fallback without MeSH, the saved index,
and neighbour quality on the real records against naive and random baselines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kg.analysis.related import REGISTRY_SOURCE, RELATED_INDEX, build_index, related
from kg.demo import demo_mesh_file, seed_study, write_demo_corpus
from kg.pipeline.build import BuildReport, build, load_records
from kg.pipeline.information_content import update_information_content
from kg.queries import QueryError, run
from kg.store import open_store
from tests.conftest import CTGOV_DATA, MESH_DATA, SEED_NCT
from tests.related_evaluation import neighbour_quality

HOSTILE = '[bold red]x[/] "quoted" <script>alert(1)</script> \\n ‮ ${HOME} `rm -rf /`'
LANTHANOIDS = {"Lutetium", "Lanthanoid Series Elements", "Metals, Rare Earth"}


def kg(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KG_HOME": str(home), "COLUMNS": "200"}
    env.pop("KG_STORE", None)
    return subprocess.run([sys.executable, "-m", "kg", *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_demo_corpus(tmp_path_factory.mktemp("corpus"), n_synthetic=300)


@pytest.fixture(scope="module")
def demo_spec(corpus: list[Path], tmp_path_factory: pytest.TempPathFactory) -> str:
    spec = f"oxigraph:{tmp_path_factory.mktemp('demo') / 'store'}"
    build(list(corpus), spec, mesh=[demo_mesh_file()])
    return spec


@pytest.fixture(scope="module")
def plain_spec(corpus: list[Path], tmp_path_factory: pytest.TempPathFactory) -> str:
    spec = f"oxigraph:{tmp_path_factory.mktemp('plain') / 'store'}"
    build(list(corpus), spec)
    return spec


def _intervention_labels(neighbour: Any) -> set[str]:
    return {concept.label for concept in neighbour.shared if concept.role == "intervention"}


def test_lutetium_trials_with_digestive_neoplasms_rank_first(demo_spec: str) -> None:
    with open_store(demo_spec, read_only=True) as store:
        found = related(store, SEED_NCT, 10)
    assert len(found) == 10 and SEED_NCT not in {n.nct_id for n in found}
    assert [n.score for n in found] == sorted((n.score for n in found), reverse=True)
    for neighbour in found[:5]:
        assert _intervention_labels(neighbour) & LANTHANOIDS, neighbour.explanation
        conditions = {c.label for c in neighbour.shared if c.role == "condition"}
        assert "Digestive System Neoplasms" in conditions, neighbour.explanation
        assert "Lutetium" in neighbour.explanation and "Digestive System Neoplasms" in neighbour.explanation
        assert neighbour.components["condition"] > 0 and neighbour.components["intervention"] > 0


def test_a_concept_and_its_ancestors_count_once(demo_spec: str) -> None:
    with open_store(demo_spec, read_only=True) as store:
        found = related(store, SEED_NCT, 20)
    for neighbour in found:
        labels = _intervention_labels(neighbour)
        assert not ("Lutetium" in labels and labels & {"Lanthanoid Series Elements", "Metals, Rare Earth"})


def test_related_trials_query_ranks_by_shared_specific_concepts(demo_spec: str) -> None:
    with open_store(demo_spec, read_only=True) as store:
        rows = run(store, "related_trials", {"nct": SEED_NCT}).rows
    assert rows and SEED_NCT not in {row["nct_id"] for row in rows}
    assert [row["score"] for row in rows] == sorted((row["score"] for row in rows), reverse=True)
    assert "Lutetium" in str(rows[0]["concepts"])


def test_cli_json_schema(demo_spec: str, tmp_path: Path) -> None:
    result = kg("related", SEED_NCT, "--top", "5", "--format", "json", "--store", demo_spec, home=tmp_path)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert isinstance(found, list) and len(found) == 5
    assert [item["rank"] for item in found] == [1, 2, 3, 4, 5]
    assert [item["score"] for item in found] == sorted((item["score"] for item in found), reverse=True)
    for item in found:
        assert {"nct_id", "title", "score", "components", "shared", "explanation", "hierarchy"} <= set(item)
        assert isinstance(item["explanation"], str) and item["explanation"]
        assert {"role", "id", "label", "depth", "information_content", "query_terms", "other_terms"} <= set(
            item["shared"][0]
        )
    table = kg("related", SEED_NCT, "--top", "3", "--explain", "--store", demo_spec, home=tmp_path)
    assert table.returncode == 0 and "Lutetium" in table.stdout


def test_unknown_trial_is_one_clear_error(demo_spec: str, tmp_path: Path) -> None:
    for bad in ("NCT00000001", "not-an-id"):
        result = kg("related", bad, "--store", demo_spec, home=tmp_path)
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
        assert result.stderr.strip().count("\n") == 0 and result.stderr.startswith("error:"), result.stderr
    with open_store(demo_spec, read_only=True) as store, pytest.raises(QueryError):
        related(store, "NCT00000001")


def test_fallback_without_mesh_says_so(plain_spec: str) -> None:
    with open_store(plain_spec, read_only=True) as store:
        found = related(store, SEED_NCT, 5)
    assert found and all(n.hierarchy == REGISTRY_SOURCE for n in found)
    assert all("no MeSH file loaded" in n.explanation for n in found)
    assert all(_intervention_labels(n) & LANTHANOIDS for n in found[:3])


def _copy_of_seed(nct: str, title: str) -> dict[str, Any]:
    study = seed_study()
    study["protocolSection"]["identificationModule"]["nctId"] = nct
    study["protocolSection"]["identificationModule"]["briefTitle"] = title
    return study


def _build_pair(directory: Path, spec: str, nct: str, title: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "studies.json"
    path.write_text(json.dumps([seed_study(), _copy_of_seed(nct, title)], ensure_ascii=False), encoding="utf-8")
    build([path], spec)


def test_hostile_titles_verbatim_and_index_rebuilt_with_the_store(tmp_path: Path) -> None:
    spec = f"oxigraph:{tmp_path / 'store'}"
    _build_pair(tmp_path / "one", spec, "NCT99999998", HOSTILE)
    saved = RELATED_INDEX.path(spec)
    assert saved is not None and saved.is_file()
    result = kg("related", SEED_NCT, "--format", "json", "--store", spec, home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [(item["nct_id"], item["title"]) for item in json.loads(result.stdout)] == [("NCT99999998", HOSTILE)]
    before = saved.stat().st_mtime_ns
    _build_pair(tmp_path / "two", spec, "NCT99999997", "Another copy")
    assert saved.stat().st_mtime_ns != before
    result = kg("related", SEED_NCT, "--format", "json", "--store", spec, home=tmp_path)
    assert [item["nct_id"] for item in json.loads(result.stdout)] == ["NCT99999997"]


def test_in_memory_store_builds_the_index_lazily(corpus: list[Path]) -> None:
    with open_store("oxigraph:") as store:
        load_records(store, list(corpus), BuildReport())
        update_information_content(store)
        assert related(store, SEED_NCT, 3)


@pytest.mark.skipif(
    not CTGOV_DATA.is_dir() or not (MESH_DATA / "d2024-reduced.bin").is_file(),
    reason=f"real records or MeSH files not found under {CTGOV_DATA.parent} (../shared/data)",
)
def test_neighbours_share_conditions_on_real_records(tmp_path_factory: pytest.TempPathFactory) -> None:
    spec = f"oxigraph:{tmp_path_factory.mktemp('real-related') / 'store'}"
    build([CTGOV_DATA], spec, mesh=[MESH_DATA / "d2024-reduced.bin", MESH_DATA / "c2024-reduced.bin"])
    with open_store(spec, read_only=True) as store:
        figures = neighbour_quality(build_index(store), k=10, min_depth=3, sample=400)
    assert figures["engine"] >= 0.9, figures
    assert figures["engine"] > figures["naive"] and figures["engine"] > figures["random"], figures
