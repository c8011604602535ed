"""A large store's saved indexes are rebuilt side by side, one process each: the files they write are the ones a
rebuild in the builder's own process writes, and a process that fails says which index and why."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from typer.testing import CliRunner

import kg.analysis.indexes
import kg.pipeline.build
from kg.analysis.health import HEALTH_PEERS_INDEX
from kg.analysis.indexes import (
    SAVED_INDEXES,
    IndexRefreshFailed,
    _in_processes,
    _run_process,
    process_jobs,
    refresh_saved_indexes,
)
from kg.analysis.landscape_index import LANDSCAPE_INDEX
from kg.analysis.search_index import SEARCH_INDEX
from kg.cli.main import app
from kg.demo import demo_mesh_file
from kg.demo.registry import registry_studies
from kg.pipeline.build import BuildReport, build
from kg.pipeline.mesh_load import load_mesh_into, read_mesh
from kg.store import open_store
from tests.conftest import CTGOV_DATA

#: Real records enough for every index to hold something (conditions, sponsors, sites, dates, text): 200 trials.
_FILES = ("nsclc-phase3-2025-12.json", "herniated-disc-2024-12.json")


@pytest.fixture
def small_real_build(tmp_path: Path) -> tuple[str, BuildReport, list[str]]:
    """200 real trials built on disk; the steps the build announced."""
    if not CTGOV_DATA.is_dir():
        pytest.skip(f"real ClinicalTrials.gov records not found at {CTGOV_DATA} (../shared/data)")
    spec = f"oxigraph:{tmp_path / 'store'}"
    phases: list[str] = []
    report = build([CTGOV_DATA / name for name in _FILES], spec, on_phase=phases.append)
    assert report.trials == 200
    return spec, report, phases


@pytest.fixture
def small_real_store(small_real_build: tuple[str, BuildReport, list[str]]) -> str:
    return small_real_build[0]


def test_a_build_announces_its_steps_and_times_each_index(small_real_build: tuple[str, BuildReport, list[str]]) -> None:
    """``kg build``'s progress line names the step under way: at 600k trials the steps after reading take an hour."""
    spec, report, phases = small_real_build
    assert phases == [
        "Weighing concepts",
        "Recording what changed since the previous store",
        "Compacting the new store and swapping it in",
        "Saving the indexes beside the store",
    ]
    assert list(report.index_seconds) == [kind.name for kind in SAVED_INDEXES]  # built here: a small store
    assert all(seconds > 0 for seconds in report.index_seconds.values())
    assert all(path.is_file() for kind in SAVED_INDEXES if (path := kind.path(spec)) is not None)


def _saved(spec: str) -> dict[str, bytes]:
    """The indexes saved beside a store, by name."""
    return {kind.name: path.read_bytes() for kind in SAVED_INDEXES if (path := kind.path(spec)) and path.is_file()}


def test_indexes_rebuilt_in_processes_are_the_ones_built_here(small_real_store: str) -> None:
    here = _saved(small_real_store)
    for kind in SAVED_INDEXES:
        path = kind.path(small_real_store)
        assert path is not None
        path.unlink()
    seconds = refresh_saved_indexes(small_real_store, processes=2)
    assert sorted(seconds) == sorted(here) and all(taken > 0 for taken in seconds.values())
    rebuilt = _saved(small_real_store)
    assert sorted(rebuilt) == sorted(here)
    for name, data in rebuilt.items():
        assert _untimed(data) == _untimed(here[name]), name


def _untimed(data: bytes) -> bytes:
    """A saved index's pickle without the seconds its build took (the landscape index keeps them)."""
    index = pickle.loads(data)
    if hasattr(index, "seconds"):
        index.seconds = 0.0
    return pickle.dumps(index, protocol=pickle.HIGHEST_PROTOCOL)


