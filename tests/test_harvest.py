"""Harvesting the live registry, against a real HTTP server on 127.0.0.1 replaying the real records with faults:
paging, politeness, retries, resume after ``kill -9``, bulk download and ``kg update``."""

from __future__ import annotations

import gzip
import io
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from kg.ctgov.api import ApiError, CtgovClient, RetryPolicy, StudyQuery
from kg.ctgov.raw_store import (
    BULK_FILE,
    CHECKPOINT,
    MANIFEST,
    HarvestError,
    find_harvest,
    read_manifest,
    run_bulk,
    run_harvest,
    start_harvest,
)
from kg.graphs import BUILD_GRAPH, CHANGES_GRAPH
from kg.pipeline.build import build
from kg.store import open_store
from tests.conftest import needs_real_data
from tests.replay_server import FAULTS, ReplayData, ReplayServer

pytestmark = needs_real_data

FAST = RetryPolicy(tries=5, backoff=0.01, max_backoff=0.05, jitter=0.01)


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    """A replay server over the real records; ``Retry-After: 0`` and a slow fault of 0.3 s, to keep tests fast."""
    with ReplayServer(ReplayData.real()) as replay:
        replay.faults.retry_after = "0"
        replay.faults.slow_seconds = 0.3
        yield replay


def client_for(server: ReplayServer, *, rate: float = 0, retry: RetryPolicy = FAST) -> CtgovClient:
    return CtgovClient(server.url, rate=rate, timeout=(2.0, 0.2), retry=retry)


def nct(study: dict[str, Any]) -> str:
    return str(study["protocolSection"]["identificationModule"]["nctId"])


def harvested(folder: Path) -> list[dict[str, Any]]:
    """Every record in a harvest's pages, read with the standard library only."""
    records = []
    for path in sorted((folder / "pages").glob("*.json.gz")):
        records += json.loads(gzip.decompress(path.read_bytes()))["studies"]
    return records


def quads_without_build_graph(spec: str) -> set[str]:
    """The store as N-Quads lines, without the build's own provenance graph and the change events (a fresh build
    has seen no change)."""
    buffer = io.BytesIO()
    with open_store(spec, read_only=True) as store:
        store.dump(buffer, "application/n-quads")
    endings = (f"<{BUILD_GRAPH.value}> .", f"<{CHANGES_GRAPH.value}> .")
    return {line for line in buffer.getvalue().decode("utf-8").splitlines() if line and not line.endswith(endings)}


