"""Load test of ``kg serve``: concurrent clients on 127.0.0.1 for a bounded time; latency, 503s, errors, memory.

A real ``kg serve`` (uvicorn) is started on a free loopback port over the offline demo store (the reference trial
and its **synthetic** companions, built in a temporary directory), or over ``--store``. Each client thread has its
own HTTP connection and requests, in turn, an explorer page ``/trial/NCT…``, an expansion ``/api/expand/…`` and the
named query ``trial_summary`` over the SPARQL endpoint, for trials drawn at random (fixed seed); ``--kinds trial``
asks for explorer pages only, each trial once (every page uncached). Latencies (p50/p95/p99) are of the requests
served (200); a 503 (a full cap or a time limit: the server asks to come back) is counted apart with its own
latencies, and the client waits as its ``Retry-After`` asks, then asks again; any other status, or a transport
error, is an error. The server's resident memory is sampled every second. Prints the figures and writes
``benchmarks/results/serve_load.json``.

    python benchmarks/serve_load.py                    # --clients 8 --seconds 20
    python benchmarks/serve_load.py --store oxigraph:/tmp/real/store --kinds trial --clients 20 --seconds 60
    python benchmarks/serve_load.py --store oxigraph:PATH --kinds trial --warm 16 --clients 20   # cached pages
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as shared  # benchmarks/run.py: the memory sampler

RESULTS = Path(__file__).parent / "results" / "serve_load.json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def kg_serve(spec: str, *, timeout: float = 30.0, max_rows: int = 100_000, startup: float = 60.0) -> Iterator[str]:
    """``kg serve`` on a free loopback port in a child process; yields its base URL, stops it afterwards."""
    with serve_process(spec, ["--timeout", str(timeout), "--max-rows", str(max_rows)], startup=startup) as (base, _):
        yield base


@contextlib.contextmanager
def serve_process(
    spec: str, options: Sequence[str] = (), *, startup: float = 60.0
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``kg serve --store spec *options`` on a free loopback port; yields its base URL and its process."""
    port = free_port()
    command = [sys.executable, "-m", "kg", "serve", "--store", spec, "--port", str(port), *options]
    base = f"http://127.0.0.1:{port}"
    # Its messages go to a file: an unread pipe fills up and stalls a server that logs under load.
    with tempfile.TemporaryFile("w+", encoding="utf-8") as log:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, text=True)

        def said() -> str:
            log.seek(0)
            return log.read()[-2000:]

        try:
            deadline = time.monotonic() + startup
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    process.wait()
                    raise RuntimeError(f"kg serve did not start: {said()}")
                time.sleep(0.1)
            yield base, process
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass
class LoadReport:
    """Latencies (seconds) per request kind of the requests served and of the 503s, the errors seen, and the wall
    time of the run."""

    clients: int
    seconds: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=dict)
    unavailable: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        every = [value for values in self.latencies.values() for value in values]
        refused = [value for values in self.unavailable.values() for value in values]
        kinds = {kind: _figures(values, self.seconds) for kind, values in sorted(self.latencies.items())}
        return {
            "clients": self.clients,
            "seconds": round(self.seconds, 2),
            "errors": len(self.errors),
            "first_errors": self.errors[:10],
            "all": _figures(every, self.seconds),
            "by_kind": kinds,
            "503": _figures(refused, self.seconds),
        }


def _figures(values: list[float], seconds: float) -> dict[str, float]:
    if not values:
        return {"requests": 0}
    ordered = sorted(values)
    return {
        "requests": len(values),
        "p50_ms": round(1000 * statistics.median(ordered), 1),
        "p95_ms": round(1000 * ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1),
        "p99_ms": round(1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 1),
        "max_ms": round(1000 * ordered[-1], 1),
        "per_second": round(len(values) / seconds, 1) if seconds else 0.0,
    }


Target = Callable[[random.Random], tuple[str, str]]


