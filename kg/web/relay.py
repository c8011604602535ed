"""Chunks of an answer, made in a worker thread, passed to the event loop with a bound on how many wait in between.

A query's answer is read in one thread (pyoxigraph's answers belong to the thread that made them; a child process's
chunks arrive on a blocking socket) while the response is written by the event loop. The thread waits while
:data:`DEPTH` chunks are unsent, so a slow client holds up the query, not the server's memory; when the client leaves,
the thread stops at its next chunk and closes the answer (killing a worker process mid-answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable, Generator
from typing import Any, Final

import anyio
from anyio import to_thread

__all__ = ["AnswerAborted", "Relay"]

logger = logging.getLogger(__name__)

#: Chunks made and not yet sent, at most.
DEPTH: Final = 4
_LOOK: Final = 0.25


class AnswerAborted(RuntimeError):
    """The answer failed after its first chunk was sent: the response is ended without its final chunk, so the
    client sees an incomplete answer, never a short one."""


class Relay:
    """``make()``'s chunks, from :meth:`produce` (run it in a thread) to :meth:`first` and :meth:`rest` (the loop)."""

    def __init__(self, make: Callable[[], Generator[bytes, None, None]]) -> None:
        self._make = make
        self._loop = asyncio.get_running_loop()
        self._items: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._room = threading.Semaphore(DEPTH)
        self._gone = threading.Event()
        self._task: asyncio.Future[None] | None = None

    def start(self, limiter: anyio.CapacityLimiter) -> None:
        """Run :meth:`produce` in a thread within ``limiter`` (the cap on queries running at once)."""
        self._task = asyncio.ensure_future(to_thread.run_sync(self.produce, abandon_on_cancel=True, limiter=limiter))

    def produce(self) -> None:
        """Read the whole answer into the relay; an error is passed on as an item, not raised here."""
        try:
            with contextlib.closing(self._make()) as chunks:
                for chunk in chunks:
                    if not self._wait_for_room():
                        return
                    self._send("chunk", chunk)
            self._send("end", None)
        except Exception as error:
            self._send("error", error.with_traceback(None))

    def _wait_for_room(self) -> bool:
        while not self._room.acquire(timeout=_LOOK):
            if self._gone.is_set():
                return False
        return not self._gone.is_set()

    def _send(self, kind: str, payload: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: the server is stopping
            self._loop.call_soon_threadsafe(self._items.put_nowait, (kind, payload))

    async def _next(self, timeout: float) -> tuple[str, Any]:
        kind, payload = await asyncio.wait_for(self._items.get(), max(0.0, timeout))
        if kind == "chunk":
            self._room.release()
        return kind, payload

    async def first(self, timeout: float) -> bytes | None:
        """The first chunk (``None`` for an empty answer); raises the answer's error, or TimeoutError."""
        kind, payload = await self._next(timeout)
        if kind == "error":
            raise payload
        return payload if kind == "chunk" else None

    async def rest(self, first: bytes | None, timeout: float) -> AsyncIterator[bytes]:
        """``first`` and the chunks after it, within ``timeout`` seconds from now; past it, or on an error, the
        response is aborted (:class:`AnswerAborted`)."""
        deadline = self._loop.time() + timeout
        try:
            if first is None:
                return
            yield first
            while True:
                try:
                    kind, payload = await self._next(deadline - self._loop.time())
                except TimeoutError:
                    raise AnswerAborted(f"the answer did not end within {timeout:g} s") from None
                if kind == "end":
                    return
                if kind == "error":
                    raise AnswerAborted(f"the answer failed after it had begun: {payload}")
                yield payload
        finally:
            self.abandon()

    def abandon(self) -> None:
        """The client is gone (or was answered otherwise): the producing thread stops at its next chunk."""
        self._gone.set()
