"""Files written whole or not at all: written beside the target and renamed over it, so a reader (or the next
run after a crash or Ctrl-C) sees the old file or the new one, never half of one."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

__all__ = ["WriteFailed", "ensure_folder", "removed_on_failure", "replacing", "write_atomic"]


class WriteFailed(OSError):
    """A file or folder could not be written (its folder is a file or read-only, the disk is full). The message
    names the path the caller asked for, not the partial file beside it; the command line prints it as one line."""

    @classmethod
    def at(cls, path: Path, error: OSError) -> WriteFailed:
        # mkdir through a regular file fails with one of these two, whose own words ("File exists") mislead
        through_file = isinstance(error, (FileExistsError, NotADirectoryError))
        reason = "a folder on its path is a regular file" if through_file else error.strerror or str(error)
        failed = cls(f"cannot write {path}: {reason}")
        failed.errno = error.errno
        return failed


def ensure_folder(folder: Path) -> Path:
    """``folder`` and its parents, created if missing; a failure is a :class:`WriteFailed` naming ``folder``."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise WriteFailed.at(folder, error) from error
    return folder


@contextmanager
def removed_on_failure(folder: Path) -> Iterator[Path]:
    """``folder``, removed with what the block wrote into it if the block fails, unless it was already there."""
    created = not folder.exists()
    try:
        yield folder
    except BaseException:
        if created:
            shutil.rmtree(folder, ignore_errors=True)
        raise


@contextmanager
def replacing(path: Path, *, durable: bool = False, parents: bool = False) -> Iterator[Path]:
    """A partial path beside ``path`` to write to; renamed over ``path`` when the block ends, removed if it fails.

    ``durable`` flushes the file to disk before the rename (harvest checkpoints: a power cut must not leave a
    renamed but empty file); ``parents`` creates the folder first. An OS error in the block is a failure to write
    ``path``, raised as :class:`WriteFailed`.
    """
    partial = path.with_name(f".{path.name}.partial")
    try:
        if parents:
            path.parent.mkdir(parents=True, exist_ok=True)
        yield partial
        if durable:
            with partial.open("rb+") as written:
                os.fsync(written.fileno())
        os.replace(partial, path)
    except OSError as error:
        raise WriteFailed.at(path, error) from error
    finally:
        with suppress(NotADirectoryError):  # the folder is a file: there is no partial file to remove
            partial.unlink(missing_ok=True)


def write_atomic(path: Path, data: bytes | str, *, durable: bool = False, parents: bool = False) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` whole (``parents``: its folder created if missing)."""
    with replacing(path, durable=durable, parents=parents) as partial:
        partial.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path
