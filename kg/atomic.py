"""Files written whole or not at all: written beside the target and renamed over it, so a reader (or the next
run after a crash or Ctrl-C) sees the old file or the new one, never half of one."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["replacing", "write_atomic"]


@contextmanager
def replacing(path: Path, *, durable: bool = False) -> Iterator[Path]:
    """A partial path beside ``path`` to write to; renamed over ``path`` when the block ends, removed if it fails.

    ``durable`` flushes the file to disk before the rename (harvest checkpoints: a power cut must not leave a
    renamed but empty file).
    """
    partial = path.with_name(f".{path.name}.partial")
    try:
        yield partial
        if durable:
            with partial.open("rb+") as written:
                os.fsync(written.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def write_atomic(path: Path, data: bytes | str, *, durable: bool = False) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` whole."""
    with replacing(path, durable=durable) as partial:
        partial.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path
