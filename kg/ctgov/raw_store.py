"""The raw store: each harvest of the registry in its own folder, written before any mapping, resumable.

A folder under ``$KG_HOME/harvests/`` (or ``--raw DIR``) holds::

    harvest-manifest.json     query, request parameters, API, times, counts, data version, status
    harvest-checkpoint.json   the token of the next page and the counts so far (what ``--resume`` continues from)
    harvest-ids.txt           "page<TAB>NCT id" per record kept: de-duplication survives a restart
    pages/page-000001.json.gz the API's page 1 as received (only its records not seen before, if any were)
    ctg-studies.json.zip      a bulk harvest's download instead of pages

Per page, the page file is written (atomically), then its ids appended, then the checkpoint replaced: after a
``kill -9`` at any point, a page file or ids newer than the checkpoint are dropped and that page is fetched again, so
the final set is what a clean run yields, each record once. ``kg build FOLDER`` reads the pages (or the zip).
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import shlex
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final

from kg._version import __version__
from kg.atomic import write_atomic
from kg.ctgov.api import PAGE_SIZE, ApiError, CtgovClient, StudyQuery
from kg.ctgov.files import HARVEST_FILES
from kg.ctgov.mapping import RawStudy, nct_id_of, study_last_update
from kg.errors import KgError

__all__ = [
    "BULK_FILE",
    "CHECKPOINT",
    "MANIFEST",
    "HarvestError",
    "HarvestReport",
    "annotate",
    "find_harvest",
    "harvest_root",
    "harvests",
    "iter_page_records",
    "previous_record",
    "read_manifest",
    "resume_hint",
    "run_bulk",
    "run_harvest",
    "start_harvest",
]

logger = logging.getLogger(__name__)

MANIFEST: Final = "harvest-manifest.json"
CHECKPOINT: Final = "harvest-checkpoint.json"
IDS: Final = "harvest-ids.txt"
PAGES: Final = "pages"
BULK_FILE: Final = "ctg-studies.json.zip"
FORMAT: Final = "kg-harvest/1"
#: Fast compression: on a page of 1,000 real records level 6 took three times as long for a quarter fewer bytes.
_GZIP_LEVEL: Final = 1
assert {MANIFEST, CHECKPOINT} == HARVEST_FILES  # kg build skips exactly these
_EMPTY_CHECKPOINT: Final = {
    "next_token": None,
    "pages": 0,
    "records": 0,
    "duplicates": 0,
    "reported_total": None,
    "done": False,
}

#: Progress: records kept so far and the total the API announced (None until known).
OnProgress = Callable[[int, int | None], None]


class HarvestError(KgError, RuntimeError):
    """A harvest stopped; the message says why and how to continue it."""


@dataclass(frozen=True)
class HarvestReport:
    """What one harvest holds (read back from its manifest)."""

    folder: Path
    kind: str
    complete: bool
    pages: int
    records: int
    duplicates: int
    reported_total: int | None
    data_version: str | None

    @classmethod
    def of(cls, folder: Path) -> HarvestReport:
        manifest = read_manifest(folder)
        counts = manifest.get("counts", {})
        return cls(
            folder,
            manifest["kind"],
            manifest["status"] == "complete",
            counts.get("pages", 0),
            counts.get("records", 0),
            counts.get("duplicates", 0),
            counts.get("reported_total"),
            manifest.get("data_version"),
        )


def harvest_root(raw: Path | None = None) -> Path:
    """Where harvest folders live: ``raw``, else ``$KG_HOME/harvests``."""
    from kg.config import kg_home

    return Path(raw).expanduser() if raw is not None else kg_home() / "harvests"


def harvests(root: Path) -> list[Path]:
    """The harvest folders under ``root``, oldest first (names start with their UTC start time)."""
    if not root.is_dir():
        return []
    return sorted(path for path in root.iterdir() if (path / MANIFEST).is_file())


def find_harvest(raw: Path | None, *, complete: bool, kinds: tuple[str, ...] | None = None) -> Path | None:
    """The latest harvest that is (or is not yet) complete; ``raw`` may also name a harvest folder itself."""
    named = raw is not None and (Path(raw) / MANIFEST).is_file()
    candidates = [Path(raw)] if named and raw is not None else harvests(harvest_root(raw))
    for folder in reversed(candidates):
        manifest = read_manifest(folder)
        if (manifest["status"] == "complete") == complete and (kinds is None or manifest["kind"] in kinds):
            return folder
    return None


def read_manifest(folder: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise HarvestError(f"cannot read the manifest of {folder}: {error}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise HarvestError(f"{folder / MANIFEST} is not a kg harvest manifest")
    return manifest


def start_harvest(
    query: StudyQuery,
    client: CtgovClient,
    *,
    root: Path,
    kind: str = "pages",
    page_size: int = PAGE_SIZE,
    limit: int | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """A new harvest folder with its manifest and an empty checkpoint; :func:`run_harvest` fills it."""
    started = datetime.now(timezone.utc)
    root.mkdir(parents=True, exist_ok=True)
    stem = f"{started:%Y%m%dT%H%M%S}Z-{kind}"
    folder = root / stem
    number = 1
    while True:
        try:
            folder.mkdir()
            break
        except FileExistsError:
            number += 1
            folder = root / f"{stem}-{number}"
    manifest = {
        "format": FORMAT,
        "kind": kind,
        "status": "running",
        "query": query.to_json(),
        "params": query.params(),
        "base_url": client.base_url,
        "page_size": page_size,
        "limit": limit,
        "started": started.isoformat(timespec="seconds"),
        "finished": None,
        "data_version": client.data_version(),
        "counts": {"pages": 0, "records": 0, "duplicates": 0, "reported_total": None},
        "tool": f"kg {__version__}",
        **(extra or {}),
    }
    _write_json(folder / CHECKPOINT, _EMPTY_CHECKPOINT)
    _write_json(folder / MANIFEST, manifest)
    return folder


def run_harvest(
    folder: Path, client: CtgovClient, *, on_progress: OnProgress | None = None, resume_command: str | None = None
) -> HarvestReport:
    """Fetch the pages of a harvest from its checkpoint on (a new one, or one a crash or kill interrupted);
    ``resume_command`` is what the error message tells users to run (default: ``kg fetch --resume``)."""
    manifest = read_manifest(folder)
    checkpoint = _read_checkpoint(folder)
    seen = _recover(folder, checkpoint["pages"])
    limit = manifest.get("limit")
    if on_progress is not None:
        on_progress(len(seen), checkpoint["reported_total"])
    pages = client.iter_pages(
        manifest["params"],
        page_size=manifest["page_size"],
        token=checkpoint["next_token"],
        first=checkpoint["pages"] + 1,
    )
    try:
        # A page is saved (compressed, written, checkpointed) by one writer thread, in order, while the next is
        # fetched: zlib and file writes release the interpreter lock, so they overlap the budget's pause.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kg-harvest-writer") as writer:
            saving: Future[None] | None = None
            while not checkpoint["done"] and (limit is None or len(seen) < limit):
                page = next(pages, None)
                if page is None:
                    break
                fresh, duplicates = _new_records(page.studies, seen, limit)
                checkpoint.update(
                    next_token=page.next_token,
                    pages=page.number,
                    records=len(seen),
                    duplicates=checkpoint["duplicates"] + duplicates,
                    reported_total=checkpoint["reported_total"] if page.total is None else page.total,
                )
                if saving is not None:
                    saving.result()  # at most one page in memory beside the one being fetched
                body = page.body if len(fresh) == len(page.studies) else None
                saving = writer.submit(_save_page, folder, page.number, fresh, body, dict(checkpoint))
                if on_progress is not None:
                    on_progress(len(seen), checkpoint["reported_total"])
            if saving is not None:
                saving.result()
    except ApiError as error:
        raise HarvestError(
            f"{error}. The {len(seen):,} records fetched before it are kept in {folder}; "
            f"continue with: {resume_command or resume_hint(folder)}"
        ) from None
    checkpoint["done"] = True
    _write_json(folder / CHECKPOINT, checkpoint)
    manifest["counts"].update({key: checkpoint[key] for key in ("pages", "records", "duplicates", "reported_total")})
    return _finish(folder, manifest)


def resume_hint(folder: Path) -> str:
    """The command that continues an unfinished harvest."""
    return f"kg fetch --resume --raw {shlex.quote(str(folder))}"


def run_bulk(
    folder: Path, client: CtgovClient, *, on_bytes: Callable[[int, int | None], None] | None = None
) -> HarvestReport:
    """Download the registry's zip into a bulk harvest folder (resuming a partial download)."""
    manifest = read_manifest(folder)
    if manifest["status"] == "complete" and (folder / BULK_FILE).is_file():
        return HarvestReport.of(folder)  # already downloaded
    try:
        archive = client.download(folder / BULK_FILE, on_bytes=on_bytes)
    except ApiError as error:
        raise HarvestError(
            f"{error}; continue with: kg fetch --bulk --resume --raw {shlex.quote(str(folder))}"
        ) from None
    with zipfile.ZipFile(archive) as opened:
        members = [name for name in opened.namelist() if name.lower().endswith(".json")]
    manifest["counts"].update(records=len(members), bytes=archive.stat().st_size)
    return _finish(folder, manifest)


