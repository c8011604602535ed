"""The cost of change events: store growth per ``kg update`` cycle and the update's time over a large store.

A synthetic registry (``kg.demo.registry``, every record marked synthetic) is served by the loopback replay server of
the tests; ``kg fetch --build`` harvests it into a fresh on-disk store, as a user would. Then two cycles each change
``--changed`` records (a primary completion slipped a year, an enrollment, an overall status or a site added, in
turn; posted today) and run ``kg update``; a third update runs with nothing new. Each update is timed in its own
process (wall, peak RSS) with the change-event functions of ``kg.pipeline.update`` clocked, and update 1 runs again
on a copy of the store with those functions bypassed, so the events' share of the update is measured in one run.
Writes ``update.json`` and ``update.md`` into ``--out``::

    python benchmarks/update.py --trials 100000 --changed 1000 --out benchmarks/results
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final

REPO: Final = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.replay_server

from kg.demo.registry import registry_studies  # noqa: E402
from kg.graphs import CHANGES_GRAPH  # noqa: E402
from kg.store import open_store  # noqa: E402
from kg.vocab import SPARQL_PROLOGUE  # noqa: E402
from tests.replay_server import ReplayData, ReplayServer, nct_of  # noqa: E402

sys.path.insert(0, str(REPO / "benchmarks"))
import run as shared  # noqa: E402  # benchmarks/run.py: machine facts

Study = dict[str, Any]
SEED: Final = 20251114
#: The functions of ``kg.pipeline.update`` that exist only for change events: read the old facts, compare, record.
EVENT_FUNCTIONS: Final = ("stored_facts", "facts_from_quads", "event_quads", "record_changes")
#: What the update sees of them when they are bypassed: no old facts, no events, nothing recorded.
BYPASSED: Final[dict[str, Callable[..., Any]]] = {
    "stored_facts": lambda *args: {},
    "facts_from_quads": lambda *args: None,
    "event_quads": lambda *args, **kwargs: [],
    "record_changes": lambda *args: 0,
}
CHANGE_KINDS: Final = ("primary_completion", "enrollment", "overall_status", "sites")
_COUNTS: Final = SPARQL_PROLOGUE + (
    f"SELECT (COUNT(*) AS ?quads) (SUM(IF(?p = rdf:type && ?o = kg:ChangeEvent, 1, 0)) AS ?events) "
    f"WHERE {{ GRAPH <{CHANGES_GRAPH.value}> {{ ?s ?p ?o }} }}"
)


def main() -> None:
    if sys.argv[1:2] in (["_kg"], ["_bypass"]):  # a timed kg process: python benchmarks/update.py _kg TIMINGS ARGS…
        clocked_kg(Path(sys.argv[2]), sys.argv[3:], bypass=sys.argv[1] == "_bypass")
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=100_000, help="synthetic trials in the store")
    parser.add_argument("--changed", type=int, default=1_000, help="records changed per update cycle")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kg-update-bench-") as tmp:
        results = run(Path(tmp), args.trials, args.changed)
    results["command"] = "python benchmarks/update.py " + " ".join(sys.argv[1:])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "update.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (args.out / "update.md").write_text(report(results), encoding="utf-8")


def run(tmp: Path, trials: int, changed: int) -> dict[str, Any]:
    """Fetch and build, then three updates (two cycles of changes, one with none); every figure measured."""
    results: dict[str, Any] = {"trials": trials, "changed": changed, "machine": shared.machine(), "load": [load()]}
    started = time.perf_counter()
    studies = list(registry_studies(trials, seed=SEED))
    results["generate_s"] = round(time.perf_counter() - started, 1)
    store, raw = tmp / "store", tmp / "raw"
    spec = f"oxigraph:{store}"
    with ReplayServer(ReplayData(studies)) as server:
        fetched = timed(["fetch", "--rate", "0", "--raw", str(raw), "--build", "--store", spec], tmp, server)
    fetched.pop("stdout")
    results["fetch_build"] = {**fetched, **sizes(spec, store, raw)}
    results["load"].append(load())
    today = datetime.now(timezone.utc).date().isoformat()
    chosen = [nct_of(study) for study in studies[:: max(1, len(studies) // (2 * changed))]][: 2 * changed]
    cycles = []
    for cycle, ids in enumerate((chosen[:changed], chosen[changed:], []), start=1):
        studies = changed_studies(studies, set(ids), today)
        data = ReplayData(studies, timestamp=f"{today}T0{cycle}:00:00")
        copied = copy_store(store, raw, tmp / "bypass") if cycle == 1 else None
        with ReplayServer(data) as server:
            measured = timed(update_args(store, raw), tmp, server)
            if copied is not None:  # the same update on a copy of the same store, without the events code
                results["bypassed"] = timed(update_args(*copied), tmp, server, bypass=True)
                results["bypassed"].pop("stdout")
                shutil.rmtree(tmp / "bypass")
        update_report = json.loads(measured.pop("stdout"))
        cycles.append(
            {
                "cycle": cycle,
                "records_changed": len(ids),
                **measured,
                "updated": len(update_report["updated"]),
                "unchanged": update_report["unchanged"],
                "change_events_reported": update_report["change_events"],
                **sizes(spec, store, raw),
            }
        )
        results["load"].append(load())
    results["updates"] = cycles
    return results


def update_args(store: Path, raw: Path) -> list[str]:
    return ["update", "--store", f"oxigraph:{store}", "--raw", str(raw), "--rate", "0", "--format", "json"]


def copy_store(store: Path, raw: Path, folder: Path) -> tuple[Path, Path]:
    """A copy of the store, its saved indexes and the harvests in ``folder``: (store, harvests)."""
    folder.mkdir()
    for path in [store, raw, *store.parent.glob(f"{store.name}.*")]:
        (shutil.copytree if path.is_dir() else shutil.copy2)(path, folder / path.name)
    return folder / store.name, folder / raw.name


def changed_studies(studies: list[Study], ids: set[str], day: str) -> list[Study]:
    """The registry after ``ids`` changed, one kind of change each in turn, posted on ``day``."""
    out = []
    turn = 0
    for study in studies:
        if nct_of(study) in ids:
            study = change(study, CHANGE_KINDS[turn % len(CHANGE_KINDS)], day)
            turn += 1
        out.append(study)
    return out


def change(study: Study, kind: str, day: str) -> Study:
    """A copy of ``study`` with one field changed as the registry would change it, posted on ``day``."""
    changed = copy.deepcopy(study)
    protocol = changed["protocolSection"]
    status = protocol["statusModule"]
    if kind == "primary_completion":
        when = status.setdefault("primaryCompletionDateStruct", {"date": day, "type": "ESTIMATED"})
        year, rest = when["date"][:4], when["date"][4:].replace("-02-29", "-02-28")
        when["date"] = f"{int(year) + 1}{rest}"
    elif kind == "enrollment":
        enrollment = protocol.setdefault("designModule", {}).setdefault("enrollmentInfo", {"count": 0})
        enrollment["count"] = enrollment.get("count", 0) + 17
    elif kind == "overall_status":
        status["overallStatus"] = (
            "COMPLETED" if status.get("overallStatus") == "ACTIVE_NOT_RECRUITING" else ("ACTIVE_NOT_RECRUITING")
        )
    else:
        locations = protocol.setdefault("contactsLocationsModule", {}).setdefault("locations", [])
        site = {"facility": f"Benchmark site of {nct_of(study)}", "city": "Boston", "country": "United States"}
        locations.append({**site, "status": "RECRUITING"})
    status["lastUpdatePostDateStruct"] = {"date": day, "type": "ACTUAL"}
    return changed


def timed(args: list[str], tmp: Path, server: ReplayServer, *, bypass: bool = False) -> dict[str, Any]:
    """``kg ARGS`` in its own process against the replay server, the change-event functions clocked (or, with
    ``bypass``, doing nothing): wall seconds, and what that process measured of itself."""
    env = {**os.environ, "KG_HOME": str(tmp / "home"), "KG_CTGOV_URL": server.url}
    env.pop("KG_STORE", None)
    timings = tmp / "timings.json"
    started = time.perf_counter()
    mode = "_bypass" if bypass else "_kg"
    command = [sys.executable, str(Path(__file__).resolve()), mode, str(timings), *args]
    done = subprocess.run(command, env=env, capture_output=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"kg {' '.join(args[:1])} failed: {done.stderr.decode()[-2000:]}")
    return {"wall_s": round(wall, 1), "stdout": done.stdout.decode(), **json.loads(timings.read_text())}


def clocked_kg(timings: Path, args: list[str], *, bypass: bool) -> None:
    """``kg ARGS`` in this process, with the change-event functions clocked (their seconds go to ``timings``) or,
    with ``bypass``, replaced by ones that read, compare and record nothing."""
    import resource

    import kg.pipeline.update as module
    from kg.cli.main import main as kg_main

    spent: dict[str, float] = defaultdict(float)
    for name in EVENT_FUNCTIONS:
        function = BYPASSED[name] if bypass else getattr(module, name)
        setattr(module, name, _clocked(function, name, spent))
    started = time.perf_counter()
    sys.argv = ["kg", *args]
    try:
        kg_main()
    finally:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        timings.write_text(
            json.dumps(
                {
                    "in_process_s": round(time.perf_counter() - started, 1),
                    "events_s": round(sum(spent.values()), 2),
                    "events_s_by_function": {name: round(seconds, 2) for name, seconds in spent.items()},
                    "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),  # this process, not its children
                    "peak_rss_mib": peak_rss_mib(),
                }
            )
        )


def peak_rss_mib() -> int:
    """This process's peak RSS since it started its program: ``VmHWM`` (``ru_maxrss`` would keep the high-water mark
    of the parent it was forked from, the benchmark holding the whole registry)."""
    status = Path("/proc/self/status").read_text(encoding="utf-8")
    return round(int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) / 1024)


def _clocked(function: Callable[..., Any], name: str, spent: dict[str, float]) -> Callable[..., Any]:
    def clocked(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[name] += time.perf_counter() - started

    return clocked


def sizes(spec: str, store: Path, raw: Path) -> dict[str, Any]:
    """Quads in the store and in its changes graph, change events, and bytes on disk of the store and harvests."""
    with open_store(spec, read_only=True) as opened:
        quads = len(opened)
        row = opened.select(_COUNTS).rows[0]
    return {
        "quads": quads,
        "changes_quads": int(row["quads"] or 0),  # type: ignore[arg-type]
        "change_events": int(row["events"] or 0),  # type: ignore[arg-type]
        "store_mib": round(du(store) / 2**20, 1),
        "indexes_mib": round(sum(du(path) for path in store.parent.glob(f"{store.name}?*")) / 2**20, 1),
        "harvests_mib": round(du(raw) / 2**20, 1),
    }


def du(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())


def load() -> dict[str, Any]:
    return {"at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "loadavg": os.getloadavg()}


def report(results: dict[str, Any]) -> str:
    """The figures as Markdown."""
    build, updates, bypassed = results["fetch_build"], results["updates"], results["bypassed"]
    rows = []
    for before, after in itertools.pairwise([build, *updates]):
        growth = {key: after[key] - before[key] for key in ("quads", "changes_quads", "store_mib", "harvests_mib")}
        rows.append(
            f"| {after['cycle']} | {after['records_changed']:,} | {after['updated']:,} | {after['unchanged']:,} | "
            f"{after['wall_s']} | {after['cpu_s']} | {after['events_s']} "
            f"({100 * after['events_s'] / max(after['in_process_s'], 0.1):.0f}%) | {after['peak_rss_mib']:,} | "
            f"{after['change_events_reported']:,} | {after['change_events']:,} | {after['changes_quads']:,} | "
            f"+{growth['changes_quads']:,} | +{growth['quads']:,} | {after['store_mib']:,.0f} "
            f"({growth['store_mib']:+,.0f}) | {after['harvests_mib']:,.1f} ({growth['harvests_mib']:+,.1f}) |"
        )
    first = updates[0]
    loads = ", ".join(f"{entry['at'][11:19]} {entry['loadavg'][0]:.1f}" for entry in results["load"])
    machine = results["machine"]
    return "\n".join(
        [
            "# Cost of change events in `kg update`",
            "",
            f"Command: `{results['command']}` · {results['load'][0]['at'][:10]} · {machine['cpu_model']}, "
            f"{machine['usable_cpus']} CPUs (shared) · Python {machine['python']} · pyoxigraph "
            f"{machine['packages']['pyoxigraph']} · {shared.code_measured(machine)} · 1-minute load average at each "
            f"step: {loads}.",
            "",
            f"Store: {results['trials']:,} synthetic trials generated in {results['generate_s']} s, fetched from the "
            f"loopback replay server and built by `kg fetch --build` in {build['wall_s']} s (peak RSS of the main "
            f"process {build['peak_rss_mib']:,} MiB): {build['quads']:,} quads, store {build['store_mib']:,.0f} MiB, "
            f"saved indexes {build['indexes_mib']:,.1f} MiB, harvest {build['harvests_mib']:,.1f} MiB.",
            "",
            "| update | records changed | updated | unchanged | wall s | CPU s | events code s (share) | peak RSS MiB "
            "| events reported | events in store | changes-graph quads | changes-graph growth | store quads growth "
            "| store MiB (growth) | harvests MiB (growth) |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            *rows,
            "",
            f"Update 1 side by side on a copy of the same store, the events code bypassed (no old facts read, no "
            f"events made or recorded): {bypassed['wall_s']} s wall, {bypassed['cpu_s']} s CPU, peak RSS "
            f"{bypassed['peak_rss_mib']:,} MiB, against {first['wall_s']} s, {first['cpu_s']} s and "
            f"{first['peak_rss_mib']:,} MiB with events (**{first['wall_s'] / max(bypassed['wall_s'], 0.1):.2f}x** "
            f"wall, {first['cpu_s'] / max(bypassed['cpu_s'], 0.1):.2f}x CPU).",
            "",
        ]
    )


if __name__ == "__main__":
    main()
