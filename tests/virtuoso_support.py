"""Throw-away SPARQL servers on 127.0.0.1 for the remote-store tests and benchmark: Virtuoso open source (a session
fixture, started once) and ``oxigraph serve``.

The server gets a fresh database in a temporary directory, free loopback ports for ISQL and HTTP, small buffers
(~200 MB), no result-row cap or query timeout (the analyses read whole columns), and two grants: the anonymous
SPARQL user may update, and Virtuoso's own system graphs are made private so that the union default graph holds
only the test's data (as it does on an Oxigraph server with ``--union-default-graph``).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pyoxigraph as ox
import pytest
import requests

from kg.store.remote import RemoteStore

__all__ = [
    "SYSTEM_GRAPHS",
    "VirtuosoServer",
    "drop_visible_graphs",
    "free_port",
    "run_oxigraph_server",
    "run_virtuoso",
    "virtuoso_server",
]

#: Graphs a new Virtuoso database holds before any data is loaded.
SYSTEM_GRAPHS: Final = (
    "http://www.openlinksw.com/schemas/virtrdf#",
    "http://www.w3.org/ns/ldp#",
    "http://localuriqaserver/sparql",
)
_PRIVATE: Final = "http://www.openlinksw.com/schemas/virtrdf#PrivateGraphs"
_INI: Final = """[Database]
DatabaseFile = {dir}/virtuoso.db
ErrorLogFile = {dir}/virtuoso.log
LockFile = {dir}/virtuoso.lck
TransactionFile = {dir}/virtuoso.trx
xa_persistent_file = {dir}/virtuoso.pxa
ErrorLogLevel = 7
FileExtend = 200
Striping = 0
TempStorage = TempDatabase

[TempDatabase]
DatabaseFile = {dir}/virtuoso-temp.db
TransactionFile = {dir}/virtuoso-temp.trx

[Parameters]
ServerPort = 127.0.0.1:{isql_port}
DisableUnixSocket = 1
CheckpointInterval = 0
NumberOfBuffers = {buffers}
MaxDirtyBuffers = {dirty_buffers}
MaxQueryMem = 300M
ThreadsPerQuery = 2
DirsAllowed = ., {dir}
CaseMode = 2

[HTTPServer]
ServerPort = 127.0.0.1:{http_port}
ServerRoot = {dir}
ServerThreads = 4
MaxClientConnections = 4
Charset = UTF-8

[SPARQL]
ResultSetMaxRows = 100000000
MaxQueryExecutionTime = 0
MaxQueryCostEstimationTime = 0
"""


def drop_visible_graphs(remote: RemoteStore) -> None:
    """Empty a test server: every graph its SPARQL user can see. On Virtuoso ``DROP ALL`` would reach for its
    hidden system graphs, and there is no default graph of its own to clear."""
    for graph in remote.named_graphs():
        remote.remove_graph(ox.NamedNode(graph))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class VirtuosoServer:
    """A running server: its SPARQL endpoint (queries and updates), Graph Store endpoint, and an ISQL door."""

    directory: Path
    isql_port: int
    http_port: int

    @property
    def sparql_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/sparql"

    @property
    def graph_store_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/sparql-graph-crud"

    def isql(self, statements: str, *, timeout: float = 60) -> str:
        """Run SQL as dba (the password of a new database); an ``*** Error`` in the output fails the test.
        ``timeout``: seconds (a bulk load of a large store takes minutes)."""
        binary = shutil.which("isql-vt") or "isql-vt"
        done = subprocess.run(
            [binary, f"127.0.0.1:{self.isql_port}", "dba", "dba", f"exec={statements}"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0 or "*** Error" in done.stdout + done.stderr:
            raise RuntimeError(f"isql-vt failed on {statements!r}: {done.stdout}{done.stderr}")
        return done.stdout


def _set_up(server: VirtuosoServer) -> None:
    """Let the SPARQL endpoint's user update, and hide the system graphs from it (checked)."""
    members = "".join(f"DB.DBA.RDF_GRAPH_GROUP_INS ('{_PRIVATE}', '{graph}');\n" for graph in SYSTEM_GRAPHS)
    server.isql(
        'GRANT SPARQL_UPDATE TO "SPARQL";\n'
        f"DB.DBA.RDF_GRAPH_GROUP_CREATE ('{_PRIVATE}', 1);\n"
        f"{members}"
        "DB.DBA.RDF_DEFAULT_USER_PERMS_SET ('nobody', 0, 1);\n"  # private graphs: no access
        "DB.DBA.RDF_DEFAULT_USER_PERMS_SET ('nobody', 7);\n"  # every other graph: read, write
    )
    count = {"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"}
    answer = requests.post(server.sparql_url, data=count, headers={"Accept": "application/sparql-results+json"})
    if answer.json()["results"]["bindings"][0]["n"]["value"] != "0":
        raise RuntimeError(f"Virtuoso's system graphs are still visible to SPARQL: {answer.text[:300]}")


def _wait_for(url: str, process: subprocess.Popen[bytes], log: Path | None, seconds: float = 120) -> None:
    """Until the HTTP port answers and (Virtuoso) the console says the server is online, its start-up done."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            answered = requests.get(url, params={"query": "ASK {}"}, timeout=2).status_code == 200
            if answered and (log is None or "Server online at" in log.read_text(errors="replace")):
                return
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-2000:] if log is not None and log.exists() else ""
            raise RuntimeError(f"{url}: the server did not start (exit {process.poll()}): {tail}")
        time.sleep(0.2)


@contextlib.contextmanager
def run_virtuoso(directory: Path, *, buffers: int = 20_000) -> Iterator[VirtuosoServer]:
    """Start ``virtuoso-t`` on a new database in ``directory``; stop it on exit (the tests' fixture, the benchmarks).
    ``buffers``: 8 KB pages of cache (the default ~160 MB suits the tests; a large store wants about 85,000 per GB)."""
    binary = shutil.which("virtuoso-t") or "virtuoso-t"
    server = VirtuosoServer(directory, free_port(), free_port())
    ini = directory / "virtuoso.ini"
    settings = {"buffers": buffers, "dirty_buffers": buffers * 3 // 4}
    ini.write_text(_INI.format(dir=directory, isql_port=server.isql_port, http_port=server.http_port, **settings))
    log = directory / "console.log"
    with log.open("wb") as console:
        process = subprocess.Popen(
            [binary, "+foreground", "+configfile", str(ini)], cwd=directory, stdout=console, stderr=console
        )
    try:
        _wait_for(server.sparql_url, process, log)
        _set_up(server)
        yield server
    finally:
        _stop(process)


@contextlib.contextmanager
def run_oxigraph_server(directory: Path) -> Iterator[str]:
    """``oxigraph serve`` on loopback with the union of its graphs as default graph; yields its query URL."""
    port = free_port()
    command = [
        "oxigraph",
        "serve",
        "--location",
        str(directory),
        "--bind",
        f"127.0.0.1:{port}",
        "--union-default-graph",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/query"
    try:
        _wait_for(url, process, None, seconds=30)
        yield url
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()  # Virtuoso checkpoints and exits on SIGTERM
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def virtuoso_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VirtuosoServer]:
    """Virtuoso open source on loopback, started once for the whole session and stopped at its end."""
    if shutil.which("virtuoso-t") is None or shutil.which("isql-vt") is None:
        pytest.skip("Virtuoso is not installed (Debian package virtuoso-opensource; see scripts/install-test-deps)")
    with run_virtuoso(tmp_path_factory.mktemp("virtuoso")) as server:
        yield server
