"""MeSH: the NLM file loader, the hierarchy in the graph, its agreement with the registry, and the download."""

from __future__ import annotations

import gzip
import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from kg.analysis.hierarchy import ancestors, mesh_loaded, trial_hierarchy
from kg.demo import demo_mesh_file
from kg.identifiers import normalize_mesh_id
from kg.mesh.download import ensure_mesh_file
from kg.mesh.files import Descriptor, MeshProblem, SupplementaryConcept, iter_mesh_file
from kg.mesh.mapping import MeshIndex
from kg.queries import QueryError, run
from kg.store import Store
from tests.conftest import (
    DIGESTIVE_NEOPLASMS_ANCESTORS,
    LUTETIUM,
    LUTETIUM_ANCESTORS,
    MESH_DATA,
    needs_mesh,
)

FIXTURES = Path(__file__).parent / "fixtures" / "mesh"
DESCRIPTORS = MESH_DATA / "d2024-reduced.bin"
SUPPLEMENTARY = MESH_DATA / "c2024-reduced.bin"


def _count_records(path: Path, rectype: str) -> int:
    """Independent of the loader: count record headers in the text."""
    return path.read_text(encoding="utf-8").count(f"*NEWRECORD\nRECTYPE = {rectype}\n")


@needs_mesh
def test_reduced_files_read_completely() -> None:
    items = list(iter_mesh_file(DESCRIPTORS)) + list(iter_mesh_file(SUPPLEMENTARY))
    assert [item for item in items if isinstance(item, MeshProblem)] == []
    assert sum(isinstance(item, Descriptor) for item in items) == _count_records(DESCRIPTORS, "D") == 30_762
    assert sum(isinstance(item, SupplementaryConcept) for item in items) == _count_records(SUPPLEMENTARY, "C")


def test_every_field_of_the_real_nlm_format_is_read_or_ignored() -> None:
    descriptor, *_, concept = list(iter_mesh_file(FIXTURES / "full-format.bin"))
    assert descriptor == Descriptor(
        ui="D000001",
        heading="Calcimycin",
        tree_numbers=("D03.633.100.221.173",),
        entry_terms=("A-23187", "A23187", "Antibiotic A23187", "A 23187"),
        pharmacological_actions=("Anti-Bacterial Agents", "Calcium Ionophores"),
        scope_note=descriptor.scope_note,
    )
    assert descriptor.scope_note and descriptor.scope_note.startswith("An ionophorous, polyether antibiotic")
    assert concept == SupplementaryConcept(
        ui="C000002",
        name="1,2-diacyl-sn-glycerol 3-phosphate",
        mapped_to=(("Calcimycin", True), ("Anti-Bacterial Agents", False)),
        pharmacological_actions=("Calcium Ionophores",),
        synonyms=("1,2-diacylglycerol 3-phosphate", "L-alpha-phosphatidic acid"),
    )
    index = MeshIndex.from_records(iter_mesh_file(FIXTURES / "full-format.bin"))
    assert index.actions("D000001") == ["D000900", "D002121"]
    assert index.mapped("C000002") == ["D000001", "D000900"]


def test_gzipped_files_read_alike(tmp_path: Path) -> None:
    packed = tmp_path / "d2099.bin.gz"
    packed.write_bytes(gzip.compress((FIXTURES / "full-format.bin").read_bytes()))
    assert list(iter_mesh_file(packed)) == list(iter_mesh_file(FIXTURES / "full-format.bin"))


def test_malformed_records_are_reported_with_position_and_skipped() -> None:
    items = list(iter_mesh_file(FIXTURES / "malformed.bin"))
    good = [item.ui for item in items if isinstance(item, Descriptor)]
    problems = [str(item) for item in items if isinstance(item, MeshProblem)]
    assert good == ["D000010", "D000013"]
    assert len(problems) == 4
    assert "malformed.bin [line 1]: not a 'KEY = value' line" in problems[0]
    assert "record 2 (line 8, UI ?)" in problems[1] and "no UI field" in problems[1]
    assert "UI D000011" in problems[2] and "malformed tree number 'A1.2.three'" in problems[2]
    assert "unknown RECTYPE 'X'" in problems[3]


