"""Limits on the explorer's and the JSON API's heavy work: per kind of request, a cap on computations at once and
a time limit, plus a cache that computes each key once however many requests ask for it at the same time.

Why refuse rather than queue: on two cores, 20 clients on uncached pages queued without bound waited 14 s each;
a full cap answers **503** with ``Retry-After`` at once instead. A computation past its time limit answers 503 too;
Python cannot stop its thread, so the thread keeps its slot until it ends (the cap then also bounds abandoned
work), and what it computes is still cached for the next request.
"""

from __future__ import annotations

import asyncio
import math
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar

__all__ = ["Busy", "FlightCache", "Gate", "Overdue"]

T = TypeVar("T")


class Busy(Exception):
    """Every slot of a kind of request is taken: come back in a second (a slot frees as soon as any
    computation of the kind ends)."""

    retry_after = 1

    def __init__(self, kind: str) -> None:
        super().__init__(f"the server is busy with other {kind} requests; retry in {self.retry_after} s")


class Overdue(Exception):
    """A computation ran past its time limit (it may still finish in its thread and be cached)."""

    def __init__(self, kind: str, seconds: float) -> None:
        super().__init__(f"the {kind} took longer than {seconds:g} s; retry later")
        self.retry_after = max(1, math.ceil(seconds))


@dataclass
class Gate:
    """One kind of request: at most ``slots`` computations in their own threads at once, each waited for
    ``timeout`` seconds."""

    kind: str
    slots: int
    timeout: float

    def __post_init__(self) -> None:
        self._running = 0
        self._threads = ThreadPoolExecutor(max_workers=self.slots, thread_name_prefix=f"kg-{self.kind}")

    def start(self, function: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """``function(*args)`` in a thread of this gate, or :class:`Busy` at once when every slot is taken."""
        if self._running >= self.slots:
            raise Busy(self.kind)
        self._running += 1
        future = asyncio.get_running_loop().run_in_executor(self._threads, partial(function, *args))
        future.add_done_callback(self._release)
        return future

    def _release(self, future: asyncio.Future[Any]) -> None:
        self._running -= 1

    async def wait(self, future: asyncio.Future[T]) -> T:
        """The future's result, or :class:`Overdue` past the time limit (the future itself is left running)."""
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.timeout)
        except TimeoutError:
            raise Overdue(self.kind, self.timeout) from None

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` within this gate's cap and time limit."""
        return await self.wait(self.start(function, *args))

    def close(self) -> None:
        """Stop taking work; threads still running finish on their own."""
        self._threads.shutdown(wait=False, cancel_futures=True)


class FlightCache(Generic[T]):
    """The last ``size`` results of ``function`` by arguments, each computed once through ``gate``: requests for a
    key being computed await the same future (single flight) instead of computing it again."""

    def __init__(self, gate: Gate, function: Callable[..., T], size: int) -> None:
        self._gate = gate
        self._function = function
        self._size = size
        self._done: OrderedDict[Hashable, T] = OrderedDict()
        self._flying: dict[Hashable, asyncio.Future[T]] = {}

    async def get(self, *key: Hashable) -> T:
        if key in self._done:
            self._done.move_to_end(key)
            return self._done[key]
        future = self._flying.get(key)
        if future is None:
            future = self._gate.start(self._function, *key)
            self._flying[key] = future
            future.add_done_callback(partial(self._land, key))
        return await self._gate.wait(future)

    def _land(self, key: Hashable, future: asyncio.Future[T]) -> None:
        del self._flying[key]
        if future.cancelled() or future.exception() is not None:  # errors are not cached: the next request retries
            return
        self._done[key] = future.result()
        while len(self._done) > self._size:
            self._done.popitem(last=False)