def annotate(folder: Path, **fields: Any) -> None:
    """Add fields to a harvest's manifest (``kg update`` records the changes it made)."""
    manifest = read_manifest(folder)
    manifest.update(fields)
    _write_json(folder / MANIFEST, manifest)


def iter_page_records(folder: Path) -> Iterator[Any]:
    """The records of a page harvest, in page order (each once)."""
    for path in sorted((folder / PAGES).glob("page-*.json.gz")):
        yield from json.loads(gzip.decompress(path.read_bytes()))["studies"]


def previous_record(raw: Path | None, nct_id: str, last_update_posted: str) -> RawStudy | None:
    """The record of ``nct_id`` as posted on ``last_update_posted``, from the harvests under ``raw`` (newest first):
    every harvest keeps what it fetched, so a version an update replaced stays retrievable without a copy."""
    for folder in reversed(harvests(harvest_root(raw))):
        for study in _records_of(folder, nct_id):
            if study_last_update(study) == last_update_posted:
                return study
    return None


def _records_of(folder: Path, nct_id: str) -> Iterator[RawStudy]:
    """The records of ``nct_id`` in one harvest: its page (found through the ids file) or its zip member."""
    archive = folder / BULK_FILE
    if archive.is_file():
        with zipfile.ZipFile(archive) as opened:
            if f"{nct_id}.json" in opened.namelist():
                yield json.loads(opened.read(f"{nct_id}.json"))
        return
    if not (folder / IDS).is_file():
        return
    for line in (folder / IDS).read_text(encoding="utf-8").splitlines():
        number, _, listed = line.partition("\t")
        if listed == nct_id and number.isdigit():
            page = folder / PAGES / f"page-{int(number):06d}.json.gz"
            studies = json.loads(gzip.decompress(page.read_bytes()))["studies"] if page.is_file() else []
            yield from (study for study in studies if nct_id_of(study) == nct_id)