def kg(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KG_HOME": str(home), "COLUMNS": "200"}
    env.pop("KG_STORE", None)
    env.pop("KG_CTGOV_URL", None)
    return subprocess.run([sys.executable, "-m", "kg", *args], capture_output=True, text=True, env=env, timeout=300)


def divisor_page_size(total: int) -> int:
    """A page size that divides the number of records, so the last page is exactly full (the false final token)."""
    return max(size for size in range(1, 101) if total % size == 0)


# --- the query ----------------------------------------------------------------------------------------------------


def test_query_options_become_api_v2_parameters() -> None:
    query = StudyQuery(
        cond="lung cancer",
        term="pembrolizumab",
        intr="radiation",
        sponsor="Pfizer",
        status=("RECRUITING", "COMPLETED"),
        phase=("PHASE2", "PHASE3"),
        nct_ids=("NCT00000102", "NCT07232407"),
        advanced="AREA[StartDate]RANGE[2020-01-01,MAX]",
        updated_since="2025-01-01",
    )
    assert query.params() == {
        "query.cond": "lung cancer",
        "query.term": "pembrolizumab",
        "query.intr": "radiation",
        "query.spons": "Pfizer",
        "filter.overallStatus": "RECRUITING,COMPLETED",
        "filter.ids": "NCT00000102,NCT07232407",
        "filter.advanced": "(AREA[StartDate]RANGE[2020-01-01,MAX]) AND (AREA[Phase]PHASE2 OR AREA[Phase]PHASE3) "
        "AND AREA[LastUpdatePostDate]RANGE[2025-01-01,MAX]",
    }
    assert StudyQuery(phase=("PHASE3",)).params() == {"filter.advanced": "AREA[Phase]PHASE3"}
    assert StudyQuery.from_json(json.loads(json.dumps(query.to_json()))) == query
    assert StudyQuery().params() == {}
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        StudyQuery(updated_since="25/01/2025")
    with pytest.raises(ValueError, match="unknown phase PHASE5"):
        StudyQuery(phase=("PHASE5",))


def test_query_options_reach_the_server_and_select_what_they_say(server: ReplayServer, tmp_path: Path) -> None:
    studies = server.data.studies()
    expected = {
        nct(study)
        for study in studies
        if "PHASE3" in study["protocolSection"].get("designModule", {}).get("phases", [])
        and study["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"] >= "2024-06-01"
    }
    assert expected  # the real data has such trials
    client = client_for(server)
    folder = start_harvest(
        StudyQuery(phase=("PHASE3",), updated_since="2024-06-01"), client, root=tmp_path, page_size=40
    )
    report = run_harvest(folder, client)
    assert {nct(study) for study in harvested(folder)} == expected
    assert report.records == report.reported_total == len(expected)
    sent = server.requests()[0]
    assert sent["filter.advanced"] == "AREA[Phase]PHASE3 AND AREA[LastUpdatePostDate]RANGE[2024-06-01,MAX]"
    assert sent["countTotal"] == "true" and all("countTotal" not in params for params in server.requests()[1:])


def test_limit_stops_after_that_many_records(server: ReplayServer, tmp_path: Path) -> None:
    client = client_for(server)
    report = run_harvest(start_harvest(StudyQuery(), client, root=tmp_path, page_size=30, limit=75), client)
    assert report.records == 75 and len(harvested(report.folder)) == 75
    assert len(server.requests()) == 3  # 30 + 30 + 15 of the third page: no page fetched beyond the limit


# --- paging -------------------------------------------------------------------------------------------------------


def test_an_exactly_full_last_page_ends_at_the_empty_page_its_false_token_yields(server: ReplayServer) -> None:
    ids = sorted(nct(study) for study in server.data.studies())[:12]
    params = {"filter.ids": ",".join(ids)}
    pages = list(client_for(server).iter_pages(params, page_size=4))
    assert [len(page.studies) for page in pages] == [4, 4, 4, 0]
    assert pages[2].next_token is not None  # the false final token
    assert [nct(study) for page in pages for study in page.studies] == ids
    assert len(server.requests()) == 4
    server.look_ahead = True  # a server that looks ahead gives no token on the last page: one request fewer
    assert [len(page.studies) for page in client_for(server).iter_pages(params, page_size=4)] == [4, 4, 4]


def test_id_listing_asks_for_nct_ids_only(server: ReplayServer) -> None:
    assert client_for(server).list_ids({}, page_size=500) == {nct(study) for study in server.data.studies()}
    assert {params["fields"] for params in server.requests()} == {"NCTId"}


# --- politeness and faults ----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_with_every_fault_switched_on_a_harvest_ends_with_each_real_record_once_and_the_built_graph(
    server: ReplayServer, real_studies: dict[str, dict[str, Any]], real_build: tuple[str, Any], tmp_path: Path
) -> None:
    server.faults.rotate(FAULTS, every=2)
    client = client_for(server)
    size = divisor_page_size(len(real_studies))
    report = run_harvest(start_harvest(StudyQuery(), client, root=tmp_path, page_size=size), client)
    assert set(server.faults.injected) == set(FAULTS)
    records = harvested(report.folder)
    assert sorted(nct(study) for study in records) == sorted(real_studies)  # each real trial, each once
    assert records == [real_studies[nct(study)] for study in records]  # as the registry has them
    assert report.complete and report.records == report.reported_total == len(real_studies)
    if size > 1:  # the last page was exactly full: its token led to one empty page, then the harvest stopped
        assert report.pages == len(real_studies) // size + 1
    spec = f"oxigraph:{tmp_path / 'store'}"
    built = build([report.folder], spec)
    assert built.problems == [] and built.trials == len(real_studies)  # the manifest and checkpoint are not records
    assert quads_without_build_graph(spec) == quads_without_build_graph(real_build[0])


