"""``kg fetch`` and ``kg update``: harvest the live registry (API v2) into the raw store; refresh a store from it."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from kg.cli.app import FormatOption, StoreOption, app
from kg.cli.output import Format, console, errors, print_json, print_result

if TYPE_CHECKING:
    from kg.ctgov.api import CtgovClient, StudyQuery

__all__ = ["fetch", "update"]

BaseUrlOption = Annotated[
    Optional[str],  # noqa: UP045 - typer needs Optional on Python 3.10
    typer.Option(
        "--base-url",
        envvar="KG_CTGOV_URL",
        show_default=False,
        help="API v2 root (default: https://clinicaltrials.gov/api/v2, or the harvest's own when resuming).",
    ),
]
RateOption = Annotated[float, typer.Option("--rate", help="At most this many requests per second; 0 turns it off.")]
RawOption = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option("--raw", show_default=False, help="Folder of harvests (default: $KG_HOME/harvests), or one harvest."),
]
TimeoutOption = Annotated[float, typer.Option("--timeout", help="Seconds to wait for a response before trying again.")]
TriesOption = Annotated[int, typer.Option("--tries", min=1, help="Tries per request before giving up.")]
BackoffOption = Annotated[
    float, typer.Option("--backoff", help="First wait before trying again, in seconds; doubles each time.")
]
_LIST_SEPARATORS = re.compile(r"[\s,|]+")


@app.command()
def fetch(
    cond: Annotated[Optional[str], typer.Option(help="Conditions or disease (query.cond).")] = None,  # noqa: UP045
    term: Annotated[Optional[str], typer.Option(help="Other terms (query.term).")] = None,  # noqa: UP045
    intr: Annotated[Optional[str], typer.Option(help="Intervention / treatment (query.intr).")] = None,  # noqa: UP045
    sponsor: Annotated[Optional[str], typer.Option(help="Sponsor / collaborator (query.spons).")] = None,  # noqa: UP045
    status: Annotated[
        list[str], typer.Option(help="Overall status, e.g. RECRUITING; repeatable or comma-separated.")
    ] = [],  # noqa: B006
    phase: Annotated[list[str], typer.Option(help="EARLY_PHASE1, PHASE1…PHASE4 or NA (AREA[Phase]); repeatable.")] = [],  # noqa: B006
    nct: Annotated[list[str], typer.Option(help="NCT ids (filter.ids); repeatable or comma-separated.")] = [],  # noqa: B006
    advanced: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="A raw Essie expression (filter.advanced), e.g. AREA[StartDate]RANGE[2024-01-01,MAX]."),
    ] = None,
    updated_since: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Only records posted as updated on or after this date (YYYY-MM-DD)."),
    ] = None,
    limit: Annotated[Optional[int], typer.Option(min=1, help="Stop after this many records.")] = None,  # noqa: UP045
    page_size: Annotated[int, typer.Option(min=1, max=1000, help="Records per request.")] = 1000,
    base_url: BaseUrlOption = None,
    rate: RateOption = 1.0,
    timeout: TimeoutOption = 120.0,
    tries: TriesOption = 6,
    backoff: BackoffOption = 1.0,
    resume: Annotated[bool, typer.Option(help="Continue the latest unfinished harvest from its checkpoint.")] = False,
    bulk: Annotated[
        bool, typer.Option(help="Download the whole registry as one zip instead (the fast path to all trials).")
    ] = False,
    force: Annotated[bool, typer.Option(help="With --bulk: download again even if this data version is here.")] = False,
    build: Annotated[bool, typer.Option(help="Build the store from the harvest afterwards.")] = False,
    raw: RawOption = None,
    store: StoreOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Harvest ClinicalTrials.gov (API v2) into the raw store: paged, polite, resumable; --build maps it too."""
    from kg.ctgov.api import StudyQuery
    from kg.ctgov.raw_store import (
        HarvestError,
        find_harvest,
        harvest_root,
        read_manifest,
        resume_hint,
        run_bulk,
        run_harvest,
    )

    try:
        query = StudyQuery(
            cond=cond,
            term=term,
            intr=intr,
            sponsor=sponsor,
            status=_items(status, upper=True),
            phase=_items(phase, upper=True),
            nct_ids=_items(nct, upper=True),
            advanced=advanced,
            updated_since=updated_since,
        )
    except ValueError as error:
        errors.print(f"error: {error}", markup=False, style="red")
        raise typer.Exit(2) from None
    searched = query != StudyQuery()
    if bulk and (searched or limit is not None):
        errors.print("error: --bulk downloads the whole registry: drop the search options", style="red")
        raise typer.Exit(2)
    folder: Path | None = None
    try:
        if resume:
            folder = find_harvest(raw, complete=False, kinds=("bulk",) if bulk else ("pages", "bulk"))
            if folder is None:
                raise HarvestError(f"nothing to resume: no unfinished harvest in {harvest_root(raw)}")
            manifest = read_manifest(folder)
            if searched and query != StudyQuery.from_json(manifest["query"]):
                raise HarvestError(f"{folder} harvests another search: resume it without search options")
            client = _client(base_url or manifest["base_url"], rate, timeout, tries, backoff)
            bulk = manifest["kind"] == "bulk"
        else:
            client = _client(base_url, rate, timeout, tries, backoff)
            folder = _start(query, client, raw, bulk=bulk, force=force, page_size=page_size, limit=limit)
        if bulk:
            with _progress("Downloading the registry", "bytes") as advance:
                report = run_bulk(folder, client, on_bytes=advance)
        else:
            with _progress("Harvesting", "records") as advance:
                report = run_harvest(folder, client, on_progress=advance)
    except HarvestError as error:
        errors.print(f"error: {error}", markup=False, style="red")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        hint = "" if folder is None else f"; continue with: {resume_hint(folder)}"
        errors.print(f"Interrupted{hint}", markup=False, style="yellow")
        raise typer.Exit(130) from None
    summary = {
        "harvest": str(report.folder),
        "kind": report.kind,
        "records": report.records,
        "pages": report.pages,
        "duplicates_dropped": report.duplicates,
        "reported_total": report.reported_total,
        "data_version": report.data_version,
    }
    if fmt is Format.json:
        print_json(summary)
    elif report.kind == "bulk":
        errors.print(
            f"The registry's {report.records:,} records are in {report.folder}; "
            f"data version {report.data_version or 'unknown'}.",
            markup=False,
        )
    else:
        errors.print(
            f"Harvested {report.records:,} records ({report.pages:,} pages, {report.duplicates:,} duplicate(s) "
            f"dropped; the API reported {report.reported_total if report.reported_total is not None else 'no'} "
            f"total) into {report.folder}; data version {report.data_version or 'unknown'}.",
            markup=False,
        )
    if build:
        from kg.cli.build import build as build_command

        build_command([report.folder], store)