@pytest.fixture(scope="module")
def mesh_store(real_mesh_store: Store) -> Store:
    """Every real record plus the 2024 MeSH files, built once per session."""
    return real_mesh_store


def _labels(rows: list[dict[str, Any]]) -> set[str]:
    return {str(row["label"]) for row in rows}


def test_lutetium_parents_and_ancestors(mesh_store: Store) -> None:
    parents = mesh_store.select(
        f"SELECT ?label WHERE {{ <http://id.nlm.nih.gov/mesh/{LUTETIUM}> "
        "<http://www.w3.org/2004/02/skos/core#broader>/<http://www.w3.org/2004/02/skos/core#prefLabel> ?label }"
    ).rows
    assert _labels(parents) == {"Lanthanoid Series Elements", "Transition Elements"}
    found = ancestors(mesh_store, [LUTETIUM, "Digestive System Neoplasms"])
    assert _labels(found[LUTETIUM]) == LUTETIUM_ANCESTORS
    assert _labels(found["Digestive System Neoplasms"]) == DIGESTIVE_NEOPLASMS_ANCESTORS
    assert found[LUTETIUM][0]["label"] == "Lanthanoid Series Elements"  # deepest first


def test_top_categories_sit_above_top_headings(mesh_store: Store) -> None:
    rows = mesh_store.select(
        "PREFIX skos: <http://www.w3.org/2004/02/skos/core#> SELECT ?label WHERE { "
        "<http://id.nlm.nih.gov/mesh/D007287> skos:broader/skos:prefLabel ?label }"
    ).rows
    assert _labels(rows) == {"Chemicals and Drugs"}
    count = mesh_store.select("SELECT (COUNT(?c) AS ?n) WHERE { ?c a <https://w3id.org/trialkg/vocab/MeshCategory> }")
    assert count.rows == [{"n": 16}]


def test_ancestors_query_equals_the_index(mesh_store: Store) -> None:
    index = _index()
    for ui in ["D008187", "D004067", "D011471", "C447941", "D009369"]:
        rows = run(mesh_store, "ancestors", {"concept": ui}).rows
        expected = index.ancestors(ui) if ui.startswith("D") else index.hierarchy(ui)
        assert {row["id"] for row in rows} == expected, ui
        assert [row["depth"] for row in rows] == sorted((row["depth"] for row in rows), reverse=True)


def test_concepts_by_label_matches_preferred_entry_and_registry_terms(mesh_store: Store) -> None:
    def ids(label: str) -> list[object]:
        return [row["id"] for row in run(mesh_store, "concepts_by_label", {"label": label}).rows]

    assert ids("lutetium") == ["D008187"]
    assert ids("NEOPLASMS BY SITE") == ["D009371"]
    assert ids("lutetium Lu 177 dotatate") == ["C447941"]
    assert ids('") } DROP ALL {') == []


def test_descendants_of_lanthanoids(mesh_store: Store) -> None:
    rows = run(mesh_store, "descendants", {"concept": "D028581"}).rows
    index = _index()
    expected = {ui for ui in index.descriptors if "D028581" in index.ancestors(ui)}
    assert {row["id"] for row in rows if str(row["id"]).startswith("D")} == expected
    assert "Lutetium" in _labels(rows) and "Lanthanoid Series Elements" not in _labels(rows)


def test_trial_hierarchy_of_a_real_trial(mesh_store: Store, real_studies: dict[str, Any]) -> None:
    study = real_studies["NCT00057759"]
    rows = run(mesh_store, "trial_hierarchy", {"nct": "NCT00057759"}).rows
    index = _index()
    conditions = set().union(*(index.ancestors(ui) for ui in _terms(study, "condition")))
    assert {row["id"] for row in rows if row["role"] == "condition"} == conditions
    assert all(row["information_content"] is not None for row in rows)


def test_trials_under_neoplasms_by_site(mesh_store: Store, real_studies: dict[str, Any]) -> None:
    under = {row["nct"] for row in run(mesh_store, "trials_under", {"concept": "D009371"}).rows}
    index = _index()
    expected = {
        nct
        for nct, study in real_studies.items()
        if any(
            "D009371" in index.ancestors(ui) | {ui} for ui in _terms(study, "condition") + _terms(study, "intervention")
        )
    }
    assert under == expected and len(under) > 10


