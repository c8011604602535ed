"""Parallel build: mapping in worker processes gives the same store, report and messages as mapping in-process; a
batch failing in the background loader fails the build cleanly."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest
from typer.testing import CliRunner

import kg.pipeline.build
import kg.store.oxigraph
from kg.cli.main import app
from kg.ctgov.mapping import map_study
from kg.demo.registry import registry_studies
from kg.graphs import BUILD_GRAPH, IC_GRAPH, trial_graph
from kg.pipeline.build import BuildReport, build
from kg.pipeline.information_content import update_information_content
from kg.store import open_store
from kg.store.oxigraph import OxigraphStore
from tests.conftest import REPO

pytestmark = pytest.mark.slow  # starts worker processes (about 10 s in all)

N = 240


def _title(study: dict[str, Any]) -> str:
    return str(study["protocolSection"]["identificationModule"]["briefTitle"])


def _corpus(directory: Path) -> tuple[list[Path], dict[str, dict[str, Any]]]:
    """Two files of synthetic records with what a build must handle: a newer and an older duplicate, a record of
    the wrong shape and a malformed line. Returns the files and the version of each trial that must win."""
    studies = list(registry_studies(N, seed=5))
    newer = copy.deepcopy(studies[10])
    newer["protocolSection"]["identificationModule"]["briefTitle"] = "[Synthetic] Newer version"
    newer["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"] = "2026-01-14"
    newer["derivedSection"]["conditionBrowseModule"] = {}  # its MeSH terms go: information content must follow
    older = copy.deepcopy(studies[20])
    older["protocolSection"]["identificationModule"]["briefTitle"] = "[Synthetic] Older version"
    older["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"] = "2000-01-01"
    bad = copy.deepcopy(studies[30])
    bad["protocolSection"]["identificationModule"]["nctId"] = "NCT99999998"
    bad["protocolSection"]["designModule"]["enrollmentInfo"]["count"] = "many"
    first, second = directory / "a.jsonl", directory / "b.jsonl"
    first.write_text("".join(json.dumps(s) + "\n" for s in studies[:150]), encoding="utf-8")
    lines = [json.dumps(s) for s in studies[150:]] + [
        json.dumps(newer),
        "{not json",
        json.dumps(older),
        json.dumps(bad),
    ]
    second.write_text("\n".join(lines) + "\n", encoding="utf-8")
    winners = {s["protocolSection"]["identificationModule"]["nctId"]: s for s in studies}
    winners[newer["protocolSection"]["identificationModule"]["nctId"]] = newer
    return [first, second], winners


def _content(spec: str) -> set[ox.Quad]:
    """Every quad of an on-disk store except the build's own provenance (times differ between builds)."""
    store = ox.Store.read_only(spec.removeprefix("oxigraph:"))
    return {quad for quad in store if quad.graph_name != BUILD_GRAPH}


def _as_stored(quads: list[ox.Quad]) -> set[ox.Quad]:
    """Quads as a store gives them back (it writes numbers canonically: ``18.0`` as ``18``)."""
    store = ox.Store()
    store.extend(quads)
    return set(store)


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[int, tuple[str, BuildReport]]:
    """The same corpus built with 1 and 2 workers; small chunks so that most of it goes through the processes."""
    directory = tmp_path_factory.mktemp("parallel")
    paths, _ = _corpus(directory)
    patch = pytest.MonkeyPatch()
    patch.setattr(kg.pipeline.build, "_CHUNK", 20)
    patch.setattr(kg.pipeline.build, "_IN_PROCESS_CHUNKS", 1)
    patch.setattr(kg.pipeline.build, "_SEEN_MAX", 50)  # the loader forgets shared statements it loaded, many times over
    submitted: list[int] = []

    class CountingPool(kg.pipeline.build.ProcessPoolExecutor):  # type: ignore[misc]
        def submit(self, *args: Any, **kwargs: Any) -> Any:
            submitted.append(1)
            return super().submit(*args, **kwargs)

    patch.setattr(kg.pipeline.build, "ProcessPoolExecutor", CountingPool)
    try:
        results = {}
        for workers in (1, 2):
            spec = f"oxigraph:{directory / f'store-{workers}'}"
            before = len(submitted)
            results[workers] = (spec, build(list(paths), spec, workers=workers))
            assert (len(submitted) > before) == (workers > 1)  # workers=2 really used the processes
    finally:
        patch.undo()
    return results


def test_one_and_two_workers_give_identical_stores_and_reports(
    builds: dict[int, tuple[str, BuildReport]],
) -> None:
    (serial_spec, serial), (parallel_spec, parallel) = builds[1], builds[2]
    assert _content(serial_spec) == _content(parallel_spec)
    for field in ("trials", "records", "duplicates_dropped", "problems", "warnings", "quads"):
        assert getattr(serial, field) == getattr(parallel, field), field


