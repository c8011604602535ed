"""A progress bar for streams of unknown length (records read from files), on stderr."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from rich.progress import MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from kg.cli.output import errors

__all__ = ["record_progress"]


@contextlib.contextmanager
def record_progress(description: str) -> Iterator[Callable[[], None]]:
    """Yield a ``tick()`` to call once per record; shows count, rate and elapsed time."""
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        MofNCompleteColumn(),
        TextColumn("records"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=errors, transient=True) as progress:
        task = progress.add_task(description, total=None)
        yield lambda: progress.advance(task)