def _index() -> MeshIndex:
    return MeshIndex.from_records([*iter_mesh_file(DESCRIPTORS), *iter_mesh_file(SUPPLEMENTARY)])


def _terms(study: dict[str, Any], kind: str, field: str = "meshes") -> list[str]:
    module = study.get("derivedSection", {}).get(f"{kind}BrowseModule", {})
    return [normalize_mesh_id(term["id"]) for term in module.get(field, [])]


@pytest.mark.parametrize(("kind", "at_least"), [("condition", 1.0), ("intervention", 0.98)])
def test_registry_ancestors_are_among_ours(
    mesh_store: Store, real_studies: dict[str, Any], kind: str, at_least: float
) -> None:
    """Over every real record, the ancestors the registry lists are among those our graph computes."""
    listed = found = 0
    misses: list[str] = []
    for nct, study in real_studies.items():
        registry = _terms(study, kind, "ancestors")
        if not registry:
            continue
        ours = {str(row["id"]) for row in trial_hierarchy(mesh_store, nct)[kind]} | set(_terms(study, kind))
        listed += len(registry)
        found += sum(ui in ours for ui in registry)
        misses += [f"{nct}: {ui}" for ui in registry if ui not in ours]
    print(f"{kind}: {found}/{listed} registry ancestors found ({found / listed:.2%}); misses: {misses}")
    assert found / listed >= at_least, misses


def test_mesh_ids_of_the_records_resolve(real_studies: dict[str, Any]) -> None:
    """Every descriptor id resolves; the reduced supplementary file keeps only concepts with pharmacological
    actions, so the supplementary ids that do not resolve must be exactly those absent from it."""
    if not DESCRIPTORS.is_file():
        pytest.skip(f"MeSH files not found at {MESH_DATA}")
    index = _index()
    ids = {
        ui
        for study in real_studies.values()
        for kind in ("condition", "intervention")
        for field in ("meshes", "ancestors")
        for ui in _terms(study, kind, field)
    }
    unresolved = sorted(ui for ui in ids if ui not in index.descriptors and ui not in index.concepts)
    print(f"{len(ids)} distinct MeSH ids, {len(unresolved)} unresolved: {unresolved}")
    assert [ui for ui in unresolved if ui.startswith("D")] == []
    supplementary_text = SUPPLEMENTARY.read_text(encoding="utf-8")
    assert all(f"UI = {ui}\n" not in supplementary_text for ui in unresolved)


def test_information_content_follows_specificity(mesh_store: Store, real_studies: dict[str, Any]) -> None:
    query = (
        "PREFIX kg: <https://w3id.org/trialkg/vocab/> SELECT ?n ?ic WHERE { "
        "<http://id.nlm.nih.gov/mesh/{ui}> kg:trialsAtOrUnder ?n ; kg:informationContent ?ic }"
    )
    neoplasms = mesh_store.select(query.replace("{ui}", "D009369")).rows[0]
    specific = mesh_store.select(query.replace("{ui}", "D011471")).rows[0]  # Prostatic Neoplasms
    assert neoplasms["n"] > specific["n"] and neoplasms["ic"] < specific["ic"]
    index = _index()
    expected = sum(
        any("D009369" in index.ancestors(ui) | {ui} for ui in _terms(s, kind) + _terms(s, kind, "ancestors"))
        for s in real_studies.values()
        for kind in ("condition",)
    )
    assert neoplasms["n"] >= expected > 0


def test_without_mesh_the_registry_lists_are_used_and_said(real_store: Store) -> None:
    assert not mesh_loaded(real_store)
    from kg.analysis.stats import graph_stats

    assert "registry" in graph_stats(real_store)["mesh_hierarchy"]
    hierarchy = trial_hierarchy(real_store, "NCT00057759")
    assert "registry" in hierarchy["source"] and hierarchy["condition"]
    with pytest.raises(QueryError, match="kg mesh load"):
        ancestors(real_store, [LUTETIUM])


