"""The landscape fact table: saved beside an on-disk store and never used once the store is rebuilt; built on first
use and kept for an in-memory one; on a synthetic registry over the real MeSH vocabulary its landscapes are the
queries' landscapes, byte for byte, and it stays a few hundred bytes per trial; the pipeline's drug actions it names
are the query's, on the real records too."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyoxigraph import DefaultGraph, Literal, Quad

from kg.analysis.landscape import Landscape, index_rows, landscape, make_scope, pipeline_rows
from kg.analysis.landscape_index import LANDSCAPE_INDEX
from kg.analysis.related import RELATED_INDEX
from kg.ctgov.mapping import enumeration_quads
from kg.demo import demo_mesh_file, seed_study, write_demo_corpus
from kg.demo.registry import write_registry
from kg.pipeline.build import BuildReport, build, load_records
from kg.pipeline.mesh_load import load_mesh
from kg.store import Store, open_store
from kg.vocab import KG, MESH, SKOS
from tests.conftest import LUTETIUM, MESH_DATA, NEOPLASMS, needs_mesh

ANTINEOPLASTIC_AGENTS = "D000970"
NEOPLASMS_BY_SITE = "D009371"
MESH_FILES = [MESH_DATA / "d2024-reduced.bin", MESH_DATA / "c2024-reduced.bin"]


def _json(result: Landscape) -> str:
    data = result.to_json()
    del data["seconds"]
    return json.dumps(data, ensure_ascii=False)


def _seed_copies(directory: Path, copies: int) -> Path:
    """The seed trial (a neuroendocrine tumour, under Neoplasms in its registry lists) and ``copies`` of it."""
    studies: list[dict[str, Any]] = [seed_study()]
    for number in range(copies):
        study = seed_study()
        study["protocolSection"]["identificationModule"]["nctId"] = f"NCT9999999{number}"
        studies.append(study)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "studies.json"
    path.write_text(json.dumps(studies), encoding="utf-8")
    return path


def test_saved_table_is_rebuilt_with_the_store_and_a_stale_one_ignored(tmp_path: Path) -> None:
    spec = f"oxigraph:{tmp_path / 'store'}"
    build([_seed_copies(tmp_path / "one", 0)], spec)
    saved = LANDSCAPE_INDEX.path(spec)
    related = RELATED_INDEX.path(spec)
    assert saved == tmp_path / "store.landscape.pickle" and saved.is_file()
    assert related is not None and related.is_file()  # one refresh writes both indexes
    with open_store(spec, read_only=True) as store:
        assert landscape(store, NEOPLASMS).trials == 1
    stale = saved.read_bytes()
    build([_seed_copies(tmp_path / "two", 2)], spec)
    assert saved.read_bytes() != stale
    saved.write_bytes(stale)  # the table of the store before the rebuild, put back
    with open_store(spec, read_only=True) as store:
        assert LANDSCAPE_INDEX.read_saved(saved, LANDSCAPE_INDEX.fingerprint(store)) is None
        assert landscape(store, NEOPLASMS).trials == 3 == landscape(store, NEOPLASMS, fast=False).trials
    assert saved.read_bytes() != stale  # built again and saved in its place


def test_in_memory_store_builds_the_table_once_and_keeps_it(tmp_path: Path) -> None:
    with open_store("oxigraph:") as store:
        store.add(enumeration_quads())
        load_records(store, write_demo_corpus(tmp_path, n_synthetic=120, seed=5), BuildReport())
        load_mesh(store, [demo_mesh_file()])
        assert LANDSCAPE_INDEX.cached(store) is None
        first = landscape(store, NEOPLASMS)
        index = LANDSCAPE_INDEX.cached(store)
        assert index is not None and index.trials == 121  # the seed trial and 120 synthetic ones
        assert first.trials > 0 and first.synthetic_trials == first.trials - 1
        assert _json(landscape(store, NEOPLASMS)) == _json(first) and LANDSCAPE_INDEX.cached(store) is index
        assert _json(landscape(store, NEOPLASMS, fast=False)) == _json(first)


def _pipelines(store: Store, condition: str | None, intervention: str | None) -> tuple[list[Any], list[Any]]:
    """The pipeline rows of a scope with each drug's actions from the fact table, and from the query."""
    rows = index_rows(store, make_scope(store, condition, intervention))
    pipeline, sponsors = rows["pipeline"], rows["pipeline_sponsors"]
    return pipeline_rows(store, pipeline, sponsors, fast=True), pipeline_rows(store, pipeline, sponsors, fast=False)


