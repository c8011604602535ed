"""What each stage of ``kg build``'s record loading costs when it runs alone, and the least time those costs allow.

A build reads and maps records in one process while Oxigraph's bulk loader fills the store in a thread beside it
(``kg.pipeline.build``): on two cores the two overlap, so ``scale.py`` can only report their sum. Here the same code
runs one stage at a time on one synthetic corpus, each timed in CPU seconds (every thread of this process counted):

1. read: the records parsed from the corpus files (``kg.ctgov.files.iter_records``);
2. map: each chunk mapped to N-Quads as the build's mapping does (``_map_chunk``), then batched as its loader
   batches them (``_Loader``: shared statements once, ``_FLUSH_BYTES`` a batch), the batches kept in a file;
3. load: every batch through the bulk loader into a fresh on-disk store (``OxigraphStore.load_nquads``);
4. optimize: the compaction ``kg build`` runs before it swaps the store in.

From the CPU per record, the least wall time of reading, mapping and loading a registry of ``--project`` trials on
the machine's cores, were they kept busy all the time and were the costs per record not to grow with the store
(they do: see ``scale.md``). Against the issue's target of a whole build in 15 minutes.

    python benchmarks/build_floor.py [--size 100k] [--corpus SIZE] [--project 600k] [--scratch DIR] [--out DIR]

Writes ``OUT/build_floor.json`` and ``OUT/build_floor.md``. The corpus is ``scale.py``'s (``kg synth``, every record
marked synthetic), reused from the scratch folder when it is there.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO, Final

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as shared  # benchmarks/run.py: machine facts, sizes
import scale  # benchmarks/scale.py: the corpus

from kg.ctgov.files import iter_records
from kg.pipeline.build import _CHUNK, _Loader, _map_chunk, _Mapped
from kg.store.oxigraph import OxigraphStore

#: The issue's target for a whole build (records, MeSH, indexes, compaction) of 600,000 trials.
TARGET_MINUTES: Final = 15


class _Batches:
    """Where the build's loader would send its batches: a file, each batch's length remembered, so that loading
    them is timed on its own afterwards."""

    loads_in_background = False

    def __init__(self, output: BinaryIO) -> None:
        self.output = output
        self.sizes: list[int] = []

    def load_nquads(self, data: bytes) -> None:
        self.output.write(data)
        self.sizes.append(len(data))


class _Clock:
    """CPU and wall seconds, summed over the spans it timed."""

    def __init__(self) -> None:
        self.cpu = self.wall = 0.0

    def __enter__(self) -> _Clock:
        self._started = shared.clocks()
        return self

    def __exit__(self, *exc: object) -> None:
        wall, cpu = shared.since(self._started)
        self.wall += wall
        self.cpu += cpu


def _chunks(corpus: Path, size: int, reading: _Clock) -> Iterator[list[Any]]:
    """The corpus's first ``size`` records, ``_CHUNK`` at a time, the reading timed apart from the rest."""
    records = iter_records([corpus])
    left = size
    while left:
        with reading:
            chunk = [(item.study, item.where) for item in itertools.islice(records, min(_CHUNK, left))]
        if not chunk:
            return
        left -= len(chunk)
        yield chunk


def measure(corpus: Path, size: int, scratch: Path) -> dict[str, Any]:
    reading, mapping, loading, optimizing = _Clock(), _Clock(), _Clock(), _Clock()
    records = quads = 0
    with tempfile.TemporaryDirectory(dir=scratch, prefix="build-floor-") as work:
        batches_path, store_path = Path(work) / "batches.nq", Path(work) / "store"
        with batches_path.open("wb") as output:
            sink = _Batches(output)
            with _Loader(sink) as loader:  # type: ignore[arg-type]  # a store as far as the loader looks
                for chunk in _chunks(corpus, size, reading):
                    with mapping:
                        for outcome in _map_chunk(chunk, True):
                            if isinstance(outcome, _Mapped):
                                records += 1
                                loader.add(outcome)
        shared.log(f"read and mapped {records:,} records: {reading.cpu + mapping.cpu:.0f} CPU s")
        nquads_bytes = batches_path.stat().st_size
        store = OxigraphStore(store_path)
        try:
            with batches_path.open("rb") as batches:
                for length in sink.sizes:
                    data = batches.read(length)
                    quads += data.count(b"\n")
                    with loading:
                        store.load_nquads(data)
            shared.log(f"loaded {quads:,} quads: {loading.cpu:.0f} CPU s")
            with optimizing:
                store.optimize()
        finally:
            store.close()
        store_mib = shared.directory_mib(store_path)
    stages = {"read": reading, "map": mapping, "load": loading, "optimize": optimizing}
    return {
        "records": records,
        "quads": quads,
        "nquads_mib": round(nquads_bytes / 2**20, 1),
        "batches": len(sink.sizes),
        "store_mib": round(store_mib, 1),
        "stages": {name: {"cpu_seconds": clock.cpu, "wall_seconds": clock.wall} for name, clock in stages.items()},
    }