def _start(
    query: StudyQuery,
    client: CtgovClient,
    raw: Path | None,
    *,
    bulk: bool,
    force: bool,
    page_size: int,
    limit: int | None,
) -> Path:
    """A new harvest folder; a bulk harvest reuses the last complete download of the same data version."""
    from kg.ctgov.raw_store import find_harvest, harvest_root, read_manifest, start_harvest

    if bulk and not force:
        previous = find_harvest(raw, complete=True, kinds=("bulk",))
        if previous is not None:
            version = read_manifest(previous).get("data_version")
            if version is not None and version == client.data_version():
                errors.print(f"Data version {version} is already downloaded (--force downloads it again).")
                return previous
    return start_harvest(
        query, client, root=harvest_root(raw), kind="bulk" if bulk else "pages", page_size=page_size, limit=limit
    )


@app.command()
def update(
    store: StoreOption = None,
    raw: RawOption = None,
    base_url: BaseUrlOption = None,
    rate: RateOption = 1.0,
    timeout: TimeoutOption = 120.0,
    tries: TriesOption = 6,
    backoff: BackoffOption = 1.0,
    fmt: FormatOption = Format.table,
) -> None:
    """Refresh the store from the registry: new, updated and removed trials since the last harvest."""
    from kg.ctgov.raw_store import read_manifest
    from kg.pipeline.update import last_harvest
    from kg.pipeline.update import update as run_update
    from kg.store import QueryResult

    last = last_harvest(raw)
    client = _client(base_url or (read_manifest(last)["base_url"] if last else None), rate, timeout, tries, backoff)
    with _progress("Fetching changes", "records") as advance:  # a HarvestError is one line, exit 2 (kg.cli.main)
        report = run_update(store, client, raw=raw, on_progress=advance)
    for problem in report.problems[:50]:
        errors.print(f"skipped: {problem}", markup=False, style="yellow")
    if fmt is Format.json:
        print_json(report.to_json())
        return
    rows = [
        {"change": change, "nct_id": nct_id}
        for change, ids in (("new", report.new), ("updated", report.updated), ("removed", report.removed))
        for nct_id in ids
    ]
    if rows:
        print_result(QueryResult(["change", "nct_id"], rows), fmt, title=f"Changes since {report.since}")  # type: ignore[arg-type]
    console.print(
        f"new: {len(report.new):,}, updated: {len(report.updated):,}, removed: {len(report.removed):,}, "
        f"unchanged: {report.unchanged:,}, change events: {report.change_events:,} (`kg changes`; raw records in "
        f"{report.folder})",
        markup=False,
        highlight=False,
    )


def _client(base_url: str | None, rate: float, timeout: float, tries: int, backoff: float) -> CtgovClient:
    from kg.ctgov.api import CtgovClient, RetryPolicy

    if rate < 0:
        raise typer.BadParameter("--rate cannot be negative (0 turns the budget off)")
    return CtgovClient(
        base_url,  # None: KG_CTGOV_URL or the public API
        rate=rate,
        timeout=(min(timeout, 30.0), timeout),
        retry=RetryPolicy(tries=tries, backoff=backoff, jitter=backoff),
    )


def _items(values: list[str], *, upper: bool = False) -> tuple[str, ...]:
    """Repeated and comma-separated values alike."""
    items = [item for value in values for item in _LIST_SEPARATORS.split(value.strip()) if item]
    return tuple(item.upper() if upper else item for item in items)


@contextlib.contextmanager
def _progress(description: str, unit: str) -> Iterator[Callable[[int, int | None], None]]:
    """A bar sized by the total the API announces (a spinner until then), on stderr."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        SpinnerColumn(),
        TextColumn(description),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=errors, transient=True) as progress:
        task = progress.add_task(description, total=None)
        yield lambda done, total: progress.update(task, completed=done, total=total)
