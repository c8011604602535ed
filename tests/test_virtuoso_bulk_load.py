"""The side-by-side benchmark's way into Virtuoso (benchmarks/virtuoso.py): a built store dumped to N-Quads and
bulk-loaded arrives whole (every trial's named graph, the union default graph the named queries read), and the load
check fails when a graph is missing.

Runs on the real records' build and a Virtuoso of its own (not the session's: the contract tests empty that one
graph by graph).
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pyoxigraph as ox
import pytest

from kg.graphs import TRIAL_GRAPH_PREFIX, trial_graph
from kg.queries import run
from kg.store import Store
from kg.store.remote import RemoteStore
from tests.virtuoso_support import run_virtuoso

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "virtuoso.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    if shutil.which("virtuoso-t") is None or shutil.which("isql-vt") is None:
        pytest.skip("Virtuoso is not installed (Debian package virtuoso-opensource; see scripts/install-test-deps)")
    sys.path.insert(0, str(BENCHMARK.parent))  # its siblings run.py, scale.py, remote_load.py
    spec = importlib.util.spec_from_file_location("virtuoso_benchmark", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _plain_titles(studies: dict[str, dict[str, Any]], count: int) -> dict[str, str]:
    """Brief titles the mapping keeps verbatim (no surrounding space, nothing for it to clean)."""
    titles = {}
    for nct, study in sorted(studies.items()):
        title = study["protocolSection"]["identificationModule"].get("briefTitle", "")
        if title and title == title.strip() and title.isprintable():
            titles[nct] = title
        if len(titles) == count:
            break
    return titles


def test_a_bulk_load_holds_every_trial_graph_and_the_check_sees_one_missing(
    bench: ModuleType, real_store: Store, real_studies: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    (tmp_path / "dump").mkdir()
    dumped = bench.dump(real_store, tmp_path / "dump" / "store.nq")
    assert dumped["mib"] > 0
    with run_virtuoso(tmp_path) as server:
        bench.bulk_load(server, tmp_path / "dump")
        remote = RemoteStore(server.sparql_url)
        facts = bench.check_load(real_store, remote, server)  # quads, graphs and union default graph as the store's
        trial_graphs = {graph for graph in remote.named_graphs() if graph.startswith(TRIAL_GRAPH_PREFIX)}
        assert trial_graphs == {trial_graph(nct).value for nct in real_studies}
        assert facts["trials"] == len(real_studies)
        for nct, title in _plain_titles(real_studies, 3).items():  # a named query over the union default graph
            assert [(row["nct"], row["title"]) for row in run(remote, "trial_summary", {"nct": nct}).rows] == [
                (nct, title)
            ]
        remote.remove_graph(ox.NamedNode(min(trial_graphs)))
        with pytest.raises(RuntimeError, match="Virtuoso holds"):
            bench.check_load(real_store, remote, server)
        remote.close()