def test_retry_after_is_honoured(server: ReplayServer) -> None:
    server.faults.retry_after = "1"
    server.faults.push("429")
    started = time.monotonic()
    ids = client_for(server).list_ids({"filter.ids": "NCT07232407"})
    assert time.monotonic() - started >= 1.0
    assert len(server.requests()) == 2 and server.faults.injected == ["429"]
    assert ids <= {"NCT07232407"}


def test_a_client_error_is_not_retried(server: ReplayServer) -> None:
    with pytest.raises(ApiError, match=r"page 1: HTTP 400 .*`query\.bogus` is unknown parameter"):
        client_for(server).page({"query.bogus": "x"}, token=None, number=1)
    assert len(server.requests()) == 1


def test_bounded_retries_end_in_one_clear_error_naming_the_page_and_how_to_resume(
    server: ReplayServer, real_studies: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    client = client_for(server, retry=RetryPolicy(tries=3, backoff=0.01, max_backoff=0.02, jitter=0.01))
    folder = start_harvest(StudyQuery(), client, root=tmp_path, page_size=100)

    def outage_after_two_pages(records: int, total: int | None) -> None:
        if records >= 200:
            server.faults.always("503")

    with pytest.raises(HarvestError) as raised:
        run_harvest(folder, client, on_progress=outage_after_two_pages)
    message = str(raised.value)
    assert "page 3 could not be fetched after 3 tries (the last error: HTTP 503" in message
    assert f"continue with: kg fetch --resume --raw {folder}" in message
    assert read_manifest(folder)["status"] == "running"
    server.faults.always(None)
    report = run_harvest(folder, client)  # what `kg fetch --resume` runs
    assert sorted(nct(study) for study in harvested(folder)) == sorted(real_studies)
    assert report.complete and report.records == len(real_studies)
    tokens = [params.get("pageToken") for params in server.requests()]
    assert tokens.count(None) == 1  # the resumed harvest went on from page 3, not from the start


def test_the_cli_prints_one_line_and_the_resume_command_when_the_api_keeps_failing(
    server: ReplayServer, tmp_path: Path
) -> None:
    server.faults.always("500")
    result = kg(
        "fetch", "--base-url", server.url, "--rate", "0", "--tries", "2", "--backoff", "0.01", "--timeout", "1",
        "--raw", str(tmp_path / "raw"), home=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "page 1 could not be fetched after 2 tries (the last error: HTTP 500" in result.stderr
    folder = find_harvest(tmp_path / "raw", complete=False)
    assert folder is not None and "kg fetch --resume --raw" in result.stderr and folder.name in result.stderr


def test_the_request_budget_paces_requests(server: ReplayServer) -> None:
    client = client_for(server, rate=10)
    client.list_ids({}, page_size=100)
    times = [moment for moment, path, _ in server.log if path == "/api/v2/studies"]
    assert len(times) >= 12
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert times[-1] - times[0] >= 0.1 * len(gaps) * 0.95  # at most 10 requests per second overall
    assert min(gaps) >= 0.05  # and never a burst (arrival times jitter a little on a busy machine)


# --- resume -------------------------------------------------------------------------------------------------------


def test_a_page_written_after_the_checkpoint_is_fetched_again_not_kept_twice(
    server: ReplayServer, real_studies: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    client = client_for(server)
    folder = start_harvest(StudyQuery(), client, root=tmp_path, page_size=100)
    server.faults.always("503")
    with pytest.raises(HarvestError):
        run_harvest(folder, client)
    server.faults.always(None)
    # as if killed after writing page 1 and its ids but before the checkpoint: a torn ids line too
    page = next(client.iter_pages({}, page_size=100))
    (folder / "pages").mkdir(exist_ok=True)
    (folder / "pages" / "page-000001.json.gz").write_bytes(gzip.compress(page.body))
    (folder / "harvest-ids.txt").write_text("".join(f"1\t{nct(study)}\n" for study in page.studies) + "1\tNCT0")
    run_harvest(folder, client)
    assert sorted(nct(study) for study in harvested(folder)) == sorted(real_studies)


@pytest.mark.slow
def test_kill_9_mid_harvest_then_resume_gives_the_same_final_set_each_once(
    server: ReplayServer, real_studies: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    raw = tmp_path / "raw"
    env = {**os.environ, "KG_HOME": str(tmp_path)}
    fetch = [sys.executable, "-m", "kg", "fetch", "--base-url", server.url, "--raw", str(raw), "--page-size", "40"]
    process = subprocess.Popen([*fetch, "--rate", "8"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(list(raw.glob("*/pages/*.json.gz"))) < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL
    folder = find_harvest(raw, complete=False)
    assert folder is not None, "the harvest finished before it could be killed"
    done_before = json.loads((folder / CHECKPOINT).read_text())["pages"]
    assert 3 <= done_before < len(real_studies) // 40
    result = kg("fetch", "--resume", "--raw", str(raw), "--rate", "0", "--format", "json", home=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["harvest"] == str(folder) and summary["records"] == len(real_studies)
    assert sorted(nct(study) for study in harvested(folder)) == sorted(real_studies)
    assert read_manifest(folder)["status"] == "complete"
    first_pages = [params for params in server.requests() if "pageToken" not in params]
    assert len(first_pages) == 1  # the resumed run continued from its checkpoint


# --- bulk ---------------------------------------------------------------------------------------------------------


def test_bulk_download_continues_a_broken_transfer_and_is_cached_per_data_version(
    server: ReplayServer, real_studies: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    client = client_for(server)
    folder = start_harvest(StudyQuery(), client, root=tmp_path, kind="bulk")
    whole = server.bulk_zip()
    (folder / (BULK_FILE + ".part")).write_bytes(whole[:100_000])  # what a killed download left
    server.faults.push("drop")  # and the next transfer breaks off half-way
    report = run_bulk(folder, client)
    assert (folder / BULK_FILE).read_bytes() == whole
    assert report.complete and report.records == len(real_studies)
    assert len(server.requests("/api/v2/studies/download")) == 2
    assert not (folder / (BULK_FILE + ".part")).exists()
    again = kg("fetch", "--bulk", "--base-url", server.url, "--rate", "0", "--raw", str(tmp_path), home=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "already downloaded" in again.stderr and len(server.requests("/api/v2/studies/download")) == 2


# --- kg update ----------------------------------------------------------------------------------------------------


@pytest.fixture
def small_server() -> Iterator[ReplayServer]:
    """Every third real record (all source files represented): enough for the update, a third of the build time."""
    with ReplayServer(ReplayData(ReplayData.real().studies()[::3])) as replay:
        yield replay


@pytest.mark.slow
def test_update_reports_exactly_the_registry_changes_and_equals_a_fresh_build(
    small_server: ReplayServer, tmp_path: Path
) -> None:
    server = small_server
    raw, spec = tmp_path / "raw", f"oxigraph:{tmp_path / 'store'}"
    fetched = kg(
        "fetch", "--base-url", server.url, "--rate", "0", "--raw", str(raw), "--page-size", "500", "--build",
        "--store", spec, home=tmp_path,
    )  # fmt: skip
    assert fetched.returncode == 0, fetched.stderr
    ids = sorted(nct(study) for study in server.data.studies())
    today = datetime.now(timezone.utc).date().isoformat()
    updated, removed = [ids[3], ids[150], ids[300]], ids[200]
    server.data.update(updated, day=today)
    server.data.remove(removed)
    added = server.data.add_synthetic(2, day=today, template=ids[10])

    result = kg("update", "--store", spec, "--raw", str(raw), "--rate", "0", "--format", "json", home=tmp_path)
    assert result.returncode == 0, result.stderr
    changes = json.loads(result.stdout)
    assert (changes["new"], changes["updated"], changes["removed"]) == (added, updated, [removed])
    assert changes["problems"] == []

    current = tmp_path / "current.jsonl"
    current.write_text("".join(json.dumps(study) + "\n" for study in server.data.studies()))
    fresh = f"oxigraph:{tmp_path / 'fresh'}"
    build([current], fresh)
    assert quads_without_build_graph(spec) == quads_without_build_graph(fresh)

    again = kg("update", "--store", spec, "--raw", str(raw), "--rate", "0", home=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "new: 0, updated: 0, removed: 0" in again.stdout
    manifest = read_manifest(find_harvest(raw, complete=True, kinds=("update",)) or raw)
    assert manifest["since"] == today and manifest["changes"]["new"] == []


def test_update_without_a_harvest_says_what_to_do(server: ReplayServer, tmp_path: Path) -> None:
    result = kg("update", "--raw", str(tmp_path / "none"), "--base-url", server.url, home=tmp_path)
    assert result.returncode == 2 and "run `kg fetch` first" in result.stderr


def test_manifest_records_query_time_counts_and_data_version(server: ReplayServer, tmp_path: Path) -> None:
    client = client_for(server)
    folder = start_harvest(StudyQuery(cond="lung"), client, root=tmp_path, page_size=1000)
    run_harvest(folder, client)
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["query"]["cond"] == "lung" and manifest["params"] == {"query.cond": "lung"}
    assert manifest["data_version"] == server.data.timestamp and manifest["base_url"] == server.url
    assert manifest["counts"]["records"] == len(harvested(folder)) > 0
    assert datetime.fromisoformat(manifest["started"]) <= datetime.fromisoformat(manifest["finished"])


def test_an_update_fetched_but_never_applied_is_not_the_next_updates_starting_point(
    server: ReplayServer, tmp_path: Path
) -> None:
    from kg.ctgov.raw_store import annotate
    from kg.pipeline.update import last_harvest

    client = client_for(server)
    fetched = run_harvest(start_harvest(StudyQuery(nct_ids=("NCT07232407",)), client, root=tmp_path), client).folder
    interrupted = start_harvest(StudyQuery().since("2026-01-01"), client, root=tmp_path, kind="update")
    run_harvest(interrupted, client)  # fetched, but the process died before the store was changed
    assert last_harvest(tmp_path) == fetched
    annotate(interrupted, changes={"new": [], "updated": [], "removed": []})
    assert last_harvest(tmp_path) == interrupted


def test_cli_search_options_repeated_or_comma_separated(server: ReplayServer, tmp_path: Path) -> None:
    studies = server.data.studies()
    chosen = [nct(study) for study in studies[:5]]
    statuses = {study["protocolSection"]["statusModule"]["overallStatus"] for study in studies[:2]}
    result = kg(
        "fetch", "--base-url", server.url, "--rate", "0", "--raw", str(tmp_path), "--format", "json",
        "--nct", ",".join(chosen[:3]), "--nct", " ".join(chosen[3:]), *(f"--status={status}" for status in statuses),
        home=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    sent = server.requests()[0]
    assert sent["filter.ids"] == ",".join(chosen) and set(sent["filter.overallStatus"].split(",")) == statuses
    expected = {
        nct(study) for study in studies[:5] if study["protocolSection"]["statusModule"]["overallStatus"] in statuses
    }
    folder = Path(json.loads(result.stdout)["harvest"])
    assert {nct(study) for study in harvested(folder)} == expected


def test_intervention_and_term_searches_match_as_substrings(server: ReplayServer) -> None:
    def interventions(study: dict[str, Any]) -> str:
        items = study["protocolSection"].get("armsInterventionsModule", {}).get("interventions", [])
        return " ".join(name for item in items for name in [item.get("name", ""), *item.get("otherNames", [])])

    studies = server.data.studies()
    client = client_for(server)
    placebo = {nct(study) for study in studies if "placebo" in interventions(study).lower()}
    assert placebo and client.list_ids(StudyQuery(intr="Placebo").params()) == placebo
    lutetium = {nct(study) for study in studies if "lutetium" in json.dumps(study).lower()}
    assert client.list_ids(StudyQuery(term="LUTETIUM").params()) == lutetium
