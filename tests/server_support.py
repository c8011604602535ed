"""Fixtures for the server tests: the demo store plus one hostile **synthetic** record, and a real ``kg serve``."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from benchmarks.serve_load import free_port, kg_serve
from kg.demo import demo_mesh_file, seed_study, write_demo_corpus
from kg.pipeline.build import build

HOSTILE_NCT = "NCT99999901"
HOSTILE_TITLE = 'Hostile <script>alert("title")</script> "><img src=x onerror=alert(1)> </script> end'
HOSTILE_SPONSOR = 'Sponsor <script>alert("sponsor")</script> "><img src=x onerror=alert(2)>'


def hostile_study() -> dict[str, Any]:
    """The reference trial under a new id with script-carrying title and sponsor, marked synthetic."""
    study = seed_study()
    protocol = study["protocolSection"]
    protocol["identificationModule"].update(
        {"nctId": HOSTILE_NCT, "briefTitle": HOSTILE_TITLE, "officialTitle": HOSTILE_TITLE}
    )
    protocol["sponsorCollaboratorsModule"]["leadSponsor"] = {"name": HOSTILE_SPONSOR, "class": "INDUSTRY"}
    study["synthetic"] = {"generator": "tests/server_support.py", "purpose": "hostile strings must stay text"}
    return study


@pytest.fixture(scope="session")
def demo_corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The demo corpus (reference trial + 60 synthetic trials) and the hostile record, as files."""
    directory = tmp_path_factory.mktemp("serve-corpus")
    paths = write_demo_corpus(directory, n_synthetic=60)
    hostile = directory / "hostile.jsonl"
    hostile.write_text(json.dumps(hostile_study()) + "\n", encoding="utf-8")
    return [*paths, hostile]


@pytest.fixture(scope="session")
def demo_spec(demo_corpus: list[Path], tmp_path_factory: pytest.TempPathFactory) -> str:
    """That corpus built with the demo MeSH subset into an on-disk Oxigraph store."""
    spec = f"oxigraph:{tmp_path_factory.mktemp('serve-store') / 'store'}"
    build(demo_corpus, spec, mesh=[demo_mesh_file()])
    return spec


@pytest.fixture(scope="session")
def served(demo_spec: str) -> Iterator[str]:
    """A real ``kg serve`` (uvicorn, child process) on a free 127.0.0.1 port over the demo store; its base URL."""
    with kg_serve(demo_spec, timeout=20, max_rows=50_000) as base:
        yield base


@contextlib.contextmanager
def app_client(app: Starlette) -> Iterator[httpx.Client]:
    """``app`` on uvicorn in a thread of this process (so a test can set its limits), on a free loopback port."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.config.port}", timeout=30) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(timeout=20)
