"""``kg update``: bring a store up to date with the registry without a full rebuild.

1. Fetch what the registry posted as updated since the last harvest of the same search
   (``AREA[LastUpdatePostDate]RANGE[day,MAX]``) into a new harvest folder, raw, before any mapping.
2. List the ids the search finds now (``fields=NCTId``): trials in the store that the registry no longer lists
   were removed.
3. Replace the graph of each new or changed trial (a record whose ``lastUpdatePostDate`` differs from the stored one),
   drop the graphs of removed trials, prune shared nodes no trial points to, recompute information content and the
   related-trials index: the store then equals a fresh build of the registry's current records (up to the build's own
   provenance graph). Contact persons are mapped only if the store's build kept them (``kg build --no-contacts``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from kg.analysis.indexes import refresh_saved_indexes
from kg.ctgov.api import CtgovClient, StudyQuery
from kg.ctgov.mapping import RecordError, map_study, nct_id_of, study_last_update
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
from kg.pipeline.information_content import update_information_content
from kg.store import Store, open_store
from kg.vocab import SPARQL_PROLOGUE

__all__ = ["UpdateReport", "contacts_included", "last_harvest", "stored_versions", "update"]

logger = logging.getLogger(__name__)

_STORED: Final = (
    SPARQL_PROLOGUE
    + """SELECT ?id ?posted WHERE {
  ?trial a <https://schema.org/MedicalTrial> ; <http://purl.org/dc/terms/identifier> ?id .
  OPTIONAL { ?trial kg:lastUpdatePosted ?posted }
}"""
)
_CONTACTS_INCLUDED: Final = SPARQL_PROLOGUE + "SELECT ?included WHERE { kgr:build kg:contactsIncluded ?included }"


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

    def to_json(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "harvest": str(self.folder),
            "new": self.new,
            "updated": self.updated,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "problems": self.problems,
        }


def stored_versions(store: Store) -> dict[str, str]:
    """NCT id → ``lastUpdatePostDate`` of every trial in the store ("" when the record had none)."""
    return {str(row["id"]): str(row["posted"] or "") for row in store.select(_STORED).rows}


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
        changed = False
        for study in iter_page_records(folder):
            nct_id = nct_id_of(study)
            if nct_id is None:
                report.problems.append(f"{folder}: a record without an NCT id; skipped")
                continue
            if nct_id in stored and stored[nct_id] == study_last_update(study):
                report.unchanged += 1
                continue
            try:
                mapped = map_study(study, include_contacts=include_contacts)
            except RecordError as error:
                report.problems.append(f"{nct_id}: {error}; record skipped")
                continue
            replace_trial(store, nct_id, mapped.quads)
            (report.updated if nct_id in stored else report.new).append(nct_id)
            listed.add(nct_id)  # posted after the listing was taken: still in the registry
            changed = True
        report.removed = sorted(set(stored) - listed)
        for nct_id in report.removed:
            store.remove_graph(trial_graph(nct_id))
            changed = True
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
