"""The ``kg`` command line, run as users run it: a subprocess, with its own KG_HOME."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import pyoxigraph as ox
import pytest

import kg as kg_package
from tests.conftest import CTGOV_DATA, needs_real_data

NSCLC = CTGOV_DATA / "nsclc-phase3-2025-12.json"


def kg(*args: str, home: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KG_HOME": str(home), "COLUMNS": "200"}
    env.pop("KG_STORE", None)
    return subprocess.run(
        [sys.executable, "-m", "kg", *args], capture_output=True, text=True, env=env, input=stdin, timeout=300
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A KG_HOME whose default store holds the 100 real NSCLC records."""
    if not NSCLC.is_file():
        pytest.skip(f"real ClinicalTrials.gov records not found at {CTGOV_DATA} (../shared/data)")
    path = tmp_path_factory.mktemp("home")
    result = kg("build", str(NSCLC), home=path)
    assert result.returncode == 0, result.stderr
    assert "Built 100 trials" in result.stderr
    assert re.search(r"Indexes saved beside the store: related [\d.]+ s, trial-facts [\d.]+ s,", result.stderr)
    return path


def test_help_answers_at_once(tmp_path: Path) -> None:
    started = time.perf_counter()
    result = kg("--help", home=tmp_path)
    assert result.returncode == 0
    for command in ("build", "query", "sparql", "export", "stats", "trial", "demo"):
        assert command in result.stdout
    assert time.perf_counter() - started < 5  # generous: Python start-up on a busy 2-core machine


def test_version_prints_the_package_version(tmp_path: Path) -> None:
    result = kg("--version", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"kg {kg_package.__version__}\n"
    assert kg_package.__version__ == version("kg-trials")  # the installed distribution's, from pyproject.toml


def test_help_does_not_import_the_heavy_modules() -> None:
    code = "import sys, kg.cli.main; print(sorted(m for m in ('pyoxigraph', 'rdflib', 'requests') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@needs_real_data
def test_stats_json(home: Path) -> None:
    stats = json.loads(kg("stats", "--format", "json", home=home).stdout)
    assert stats["trials"] == 100 and stats["skipped"] == 0 and stats["triples"] > 10_000
    assert stats["data_versions"] == {"2025-12-09": 100}
    assert "registry" in stats["mesh_hierarchy"]


@needs_real_data
def test_query_json_rows_are_keyed_by_variable(home: Path) -> None:
    result = kg("query", "trials_by_sponsor_class", "--format", "json", home=home)
    rows = json.loads(result.stdout)
    assert all(set(row) == {"sponsor_class", "trials"} for row in rows)
    assert sum(row["trials"] for row in rows) == 100


@needs_real_data
def test_query_csv_and_parameters(home: Path) -> None:
    result = kg("query", "trial_summary", "--param", "nct=NCT06576635", "--format", "csv", home=home)
    header, row = result.stdout.splitlines()[:2]
    assert header.startswith("nct,title,") and row.startswith("NCT06576635,")


@needs_real_data
def test_sparql_select_file_stdin_and_construct(home: Path, tmp_path: Path) -> None:
    count = "SELECT (COUNT(?t) AS ?n) WHERE { ?t a <https://schema.org/MedicalTrial> }"
    assert json.loads(kg("sparql", count, "-f", "json", home=home).stdout) == [{"n": 100}]
    query_file = tmp_path / "count.rq"
    query_file.write_text(count)
    assert json.loads(kg("sparql", str(query_file), "-f", "json", home=home).stdout) == [{"n": 100}]
    assert json.loads(kg("sparql", "-", "-f", "json", home=home, stdin=count).stdout) == [{"n": 100}]
    construct = "CONSTRUCT { ?t a ?c } WHERE { ?t a ?c FILTER(?c = <https://schema.org/MedicalTrial>) }"
    triples = list(ox.parse(kg("sparql", construct, home=home).stdout.encode(), format=ox.RdfFormat.N_TRIPLES))
    assert len(triples) == 100


@needs_real_data
@pytest.mark.parametrize(
    ("fmt", "rdf_format"),
    [
        ("ttl", ox.RdfFormat.TURTLE),
        ("nt", ox.RdfFormat.N_TRIPLES),
        ("nq", ox.RdfFormat.N_QUADS),
        ("trig", ox.RdfFormat.TRIG),
        ("jsonld", ox.RdfFormat.JSON_LD),
    ],
)
def test_export_formats_parse_back(home: Path, tmp_path: Path, fmt: str, rdf_format: ox.RdfFormat) -> None:
    output = tmp_path / f"graph.{fmt}"
    result = kg("export", "--format", fmt, "-o", str(output), home=home)
    assert result.returncode == 0, result.stderr
    quads = list(ox.parse(output.read_bytes(), format=rdf_format))
    stats = json.loads(kg("stats", "--format", "json", home=home).stdout)
    if fmt in ("nq", "trig"):
        assert len(quads) == stats["triples"]
    else:  # the union graph: each statement once
        assert 0 < len(quads) <= stats["triples"]
    assert not list(tmp_path.glob("*.partial"))


@needs_real_data
def test_trial_summary_text_and_json(home: Path) -> None:
    text = kg("trial", "NCT06576635", home=home).stdout
    assert "LUNG-05" in text and "Docetaxel" in text and "University of Illinois at Chicago" in text
    summary = json.loads(kg("trial", "nct06576635", "--format", "json", home=home).stdout)
    assert summary["nct"] == "NCT06576635" and summary["enrollment"] == 29
    assert {item["term"] for item in summary["mesh"]["intervention"]} >= {"Docetaxel", "Paclitaxel"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["query", "no_such_query"], "no query named"),
        (["trial", "NCT00000000"], "no trial NCT00000000"),
        (["stats", "--store", "bogus:x"], "unknown store"),
        (["sparql", "SELECT WHERE {"], "SPARQL syntax error"),
        (["build", "/no/such/file.json", "--strict"], "no such file"),
    ],
)
def test_user_mistakes_get_one_clear_line(home: Path, args: list[str], message: str) -> None:
    result = kg(*args, home=home)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_commands_on_a_missing_store_say_how_to_make_one(tmp_path: Path) -> None:
    result = kg("stats", home=tmp_path)
    assert result.returncode == 2
    assert "build one first" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_demo_builds_offline_and_writes_its_pages(tmp_path: Path) -> None:
    """`kg demo` (the README's first command, here with fewer synthetic trials): the store, then the seed trial's
    explorer and trial page and a Neoplasms landscape report, each a file the output names."""
    result = kg("demo", "--synthetic", "40", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Demo graph: 41 trials (40 of them SYNTHETIC" in result.stdout
    pages = {
        line.split(": ", 1)[0]: Path(line.split(": ", 1)[1]) for line in result.stdout.splitlines() if ".html" in line
    }
    assert set(pages) == {"Explorer", "Trial page", "Landscape report (Neoplasms)"}
    for path in pages.values():
        assert path.is_file() and path.is_relative_to(tmp_path)
    assert '"NCT07232407"' in pages["Explorer"].read_text(encoding="utf-8")
    assert "Lutetium" in pages["Trial page"].read_text(encoding="utf-8")
    assert "Neoplasms" in pages["Landscape report (Neoplasms)"].read_text(encoding="utf-8")
    stats = json.loads(kg("stats", "--format", "json", home=tmp_path).stdout)
    assert stats["trials"] == 41