def test_store_holds_the_latest_version_of_each_trial_as_mapped(
    builds: dict[int, tuple[str, BuildReport]], tmp_path: Path
) -> None:
    """Independent of the build: each trial graph equals map_study of the version that should win."""
    spec, report = builds[2]
    _, winners = _corpus(tmp_path)
    content = _content(spec)
    by_graph: dict[ox.NamedNode, set[ox.Quad]] = {}
    for quad in content:
        if isinstance(quad.graph_name, ox.NamedNode):
            by_graph.setdefault(quad.graph_name, set()).add(quad)
    assert report.trials == len(winners) == N
    for nct_id, study in winners.items():
        expected = _as_stored(map_study(study).quads)
        graph = trial_graph(nct_id)
        assert by_graph[graph] == {q for q in expected if q.graph_name == graph}, nct_id
        assert {q for q in expected if q.graph_name != graph} <= content
    titles = {q.object.value for q in content if q.predicate.value == "https://schema.org/name"}
    assert "[Synthetic] Newer version" in titles and "[Synthetic] Older version" not in titles
    assert report.duplicates_dropped == 2


def test_information_content_counted_while_loading_equals_a_count_over_the_store(
    builds: dict[int, tuple[str, BuildReport]],
) -> None:
    """The build counts information content from the concepts its mapping saw (the newer duplicate's replacing the
    older's); reading every trial's concepts back from the store must give the same figures."""
    spec, _ = builds[2]
    built = {quad for quad in _content(spec) if quad.graph_name == IC_GRAPH}
    with open_store("oxigraph:") as copy_:
        assert isinstance(copy_, OxigraphStore)
        copy_.add(_content(spec))
        update_information_content(copy_)
        recounted = {quad for quad in copy_.inner if quad.graph_name == IC_GRAPH}
    assert built and built == recounted


def test_bad_records_are_named_by_file_and_position(builds: dict[int, tuple[str, BuildReport]]) -> None:
    _, report = builds[2]
    assert report.records == N + 3  # both duplicates and the bad record were read; the malformed line was not
    malformed, bad = report.problems
    assert "b.jsonl [line 92]" in malformed and "malformed JSON" in malformed
    assert "b.jsonl [line 94] NCT99999998:" in bad and "enrollmentInfo" in bad and bad.endswith("record skipped")


def test_kg_build_takes_workers(tmp_path: Path) -> None:
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps(s) + "\n" for s in registry_studies(30, seed=2)), encoding="utf-8")
    spec = f"oxigraph:{tmp_path / 'store'}"
    result = CliRunner().invoke(app, ["build", str(corpus), "--store", spec, "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert "Built 30 trials" in result.output
    result = CliRunner().invoke(app, ["build", str(corpus), "--store", spec, "--workers", "0"])
    assert result.exit_code != 0


def test_a_script_without_a_main_guard_is_not_run_again_by_the_workers(tmp_path: Path) -> None:
    """Regression: spawned workers re-import ``__main__``, so such a script ran again in every worker (deleting the
    store being built); forked workers do not."""
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps(s) + "\n" for s in registry_studies(40, seed=6)), encoding="utf-8")
    runs = tmp_path / "runs.txt"
    script = tmp_path / "unguarded.py"
    script.write_text(
        "import kg.pipeline.build\n"
        f"open({str(runs)!r}, 'a').write('ran\\n')\n"
        "kg.pipeline.build._CHUNK, kg.pipeline.build._IN_PROCESS_CHUNKS = 5, 1\n"
        f"report = kg.pipeline.build.build([{str(corpus)!r}], {'oxigraph:' + str(tmp_path / 'store')!r}, workers=2)\n"
        "assert report.trials == 40, report\n",
        encoding="utf-8",
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert runs.read_text(encoding="utf-8") == "ran\n"


def test_a_batch_failing_in_the_background_loader_fails_the_build_and_keeps_the_previous_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps(s) + "\n" for s in registry_studies(60, seed=3)), encoding="utf-8")
    spec = f"oxigraph:{tmp_path / 'store'}"
    build([corpus], spec, workers=1)
    before = _content(spec)
    real = ox.Store

    class FailingSecondLoad:
        """A pyoxigraph store whose second bulk load fails, as a full disk would."""

        def __init__(self, *args: Any) -> None:
            self.real = real(*args)
            self.loads = 0

        def bulk_load(self, *args: Any, **kwargs: Any) -> None:
            self.loads += 1
            if self.loads == 2:
                raise OSError("No space left on device (simulated)")
            self.real.bulk_load(*args, **kwargs)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.real, name)

    monkeypatch.setattr(kg.store.oxigraph.ox, "Store", FailingSecondLoad)
    monkeypatch.setattr(kg.pipeline.build, "_FLUSH_BYTES", 20_000)  # a batch every few trials
    with pytest.raises(OSError, match="simulated"):
        build([corpus], spec, workers=1)
    monkeypatch.undo()
    assert _content(spec) == before
    assert not [path.name for path in tmp_path.iterdir() if ".building" in path.name]  # no half-built store left
