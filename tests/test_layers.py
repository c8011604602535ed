"""The layout is a contract: the layers of ``[tool.importlinter]`` in pyproject.toml hold, and no module imports
itself back through others (an import circle)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import grimp
import networkx as nx

ROOT = Path(__file__).resolve().parents[1]


def _lint_imports(package_parent: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` over the ``kg`` package found first in ``package_parent``, with the project's contracts."""
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run(
        ["lint-imports", "--no-cache", str(ROOT / "pyproject.toml")],
        capture_output=True,
        text=True,
        cwd=package_parent,
        env=env,
        timeout=300,
    )


def test_the_layers_contract_is_kept() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_an_import_against_the_flow_breaks_the_contract(tmp_path: Path) -> None:
    """The contract can fail: the store importing the command line (against the flow of data) is reported."""
    shutil.copytree(ROOT / "kg", tmp_path / "kg", ignore=shutil.ignore_patterns("__pycache__"))
    base = tmp_path / "kg" / "store" / "base.py"
    base.write_text(base.read_text(encoding="utf-8") + "\nimport kg.cli.output  # noqa\n", encoding="utf-8")
    result = _lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "kg.store.base -> kg.cli.output" in result.stdout


def test_no_import_circles() -> None:
    graph = grimp.build_graph("kg")
    imports = nx.DiGraph(
        (module, imported) for module in graph.modules for imported in graph.find_modules_directly_imported_by(module)
    )
    cycles = list(nx.simple_cycles(imports))
    assert not cycles, f"import circles: {cycles[:5]}"