@needs_mesh
def test_cli_ancestors_json(tmp_path: Path) -> None:
    env = {**os.environ, "KG_HOME": str(tmp_path)}
    demo = json.dumps(
        {
            "protocolSection": {"identificationModule": {"nctId": "NCT99999991", "briefTitle": "x"}},
            "synthetic": {"generator": "tests"},
        }
    )
    (tmp_path / "one.json").write_text(demo)
    kg = [sys.executable, "-m", "kg"]
    subprocess.run([*kg, "build", str(tmp_path / "one.json")], env=env, check=True, capture_output=True)
    loaded = subprocess.run([*kg, "mesh", "load", str(DESCRIPTORS)], env=env, capture_output=True, text=True)
    assert loaded.returncode == 0 and "30,762 descriptors" in loaded.stderr
    result = subprocess.run(
        [*kg, "ancestors", "D000008187", "Lutetium", "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    answer = json.loads(result.stdout)
    assert list(answer) == ["D000008187", "Lutetium"]
    assert answer["D000008187"] == answer["Lutetium"]
    assert {"id": "D028581", "label": "Lanthanoid Series Elements"} in answer["Lutetium"]


def test_cli_mesh_load_creates_the_store_of_a_new_home(tmp_path: Path) -> None:
    """A new user's first step may be the vocabulary: `kg mesh load` into an empty KG_HOME makes the store."""
    env = {**os.environ, "KG_HOME": str(tmp_path / "home")}
    env.pop("KG_STORE", None)
    kg = [sys.executable, "-m", "kg"]
    missing = subprocess.run(
        [*kg, "mesh", "load", str(tmp_path / "d2099.bin")], env=env, capture_output=True, text=True
    )
    assert missing.returncode == 2 and "no such MeSH file" in missing.stderr and "Traceback" not in missing.stderr
    assert not (tmp_path / "home" / "store").exists()
    loaded = subprocess.run([*kg, "mesh", "load", str(demo_mesh_file())], env=env, capture_output=True, text=True)
    assert loaded.returncode == 0, loaded.stderr
    result = subprocess.run(
        [*kg, "ancestors", "Lutetium", "--format", "json"], env=env, capture_output=True, text=True, check=True
    )
    assert {row["label"] for row in json.loads(result.stdout)["Lutetium"]} == LUTETIUM_ANCESTORS


class _Replay(http.server.BaseHTTPRequestHandler):
    """Serves one file; fails the first ``failures`` requests with 503; can truncate the body."""

    body = b""
    failures = 0
    truncate = False
    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).requests.append(self.path)
        if type(self).failures > 0:
            type(self).failures -= 1
            self.send_response(503)
            self.send_header("Retry-After", "0")
            self.end_headers()
            return
        if not self.path.endswith("/d2099.bin"):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body[: len(self.body) // 2] if self.truncate else self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def nlm_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_Replay]]:
    _Replay.body = (FIXTURES / "full-format.bin").read_bytes()
    _Replay.failures, _Replay.truncate, _Replay.requests = 0, False, []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Replay)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("KG_MESH_URL", f"http://127.0.0.1:{server.server_address[1]}/mesh/")
    monkeypatch.setenv("KG_HOME", str(tmp_path))
    yield _Replay
    server.shutdown()


def test_download_is_cached_per_year_and_forced_again(nlm_server: type[_Replay], tmp_path: Path) -> None:
    path = ensure_mesh_file("descriptors", 2099)
    assert path == tmp_path / "mesh" / "2099" / "d2099.bin"
    assert path.read_bytes() == nlm_server.body
    ensure_mesh_file("descriptors", 2099)
    assert len(nlm_server.requests) == 1
    ensure_mesh_file("descriptors", 2099, force=True)
    assert len(nlm_server.requests) == 2


def test_download_retries_server_errors(nlm_server: type[_Replay]) -> None:
    nlm_server.failures = 2
    assert ensure_mesh_file("descriptors", 2099).read_bytes() == nlm_server.body
    assert len(nlm_server.requests) == 3


def test_download_errors_are_clear_and_leave_no_cached_file(nlm_server: type[_Replay], tmp_path: Path) -> None:
    with pytest.raises(OSError, match=r"cannot download http://127\.0\.0\.1:\d+/mesh/c2099\.bin"):
        ensure_mesh_file("supplementary", 2099)
    nlm_server.truncate = True
    with pytest.raises(OSError, match="cannot download"):
        ensure_mesh_file("descriptors", 2099)
    assert not (tmp_path / "mesh" / "2099" / "d2099.bin").exists()
    assert list((tmp_path / "mesh" / "2099").glob("*.part")) == []
