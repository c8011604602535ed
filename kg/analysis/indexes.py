"""The registry of indexes saved beside a store, and their refresh after the pipeline writes one.

The index modules define their :class:`~kg.analysis.saved_index.SavedIndex` and never import this registry, so
there is no import circle: the pipeline imports the registry, the registry imports the indexes.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final

from kg.analysis.concept_facts import CONCEPT_FACTS_INDEX
from kg.analysis.health import HEALTH_PEERS_INDEX
from kg.analysis.landscape_index import LANDSCAPE_INDEX
from kg.analysis.related import RELATED_INDEX
from kg.analysis.saved_index import SavedIndex
from kg.analysis.search_index import SEARCH_INDEX
from kg.analysis.trial_facts import TRIAL_FACTS_INDEX
from kg.config import default_spec
from kg.errors import KgError
from kg.graphs import BUILD
from kg.store import Store, open_store
from kg.vocab import SPARQL_PROLOGUE

__all__ = [
    "PARALLEL_FROM",
    "SAVED_INDEXES",
    "IndexRefreshFailed",
    "process_jobs",
    "refresh_in",
    "refresh_saved_indexes",
]

logger = logging.getLogger(__name__)

#: Every index saved beside an on-disk store (``PATH.<name>.pickle``), the longest to build first (600k trials:
#: related 1,483 s, search 700, landscape 572, trial facts 507, health peers 2), so that processes refreshing them
#: side by side do not leave the longest for last; trial facts go before search, as the landscape table and the
#: health peers that read it (``needs``) go together, and the concept facts (MeSH-sized, seconds) last.
SAVED_INDEXES: Final[tuple[SavedIndex[Any], ...]] = (
    RELATED_INDEX,
    TRIAL_FACTS_INDEX,
    SEARCH_INDEX,
    LANDSCAPE_INDEX,
    HEALTH_PEERS_INDEX,
    CONCEPT_FACTS_INDEX,
)
#: Trials from which an on-disk store's indexes are rebuilt side by side, one process per core: below this,
#: starting an interpreter for each (about a second) costs more than the second core saves.
PARALLEL_FROM: Final = 20_000
_TRIAL_COUNT: Final = SPARQL_PROLOGUE + f"SELECT ?n WHERE {{ {BUILD} kg:trialCount ?n }}"
#: Where this ``kg`` is imported from: an index process runs the same code, even from a checkout on ``PYTHONPATH``.
_PACKAGE_ROOT: Final = str(Path(__file__).resolve().parents[2])


class IndexRefreshFailed(KgError, RuntimeError):
    """An index process failed: the store is built and usable, its index is rebuilt on first use."""


def refresh_saved_indexes(
    target: str | Store | None, *, processes: int | None = None, saved_only: bool = False
) -> dict[str, float]:
    """Rebuild the saved indexes of a store, by its spec (``None`` for the default) after a build or ``kg mesh load``,
    or here on an open store after a MeSH load into it (a build's staging store: it has none saved yet). The seconds
    each index took, by name. An open store's are rebuilt only where one was saved before, a spec's all of them, or
    with ``saved_only`` those saved before.

    A store spec's indexes are rebuilt in ``processes`` processes side by side (default: one per core when the store
    holds :data:`PARALLEL_FROM` trials or more, else here, one after another)."""
    if isinstance(target, Store):
        timed = ((kind.name, _timed(kind, target, only_if_saved=True)) for kind in SAVED_INDEXES)
        return {name: seconds for name, seconds in timed if seconds is not None}
    spec = target or default_spec()
    kinds = [
        kind for kind in SAVED_INDEXES if (path := kind.path(spec)) is not None and (path.is_file() or not saved_only)
    ]
    if not kinds:
        return {}
    with open_store(spec, read_only=True) as store:
        count = min(len(kinds), processes if processes is not None else _processes_for(store))
        if count <= 1:
            return refresh_in(store, [kind.name for kind in kinds])
    return _in_processes(spec, kinds, count)


def refresh_in(store: Store, names: list[str]) -> dict[str, float]:
    """Rebuild the named indexes beside a store opened read-only, in order (a later one may read an earlier one's
    saved file, ``SavedIndex.needs``): here, or in an index process. A later build may have swapped meanwhile: a
    reader's handle never overwrites its index. The seconds each took."""
    kinds = {kind.name: kind for kind in SAVED_INDEXES}
    return {name: _timed(kinds[name], store, only_if_saved=False, unless_superseded=True) or 0.0 for name in names}


def _timed(kind: SavedIndex[Any], store: Store, **options: bool) -> float | None:
    """Seconds ``kind.refresh(store, **options)`` took; ``None`` when it had nothing to rebuild."""
    clock = time.perf_counter()
    refreshed = kind.refresh(store, **options)
    return time.perf_counter() - clock if refreshed else None


def _processes_for(store: Store) -> int:
    """One process per usable core for a store of :data:`PARALLEL_FROM` trials or more (as its build counted them)."""
    rows = store.select(_TRIAL_COUNT).rows
    trials = int(rows[0]["n"] or 0) if rows else 0
    return len(os.sched_getaffinity(0)) if trials >= PARALLEL_FROM else 1


def _in_processes(spec: str, kinds: list[SavedIndex[Any]], count: int) -> dict[str, float]:
    """Each index in a process of its own (:mod:`kg.analysis.index_process`), ``count`` at a time; one that
    ``needs`` another in that one's process, after it (see :func:`process_jobs`)."""
    _return_freed_memory()
    with ThreadPoolExecutor(count, thread_name_prefix="index-process") as pool:
        found = list(pool.map(lambda names: _run_process(spec, names), process_jobs(kinds)))
    seconds = {name: taken for job in found for name, taken in job.items()}
    return {kind.name: seconds[kind.name] for kind in kinds}


def process_jobs(kinds: list[SavedIndex[Any]]) -> list[list[str]]:
    """The index names each process rebuilds, in order: an index that reads another one being rebuilt (``needs``)
    goes after it in its process. Rebuilt on its own, the health peers index, which reads the landscape fact table,
    found the previous build's table out of date and built a copy of its own: ten minutes at 600k trials."""
    jobs: list[list[str]] = []
    for kind in kinds:
        host = next((job for job in jobs if set(kind.needs) & set(job)), None)
        if host is None:
            jobs.append([kind.name])
        else:
            host.append(kind.name)
    return jobs


def _run_process(spec: str, names: list[str]) -> dict[str, float]:
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, (_PACKAGE_ROOT, environment.get("PYTHONPATH"))))
    done = subprocess.run(
        [sys.executable, "-m", "kg.analysis.index_process", spec, *names],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    said = done.stderr.strip()
    named = " and ".join(names)
    if done.returncode != 0:
        last = "\n".join(said.splitlines()[-5:]) or "no message"
        raise IndexRefreshFailed(
            f"rebuilding the {named} index beside {spec} failed (exit code {done.returncode}); the store is built "
            f"and the index will be rebuilt on first use:\n{last}"
        )
    if said:
        logger.warning("%s index: %s", named, said)
    seconds: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    return seconds


def _return_freed_memory() -> None:
    """Hand the memory the build freed back to the system before the index processes start. glibc keeps a freed
    heap for reuse: an index built in this process reuses it, but one built in another process adds to it."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: nothing to do
        return
    libc.malloc_trim(0)
