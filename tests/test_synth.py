"""The registry-scale synthetic generator (``kg.demo.registry``) and ``kg synth``."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from pathlib import Path
from statistics import median
from typing import Any

import pytest
from typer.testing import CliRunner

from kg.cli.main import app
from kg.ctgov.mapping import map_study
from kg.demo import demo_mesh_file, synthetic_studies
from kg.demo.registry import read_mesh, registry_catalog, registry_studies, write_registry
from kg.identifiers import normalize_mesh_id
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
    for study in demo_registry:
        assert set(study) == set(demo[0])
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
