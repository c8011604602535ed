"""Shared fixtures and well-known ids: the real data folder, a store built from it, the seed trial."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kg.pipeline.build import BuildReport, build
from kg.store import Store, open_store

# The browser fixtures are registered once for the whole session: imported into several test modules, each would
# start its own Playwright, and a second one in the same thread fails.
pytest_plugins = ("tests.browser_support",)

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
CTGOV_DATA = SHARED_DATA / "ctgov"
MESH_DATA = SHARED_DATA / "mesh"
SEED_NCT = "NCT07232407"
LUTETIUM = "D008187"
NEOPLASMS = "D009369"
#: The ancestors the reference trial page lists for Lutetium and for Digestive System Neoplasms.
LUTETIUM_ANCESTORS = frozenset(
    {
        "Lanthanoid Series Elements",
        "Metals, Rare Earth",
        "Elements",
        "Inorganic Chemicals",
        "Transition Elements",
        "Metals",
    }
)
DIGESTIVE_NEOPLASMS_ANCESTORS = frozenset({"Neoplasms by Site", "Neoplasms", "Digestive System Diseases"})

needs_mesh = pytest.mark.skipif(
    not (MESH_DATA / "d2024-reduced.bin").is_file(), reason=f"MeSH files not found at {MESH_DATA} (../shared/data)"
)
needs_real_data = pytest.mark.skipif(
    not CTGOV_DATA.is_dir(), reason=f"real ClinicalTrials.gov records not found at {CTGOV_DATA} (../shared/data)"
)


def raw_studies() -> list[dict[str, Any]]:
    """Every real record, read with the standard library only (independent of kg.ctgov)."""
    studies: list[dict[str, Any]] = []
    for path in sorted(CTGOV_DATA.iterdir()):
        if path.suffix == ".json":
            studies.extend(json.loads(path.read_text(encoding="utf-8")))
        elif path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                studies.extend(json.loads(archive.read(name)) for name in sorted(archive.namelist()))
    return studies


def latest_by_nct(studies: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """De-duplicate as the build must: the latest lastUpdatePostDate wins, the first one on a tie."""
    kept: dict[str, dict[str, Any]] = {}
    for study in studies:
        nct = study["protocolSection"]["identificationModule"]["nctId"]
        date = study["protocolSection"]["statusModule"].get("lastUpdatePostDateStruct", {}).get("date", "")
        old = kept.get(nct)
        if old is None or date > old["protocolSection"]["statusModule"].get("lastUpdatePostDateStruct", {}).get(
            "date", ""
        ):
            kept[nct] = study
    return kept


@pytest.fixture(scope="session")
def real_studies() -> dict[str, dict[str, Any]]:
    if not CTGOV_DATA.is_dir():
        pytest.skip(f"real ClinicalTrials.gov records not found at {CTGOV_DATA} (../shared/data)")
    return latest_by_nct(raw_studies())


@pytest.fixture(scope="session")
def real_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, BuildReport]:
    """All real records built once per session into an on-disk Oxigraph store."""
    if not CTGOV_DATA.is_dir():
        pytest.skip(f"real ClinicalTrials.gov records not found at {CTGOV_DATA} (../shared/data)")
    spec = f"oxigraph:{tmp_path_factory.mktemp('real') / 'store'}"
    return spec, build([CTGOV_DATA], spec)


@pytest.fixture(scope="session")
def real_store(real_build: tuple[str, BuildReport]) -> Iterator[Store]:
    with open_store(real_build[0], read_only=True) as store:
        yield store


#: NLM's MeSH 2024 descriptors and supplementary concepts (``kg build --mesh``).
REAL_MESH_FILES = (MESH_DATA / "d2024-reduced.bin", MESH_DATA / "c2024-reduced.bin")


@pytest.fixture(scope="session")
def real_mesh_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """All real records built with the MeSH files once per session (the ``--mesh`` build path), opened read-only."""
    if not CTGOV_DATA.is_dir() or not all(path.is_file() for path in REAL_MESH_FILES):
        pytest.skip(f"real records or MeSH files not found under {SHARED_DATA} (../shared/data)")
    spec = f"oxigraph:{tmp_path_factory.mktemp('real-mesh') / 'store'}"
    build([CTGOV_DATA], spec, mesh=list(REAL_MESH_FILES))
    with open_store(spec, read_only=True) as store:
        yield store