def _finish(folder: Path, manifest: dict[str, Any]) -> HarvestReport:
    manifest.update(status="complete", finished=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    _write_json(folder / MANIFEST, manifest)
    return HarvestReport.of(folder)


def _new_records(studies: list[Any], seen: set[str], limit: int | None) -> tuple[list[Any], int]:
    """The records not seen before (each NCT id once, the first copy kept), up to ``limit`` in all."""
    fresh, duplicates = [], 0
    for study in studies:
        if limit is not None and len(seen) >= limit:
            break
        nct_id = nct_id_of(study)
        if nct_id is not None:
            if nct_id in seen:
                duplicates += 1
                continue
            seen.add(nct_id)
        fresh.append(study)  # a record without an id is kept: the build reports it
    return fresh, duplicates


def _save_page(folder: Path, number: int, studies: list[Any], body: bytes | None, checkpoint: dict[str, Any]) -> None:
    """The page as the API sent it (``body``), or just its new records when some were seen before; then its ids;
    then the checkpoint that vouches for both."""
    data = body or json.dumps({"studies": studies}, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    (folder / PAGES).mkdir(exist_ok=True)
    write_atomic(folder / PAGES / f"page-{number:06d}.json.gz", gzip.compress(data, _GZIP_LEVEL, mtime=0), durable=True)
    ids = "".join(f"{number}\t{nct_id}\n" for study in studies if (nct_id := nct_id_of(study)))
    with (folder / IDS).open("a", encoding="utf-8") as output:
        output.write(ids)
        output.flush()
        os.fsync(output.fileno())
    _write_json(folder / CHECKPOINT, checkpoint)


def _recover(folder: Path, pages: int) -> set[str]:
    """The ids of the pages the checkpoint vouches for; a page or ids written after it (a kill between the
    steps) are dropped, so that page is fetched again."""
    for path in (folder / PAGES).glob("page-*.json.gz"):
        if int(path.name[5:11]) > pages:
            path.unlink()
    seen: set[str] = set()
    kept: list[str] = []
    if (folder / IDS).exists():
        for line in (folder / IDS).read_text(encoding="utf-8").splitlines():
            number, tab, nct_id = line.partition("\t")
            if tab and number.isdigit() and int(number) <= pages and nct_id:  # a torn last line fails this
                seen.add(nct_id)
                kept.append(line + "\n")
        write_atomic(folder / IDS, "".join(kept), durable=True)
    return seen


def _read_checkpoint(folder: Path) -> dict[str, Any]:
    try:
        checkpoint = json.loads((folder / CHECKPOINT).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise HarvestError(f"cannot read the checkpoint of {folder}: {error}") from None
    if not isinstance(checkpoint, dict):
        raise HarvestError(f"{folder / CHECKPOINT} is not a checkpoint")
    return {**_EMPTY_CHECKPOINT, **checkpoint}


def _write_json(path: Path, value: Any) -> None:
    write_atomic(path, json.dumps(value, indent=2, ensure_ascii=False) + "\n", durable=True)
