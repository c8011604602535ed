"""Work handed to worker processes in order, with a bound on what waits: shared by ``kg build`` (mapping records)
and ``kg validate`` (checking chunks of trials)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from multiprocessing import get_all_start_methods, get_context
from typing import Any, Final, TypeVar

__all__ = ["FORKING", "in_order"]

R = TypeVar("R")

#: Worker processes are forked where the platform can: they start in milliseconds, and unlike spawned ones they do
#: not re-run the caller's script (a script calling ``build`` without an ``if __name__ == "__main__"`` guard would
#: otherwise run again in every worker). Workers only compute on what they are sent; they never touch a store the
#: parent has open.
FORKING: Final = get_context("fork" if "fork" in get_all_start_methods() else "spawn")


def in_order(pool: Executor, function: Callable[..., R], jobs: Iterable[tuple[Any, ...]], waiting: int) -> Iterator[R]:
    """``function(*job)`` for each job, run in ``pool``, results in the jobs' order; at most ``waiting`` jobs are
    submitted and not yet collected, so the jobs' inputs and results held stay bounded."""
    pending: deque[Future[R]] = deque()
    for job in jobs:
        pending.append(pool.submit(function, *job))
        if len(pending) >= waiting:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()
