"""Builds and stores under faults: two writers at once, files that are not MeSH, a damaged store, a server open
across a build, a full or unwritable disk. Each ends in one line ``error: …`` (exit 2), or is refused, and leaves
the store it found as it was.

Commands run as a user runs them (``python -m kg``), with a memory limit and a timeout: a damaged store once made
``kg stats`` allocate without bound.
"""

from __future__ import annotations

import errno
import json
import os
import pickle
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from kg.analysis.related import RELATED_INDEX
from kg.demo import demo_mesh_file
from kg.pipeline.build import build
from kg.store import StoreBusy, StoreError, open_store
from kg.store.lock import WriterLock
from kg.web.app import create_app
from tests.server_support import app_client
from tests.test_bad_input import nct, study

MEMORY_LIMIT = 2 * 2**30
#: A folder in which nobody, root included, may create anything (sysfs); chmod 0o500 does not stop root.
UNWRITABLE = Path("/sys/kg-store-faults")
MESH_CONCEPTS = "SELECT (COUNT(*) AS ?n) WHERE { ?c a <http://www.w3.org/2004/02/skos/core#Concept> }"


def limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def kg(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KG_HOME": str(home), "COLUMNS": "200"}
    env.pop("KG_STORE", None)
    return subprocess.run(
        [sys.executable, "-m", "kg", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=home.parent,
        preexec_fn=limited,
    )


def one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> str:
    """The result is exit 2 with a single ``error: …`` line (no traceback) containing ``words``."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[-2000:]
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("records") / "studies.jsonl"
    path.write_text("\n".join(json.dumps(study(n)) for n in range(1, 4)), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, records: Path) -> Path:
    """A tiny store with MeSH: ``HOME/store``, to copy (``copytree`` keeps modification times, as ``cp -a``)."""
    home = tmp_path_factory.mktemp("built") / "home"
    build([records], f"oxigraph:{home / 'store'}", mesh=[demo_mesh_file()], workers=1)
    return home


@pytest.fixture
def home(tmp_path: Path, built: Path) -> Path:
    copy = tmp_path / "home"
    shutil.copytree(built, copy)
    return copy


def concepts(store: Path) -> int:
    with open_store(f"oxigraph:{store}", read_only=True) as opened:
        return int(opened.select(MESH_CONCEPTS).rows[0]["n"] or 0)


# 1. One writer per store.


def test_a_second_writer_refuses_at_once_naming_the_first(home: Path, records: Path) -> None:
    store = home / "store"
    staging = home / "store.building-running"  # the first writer's staging folder: never the second's to delete
    staging.mkdir()
    lock = WriterLock(store)
    try:
        for args in (["build", str(records)], ["mesh", "load", str(demo_mesh_file())]):
            line = one_line_error(kg(*args, home=home), f"pid {os.getpid()}", "another kg process is writing", "since")
            assert str(store) in line
        with pytest.raises(StoreBusy):
            build([records], f"oxigraph:{store}", workers=1)  # the Python API goes through the same lock
        assert staging.is_dir()
    finally:
        lock.release()
    result = kg("build", str(records), home=home)  # released: the next writer goes ahead
    assert result.returncode == 0, result.stderr
    assert not staging.exists()  # a dead build's staging folder, cleaned by the next writer that holds the lock


def test_writers_of_one_sparql_endpoint_exclude_each_other(
    home: Path, records: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A remote store has no folder to lock beside: its writers lock its URL in the data home, before any request."""
    url = "http://127.0.0.1:9/query"  # closed: a writer that got past the lock would fail on its first request
    monkeypatch.setenv("KG_HOME", str(home))
    first = open_store(f"sparql:{url}")
    try:
        result = kg("build", str(records), "--store", f"sparql:{url}", home=home)
        one_line_error(result, f"pid {os.getpid()}", url, "another kg process is writing")
        with pytest.raises(StoreBusy):
            open_store(f"sparql:{url}")
        open_store(f"sparql:{url}", read_only=True).close()  # readers take no lock
        open_store("sparql:http://127.0.0.1:9/other").close()  # another endpoint, another lock
    finally:
        first.close()
    open_store(f"sparql:{url}").close()  # released on close


# 2. Files that are not MeSH change nothing.


def test_mesh_load_of_a_file_that_is_not_mesh_keeps_the_vocabulary(home: Path, tmp_path: Path) -> None:
    before = concepts(home / "store")
    assert before > 0
    passwd = tmp_path / "passwd"
    passwd.write_text("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n")
    one_line_error(kg("mesh", "load", str(passwd), home=home), "not MeSH files", "nothing was loaded")
    assert concepts(home / "store") == before
    fresh = tmp_path / "fresh-home"
    fresh.mkdir()
    one_line_error(kg("mesh", "load", str(passwd), home=fresh), "not MeSH files")
    assert not (fresh / "store").exists()  # no empty store created for nothing
    result = kg("mesh", "load", str(demo_mesh_file()), home=home)  # a writer reseals the store it changed
    assert result.returncode == 0, result.stderr
    assert kg("stats", home=home).returncode == 0


# 3. A damaged store is one line, in bounded memory and time.


def _overwrite(pattern: str, how: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def damage(store: Path) -> None:
        for file in sorted(store.glob(pattern)):
            file.write_bytes(how(file.read_bytes()))

    return damage


def _garble_first_block(data: bytes) -> bytes:
    """Bytes of the first data block overwritten, same size: the damage that made ``kg stats`` take 7.5 GB."""
    return bytes(reversed(data[:200])) + data[200:]


def _not_a_store(store: Path) -> None:
    shutil.rmtree(store)
    store.mkdir()
    (store / "notes.txt").write_text("not a store")


def _a_file(store: Path) -> None:
    shutil.rmtree(store)
    store.write_text("not a store")


DAMAGE: dict[str, Callable[[Path], None]] = {
    "CURRENT emptied": _overwrite("CURRENT", lambda data: b""),
    "MANIFEST garbled": _overwrite("MANIFEST-*", lambda data: b"\x17" * len(data)),
    "sst truncated": _overwrite("*.sst", lambda data: data[: len(data) // 2]),
    "sst blocks garbled": _overwrite("*.sst", _garble_first_block),
    "a folder that is not a store": _not_a_store,
    "a file": _a_file,
}


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_a_damaged_store_is_one_line_saying_how_to_rebuild(home: Path, damage: str) -> None:
    DAMAGE[damage](home / "store")
    one_line_error(kg("stats", home=home), str(home / "store"), "kg build")


def test_damage_rocksdb_reports_is_one_error_without_a_seal(home: Path) -> None:
    """A store from before seals (or whose writer crashed) is opened as before; RocksDB's own report is one error."""
    store = home / "store"
    (store / "kg-seal.json").unlink(missing_ok=True)
    DAMAGE["MANIFEST garbled"](store)
    with pytest.raises(StoreError, match=r"is damaged .*Corruption.*kg build"):
        open_store(f"oxigraph:{store}", read_only=True)


def test_a_store_without_a_seal_is_sealed_by_its_first_reader_then_damage_is_caught(home: Path) -> None:
    """A store from before seals gets one when a reader closes it with no writer at work; later damage is refused
    in one line instead of running away with memory."""
    store = home / "store"
    (store / "kg-seal.json").unlink()
    lock = WriterLock(store)  # a writer at work: the reader leaves the folder alone
    try:
        assert kg("stats", home=home).returncode == 0
        assert not (store / "kg-seal.json").exists()
    finally:
        lock.release()
    assert kg("stats", home=home).returncode == 0
    assert (store / "kg-seal.json").is_file()
    DAMAGE["sst blocks garbled"](store)
    one_line_error(kg("stats", home=home), str(store), "changed size or time", "kg build")


def test_readers_and_a_writer_closed_late_do_not_break_the_seal(home: Path) -> None:
    """RocksDB rewrites its MANIFEST when the last handle goes, here after the seal (a query result outlives close)."""
    for _ in range(2):
        assert kg("stats", home=home).returncode == 0
    writer = open_store(f"oxigraph:{home / 'store'}")
    answer = writer.query_raw("SELECT * WHERE { ?s ?p ?o } LIMIT 1")
    writer.close()
    del answer
    assert kg("stats", home=home).returncode == 0


def test_a_table_still_being_written_when_the_writer_seals_is_left_out_of_the_seal(home: Path) -> None:
    """A flush or compaction RocksDB runs in the background (one starts when a writer opens a store whose first
    level is full) writes its table in place under its final name, and may still be at it when the writer seals,
    the store living on while a query result holds it: only the tables RocksDB lists as live are sealed, so that
    table growing afterwards is not damage. A table RocksDB does not know stands for it here."""
    store = home / "store"
    writer = open_store(f"oxigraph:{store}")
    answer = writer.query_raw("SELECT * WHERE { ?s ?p ?o } LIMIT 1")  # RocksDB open past close, as in the race
    unfinished = store / "999999.sst"
    unfinished.write_bytes(bytes(100))
    writer.close()
    with unfinished.open("ab") as table:
        table.write(bytes(100))  # finished after the seal
    result = kg("stats", home=home)
    assert result.returncode == 0, result.stderr
    sealed = json.loads((store / "kg-seal.json").read_text(encoding="utf-8"))
    assert sealed and unfinished.name not in sealed
    del answer  # RocksDB closes, deleting the table it never listed


# 4. A server open across a build never overwrites the new build's saved indexes.


def test_an_index_from_before_a_rebuild_is_not_saved_over_the_new_one(home: Path, records: Path) -> None:
    spec = f"oxigraph:{home / 'store'}"
    saved = RELATED_INDEX.path(spec)
    assert saved is not None
    with open_store(spec, read_only=True) as old:  # a server's store, opened before the rebuild
        build([records], spec, workers=1)
        with open_store(spec, read_only=True) as new:
            current = RELATED_INDEX.fingerprint(new)
        assert RELATED_INDEX.read_saved(saved, current) is not None
        assert RELATED_INDEX.load(old).fingerprint != current  # the server still gets its store's index
    assert RELATED_INDEX.read_saved(saved, current) is not None  # and the build's file is still the build's


TRIALS = "SELECT (COUNT(*) AS ?n) WHERE { ?t a <https://schema.org/MedicalTrial> }"


def test_a_running_server_serves_the_store_a_build_swaps_in(home: Path, tmp_path: Path) -> None:
    """The server follows a rebuild: its SPARQL workers, pages and saved indexes come from the new store; when the
    new one cannot be opened it keeps the old and says so in /healthz, without a file path."""
    spec = f"oxigraph:{home / 'store'}"
    rebuilt = tmp_path / "rebuilt.jsonl"
    rebuilt.write_text("\n".join(json.dumps(study(n)) for n in range(4, 9)), encoding="utf-8")

    def trials(http: httpx.Client) -> int:
        answer = http.get("/sparql", params={"query": TRIALS}).json()
        return int(answer["results"]["bindings"][0]["n"]["value"])

    with app_client(create_app(spec)) as http:
        assert trials(http) == 3
        assert http.get(f"/trial/{nct(1)}").status_code == 200  # now cached
        opened = http.get("/healthz").json()["opened"]
        build([rebuilt], spec, workers=1)
        time.sleep(1.2)  # the server looks at its folder at most once a second
        assert trials(http) == 5
        assert http.get(f"/trial/{nct(1)}").status_code == 404
        assert http.get(f"/trial/{nct(8)}").status_code == 200
        health = http.get("/healthz").json()
        assert health["opened"] > opened and "stale" not in health
        build([rebuilt], spec, workers=1)
        (home / "store" / "CURRENT").write_bytes(b"")  # the next rebuild is damaged
        time.sleep(1.2)
        health = http.get("/healthz").json()
        assert "the rebuilt one cannot be opened" in health["stale"]
        assert str(home) not in json.dumps(health)


# 5. A full or unwritable disk leaves nothing behind.


def test_a_full_disk_while_saving_an_index_leaves_no_partial_file(
    home: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    spec = f"oxigraph:{home / 'store'}"
    saved = RELATED_INDEX.path(spec)
    assert saved is not None
    before = saved.read_bytes()

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pickle, "dump", full)
    saved.write_bytes(b"a stale index")  # not readable: load builds and tries to save
    with open_store(spec, read_only=True) as store:
        assert RELATED_INDEX.load(store).fingerprint == RELATED_INDEX.fingerprint(store)
    assert "could not save the related index" in caplog.text
    assert saved.read_bytes() == b"a stale index" != before
    assert not list(saved.parent.glob(".*.partial"))


def test_a_full_disk_during_a_build_keeps_the_previous_store(
    home: Path, records: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kg.store.oxigraph import OxigraphStore

    def full(self: OxigraphStore, data: bytes) -> None:
        raise RuntimeError("IO error: No space left on device: While appending to file: 000042.sst")

    before = concepts(home / "store")
    monkeypatch.setattr(OxigraphStore, "load_nquads", full)
    with pytest.raises(StoreError, match=r"cannot write the new store .* the previous store is untouched"):
        build([records], f"oxigraph:{home / 'store'}", workers=1)
    assert concepts(home / "store") == before
    assert not list(home.glob("store.building-*"))


@pytest.mark.parametrize("command", ["build", "mesh load"])
def test_a_store_inside_a_file_or_an_unwritable_folder_is_one_line(tmp_path: Path, records: Path, command: str) -> None:
    home = tmp_path / "home"
    home.mkdir()
    inputs = [str(records)] if command == "build" else [str(demo_mesh_file())]
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for store in (blocker / "store", UNWRITABLE / "store"):
        one_line_error(kg(*command.split(), *inputs, "--store", f"oxigraph:{store}", home=home), str(store))
    assert blocker.read_text() == ""
    assert not list(tmp_path.rglob("*.partial"))