def floor(measured: dict[str, Any], project: int, cores: int) -> dict[str, Any]:
    """CPU milliseconds per record of each stage, and the least wall time of reading, mapping and loading
    ``project`` records on ``cores`` cores kept busy (the loader's threads and the mapping share them)."""
    per_record = {name: 1000 * stage["cpu_seconds"] / measured["records"] for name, stage in measured["stages"].items()}
    read_map_load = per_record["read"] + per_record["map"] + per_record["load"]
    minutes = project * read_map_load / cores / 1000 / 60
    return {
        "project": project,
        "cores": cores,
        "cpu_ms_per_record": per_record,
        "quads_per_record": measured["quads"] / measured["records"],
        "load_quads_per_cpu_second": measured["quads"] / measured["stages"]["load"]["cpu_seconds"],
        "read_map_load_cpu_ms_per_record": read_map_load,
        "least_read_map_load_minutes": minutes,
        "target_minutes": TARGET_MINUTES,
    }


def report(results: dict[str, Any]) -> str:
    measured, least = results["measured"], results["floor"]
    machine = results["machine"]
    per_record = least["cpu_ms_per_record"]
    lines = [
        "# The least time `kg build` needs to read, map and load a registry",
        "",
        f"{results['date']} · {machine['cpu_model']} · {machine['usable_cpus']} CPUs · "
        f"{shared.code_measured(machine)} · load average "
        f"{machine['load_average_start'][0]:.1f} → {machine['load_average_end'][0]:.1f}",
        "",
        f"Command: `{results['command']}`. Input: the first {measured['records']:,} records of `scale.py`'s synthetic "
        f"registry ({results['corpus']}; every record marked synthetic). Each stage ran alone, one after the other, "
        "in one process; CPU seconds count every thread. See the module docstring of `benchmarks/build_floor.py`.",
        "",
        "| stage | CPU s | wall s | CPU ms a record |",
        "|---|---:|---:|---:|",
    ]
    for name, stage in measured["stages"].items():
        lines.append(f"| {name} | {stage['cpu_seconds']:.1f} | {stage['wall_seconds']:.1f} | {per_record[name]:.2f} |")
    lines += [
        "",
        f"- {least['quads_per_record']:.0f} quads a record, "
        f"{measured['nquads_mib'] * 2**20 / measured['records'] / 1000:.1f} kB of N-Quads a record "
        f"({measured['batches']} batches); the loader took "
        f"{least['load_quads_per_cpu_second'] / 1000:.0f}k quads a CPU second; the store is "
        f"{measured['store_mib']:,.0f} MiB.",
        f"- Reading, mapping and loading cost **{least['read_map_load_cpu_ms_per_record']:.2f} CPU ms a record**. "
        f"At {least['project']:,} trials on {least['cores']} cores kept busy all the time, that is at least "
        f"**{least['least_read_map_load_minutes']:.1f} min** before compaction, MeSH and the saved indexes "
        f"(target for the whole build: {least['target_minutes']} min).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="100k", help="records to measure, e.g. 100k (the default)")
    parser.add_argument("--corpus", help="the scale.py corpus to take them from, by its size (default: --size)")
    parser.add_argument("--project", default="600k", help="registry size to project to (default 600k)")
    parser.add_argument("--scratch", type=Path, default=Path(tempfile.gettempdir()) / "kg-scale")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args()
    size, project = scale.tier(args.size), scale.tier(args.project)
    corpus_size = scale.tier(args.corpus or args.size)
    args.scratch.mkdir(parents=True, exist_ok=True)
    corpus, _ = scale.corpus(corpus_size, args.scratch)
    machine = shared.machine()
    date = datetime.now(timezone.utc).isoformat(timespec="seconds")
    measured = measure(corpus, size, args.scratch)
    machine["load_average_end"] = os.getloadavg()
    results = {
        "date": date,
        "machine": machine,
        "command": "python benchmarks/build_floor.py " + " ".join(sys.argv[1:]),
        "corpus": corpus.name,
        "measured": measured,
        "floor": floor(measured, project, machine["usable_cpus"]),
    }
    markdown = report(results)
    shared.write_results(args.out, "build_floor", results, markdown)
    print(markdown)


if __name__ == "__main__":
    main()
