"""The store a server answers from, reopened when ``kg build`` swaps a new store into its folder.

A build writes beside the store and renames the new folder into place; a server that kept its old handle would
answer from a deleted folder (and fail on the first table it had not opened yet). So before a request the server
looks at the folder's identity (device and inode, a ``stat`` at most once a second); when it changed, it opens the
new store read-only and answers from it, and whoever held the old one (a request in flight) finishes with it. If the
new store cannot be opened, the server keeps the old one and says so: in its log and in ``/healthz``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from kg.store import Store, StoreError, open_store

__all__ = ["ServedStore", "reopening"]

logger = logging.getLogger(__name__)

#: Seconds between two looks at the store's folder.
CHECK_EVERY: Final = 1.0


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        status = os.stat(path)
    except OSError:
        return None  # between a swap's two renames: look again next time
    return status.st_dev, status.st_ino


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class ServedStore:
    """The current store; ``reopen``: whether to follow swaps (only for a store the server opened itself)."""

    def __init__(self, store: Store, *, reopen: bool) -> None:
        self.current = store
        self.opened_at = _now()
        self.problem: str | None = None
        path = getattr(store, "path", None)
        self._path: Path | None = Path(path) if reopen and path else None
        self._identity = _identity(self._path) if self._path else None
        self._next_look = time.monotonic() + CHECK_EVERY
        self._listeners: list[Callable[[Store], None]] = []
        self._opening = asyncio.Lock()

    def on_swap(self, listener: Callable[[Store], None]) -> None:
        """Call ``listener(new_store)`` after each swap (to drop caches and worker processes of the old store)."""
        self._listeners.append(listener)

    def status(self) -> dict[str, Any]:
        """For ``/healthz``: since when the store was opened, and why a newer one is not served, if so."""
        status: dict[str, Any] = {"opened": self.opened_at}
        if self.problem:
            status["stale"] = self.problem
        return status

    async def follow(self) -> None:
        """Open the store now in the folder if a build swapped it since the last look."""
        if self._path is None or time.monotonic() < self._next_look:
            return
        async with self._opening:
            if time.monotonic() < self._next_look:
                return
            self._next_look = time.monotonic() + CHECK_EVERY
            identity = _identity(self._path)
            if identity is None or identity == self._identity:
                return
            try:
                new = await run_in_threadpool(open_store, self.current.spec, read_only=True)
            except StoreError as error:
                reason = str(error).replace(str(self._path), "the store")  # no file paths in answers
                self.problem = (
                    f"serving the store opened at {self.opened_at}: the rebuilt one cannot be opened ({reason})"
                )
                logger.warning("%s", self.problem)
                return
            self._identity = identity
            self.current, self.opened_at, self.problem = new, _now(), None
            logger.warning("the store was rebuilt: serving the new one")
            for listener in self._listeners:
                listener(new)


def reopening(app: ASGIApp, served: ServedStore) -> ASGIApp:
    """``app`` behind a look at the store before each HTTP request."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await served.follow()
        await app(scope, receive, send)

    return middleware
