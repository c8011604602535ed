"""Every ``kg`` command, run as a user runs it, on a user's mistake: one line ``error: …``, exit 2, no traceback,
and nothing left behind.

Each case runs ``python -m kg`` in its own working folder with its own KG_HOME. The mistakes: a missing store, a
missing input, an output whose parent is a regular file, an output nobody may write (under ``/sys``: refused even
to root, where ``chmod`` refuses nothing), a remote store on a closed port, bad NCT and MeSH ids, an unknown named
query and bad ``--param``. ``kg build``/``kg mesh load`` are covered only for missing inputs and bad outputs.
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from kg.demo import demo_mesh_file

SEED = "NCT07232407"
NEOPLASMS = "D009369"
#: A folder in which nobody, root included, may create anything (sysfs); chmod 0o500 does not stop root.
UNWRITABLE = Path("/sys/kg-cli-mistakes")


def refuses_folders(folder: Path) -> bool:
    """Whether making ``folder`` fails here, root included (sysfs; a container without /sys would let the
    commands create it)."""
    if not folder.parent.is_dir():
        return False
    try:
        folder.mkdir()
    except OSError:
        return True
    folder.rmdir()
    return False


def closed_port() -> int:
    """A port nothing listens on: bound, then released."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


CLOSED = f"sparql:http://127.0.0.1:{closed_port()}/query"