def test_a_failed_index_process_names_the_index_and_its_error(tmp_path: Path) -> None:
    """Each process opens the store itself: one removed meanwhile (a concurrent rebuild's swap, a cleaning script)
    fails them, and the error says which index, which store, and the process's own message."""
    spec = f"oxigraph:{tmp_path / 'gone'}"
    with pytest.raises(IndexRefreshFailed) as failed:
        _in_processes(spec, list(SAVED_INDEXES[:2]), 2)
    message = str(failed.value)
    assert f"rebuilding the {SAVED_INDEXES[0].name} index beside {spec} failed" in message
    assert f"no store at {tmp_path / 'gone'}" in message


def test_ctrl_c_while_the_indexes_are_saved_keeps_the_new_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The new store is swapped in before its indexes are saved (an hour at 600k trials): Ctrl-C then must not say
    the build was undone, and the store it leaves answers."""

    def interrupted(target: str | None, **options: object) -> dict[str, float]:
        raise KeyboardInterrupt  # where a Ctrl-C during the index phase lands

    monkeypatch.setattr(kg.pipeline.build, "refresh_saved_indexes", interrupted)
    corpus = tmp_path / "trials.jsonl"
    corpus.write_text("".join(json.dumps(s) + "\n" for s in registry_studies(20, seed=3)), encoding="utf-8")
    spec = f"oxigraph:{tmp_path / 'store'}"
    result = CliRunner().invoke(app, ["build", str(corpus), "--store", spec])
    assert result.exit_code == 130
    assert "Interrupted while saving the indexes: the new store is in place" in result.output
    assert "half-built store was removed" not in result.output
    with open_store(spec, read_only=True) as store:
        assert len(store.select("SELECT ?t WHERE { ?t a <https://schema.org/MedicalTrial> }").rows) == 20


def test_an_index_that_reads_another_is_rebuilt_after_it_in_its_process(small_real_store: str) -> None:
    """The health peers are counted from the landscape fact table. Rebuilt in a process of their own, beside the
    landscape's, they found the previous build's table out of date and built a copy (ten minutes at 600k trials)."""
    landscape = LANDSCAPE_INDEX.path(small_real_store)
    assert landscape is not None
    landscape.unlink()
    _run_process(small_real_store, [HEALTH_PEERS_INDEX.name])  # alone: it had to build the table it reads
    assert landscape.is_file() and HEALTH_PEERS_INDEX.needs == (LANDSCAPE_INDEX.name,)
    jobs = process_jobs(list(SAVED_INDEXES))
    assert [LANDSCAPE_INDEX.name, HEALTH_PEERS_INDEX.name] in jobs
    assert sorted(name for job in jobs for name in job) == sorted(kind.name for kind in SAVED_INDEXES)


def test_kg_mesh_load_rebuilds_the_indexes_saved_before_in_processes(
    small_real_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``kg mesh load`` on a built store closes it, then rebuilds the indexes saved beside it side by side in
    processes, as a build does at scale: only those saved before, each valid for the store with its new vocabulary."""
    search = SEARCH_INDEX.path(small_real_store)
    assert search is not None
    search.unlink()
    before = _saved(small_real_store)
    jobs: list[list[str]] = []

    def recorded(spec: str, names: list[str]) -> dict[str, float]:
        jobs.append(names)
        return _run_process(spec, names)

    monkeypatch.setattr(kg.analysis.indexes, "_processes_for", lambda store: 2)  # as on two cores at scale
    monkeypatch.setattr(kg.analysis.indexes, "_run_process", recorded)
    report = load_mesh_into(small_real_store, read_mesh([demo_mesh_file()]))
    assert report.descriptors > 0 and sorted(report.index_seconds) == sorted(before)
    assert len(jobs) > 1 and sorted(name for job in jobs for name in job) == sorted(before)
    assert not search.exists()
    after = _saved(small_real_store)
    assert sorted(after) == sorted(before) and any(after[name] != before[name] for name in after)
    with open_store(small_real_store, read_only=True) as store:
        for kind in SAVED_INDEXES:
            path = kind.path(small_real_store)
            if kind.name in after:
                assert path is not None and kind.read_saved(path, kind.fingerprint(store)) is not None, kind.name
