"""Harvest throughput against the replay server on loopback: what the client can do with the request budget off,
and that a polite harvest is limited by its budget, not by the client.

    python benchmarks/fetch.py [--repeats 3] [--rates 1,2,5] [--out benchmarks/results]

The server (``tests/replay_server.py``) runs in a process of its own, so that the client's throughput is not shared
with it under one interpreter lock; it serves the real records of ``../shared/data/ctgov`` (read at run time, about
1,100 trials). Each run harvests all of them into a temporary raw store, exactly as ``kg fetch`` does (pages fetched,
parsed, de-duplicated, gzip'd and checkpointed); the bulk zip download is timed too.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kg.ctgov.api import CtgovClient, StudyQuery  # noqa: E402
from kg.ctgov.raw_store import run_bulk, run_harvest, start_harvest  # noqa: E402


def harvest_once(url: str, *, rate: float, page_size: int) -> dict[str, Any]:
    client = CtgovClient(url, rate=rate)
    with tempfile.TemporaryDirectory(prefix="kg-harvest-bench-") as raw:
        started = time.perf_counter()
        report = run_harvest(start_harvest(StudyQuery(), client, root=Path(raw), page_size=page_size), client)
        seconds = time.perf_counter() - started
    requests = report.pages + 1  # and the data version
    return {
        "records": report.records,
        "requests": requests,
        "seconds": seconds,
        "records_per_s": report.records / seconds,
        "requests_per_s": (requests - 1) / seconds,  # intervals: the first request starts the clock
    }


def bulk_once(url: str) -> dict[str, Any]:
    client = CtgovClient(url, rate=0)
    with tempfile.TemporaryDirectory(prefix="kg-bulk-bench-") as raw:
        folder = start_harvest(StudyQuery(), client, root=Path(raw), kind="bulk")
        started = time.perf_counter()
        report = run_bulk(folder, client)
        seconds = time.perf_counter() - started
        size = (folder / "ctg-studies.json.zip").stat().st_size
    return {"records": report.records, "bytes": size, "seconds": seconds, "mib_per_s": size / seconds / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rates", default="1,2,5", help="request budgets (requests/s) for the polite runs")
    parser.add_argument("--polite-page-size", type=int, default=100, help="records per request in the polite runs")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args()

    results: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "unbudgeted": [],
        "polite": [],
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.replay_server", "--look-ahead"], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        bulk_once(url)  # the server builds its zip once, outside the timings
        for page_size in (1000, 100):
            runs = [harvest_once(url, rate=0, page_size=page_size) for _ in range(args.repeats)]
            best = max(runs, key=lambda run: run["records_per_s"])
            median = statistics.median(run["records_per_s"] for run in runs)
            results["unbudgeted"].append({"page_size": page_size, "best": best, "median_records_per_s": median})
            print(
                f"budget off, pageSize {page_size:>4}: {median:8,.0f} records/s median "
                f"({best['records_per_s']:,.0f} best, {best['requests_per_s']:.1f} requests/s, "
                f"{best['records']:,} records in {best['requests']} requests)"
            )
        for rate in (float(item) for item in args.rates.split(",")):
            run = harvest_once(url, rate=rate, page_size=args.polite_page_size)
            results["polite"].append({"rate": rate, "page_size": args.polite_page_size, **run})
            print(
                f"budget {rate:g} request/s, pageSize {args.polite_page_size}: {run['requests_per_s']:.2f} requests/s, "
                f"{run['records_per_s']:,.0f} records/s ({run['records']:,} records, {run['requests']} requests "
                f"in {run['seconds']:.1f} s)"
            )
        bulk = bulk_once(url)
        results["bulk"] = bulk
        print(f"bulk zip: {bulk['bytes'] / 2**20:.1f} MiB in {bulk['seconds']:.2f} s ({bulk['mib_per_s']:.0f} MiB/s)")
    finally:
        server.kill()
        server.wait()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "harvest.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out / 'harvest.json'}")


if __name__ == "__main__":
    main()
