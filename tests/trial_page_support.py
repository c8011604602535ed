"""The demo graph (the reference trial plus the synthetic corpus) built once per test module, and its raw records,
for the health, timeline and trial page tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from kg.demo import demo_mesh_file, write_demo_corpus
from kg.pipeline.build import build
from kg.store import Store, open_store

#: The day of the reference page's numbers (19 months left, progress 23 %).
AS_OF = date(2026, 5, 5)


@pytest.fixture(scope="module")
def demo_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[Path]]:
    """(store spec, corpus files): the demo corpus written and built with its MeSH subset."""
    folder = tmp_path_factory.mktemp("demo")
    paths = write_demo_corpus(folder / "corpus")
    spec = f"oxigraph:{folder / 'store'}"
    build(paths, spec, mesh=[demo_mesh_file()])
    return spec, paths


@pytest.fixture(scope="module")
def demo_store(demo_build: tuple[str, list[Path]]) -> Iterator[Store]:
    with open_store(demo_build[0], read_only=True) as store:
        yield store


def demo_records(paths: list[Path]) -> list[dict[str, Any]]:
    """The raw records the demo store was built from, read with the standard library."""
    records: list[dict[str, Any]] = []
    for path in paths:
        if path.suffix == ".jsonl":
            records.extend(json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line)
        else:
            records.append(json.loads(path.read_text(encoding="utf-8")))
    return records
