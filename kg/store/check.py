"""A look at an on-disk Oxigraph folder before it is opened, because RocksDB does not always fail cleanly on damage.

Some damage RocksDB reports as an error (a truncated file, a garbled ``CURRENT`` or ``MANIFEST``), but an ``.sst`` file
overwritten in place can pass its checks on open and make a later query allocate without bound (a 400-quad store
took 7.5 GB in 20 s, then aborted, on ``kg stats``). So every writer leaves a *seal* inside the folder when it closes
the store: the name, size and modification time of each table (``*.sst``), files RocksDB never changes once written.
A reader compares the folder with it first, a ``stat`` per file, and refuses a store whose tables changed behind
kg's back. The other files are RocksDB's to check: it reports a damaged ``CURRENT`` or ``MANIFEST`` and a missing
table itself (one line too, see :class:`~kg.store.oxigraph.OxigraphStore`), and rewrites its ``MANIFEST`` when the
last handle on a store goes, which may be after the seal. Only the tables RocksDB lists as live are sealed: a flush
or compaction still running in the background when the writer closes writes its table in place, under its final
name, and would be sealed half-written. A writer removes the seal before it writes, so a writer that crashed
leaves a store without one, which is opened as before (so are stores from before seals); the first reader to close
it while no writer holds it seals it as it found it (trust on first use), so damage after that is caught. Copy a
store with ``cp -a`` or ``rsync -a``: a copy that does not keep modification times is refused.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Collection
from pathlib import Path
from typing import Final

from kg.store.base import StoreError

__all__ = ["DamagedStore", "check_folder", "is_sealed", "rebuild_hint", "seal", "unseal"]

_SEAL: Final = "kg-seal.json"


class DamagedStore(StoreError):
    """The folder is not an intact Oxigraph store."""


def rebuild_hint(path: Path) -> str:
    return f"rebuild it: kg build STUDY_FILES... --store oxigraph:{path} (with --mesh MESH_FILES... if it had MeSH)"


def check_folder(path: Path, *, writing: bool) -> None:
    """Raise :class:`DamagedStore` unless ``path`` looks like an intact store (``writing``: an empty folder too)."""
    if not path.is_dir():
        raise DamagedStore(f"{path} is a file, not an Oxigraph store folder: {rebuild_hint(path)}")
    if not (path / "CURRENT").is_file():
        if writing and not any(path.iterdir()):
            return
        raise DamagedStore(f"{path} is not an Oxigraph store (no CURRENT file): {rebuild_hint(path)}")
    try:
        sealed: dict[str, list[int]] = json.loads((path / _SEAL).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return
    except (OSError, ValueError) as error:
        unreadable = f"its {_SEAL} is unreadable: {error}"
        raise DamagedStore(f"the store at {path} is damaged ({unreadable}): {rebuild_hint(path)}") from None
    now = _tables(path)
    for name, stamp in sealed.items():
        if name in now and now[name] != stamp:  # a table gone may have been compacted away after the seal
            change = "changed size or time"
            raise DamagedStore(
                f"the store at {path} is damaged: its table {name} {change} since kg wrote it: {rebuild_hint(path)}"
            )


def seal(path: Path, live: Collection[str] | None = None) -> None:
    """Record the folder's tables as they are now, after the store was closed by a writer; only those named in
    ``live`` (RocksDB's current tables, complete and never changed again) if given."""
    tables = _tables(path)
    if live is not None:
        tables = {name: stamp for name, stamp in tables.items() if name in live}
    (path / _SEAL).write_text(json.dumps(tables, sort_keys=True), encoding="utf-8")


def is_sealed(path: Path) -> bool:
    return (path / _SEAL).is_file()


def unseal(path: Path) -> None:
    """Before writing: a writer that does not finish must not leave a seal its changes contradict."""
    (path / _SEAL).unlink(missing_ok=True)


def _tables(path: Path) -> dict[str, list[int]]:
    """Each table's size and modification time; one deleted meanwhile (compacted away) is left out."""
    tables: dict[str, list[int]] = {}
    for table in path.glob("*.sst"):
        with contextlib.suppress(FileNotFoundError):
            status = table.stat()
            tables[table.name] = [status.st_size, status.st_mtime_ns]
    return tables