def run_load(base: str, targets: list[Target], *, clients: int, seconds: float, seed: int = 7) -> LoadReport:
    """``clients`` threads, each cycling through ``targets`` (functions giving a kind and a path) until
    ``seconds`` have passed; a request in flight at the end is finished and counted."""
    report = LoadReport(clients)
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(number: int) -> None:
        rng = random.Random(seed * 1000 + number)
        with httpx.Client(base_url=base, timeout=60) as session:
            turn = number
            retry: tuple[str, str] | None = None
            while time.monotonic() < stop:
                kind, path = retry or targets[turn % len(targets)](rng)
                turn += retry is None
                started = time.perf_counter()
                try:
                    response = session.get(path)
                    status, retry = response.status_code, None
                    problem = None if status in (200, 503) else f"{status} {path[:80]}"
                    if status == 503:  # as a polite client does: wait as asked, then ask again
                        retry = kind, path
                except httpx.HTTPError as error:
                    status, problem = 0, f"{type(error).__name__} {path[:80]}"
                elapsed = time.perf_counter() - started
                with lock:
                    if status == 200:
                        report.latencies.setdefault(kind, []).append(elapsed)
                    elif status == 503:
                        report.unavailable.setdefault(kind, []).append(elapsed)
                    if problem:
                        report.errors.append(problem)
                if retry:
                    time.sleep(min(float(response.headers.get("Retry-After", 1)), max(0.0, stop - time.monotonic())))

    threads = [threading.Thread(target=client, args=(number,)) for number in range(clients)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report.seconds = time.monotonic() - began
    return report


@contextlib.contextmanager
def memory_samples(pid: int, every: float = 1.0) -> Iterator[list[tuple[float, float]]]:
    """(seconds since start, resident MB) of process ``pid`` every ``every`` seconds while the block runs (Linux)."""
    samples: list[tuple[float, float]] = []

    def sample(elapsed: float) -> None:
        if rss := shared.rss_mib(pid):  # 0 once the process has exited
            samples.append((round(elapsed, 1), round(rss, 1)))

    with shared.every(every, sample):
        yield samples


def explorer_targets(
    spec: str, kinds: Sequence[str] = ("trial", "expand", "sparql"), warm: Sequence[str] = ()
) -> list[Target]:
    """The request kinds asked for (of trial, expand, sparql), over the trials of the store at ``spec``; with
    ``trial`` alone, every trial is asked for once before any is asked again, so that no page comes from a cache;
    ``warm``: pages of those trials only, drawn at random (asked for once before, see :func:`warm_pages`)."""
    from kg.analysis.related import RELATED_INDEX
    from kg.queries import bind, load_query
    from kg.store import open_store
    from kg.views.explorer import expand

    with open_store(spec, read_only=True) as store:
        ncts = list(RELATED_INDEX.load(store).ncts)
        picked = random.Random(1).sample(ncts, min(5, len(ncts)))
        node_ids = sorted({str(node["id"]) for nct in picked for node in expand(store, nct)["nodes"]})
    summary = load_query("trial_summary")

    deck = random.Random(2).sample(ncts, len(ncts))
    dealt = itertools.count()

    def trial(rng: random.Random) -> tuple[str, str]:
        if warm:
            return "/trial", f"/trial/{rng.choice(warm)}"
        if list(kinds) == ["trial"]:
            return "/trial", f"/trial/{deck[next(dealt) % len(deck)]}"
        return "/trial", f"/trial/{rng.choice(ncts)}"

    def expansion(rng: random.Random) -> tuple[str, str]:
        return "/api/expand", f"/api/expand/{quote(rng.choice(node_ids), safe='')}"

    def sparql(rng: random.Random) -> tuple[str, str]:
        text = bind(summary, {"nct": rng.choice(ncts)})
        return "/sparql", f"/sparql?query={quote(text, safe='')}"

    every: dict[str, Target] = {"trial": trial, "expand": expansion, "sparql": sparql}
    return [every[kind] for kind in kinds]


def warm_pages(spec: str, count: int) -> list[str]:
    """``count`` random trials of the store whose pages a warm run asks for (at most the server's page cache)."""
    from kg.analysis.related import RELATED_INDEX
    from kg.store import open_store
    from kg.web.app import CACHED_PAGES

    if not 0 < count <= CACHED_PAGES:
        raise SystemExit(f"--warm takes 1 to {CACHED_PAGES} trials (the server's page cache), not {count}")
    with open_store(spec, read_only=True) as store:
        return random.Random(3).sample(list(RELATED_INDEX.load(store).ncts), count)


def _drawn(url: str, attempts: int = 5) -> int:
    """The status of a page asked for until it is served (a 503, past the server's time limit, is asked again
    after its ``Retry-After``: the computation goes on and its page is cached)."""
    for _ in range(attempts):
        response = httpx.get(url, timeout=120)
        if response.status_code != 503:
            break
        time.sleep(float(response.headers.get("Retry-After", 1)))
    return response.status_code


def build_demo(directory: Path, synthetic: int) -> str:
    """The demo store (reference trial + synthetic trials, demo MeSH subset) on disk under ``directory``."""
    from kg.demo import demo_mesh_file, write_demo_corpus
    from kg.pipeline.build import build

    spec = f"oxigraph:{directory / 'store'}"
    build(write_demo_corpus(directory / "corpus", n_synthetic=synthetic), spec, mesh=[demo_mesh_file()])
    return spec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--synthetic", type=int, default=300, help="synthetic trials in the demo store")
    parser.add_argument("--store", help="serve this store instead of a fresh demo store")
    parser.add_argument("--kinds", default="trial,expand,sparql", help="request kinds, of trial, expand, sparql")
    parser.add_argument("--serve-option", action="append", default=[], help="passed to kg serve (repeatable)")
    parser.add_argument(
        "--warm", type=int, default=0, help="ask for the pages of N trials only, each drawn once before the timed run"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kg-serve-load-") as directory:
        spec = args.store or build_demo(Path(directory), args.synthetic)
        warm = warm_pages(spec, args.warm) if args.warm else []
        targets = explorer_targets(spec, args.kinds.split(","), warm)
        with serve_process(spec, args.serve_option) as (base, process), memory_samples(process.pid) as samples:
            drawn = [_drawn(f"{base}/trial/{nct}") for nct in warm]
            if any(status != 200 for status in drawn):
                raise SystemExit(f"warming the pages failed: {drawn}")
            report = run_load(base, targets, clients=args.clients, seconds=args.seconds)
            exit_code = process.poll()  # None: the server outlived the load
    memory = [mb for _, mb in samples]
    result = {
        "command": " ".join(["python", *sys.argv]),
        "store": args.store or f"demo (1 reference + {args.synthetic} synthetic trials)",
        "warm_trials": warm,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        **report.summary(),
        "server_exit_code": exit_code,
        "server_rss_mb": {"first": memory[:1], "max": max(memory, default=0), "every_5s": samples[4::5]},
    }
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