def test_pipeline_actions_with_two_labels_or_none_are_named_alike(tmp_path: Path) -> None:
    """An action with two preferred labels is named by the smaller one, one without any by its UI, in both paths."""
    with open_store("oxigraph:") as store:
        store.add(enumeration_quads())
        load_records(store, [_seed_copies(tmp_path, 0)], BuildReport())
        labelled, bare = MESH[ANTINEOPLASTIC_AGENTS], MESH["D000000"]  # a UI without a label
        store.add(
            Quad(subject, predicate, value, DefaultGraph())
            for subject, predicate, value in (
                (MESH[LUTETIUM], KG.pharmacologicalAction, labelled),
                (MESH[LUTETIUM], KG.pharmacologicalAction, bare),
                (labelled, SKOS.prefLabel, Literal("Zeta agents")),
                (labelled, SKOS.prefLabel, Literal("Antineoplastic Agents")),
            )
        )
        table, queries = _pipelines(store, NEOPLASMS, None)
        assert [row["actions"] for row in table] == ["Antineoplastic Agents; D000000"]
        assert table == queries


@needs_mesh
@pytest.mark.parametrize(("condition", "intervention"), [(NEOPLASMS, None), (None, ANTINEOPLASTIC_AGENTS)])
def test_real_pipeline_actions_from_the_table_are_the_query_actions(
    real_mesh_store: Store, condition: str | None, intervention: str | None
) -> None:
    table, queries = _pipelines(real_mesh_store, condition, intervention)
    actions = [str(row["actions"]) for row in table]
    assert len(table) > 15 and sum(";" in found for found in actions) > 5  # drugs with several actions
    assert table == queries


def test_other_stores_run_the_queries(tmp_path: Path) -> None:
    """rdflib (and a remote engine) would be read whole to build the table: they answer with the queries."""
    with open_store("memory:") as store:
        store.add(enumeration_quads())
        load_records(store, [_seed_copies(tmp_path, 0)], BuildReport())
        assert landscape(store, NEOPLASMS).trials == 1
        assert LANDSCAPE_INDEX.cached(store) is None


# --- a synthetic registry over the real MeSH vocabulary -----------------------------------------------------------


@pytest.fixture(scope="module")
def registry_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """1,500 synthetic trials drawn over NLM's MeSH files, built with them (the registry benchmark's path)."""
    folder = tmp_path_factory.mktemp("registry")
    spec = f"oxigraph:{folder / 'store'}"
    build(list(write_registry(folder / "records", 1500, seed=41, mesh=MESH_FILES)), spec, mesh=MESH_FILES)
    with open_store(spec, read_only=True) as store:
        yield store


@pytest.mark.slow
@needs_mesh
def test_registry_table_is_small_and_quick_to_build(registry_store: Store) -> None:
    saved = LANDSCAPE_INDEX.path(registry_store.spec)
    assert saved is not None and saved.is_file()  # written by the build
    index = LANDSCAPE_INDEX.load(registry_store)
    assert index.trials == 1500 and index.fingerprint == LANDSCAPE_INDEX.fingerprint(registry_store)
    assert index.size_bytes() < 400 * index.trials, index.size_bytes()  # 600k trials: < 230 MiB of arrays
    # Not a benchmark: a bound far above the ~0.5 s it takes, so that only a blow-up (a query per trial) fails it.
    assert index.seconds < 30, index.seconds
    started = time.perf_counter()
    rebuilt = LANDSCAPE_INDEX.build(registry_store)
    assert time.perf_counter() - started < 30 and rebuilt.trials == index.trials


@pytest.mark.slow
@needs_mesh
@pytest.mark.parametrize(
    ("condition", "intervention"),
    [
        (NEOPLASMS, None),
        (None, ANTINEOPLASTIC_AGENTS),
        (NEOPLASMS, ANTINEOPLASTIC_AGENTS),
        (NEOPLASMS_BY_SITE, None),
    ],
    ids=["neoplasms", "antineoplastic-agents", "both", "neoplasms-by-site"],
)
def test_registry_landscapes_equal_the_queries(
    registry_store: Store, condition: str | None, intervention: str | None
) -> None:
    table = landscape(registry_store, condition, intervention)
    queries = landscape(registry_store, condition, intervention, fast=False)
    assert table.trials > 0 and table.trials == table.synthetic_trials
    assert _json(table) == _json(queries)