def kg(*args: str, home: Path, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KG_HOME": str(home), "COLUMNS": "200"}
    env.pop("KG_STORE", None)
    return subprocess.run(
        [sys.executable, "-m", "kg", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout
    )


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A KG_HOME holding the demo graph (the seed trial, 5 synthetic trials, the demo MeSH subset)."""
    home = tmp_path_factory.mktemp("home")
    result = kg("demo", "--synthetic", "5", home=home, cwd=home)
    assert result.returncode == 0, result.stderr
    return home


def files_under(*folders: Path) -> set[Path]:
    return {path for folder in folders for path in folder.rglob("*")}


@dataclass(frozen=True)
class Mistake:
    """A command line and a piece of the one line it must print."""

    args: tuple[str, ...]
    message: str
    store: bool = True  # run against the demo store (else: a KG_HOME without one)


def case(message: str, *args: str, store: bool = True) -> Mistake:
    return Mistake(tuple(args), message, store)


MISSING_STORE = "build one first"
CANNOT_WRITE = "cannot write"
NOT_REACHED = "cannot reach the SPARQL endpoint"

MISTAKES = {
    # a missing store
    "stats/no store": case(MISSING_STORE, "stats", store=False),
    "query/no store": case(MISSING_STORE, "query", "trials_by_condition", "-p", f"condition={NEOPLASMS}", store=False),
    "sparql/no store": case(MISSING_STORE, "sparql", "SELECT * WHERE { ?s ?p ?o } LIMIT 1", store=False),
    "export/no store": case(MISSING_STORE, "export", "--format", "nt", "-o", "graph.nt", store=False),
    "export graphml/no store": case(MISSING_STORE, "export", "--format", "graphml", "-o", "g.graphml", store=False),
    "ancestors/no store": case(MISSING_STORE, "ancestors", NEOPLASMS, store=False),
    "related/no store": case(MISSING_STORE, "related", SEED, store=False),
    "validate/no store": case(MISSING_STORE, "validate", store=False),
    "trial/no store": case(MISSING_STORE, "trial", SEED, store=False),
    "trial html/no store": case(MISSING_STORE, "trial", SEED, "--html", "t.html", store=False),
    "explore/no store": case(MISSING_STORE, "explore", SEED, "-o", "e.html", store=False),
    "landscape/no store": case(MISSING_STORE, "landscape", "-c", NEOPLASMS, "-o", "land", store=False),
    "serve/no store": case(MISSING_STORE, "serve", "--port", str(closed_port()), store=False),
    # a missing input
    "update/no harvest": case("run `kg fetch` first", "update"),
    "build/no input": case("no-such.json", "build", "no-such.json", store=False),
    "build/no mesh file": case("no-such.bin", "build", "input.json", "--mesh", "no-such.bin", store=False),
    "mesh load/no input": case("no such MeSH file", "mesh", "load", "no-such.bin", store=False),
    "synth/no mesh file": case("no such MeSH file", "synth", "-n", "1", "-o", "reg", "--mesh", "no-such.bin"),
    "sparql/no query file": case("no-such.rq", "sparql", "no-such.rq"),
    "synth/MeSH file without trees": case("cannot generate", "synth", "-n", "1", "-o", "reg", "--mesh", "afile"),
    # values out of range
    "demo/negative count": case("--synthetic", "demo", "--synthetic", "-1"),
    "trial/bad --as-of": case("--as-of", "trial", SEED, "--as-of", "2026-13-01"),
    "related/negative top": case("--top", "related", SEED, "--top", "-1"),
    "explore/negative depth": case("--depth", "explore", SEED, "--depth", "-1"),
    # an output whose parent is a regular file
    "export/output in a file": case(CANNOT_WRITE, "export", "--format", "nt", "-o", "afile/x.nt"),
    "export graphml/output in a file": case(CANNOT_WRITE, "export", "--format", "graphml", "-o", "afile/x.graphml"),
    "trial html/output in a file": case(CANNOT_WRITE, "trial", SEED, "--html", "afile/x.html"),
    "explore/output in a file": case(CANNOT_WRITE, "explore", SEED, "-o", "afile/x.html"),
    "landscape/output in a file": case(CANNOT_WRITE, "landscape", "-c", NEOPLASMS, "-o", "afile/land"),
    "landscape/output is a file": case(CANNOT_WRITE, "landscape", "-c", NEOPLASMS, "-o", "afile"),
    "export/output is a folder": case(CANNOT_WRITE, "export", "--format", "nt", "-o", "adir"),
    "trial html/output is a folder": case(CANNOT_WRITE, "trial", SEED, "--html", "adir"),
    "explore/output is a folder": case(CANNOT_WRITE, "explore", SEED, "-o", "adir"),
    "synth/output in a file": case(CANNOT_WRITE, "synth", "-n", "1", "-o", "afile/reg"),
    "build/store in a file": case("afile", "build", "input.json", "--store", "oxigraph:afile/store"),
    "mesh load/store in a file": case("afile", "mesh", "load", "mesh.xml", "--store", "oxigraph:afile/store"),
    "demo/store in a file": case("afile", "demo", "--synthetic", "1", "--store", "oxigraph:afile/store"),
    # an output nobody may write
    "export/unwritable": case(CANNOT_WRITE, "export", "--format", "nt", "-o", f"{UNWRITABLE}/x.nt"),
    "trial html/unwritable": case(CANNOT_WRITE, "trial", SEED, "--html", f"{UNWRITABLE}/x.html"),
    "explore/unwritable": case(CANNOT_WRITE, "explore", SEED, "-o", f"{UNWRITABLE}/x.html"),
    "landscape/unwritable": case(CANNOT_WRITE, "landscape", "-c", NEOPLASMS, "-o", f"{UNWRITABLE}/land"),
    "synth/unwritable": case(CANNOT_WRITE, "synth", "-n", "1", "-o", f"{UNWRITABLE}/reg"),
    "build/unwritable store": case(str(UNWRITABLE), "build", "input.json", "--store", f"oxigraph:{UNWRITABLE}/s"),
    # a remote store on a closed port
    "stats/closed port": case(NOT_REACHED, "stats", "--store", CLOSED),
    "query/closed port": case(NOT_REACHED, "query", "trials_by_condition", "-p", "condition=D009369", "-s", CLOSED),
    "sparql/closed port": case(NOT_REACHED, "sparql", "SELECT * WHERE { ?s ?p ?o } LIMIT 1", "--store", CLOSED),
    "export/closed port": case(NOT_REACHED, "export", "--format", "nt", "-o", "graph.nt", "--store", CLOSED),
    "export graphml/closed port": case(NOT_REACHED, "export", "--format", "graphml", "-o", "g.graphml", "-s", CLOSED),
    "ancestors/closed port": case(NOT_REACHED, "ancestors", NEOPLASMS, "--store", CLOSED),
    "related/closed port": case(NOT_REACHED, "related", SEED, "--store", CLOSED),
    "validate/closed port": case(NOT_REACHED, "validate", "--store", CLOSED),
    "trial/closed port": case(NOT_REACHED, "trial", SEED, "--store", CLOSED),
    "trial html/closed port": case(NOT_REACHED, "trial", SEED, "--html", "t.html", "--store", CLOSED),
    "explore/closed port": case(NOT_REACHED, "explore", SEED, "-o", "e.html", "--store", CLOSED),
    "landscape/closed port": case(NOT_REACHED, "landscape", "-c", NEOPLASMS, "-o", "land", "--store", CLOSED),
    "build/closed port": case(NOT_REACHED, "build", "input.json", "--store", CLOSED),
    "mesh load/closed port": case(NOT_REACHED, "mesh", "load", "mesh.xml", "--store", CLOSED),
    # bad NCT ids
    "trial/unknown NCT id": case("no trial NCT00000000", "trial", "NCT00000000"),
    "trial/malformed NCT id": case("NCT123", "trial", "NCT123"),
    "trial json/malformed NCT id": case("not-an-id", "trial", "not-an-id", "--format", "json"),
    "trial html/unknown NCT id": case("no trial NCT00000000", "trial", "NCT00000000", "--html", "t.html"),
    "explore/unknown NCT id": case("NCT00000000", "explore", "NCT00000000"),
    "explore/malformed NCT id": case("must be an NCT id", "explore", "../x"),
    "related/unknown NCT id": case("NCT00000000", "related", "NCT00000000"),
    "related/malformed NCT id": case("NCT12", "related", "NCT12", "--format", "json"),
    # bad MeSH ids
    "ancestors/unknown MeSH id": case("D999999999", "ancestors", "D999999999"),
    "ancestors/unknown label": case("No Such Concept", "ancestors", "No Such Concept", "--format", "json"),
    "landscape/malformed condition": case("bogus", "landscape", "-c", "bogus", "-o", "land"),
    "landscape/unknown condition": case("D999999", "landscape", "-c", "D999999", "-o", "land"),
    "landscape/malformed intervention": case("bogus", "landscape", "-c", NEOPLASMS, "-i", "bogus", "-o", "land"),
    "landscape/unknown sponsor": case(
        "no lead sponsor is named", "landscape", "-c", NEOPLASMS, "--sponsor", "No Such Sponsor", "-o", "land"
    ),
    "landscape/malformed action": case("bogus", "landscape", "-c", NEOPLASMS, "--action", "bogus", "-o", "land"),
    "landscape/no condition": case("'--condition'", "landscape", "-o", "land"),
    "landscape compare/malformed condition": case(
        "bogus", "landscape", "compare", "-a", "bogus", "-b", NEOPLASMS, "-o", "c"
    ),
    "landscape compare/no scope B": case("needs a condition", "landscape", "compare", "-a", NEOPLASMS, "-o", "c"),
    "landscape compare/no store": case(
        MISSING_STORE, "landscape", "compare", "-a", NEOPLASMS, "-b", NEOPLASMS, "-o", "c", store=False
    ),
    "query/malformed MeSH id": case("bogus", "query", "trials_under", "--param", "concept=bogus"),
    # an unknown named query, bad --param
    "query/unknown query": case("no query named", "query", "no_such_query"),
    "query/param without =": case("KEY=VALUE", "query", "trials_by_condition", "--param", "condition"),
    "query/unknown param": case("nosuch", "query", "trials_by_condition", "--param", "nosuch=1"),
    "query/missing param": case("condition", "query", "trials_by_condition"),
    # kg sparql
    "sparql/syntax error": case("SPARQL syntax error", "sparql", "SELECT WHERE {"),
    "sparql/unknown function": case(
        "http://example.org/nosuch", "sparql", "SELECT (<http://example.org/nosuch>(1) AS ?x) WHERE {}"
    ),
    "sparql/INSERT DATA": case("INSERT", "sparql", "INSERT DATA { <urn:a> <urn:b> <urn:c> }"),
    "sparql/SERVICE to a closed port": case(
        "SERVICE", "sparql", f"SELECT * WHERE {{ SERVICE <{CLOSED.removeprefix('sparql:')}> {{ ?s ?p ?o }} }}"
    ),
}


def check_one_line(result: subprocess.CompletedProcess[str], message: str) -> None:
    """One line ``error: …``; or, for a value the option parser refuses, its usage hint and one ``Error: …``."""
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    if lines and lines[0].startswith("Usage: "):
        assert len(lines) == 3 and lines[-1].startswith("Error: Invalid value"), result.stderr
    else:
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert message in lines[-1], lines[-1]


def run_mistake(mistake: Mistake, demo_home: Path, tmp_path: Path) -> None:
    """Runs one mistake in a fresh folder (with a regular file ``afile``, an empty folder ``adir`` and small valid
    inputs) and a fresh copy of the demo KG_HOME, then checks its one line and that no file appeared or vanished
    anywhere."""
    if any(str(UNWRITABLE) in arg for arg in mistake.args) and not refuses_folders(UNWRITABLE):
        pytest.skip(f"{UNWRITABLE} can be written here")
    work = tmp_path / "work"
    work.mkdir()
    (work / "afile").write_text("a regular file\n", encoding="utf-8")
    (work / "adir").mkdir()
    shutil.copy(demo_home / "demo" / f"{SEED}.json", work / "input.json")
    shutil.copy(demo_mesh_file(), work / "mesh.xml")
    home = tmp_path / "home"
    if mistake.store:
        shutil.copytree(demo_home, home, ignore=shutil.ignore_patterns("demo"))
    else:
        home.mkdir()
    before = files_under(work, home)
    result = kg(*mistake.args, home=home, cwd=work, timeout=60)
    check_one_line(result, mistake.message)
    after = files_under(work, home)
    assert before <= after
    # A writer lock stays by design: beside an on-disk store, or for a sparql: store in the data home's locks/.
    assert {path for path in after - before if path.suffix != ".lock" and path != home / "locks"} == set()
    assert not UNWRITABLE.exists()


@pytest.mark.parametrize("mistake", [pytest.param(mistake, id=name) for name, mistake in MISTAKES.items()])
def test_a_mistake_gets_one_line_and_leaves_nothing(mistake: Mistake, demo_home: Path, tmp_path: Path) -> None:
    run_mistake(mistake, demo_home, tmp_path)


def test_a_full_disk_is_one_line_naming_the_page_and_leaves_no_partial(
    demo_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``kg explore`` on a disk that fills up half-way through the page (``write_bytes`` patched: no test can fill
    a real disk quickly): one line naming the page, exit 2, and no ``.partial`` file left."""
    from kg.cli.main import main

    def half_then_full(path: Path, data: bytes) -> int:
        with path.open("wb") as stream:
            stream.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    page = tmp_path / "pages" / "explorer.html"
    monkeypatch.setenv("KG_HOME", str(demo_home))
    monkeypatch.delenv("KG_STORE", raising=False)
    monkeypatch.setattr(Path, "write_bytes", half_then_full)
    monkeypatch.setattr(sys, "argv", ["kg", "explore", SEED, "-o", str(page)])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    assert capsys.readouterr().err.strip() == f"error: cannot write {page}: No space left on device"
    assert list(page.parent.iterdir()) == []
