"""The Python front door (``import kg``): its docstring examples, and each method against the command it mirrors."""

from __future__ import annotations

import doctest
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import kg
import kg.analysis.landscape
import kg.front_door
import kg.store.base
from tests.conftest import LUTETIUM, LUTETIUM_ANCESTORS, NEOPLASMS, SEED_NCT

SYNTHETIC = 40  # the docstring examples' corpus: the seed trial and 40 synthetic ones
AS_OF = "2026-05-05"
#: Every module whose docstrings show the front door; their examples read the demo graph as ``g``.
DOCUMENTED: tuple[ModuleType, ...] = (kg.front_door, kg.store.base, kg.analysis.landscape)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return kg.demo.write_demo_corpus(tmp_path_factory.mktemp("demo"), n_synthetic=SYNTHETIC)


@pytest.fixture(scope="module")
def g(corpus: list[Path]) -> Iterator[kg.Graph]:
    """The demo graph in memory, as the module docstring of kg.front_door builds it."""
    with kg.build(corpus, mesh=[kg.demo.demo_mesh_file()], store="oxigraph:") as graph:
        yield graph


def run_kg(*args: str, home: Path) -> Any:
    """``kg ARGS --format json`` in a subprocess with its own KG_HOME, parsed."""
    env = {**os.environ, "KG_HOME": str(home)}
    env.pop("KG_STORE", None)
    result = subprocess.run(
        [sys.executable, "-m", "kg", *args, "--format", "json"], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("module", DOCUMENTED, ids=[module.__name__ for module in DOCUMENTED])
def test_docstring_examples_run(module: ModuleType, g: kg.Graph) -> None:
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, extraglobs={"g": g}):
        runner.run(test)
    failed, attempted = runner.summarize(verbose=False)
    assert attempted > 0 and failed == 0


def test_import_kg_imports_nothing_heavy() -> None:
    code = (
        "import sys, kg, kg.cli.main; kg.__version__; "
        "print(sorted(m for m in ('pandas', 'pyoxigraph', 'rdflib', 'networkx') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_unknown_names_are_still_attribute_errors() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        kg.no_such_thing  # noqa: B018


def test_an_in_memory_build_keeps_the_store_it_wrote(g: kg.Graph) -> None:
    stats = g.stats()
    assert g.spec == "oxigraph:"
    assert stats["trials"] == SYNTHETIC + 1 and stats["skipped"] == 0 and stats["triples"] == len(g.store)
    assert stats["mesh_hierarchy"].startswith("MeSH") and "loaded" in stats["mesh_hierarchy"]


def test_the_default_store_answers_as_the_command_line_does(
    corpus: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Built into $KG_HOME/store by kg.build, opened by kg.open(): the same answers as the commands on that store."""
    monkeypatch.setenv("KG_HOME", str(tmp_path))
    monkeypatch.delenv("KG_STORE", raising=False)
    kg.build(corpus, mesh=[kg.demo.demo_mesh_file()]).close()
    with kg.open() as graph:
        assert graph.spec == f"oxigraph:{tmp_path / 'store'}"
        assert graph.trial(SEED_NCT, as_of=AS_OF) == run_kg("trial", SEED_NCT, "--as-of", AS_OF, home=tmp_path)
        assert graph.related(SEED_NCT, top=5) == run_kg("related", SEED_NCT, "--top", "5", home=tmp_path)
        assert graph.stats() == run_kg("stats", home=tmp_path)
        rows = run_kg("query", "trials_under", "--param", "concept=D009371", home=tmp_path)
        assert graph.query("trials_under", concept="D009371").rows == rows and rows


def test_trial_takes_a_day_as_text_date_or_datetime(g: kg.Graph) -> None:
    as_text = g.trial(SEED_NCT, as_of=AS_OF)
    assert as_text["health"]["as_of"] == AS_OF and as_text["timeline"]["progress_percent"] == 23
    assert as_text == g.trial(SEED_NCT, as_of=date(2026, 5, 5)) == g.trial(SEED_NCT, as_of=datetime(2026, 5, 5, 18))


def test_query_and_sparql_tables_as_dataframes(g: kg.Graph) -> None:
    result = g.query("trials_under", concept="D009371")
    frame = result.to_pandas()
    assert list(frame.columns) == result.variables and len(frame) == len(result.rows) > 0
    assert SEED_NCT in set(frame["nct"])
    empty = g.sparql("SELECT ?trial ?title WHERE { ?trial <https://example.org/nothing> ?title }").to_pandas()
    assert list(empty.columns) == ["trial", "title"] and empty.empty


def test_queries_lists_what_query_runs(g: kg.Graph) -> None:
    catalogue = g.queries().to_pandas()
    assert {"trials_under", "trial_summary", "landscape_countries"} <= set(catalogue["name"])
    assert catalogue.set_index("name").loc["trials_under", "parameters"] == "concept:mesh"


def test_related_records_as_a_dataframe(g: kg.Graph) -> None:
    found = g.related(SEED_NCT, top=5)
    frame = found.to_pandas()
    assert len(frame) == len(found) == 5 and list(frame["rank"]) == [1, 2, 3, 4, 5]
    assert frame["score"].is_monotonic_decreasing and "components.condition" in frame.columns
    assert SEED_NCT not in set(frame["nct_id"])


def test_ancestors_table(g: kg.Graph) -> None:
    table = g.ancestors(LUTETIUM, "Lutetium")
    frame = table.to_pandas()
    assert list(frame.columns) == ["concept", "id", "label", "depth"]
    assert set(frame["concept"]) == {LUTETIUM, "Lutetium"}
    for _, rows in frame.groupby("concept"):
        assert set(rows["label"]) == LUTETIUM_ANCESTORS


def test_landscape_tables_as_dataframes(g: kg.Graph, tmp_path: Path) -> None:
    neoplasms = g.landscape(condition=NEOPLASMS)
    assert neoplasms.trials > 0
    for name, rows in neoplasms.tables().items():
        frame = neoplasms.to_pandas(name)
        assert len(frame) == len(rows), name
    assert neoplasms.to_pandas("phase_status")["trials"].sum() == neoplasms.trials
    with pytest.raises(KeyError, match="no landscape table 'nope'"):
        neoplasms.to_pandas("nope")
    page = g.landscape_report(neoplasms, tmp_path / "report")
    assert page.name == "index.html" and (tmp_path / "report" / "phase_status.csv").is_file()


def test_pages_are_written_where_asked(g: kg.Graph, tmp_path: Path) -> None:
    explorer = g.explore(SEED_NCT.lower(), tmp_path / "pages" / "explorer.html", depth=1, top=3)
    assert explorer == tmp_path / "pages" / "explorer.html" and SEED_NCT in explorer.read_text(encoding="utf-8")
    page = g.trial_page(SEED_NCT, tmp_path / "trial.html", as_of=AS_OF)
    assert "Study Progress 23%" in page.read_text(encoding="utf-8")


def test_networkx_projections(g: kg.Graph) -> None:
    similar = g.similarity_graph(top_k=5)
    assert SEED_NCT in similar and kg.networks.summary(similar)["nodes"] == similar.number_of_nodes()
    bipartite = g.bipartite_graph(min_depth=2)
    assert {data["kind"] for _, data in bipartite.nodes(data=True)} >= {"trial", "condition"}
