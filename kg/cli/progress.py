"""A progress bar for streams of unknown length (records read from files), on stderr."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.progress import MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from kg.cli.output import errors

__all__ = ["Ticker", "record_progress"]


class Ticker:
    """``tick()`` once per record; ``tick.phase(text)`` when the work moves on to a step that reads no records."""

    def __init__(self, progress: Progress, description: str) -> None:
        self.progress = progress
        self.task = progress.add_task(description, total=None)

    def __call__(self) -> None:
        self.progress.advance(self.task)

    def phase(self, description: str) -> None:
        self.progress.update(self.task, description=description)


@contextlib.contextmanager
def record_progress(description: str) -> Iterator[Ticker]:
    """Yield a :class:`Ticker`; shows the step, the records counted, and the elapsed time."""
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        MofNCompleteColumn(),
        TextColumn("records"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=errors, transient=True) as progress:
        yield Ticker(progress, description)
