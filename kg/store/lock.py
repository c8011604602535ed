"""One writer per on-disk store: ``kg build``, ``kg mesh load`` and ``kg update`` hold ``.NAME.lock`` beside the
store (``NAME``, its folder's name) while they write, so two never delete each other's staging folder or interleave
their changes.

A second writer refuses at once, naming the first (pid, command, since when), rather than wait: a build takes minutes
to hours, and a user who started two by mistake wants to know now. The lock is an ``flock`` on the file, so it is
released by the kernel when its holder exits, even killed. The file itself stays, hidden: removing it on release
would let two writers lock two different files of the same name. Its content is only a label.

A remote ``sparql:URL`` store has no folder beside which to lock, so its writers lock a file named by the URL in the
data home (``$KG_HOME/locks``): two writers of one endpoint on this machine (one data home) exclude each other. Writers
on other machines are not seen; the endpoint itself has no lock to offer in SPARQL 1.1.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

from kg.config import kg_home
from kg.store.base import StoreError

__all__ = ["StoreBusy", "WriterLock", "endpoint_lock"]


class StoreBusy(StoreError):
    """Another kg process is writing the same store."""


class WriterLock:
    """The writer lock of the store at ``store``, taken on creation; :meth:`release` (or process exit) frees it.
    ``name``: the store as messages name it (default: its path)."""

    def __init__(self, store: Path, *, name: str | None = None) -> None:
        self.path = store.with_name(f".{store.name}.lock")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_label(fd)
            os.close(fd)
            raise StoreBusy(
                f"another kg process is writing the store at {name or store} ({holder}): wait for it to finish, "
                "or stop it; a second build, MeSH load or update cannot run beside it"
            ) from None
        label = {"pid": os.getpid(), "command": _command(), "since": datetime.now(timezone.utc).isoformat()}
        try:
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps(label).encode("utf-8"))
        except OSError:
            os.close(fd)
            raise
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor drops the flock
            self._fd = None


def endpoint_lock(url: str) -> WriterLock:
    """The writer lock of the remote store at ``url``, in the data home."""
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
    try:
        return WriterLock(kg_home() / "locks" / f"sparql-{digest}", name=url)
    except OSError as error:
        raise StoreError(f"cannot lock the store at {url} in {kg_home()}: {error.strerror or error}") from None


def _command() -> str:
    """This process's command line as typed: ``kg build x.json`` (also when run as ``python -m kg``)."""
    program, *args = sys.argv or [""]
    return " ".join(["kg" if Path(program).name in ("kg", "__main__.py") else program, *args])


def _read_label(fd: int) -> str:
    """Who holds the lock, as the holder wrote it (``pid 123, kg build x.json, since 2026-…``)."""
    try:
        label = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"pid {label['pid']}, `{label['command']}`, since {label['since'][:19]} UTC"
    except (ValueError, KeyError, TypeError):
        return "a process that has not yet said who it is"
