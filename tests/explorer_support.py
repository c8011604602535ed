"""Fixtures for the explorer tests: the demo corpus plus one SYNTHETIC hostile record, built with the demo MeSH file.

The hostile record copies the reference trial's MeSH terms (so it ranks among its related trials) and carries
script-injection attempts in its title, sponsor, condition and intervention names."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kg.demo import demo_mesh_file, seed_study, write_demo_corpus
from kg.pipeline.build import build
from kg.store import Store, open_store

HOSTILE_NCT = "NCT99999999"
HOSTILE_TITLE = (
    '[Synthetic] <script>window.kgPwned=1;alert("title")</script> "><img src=x onerror=alert(1)> '
    "</script><script>alert(2)</script> Lutetium \u2028study"
)
HOSTILE_SPONSOR = '"><img src=x onerror=alert(3)></script><script>alert(4)</script> Pharma & Co'
HOSTILE_CONDITION = "<img src=x onerror=alert(5)> Digestive System Neoplasms"
HOSTILE_INTERVENTION = "</script><script>alert(6)</script> Lutetium [177Lu]"


def hostile_study() -> dict[str, Any]:
    """A synthetic record (marked so) with hostile text wherever a record has free text the explorer shows."""
    study = copy.deepcopy(seed_study())
    protocol = study["protocolSection"]
    protocol["identificationModule"] = {"nctId": HOSTILE_NCT, "briefTitle": HOSTILE_TITLE}
    protocol["sponsorCollaboratorsModule"]["leadSponsor"] = {"name": HOSTILE_SPONSOR, "class": "INDUSTRY"}
    protocol["conditionsModule"] = {"conditions": [HOSTILE_CONDITION]}
    arms = protocol["armsInterventionsModule"]
    arms["interventions"] = [{"type": "DRUG", "name": HOSTILE_INTERVENTION}]
    arms["armGroups"] = [
        {"label": "Arm", "type": "EXPERIMENTAL", "interventionNames": [f"Drug: {HOSTILE_INTERVENTION}"]}
    ]
    study.pop("transcriptionNotes", None)
    study["synthetic"] = {"generator": "tests.explorer_support", "purpose": "escaping tests: hostile text"}
    return study


def write_corpus(directory: Path) -> list[Path]:
    """The demo corpus (reference trial + 300 synthetic) and the hostile record, as files ``kg build`` reads."""
    paths = write_demo_corpus(directory, n_synthetic=300)
    hostile = directory / f"{HOSTILE_NCT}.json"
    hostile.write_text(json.dumps(hostile_study(), ensure_ascii=False), encoding="utf-8")
    return [*paths, hostile]


def raw_records(paths: list[Path]) -> dict[str, dict[str, Any]]:
    """The corpus as raw JSON by NCT id, read independently of ``kg.pipeline.build``."""
    records: dict[str, dict[str, Any]] = {}
    for path in paths:
        lines = path.read_text(encoding="utf-8").splitlines() if path.suffix == ".jsonl" else [path.read_text()]
        for line in lines:
            if line.strip():
                study = json.loads(line)
                records[study["protocolSection"]["identificationModule"]["nctId"]] = study
    return records


@pytest.fixture(scope="module")
def explorer_corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_corpus(tmp_path_factory.mktemp("explorer-corpus"))


@pytest.fixture(scope="module")
def explorer_spec(explorer_corpus: list[Path], tmp_path_factory: pytest.TempPathFactory) -> str:
    spec = f"oxigraph:{tmp_path_factory.mktemp('explorer') / 'store'}"
    build(list(explorer_corpus), spec, mesh=[demo_mesh_file()])
    return spec


@pytest.fixture(scope="module")
def explorer_store(explorer_spec: str) -> Iterator[Store]:
    with open_store(explorer_spec, read_only=True) as store:
        yield store
