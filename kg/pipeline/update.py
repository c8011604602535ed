"""``kg update``: bring a store up to date with the registry without a full rebuild.

1. Fetch what the registry posted as updated since the last harvest of the same search
   (``AREA[LastUpdatePostDate]RANGE[day,MAX]``) into a new harvest folder, raw, before any mapping.
2. List the ids the search finds now (``fields=NCTId``): trials in the store that the registry no longer lists
   were removed.
3. Replace the graph of each new or changed trial (a record whose ``lastUpdatePostDate`` differs from the stored one),
   drop the graphs of removed trials, prune shared nodes no trial points to, recompute information content and the
   related-trials index: the store then equals a fresh build of the registry's current records (up to the build's own
   provenance graph and the change events). Contact persons are mapped only if the store's build kept them
   (``kg build --no-contacts``).
4. Before a trial is replaced or dropped, what the store held of it is compared field by field with the new record:
   each change is an event in ``kgr:graph/changes`` (:mod:`kg.pipeline.changes`), under one ``kg:Update`` per run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from pyoxigraph import Quad

from kg.analysis.indexes import refresh_saved_indexes
from kg.ctgov.api import CtgovClient, StudyQuery
from kg.ctgov.mapping import MappedTrial, RawStudy, RecordError, map_study, nct_id_of, study_last_update
from kg.ctgov.raw_store import (
    HarvestError,
    annotate,
    harvest_root,
    harvests,
    iter_page_records,
    read_manifest,
    run_harvest,
    start_harvest,
)
from kg.graphs import trial_graph
from kg.pipeline.build import PRUNE_ORPHANS, replace_trial
from kg.pipeline.changes import (
    UpdateRun,
    event_quads,
    facts_from_quads,
    record_changes,
    stored_facts,
    stored_versions,
)
from kg.pipeline.information_content import update_information_content
from kg.store import Store, open_store
from kg.vocab import SPARQL_PROLOGUE

__all__ = ["UpdateReport", "contacts_included", "last_harvest", "update"]

logger = logging.getLogger(__name__)

_CONTACTS_INCLUDED: Final = SPARQL_PROLOGUE + "SELECT ?included WHERE { kgr:build kg:contactsIncluded ?included }"
#: Changed records mapped and compared with their stored versions at a time: one facts query per batch.
_BATCH: Final = 1_000


@dataclass
class UpdateReport:
    """What ``kg update`` changed: trial ids, sorted."""

    since: str
    folder: Path
    new: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    problems: list[str] = field(default_factory=list)
    #: Change events recorded (``kgr:graph/changes``): none when the same changes were recorded before.
    change_events: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "harvest": str(self.folder),
            "new": self.new,
            "updated": self.updated,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "problems": self.problems,
            "change_events": self.change_events,
        }


def contacts_included(store: Store) -> bool:
    """Whether the store's build kept contact persons: an update must not add what a build left out (stores built
    before the option existed kept them)."""
    return all(row["included"] is not False for row in store.select(_CONTACTS_INCLUDED).rows)


def last_harvest(raw: Path | None) -> Path | None:
    """The latest complete harvest whose records are in the store: a fetch, or an update that was applied (an update
    interrupted between fetching and applying must not become the next one's starting point)."""
    for folder in reversed(harvests(harvest_root(raw))):
        manifest = read_manifest(folder)
        if manifest["status"] == "complete" and (manifest["kind"] != "update" or "changes" in manifest):
            return folder
    return None


def update(
    spec: str | None,
    client: CtgovClient,
    *,
    raw: Path | None = None,
    on_progress: Callable[[int, int | None], None] | None = None,
) -> UpdateReport:
    """Refresh the store ``spec`` from the registry, as the latest complete harvest under ``raw`` searched it."""
    last = last_harvest(raw)
    if last is None:
        raise HarvestError(f"no complete harvest in {harvest_root(raw)} to update from: run `kg fetch` first")
    with open_store(spec) as store:  # the writer lock before harvesting: a second writer refuses at once
        base = read_manifest(last)
        query = StudyQuery.from_json(base.get("base_query") or base["query"])
        since = datetime.fromisoformat(base["started"]).date().isoformat()  # that day again: the registry posts by day
        root = last.parent
        folder = start_harvest(
            query.since(since), client, root=root, kind="update", extra={"base_query": query.to_json(), "since": since}
        )
        run_harvest(folder, client, on_progress=on_progress, resume_command="kg update (it starts afresh)")
        listed = client.list_ids(query.params())
        report = UpdateReport(since, folder)
        stored = stored_versions(store)
        include_contacts = contacts_included(store)
        run = UpdateRun.now(folder.name)
        registry = read_manifest(folder).get("data_version")
        events: list[Quad] = []
        batch: list[MappedTrial] = []
        for study in iter_page_records(folder):
            mapped = _changed_record(study, stored, report, include_contacts=include_contacts)
            if mapped is None:
                continue
            (report.updated if mapped.nct_id in stored else report.new).append(mapped.nct_id)
            listed.add(mapped.nct_id)  # posted after the listing was taken: still in the registry
            batch.append(mapped)
            if len(batch) >= _BATCH:
                events += _replace_batch(store, batch, run, registry)
                batch = []
        events += _replace_batch(store, batch, run, registry)
        report.removed = sorted(set(stored) - listed)
        events += _remove(store, report.removed, run, registry)
        report.change_events = record_changes(store, events, run)
        changed = bool(report.new or report.updated or report.removed)
        if changed:
            store.update(PRUNE_ORPHANS)
            update_information_content(store)
    report.new.sort()
    report.updated.sort()
    changes = {key: value for key, value in report.to_json().items() if key not in ("since", "harvest")}
    annotate(folder, changes=changes)  # the update harvest's manifest says what it changed
    if changed:
        refresh_saved_indexes(spec)
    return report


def _changed_record(
    study: RawStudy, stored: dict[str, str], report: UpdateReport, *, include_contacts: bool
) -> MappedTrial | None:
    """The record mapped when it is new or changed; None when it is unchanged or cannot be mapped (reported)."""
    nct_id = nct_id_of(study)
    if nct_id is None:
        report.problems.append(f"{report.folder}: a record without an NCT id; skipped")
        return None
    if nct_id in stored and stored[nct_id] == study_last_update(study):
        report.unchanged += 1
        return None
    try:
        return map_study(study, include_contacts=include_contacts)
    except RecordError as error:
        report.problems.append(f"{nct_id}: {error}; record skipped")
        return None


def _replace_batch(store: Store, batch: list[MappedTrial], run: UpdateRun, registry: str | None) -> list[Quad]:
    """Replace the trials of ``batch`` after reading what they were: the events of their changes."""
    old = stored_facts(store, (mapped.nct_id for mapped in batch))
    events: list[Quad] = []
    for mapped in batch:
        events += event_quads(
            old.get(mapped.nct_id), facts_from_quads(mapped.nct_id, mapped.quads), run, registry=registry
        )
        replace_trial(store, mapped.nct_id, mapped.quads)
    return events


def _remove(store: Store, nct_ids: list[str], run: UpdateRun, registry: str | None) -> list[Quad]:
    """Drop the graphs of trials the registry no longer lists, after reading what they were: their events."""
    old = stored_facts(store, nct_ids)
    events: list[Quad] = []
    for nct_id in nct_ids:
        events += event_quads(old.get(nct_id), None, run, registry=registry)
        store.remove_graph(trial_graph(nct_id))
    return events
