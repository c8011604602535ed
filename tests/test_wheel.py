"""The wheel is the product: built from the repository (its sdist, then the wheel from the sdist, as an index would),
installed, not editable, into a fresh virtual environment, whose ``kg`` then runs the demo, a named query,
validation, the server and the Python front door from a folder outside the checkout, with its own KG_HOME.

Offline: the build uses this environment's setuptools (no build isolation) and the virtual environment sees this
environment's packages (``--system-site-packages``), so only the wheel itself is installed. This environment has the
project installed editable, and its finder is visible in the virtual environment too: each run checks that ``kg``
and every file it reads come from the virtual environment, never from the checkout.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

from benchmarks.serve_load import free_port
from tests.conftest import REPO

pytestmark = pytest.mark.slow

#: Folders of the repository the wheel carries, and where they land in it.
SHIPPED: Final = {"kg": "kg", "queries": "kg/resources/queries", "ontologies": "kg/resources/ontologies"}
#: What a copy of the repository leaves out: version control, build output, caches.
NOT_SOURCES: Final = shutil.ignore_patterns(
    ".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis", ".ipynb_checkpoints"
)
SYNTHETIC: Final = 20
#: Run in the virtual environment: where ``kg`` and the files it reads come from, as JSON.
WHERE_FROM: Final = """
import json, sys
import kg, kg.cli.main, kg.web.app, kg.views.trial_page, kg.views.landscape_report
from kg.pipeline.validation import DEFAULT_SHAPES
from kg.queries import list_queries
from kg.views.jinja import environment
modules = [getattr(m, "__file__", None) for name, m in list(sys.modules.items()) if name.split(".")[0] == "kg"]
print(json.dumps({
    "kg": kg.__file__,
    "modules": [path for path in modules if path],
    "queries": [str(query.path) for query in list_queries()],
    "shapes": [str(part) for part in DEFAULT_SHAPES],
    "templates": [environment().get_template(name).filename for name in environment().list_templates()],
}))
"""


@dataclass(frozen=True)
class Installed:
    """The virtual environment with the wheel installed, and how to run its ``kg`` away from the checkout."""

    venv: Path
    home: Path
    workdir: Path

    def run(self, program: str, *args: str) -> subprocess.CompletedProcess[str]:
        """``program`` (``kg`` or ``python``) of the virtual environment; fails the test on a non-zero exit."""
        result = subprocess.run(
            [str(self.venv / "bin" / program), *args],
            cwd=self.workdir,
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, f"{program} {' '.join(args)}: {result.stdout[-2000:]}{result.stderr[-3000:]}"
        return result

    def environment(self) -> dict[str, str]:
        """This process's environment without kg's settings or a PYTHONPATH into the checkout, with KG_HOME."""
        kept = {k: v for k, v in os.environ.items() if not k.startswith("KG_") and k != "PYTHONPATH"}
        return {**kept, "KG_HOME": str(self.home), "COLUMNS": "200"}


def _build(command: list[str], cwd: Path) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sdist, then the wheel from the sdist, built from a copy of the repository (a build writes ``build/`` and
    ``*.egg-info`` beside its sources, and a stale ``build/`` would put deleted files in the wheel)."""
    work = tmp_path_factory.mktemp("wheel")
    source, dist = work / "source", work / "dist"
    shutil.copytree(REPO, source, ignore=NOT_SOURCES)
    dist.mkdir()
    sdist_hook = "import sys; from setuptools import build_meta; build_meta.build_sdist(sys.argv[1])"
    _build([sys.executable, "-c", sdist_hook, str(dist)], source)
    (sdist,) = dist.glob("*.tar.gz")
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "--no-index"]
    _build([*pip_wheel, "-w", str(dist), str(sdist)], work)
    (built,) = dist.glob("*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel in a fresh virtual environment (this environment's pip, run by its interpreter)."""
    work = tmp_path_factory.mktemp("installed")
    venv = work / "venv"
    _build([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], work)
    # --force-reinstall: the editable install of this environment would otherwise count as already installed.
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-deps", "--no-index", "--force-reinstall"]
    _build([*pip, str(wheel)], work)
    (work / "cwd").mkdir()
    return Installed(venv, work / "home", work / "cwd")


@pytest.fixture(scope="module")
def demo(installed: Installed) -> str:
    """``kg demo`` run once: its output."""
    return installed.run("kg", "demo", "--synthetic", str(SYNTHETIC)).stdout


def test_the_wheel_holds_every_file_of_the_package_the_queries_and_the_ontology(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        held = set(archive.namelist())
    expected = {
        f"{target}/{path.relative_to(REPO / folder).as_posix()}"
        for folder, target in SHIPPED.items()
        for path in (REPO / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert expected - held == set()
    assert {"kg/resources/queries/phase_peers.rq", "kg/resources/ontologies/shapes.ttl"} <= held


def test_the_installed_kg_is_the_wheel_and_reads_only_its_own_files(installed: Installed) -> None:
    where = json.loads(installed.run("python", "-c", WHERE_FROM).stdout)
    venv = installed.venv.resolve()
    assert Path(where["kg"]).resolve().is_relative_to(venv), where["kg"]
    files = [*where["shapes"], *where["modules"], *where["queries"], *where["templates"]]
    outside = [path for path in files if not Path(path).resolve().is_relative_to(venv)]
    assert outside == [], outside
    assert len(where["queries"]) == len(list((REPO / "queries").glob("*.rq")))
    assert len(where["templates"]) >= 3


def test_demo_query_and_validate(installed: Installed, demo: str) -> None:
    pages = [Path(found) for found in re.findall(r"(\S+\.html)$", demo, re.MULTILINE)]
    assert len(pages) == 3, demo
    for page in pages:
        assert page.is_relative_to(installed.home) and page.stat().st_size > 10_000, page
    rows = json.loads(installed.run("kg", "query", "phase_status_counts", "--format", "json").stdout)
    assert sum(int(row["trials"]) for row in rows) == SYNTHETIC + 1
    assert "no violation" in installed.run("kg", "validate").stdout


def test_serve_answers_healthz(installed: Installed, demo: str) -> None:
    port = free_port()
    log = installed.workdir / "serve.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [str(installed.venv / "bin" / "kg"), "serve", "--port", str(port)],
            cwd=installed.workdir,
            env=installed.environment(),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        answer = _poll(f"http://127.0.0.1:{port}/healthz", server, log)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert answer["status"] == "ok"
    assert answer["store"] == "oxigraph:store"  # named, never its path
    assert str(installed.home) not in json.dumps(answer)


def test_the_front_door_opens_the_demo_store(installed: Installed, demo: str) -> None:
    snippet = "import json, sys, kg\nwith kg.open(sys.argv[1]) as g:\n    print(json.dumps(g.stats(), default=str))"
    stats = json.loads(installed.run("python", "-c", snippet, f"oxigraph:{installed.home / 'store'}").stdout)
    assert stats["trials"] == SYNTHETIC + 1


def _poll(url: str, server: subprocess.Popen[bytes], log: Path, seconds: float = 60) -> dict[str, str]:
    """The JSON ``url`` answers once the server is up (fails if it exits or is not up in time)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                answer: dict[str, str] = json.loads(response.read())
                return answer
        except (urllib.error.URLError, ConnectionError):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"kg serve did not answer {url}: {log.read_text()[-3000:]}")
            time.sleep(0.2)
