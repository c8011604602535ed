"""Loading a remote SPARQL engine: the three load methods on an Oxigraph server and on Virtuoso, side by side.

    python benchmarks/remote_load.py [--trials 5000] [--out benchmarks/results]

Builds ``--trials`` synthetic trials (marked synthetic) with the demo MeSH subset into a local Oxigraph store, as
``kg build --store sparql:URL`` stages them, then publishes that store (``kg.store._publish``: batches of whole
graphs) to each engine by each load method it takes, twice: into the empty server, then again over the same graphs
(a rebuild: every graph replaced). Both servers are started on 127.0.0.1 in a temporary directory, as the tests
start them (``tests/virtuoso_support.py``). Each publish is checked: the server then holds exactly the local quads.
Writes ``remote_load.json`` and ``remote_load.md`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.virtuoso_support starts the servers
sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as shared  # benchmarks/run.py: writing the results

from kg.demo import demo_mesh_file, synthetic_studies
from kg.pipeline.build import build
from kg.store import _publish, open_store
from kg.store.oxigraph import OxigraphStore
from kg.store.remote import BATCH_QUADS, RemoteStore
from tests.virtuoso_support import drop_visible_graphs, run_oxigraph_server, run_virtuoso

METHODS = {"oxigraph-server": ("update", "nquads", "graph-store"), "virtuoso": ("update", "graph-store")}


def _publish_timed(local: OxigraphStore, url: str, method: str) -> dict[str, Any]:
    remote = RemoteStore(url, load=method)
    drop_visible_graphs(remote)
    row: dict[str, Any] = {"method": method, "quads": len(local)}
    for phase in ("into empty", "replacing"):
        started = time.perf_counter()
        _publish(local, remote)
        seconds = time.perf_counter() - started
        held = len(remote)
        if held != len(local):
            raise RuntimeError(f"{url} by {method}: {held} quads on the server, {len(local)} published")
        row[phase] = {"seconds": round(seconds, 2), "quads_per_s": round(len(local) / seconds)}
    remote.close()
    return row


def _virtuoso_version() -> str:
    done = subprocess.run(["virtuoso-t", "-?"], capture_output=True, text=True, check=False)
    return next((line.strip() for line in (done.stdout + done.stderr).splitlines() if "Version" in line), "?")


def _markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Loading a remote SPARQL engine",
        "",
        f"{report['trials']:,} synthetic trials, {report['quads']:,} quads, batches of up to {BATCH_QUADS:,} quads; "
        f"measured {report['date']} on {report['machine']} ({report['cpus']} cores), {report['oxigraph']}, "
        f"{report['virtuoso']}. Command: `{report['command']}`.",
        "",
        "| engine | method | into empty: s | quads/s | replacing: s | quads/s |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for engine, rows in report["engines"].items():
        for row in rows:
            empty, again = row["into empty"], row["replacing"]
            lines.append(
                f"| {engine} | {row['method']} | {empty['seconds']} | {empty['quads_per_s']:,} "
                f"| {again['seconds']} | {again['quads_per_s']:,} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5_000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kg-remote-load-") as tmp:
        root = Path(tmp)
        corpus = root / "synthetic.jsonl"
        with corpus.open("w", encoding="utf-8") as out:
            for study in synthetic_studies(args.trials):
                out.write(json.dumps(study) + "\n")
        spec = f"oxigraph:{root / 'store'}"
        build([corpus], spec, mesh=[demo_mesh_file()])
        engines: dict[str, list[dict[str, Any]]] = {}
        with open_store(spec) as local:
            assert isinstance(local, OxigraphStore)
            (root / "oxigraph").mkdir()
            (root / "virtuoso").mkdir()
            with run_oxigraph_server(root / "oxigraph") as url:
                engines["oxigraph-server"] = [_publish_timed(local, url, m) for m in METHODS["oxigraph-server"]]
            with run_virtuoso(root / "virtuoso") as server:
                engines["virtuoso"] = [_publish_timed(local, server.sparql_url, m) for m in METHODS["virtuoso"]]
            quads = len(local)
    version = subprocess.run(["oxigraph", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    report = {
        "command": "python benchmarks/remote_load.py " + " ".join(sys.argv[1:]),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "oxigraph": version,
        "virtuoso": _virtuoso_version(),
        "trials": args.trials,
        "quads": quads,
        "engines": engines,
    }
    shared.write_results(args.out, "remote_load", report, _markdown(report))
    print(_markdown(report))


if __name__ == "__main__":
    main()
