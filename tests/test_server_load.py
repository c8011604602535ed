"""A bounded load on a real ``kg serve``: concurrent clients on 127.0.0.1 for a few seconds, zero errors; a request
the server is too busy for is refused at once (503, then retried as ``Retry-After`` asks), never left waiting.

The figures (p50/p95 per request kind) are printed, not asserted: timing belongs in ``benchmarks/serve_load.py``.
"""

from __future__ import annotations

import json

import pytest

from benchmarks.serve_load import explorer_targets, run_load
from tests.server_support import demo_corpus, demo_spec, served  # noqa: F401 - fixtures

CLIENTS = 4
SECONDS = 8.0


@pytest.mark.slow
def test_concurrent_clients_get_no_error(served: str, demo_spec: str) -> None:  # noqa: F811
    pytest.importorskip("kg.views.explorer")
    report = run_load(served, explorer_targets(demo_spec), clients=CLIENTS, seconds=SECONDS)
    summary = report.summary()
    print(json.dumps(summary, indent=2))
    assert report.errors == []
    assert set(summary["by_kind"]) == {"/trial", "/api/expand", "/sparql"}
    assert all(kind["requests"] >= 1 for kind in summary["by_kind"].values())
    assert summary["all"]["requests"] >= CLIENTS
    assert summary["503"].get("max_ms", 0) < 5_000  # a full cap answers at once; no page ran into its 10 s limit
