"""Every notebook in notebooks/ runs top to bottom, offline, and fails the suite on any error."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs(path: Path, tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat", reason="nbformat is in the test extras")
    nbclient = pytest.importorskip("nbclient", reason="nbclient is in the test extras")
    notebook = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    errors = [output for cell in notebook.cells for output in cell.get("outputs", []) if output.output_type == "error"]
    assert errors == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_is_saved_without_outputs(path: Path) -> None:
    """Outputs stay out of git: no cell keeps outputs or an execution count."""
    import json

    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    kept = [index for index, cell in enumerate(cells) if cell.get("outputs") or cell.get("execution_count") is not None]
    assert kept == [], f"{path.name}: cells {kept} keep outputs; clear them before committing"
