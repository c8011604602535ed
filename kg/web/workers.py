"""Run SPARQL queries in child processes that are killed at their deadline, so a timed-out query stops.

pyoxigraph cannot cancel a query inside one evaluation step (a COUNT or ORDER BY over a cross product) and a
thread cannot be killed: a timed-out query kept its core busy until it ended, outside any cap. A process can be
killed. Each child opens the on-disk store read-only and answers one query at a time; the parent waits for the
answer until the deadline, then kills the child (SIGKILL) and starts a fresh one for the next query. Children are
started on first use and kept, so a query pays for a process start only after a kill. They are plain
subprocesses (``python -m kg.web.query_child``) talking over a socket pair, not multiprocessing's spawn, which would
re-run the parent's main script in every child.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import weakref
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Final

import pyoxigraph as ox

from kg.store import Store, StoreError, open_store
from kg.web.guard import Limits, Refused, confirm_parsed
from kg.web.results import QueryTimeout, ResultFormat, TooManyRows, answer, serialize

__all__ = ["Job", "QueryWorkers", "serve"]

#: How long a new child may take to import kg and open the store before the query is given up.
_START_TIMEOUT: Final = 60.0
#: The errors a child sends back for the endpoint to answer (all picklable); anything else ends the child.
_PASSED_ON: Final = (Refused, StoreError, TooManyRows, QueryTimeout)


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

    def run(self, store: Store) -> bytes:
        """The serialized answer; raises the endpoint's errors (all picklable) past a limit or on a bad query."""
        confirm_parsed(self.sparql, self.limits)
        writer = (ox.RdfFormat if self.graph else ox.QueryResultsFormat).from_media_type(self.media_type)
        assert writer is not None
        found = answer(store, self.sparql, max_rows=self.max_rows, timeout=self.timeout, max_bytes=self.max_bytes)
        return serialize(found, ResultFormat(self.media_type, writer))


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
                conn.send(("ok", job.run(store)))
            except _PASSED_ON as error:
                conn.send(("error", error.with_traceback(None)))


@dataclass
class _Child:
    process: subprocess.Popen[bytes]
    conn: Connection

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(5)
        self.conn.close()


def _spawn(spec: str) -> _Child:
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
    return _Child(process, Connection(ours.detach()))


def _stop(children: list[_Child]) -> None:
    for child in children:
        child.kill()
    children.clear()


class QueryWorkers:
    """Children over the store at ``spec``; :meth:`run` blocks, so call it from a thread, at most ``size`` at once
    (the endpoint's limiter): the cap on running queries is then the number of running children."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self._idle: list[_Child] = []
        self._all: list[_Child] = []
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, _stop, self._all)

    def pids(self) -> list[int]:
        """The process ids of the live children (to watch their CPU)."""
        with self._lock:
            return [child.process.pid for child in self._all]

    def run(self, job: Job) -> bytes:
        """``job``'s answer from a child; past ``job.timeout`` the child is killed and :class:`QueryTimeout`
        raised."""
        child = self._take()
        try:
            child.conn.send(job)
            if not child.conn.poll(job.timeout):
                raise QueryTimeout(f"the query ran longer than the endpoint's {job.timeout:g} s limit and was stopped")
            kind, payload = child.conn.recv()
        except EOFError:
            self._drop(child)
            raise StoreError("the query engine failed on this query (its worker process ended)") from None
        except BaseException:
            self._drop(child)
            raise
        with self._lock:
            self._idle.append(child)
        if kind == "error":
            raise payload
        assert isinstance(payload, bytes)
        return payload

    def close(self) -> None:
        """Kill every child (idle ones would also end when this process does)."""
        self._finalizer()

    def _take(self) -> _Child:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        child = _spawn(self.spec)
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
