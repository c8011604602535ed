"""Run SPARQL queries in child processes that are killed at their deadline, so a timed-out query stops.

pyoxigraph cannot cancel a query inside one evaluation step (a COUNT or ORDER BY over a cross product) and a
thread cannot be killed: a timed-out query kept its core busy until it ended, outside any cap. A process can be
killed. Each child opens the on-disk store read-only and answers one query at a time, sending its answer in chunks
as it writes them; the parent passes them on, and once the deadline (plus a second's grace for the child to cut the
answer itself) is past, kills the child (SIGKILL) and starts a fresh one for the next query. Children are
started on first use and kept, so a query pays for a process start only after a kill. They are plain
subprocesses (``python -m kg.web.query_child``) talking over a socket pair, not multiprocessing's spawn, which would
re-run the parent's main script in every child.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Generator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Final

import pyoxigraph as ox

from kg.store import Store, StoreError, open_store
from kg.web.guard import Limits, Refused, confirm_parsed
from kg.web.results import QueryTimeout, ResultFormat, chunks

__all__ = ["Job", "QueryWorkers", "serve"]

#: How long a new child may take to import kg and open the store before the query is given up.
_START_TIMEOUT: Final = 60.0
#: The errors a child sends back for the endpoint to answer (all picklable); anything else ends the child.
_PASSED_ON: Final = (Refused, StoreError, QueryTimeout)
#: Seconds past the deadline a child has to end its answer itself before it is killed.
GRACE: Final = 1.0


@dataclass(frozen=True)
class Job:
    """One query and its limits, sent to a child (picklable: the format travels as its media type)."""

    sparql: str
    media_type: str
    graph: bool
    max_rows: int
    max_bytes: int
    timeout: float
    limits: Limits

    def chunks(self, store: Store) -> Generator[bytes, None, None]:
        """The answer in chunks, cut at the limits; raises the endpoint's errors (all picklable) on a bad query."""
        confirm_parsed(self.sparql, self.limits)
        writer = (ox.RdfFormat if self.graph else ox.QueryResultsFormat).from_media_type(self.media_type)
        assert writer is not None
        fmt = ResultFormat(self.media_type, writer)
        yield from chunks(
            store, self.sparql, fmt, max_rows=self.max_rows, timeout=self.timeout, max_bytes=self.max_bytes
        )


def serve(spec: str, conn: Connection) -> None:
    """A child's life: open the store, say so, then answer jobs until the parent hangs up."""
    with open_store(spec, read_only=True) as store:
        conn.send("ready")
        while True:
            try:
                job = conn.recv()
            except EOFError:
                return
            try:
                for chunk in job.chunks(store):
                    conn.send(("chunk", chunk))
                conn.send(("end", None))
            except _PASSED_ON as error:
                conn.send(("error", error.with_traceback(None)))


@dataclass
class _Child:
    process: subprocess.Popen[bytes]
    conn: Connection
    generation: int

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(5)
        self.conn.close()


def _spawn(spec: str, generation: int) -> _Child:
    """A child answering jobs over one end of a socket pair; its own session, so a Ctrl-C reaches only the
    server, whose exit closes the socket and so ends the child."""
    ours, theirs = socket.socketpair()
    command = [sys.executable, "-m", "kg.web.query_child", spec, str(theirs.fileno())]
    try:
        process = subprocess.Popen(
            command, pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, start_new_session=True
        )
    finally:
        theirs.close()
    return _Child(process, Connection(ours.detach()), generation)


def _stop(children: list[_Child]) -> None:
    for child in children:
        child.kill()
    children.clear()


class QueryWorkers:
    """Children over the store at ``spec``; :meth:`stream` blocks, so iterate it in a thread, at most ``size`` at once
    (the endpoint's limiter): the cap on running queries is then the number of running children."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self._idle: list[_Child] = []
        self._all: list[_Child] = []
        self._lock = threading.Lock()
        self._generation = 0
        self._finalizer = weakref.finalize(self, _stop, self._all)

    def pids(self) -> list[int]:
        """The process ids of the live children (to watch their CPU)."""
        with self._lock:
            return [child.process.pid for child in self._all]

    def stream(self, job: Job) -> Generator[bytes, None, None]:
        """``job``'s answer from a child, chunk by chunk; past ``job.timeout`` and the grace the child is killed and
        :class:`QueryTimeout` raised. Closing the iterator early (the client left) kills the child too."""
        child = self._take()
        try:
            child.conn.send(job)
            deadline = time.monotonic() + job.timeout + GRACE  # the query's own budget, after any child start
            while True:
                if not child.conn.poll(max(0.0, deadline - time.monotonic())):
                    raise QueryTimeout(
                        f"the query ran longer than the endpoint's {job.timeout:g} s limit and was stopped"
                    )
                kind, payload = child.conn.recv()
                if kind != "chunk":
                    break
                yield payload
        except EOFError:
            self._drop(child)
            raise StoreError("the query engine failed on this query (its worker process ended)") from None
        except BaseException:
            self._drop(child)
            raise
        self._give_back(child)
        if kind == "error":
            raise payload

    def _give_back(self, child: _Child) -> None:
        """An idle child back to the pool, unless it holds a store that was since replaced."""
        with self._lock:
            current = child.generation == self._generation
            if current:
                self._idle.append(child)
        if not current:
            self._drop(child)

    def retire(self) -> None:
        """The store in the folder was replaced: kill the idle children, and each busy one when its query ends;
        new children open the new store."""
        with self._lock:
            self._generation += 1
            idle, self._idle = self._idle, []
        for child in idle:
            self._drop(child)

    def close(self) -> None:
        """Kill every child (idle ones would also end when this process does)."""
        self._finalizer()

    def _take(self) -> _Child:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        with self._lock:
            generation = self._generation
        child = _spawn(self.spec, generation)
        with self._lock:
            self._all.append(child)
        try:
            if not child.conn.poll(_START_TIMEOUT) or child.conn.recv() != "ready":
                raise EOFError
        except EOFError:
            self._drop(child)
            raise StoreError("the query worker could not open the store") from None
        return child

    def _drop(self, child: _Child) -> None:
        child.kill()
        with self._lock:
            self._all.remove(child)
