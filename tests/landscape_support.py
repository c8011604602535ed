"""Independent expectations for the landscape's pipeline, mechanism and portfolio tables: plain Python over the raw
ClinicalTrials.gov records and NLM's MeSH files (read with kg.mesh's file reader, an input reader, not the code
under test). Nothing here calls kg.analysis."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from functools import cache, cached_property
from typing import Any

from kg.identifiers import normalize_mesh_id
from kg.mesh.files import Descriptor, SupplementaryConcept, iter_mesh_file
from tests.conftest import MESH_DATA

Study = dict[str, Any]
Row = dict[str, Any]
#: The pipeline's phase order, written out: a trial's phase (its combination) ranks by its place here, others 0.
PHASE_ORDER = ["EARLY_PHASE1", "PHASE1", "PHASE1/PHASE2", "PHASE2", "PHASE2/PHASE3", "PHASE3", "PHASE4"]
LEAD_SPONSORS = 3
TOP_ACTIONS = 15


class MeshFiles:
    """Tree numbers, headings, mappings and pharmacological actions as NLM's ASCII files give them."""

    def __init__(self) -> None:
        self.trees: dict[str, tuple[str, ...]] = {}
        self.heading: dict[str, str] = {}
        self.action_headings: dict[str, tuple[str, ...]] = {}
        self.mapped_headings: dict[str, tuple[str, ...]] = {}
        for name in ("d2024-reduced.bin", "c2024-reduced.bin"):
            for record in iter_mesh_file(MESH_DATA / name):
                if isinstance(record, Descriptor):
                    self.trees[record.ui] = record.tree_numbers
                    self.heading[record.ui] = record.heading
                    self.action_headings[record.ui] = record.pharmacological_actions
                elif isinstance(record, SupplementaryConcept):
                    self.heading[record.ui] = record.name
                    self.action_headings[record.ui] = record.pharmacological_actions
                    self.mapped_headings[record.ui] = tuple(heading for heading, _major in record.mapped_to)
        self.by_heading = {self.heading[ui].casefold(): ui for ui in self.trees}
        self._ancestors: dict[str, set[str]] = {}

    def _uis(self, headings: Iterable[str]) -> list[str]:
        return [self.by_heading[h.casefold()] for h in headings if h.casefold() in self.by_heading]

    def actions(self, ui: str) -> list[str]:
        """The descriptors named by the concept's PA fields."""
        return self._uis(self.action_headings.get(ui, ()))

    def ancestors(self, ui: str) -> set[str]:
        """Every descriptor above ``ui`` through parents (the descriptor holding a tree number's parent number),
        so a polyhierarchy counts each parent's ancestors; a supplementary concept starts from its mapped headings."""
        if ui not in self._ancestors:
            by_number = self._by_number
            start = self._uis(self.mapped_headings.get(ui, ())) if ui.startswith("C") else [ui]
            found = set(start) - {ui}
            stack = list(start)
            while stack:
                for tree in self.trees.get(stack.pop(), ()):
                    parent = by_number.get(tree.rpartition(".")[0])
                    if parent is not None and parent not in found:
                        found.add(parent)
                        stack.append(parent)
            self._ancestors[ui] = found
        return self._ancestors[ui]

    @cached_property
    def _by_number(self) -> dict[str, str]:
        return {tree: ui for ui, trees in self.trees.items() for tree in trees}

    def under(self, ui: str, root: str) -> bool:
        """``ui`` is ``root`` or below it (a supplementary concept: through its mapped headings)."""
        return ui == root or root in self.ancestors(ui)

    def reaches(self, ui: str, root: str, *, actions: bool = True) -> bool:
        """The concept is at or under ``root``, or has a pharmacological action at or under it (a supplementary
        concept always; a descriptor with ``actions``, as an intervention filter counts them but not a subtree)."""
        through_actions = actions or ui.startswith("C")
        return self.under(ui, root) or (through_actions and any(self.under(a, root) for a in self.actions(ui)))

    @cache  # noqa: B019 - one instance per test module
    def children(self, root: str) -> set[str]:
        return {
            ui
            for ui, trees in self.trees.items()
            if any(t.rpartition(".")[0] == r for t in trees for r in self.trees[root])
        }


def module(study: Study, name: str) -> dict[str, Any]:
    return study["protocolSection"].get(name, {})


def nct(study: Study) -> str:
    return str(study["protocolSection"]["identificationModule"]["nctId"])


def mesh_terms(study: Study, browse: str) -> set[str]:
    return {normalize_mesh_id(item["id"]) for item in study.get("derivedSection", {}).get(browse, {}).get("meshes", [])}


def phase(study: Study) -> str:
    phases = sorted(module(study, "designModule").get("phases") or [])
    if not phases:
        return "NONE"
    return phases[0] if phases[0] == phases[-1] else f"{phases[0]}/{phases[-1]}"


def rank(study: Study) -> int:
    return PHASE_ORDER.index(phase(study)) + 1 if phase(study) in PHASE_ORDER else 0


def start(study: Study) -> str | None:
    return module(study, "statusModule").get("startDateStruct", {}).get("date")


def lead_sponsor(study: Study) -> str | None:
    return module(study, "sponsorCollaboratorsModule").get("leadSponsor", {}).get("name")


def same_name(name: str) -> str:
    """Sponsor names as the graph merges them: case and spacing ignored."""
    return " ".join(name.casefold().split())


def condition_scope(studies: dict[str, Study], mesh: MeshFiles, root: str) -> dict[str, Study]:
    return {key: s for key, s in studies.items() if condition_terms(s, mesh, root)}


def condition_terms(study: Study, mesh: MeshFiles, root: str) -> set[str]:
    """The study's condition terms that put it in the ``root`` subtree."""
    return {ui for ui in mesh_terms(study, "conditionBrowseModule") if mesh.reaches(ui, root, actions=False)}


def drugs(study: Study, mesh: MeshFiles, intervention: str | None) -> set[str]:
    """The study's intervention terms (those reaching ``intervention`` when one is given)."""
    terms = mesh_terms(study, "interventionBrowseModule")
    return {ui for ui in terms if intervention is None or mesh.reaches(ui, intervention)}


def intervention_scope(studies: dict[str, Study], mesh: MeshFiles, root: str) -> dict[str, Study]:
    return {key: s for key, s in studies.items() if drugs(s, mesh, root)}


def _label(mesh: MeshFiles, ui: str, studies: Iterable[Study]) -> str:
    """The MeSH heading, else the smallest term the records give the concept, else the UI."""
    if ui in mesh.heading:
        return mesh.heading[ui]
    terms = [
        item["term"]
        for s in studies
        for item in s.get("derivedSection", {}).get("interventionBrowseModule", {}).get("meshes", [])
        if normalize_mesh_id(item["id"]) == ui and item.get("term")
    ]
    return min(terms, default=ui)


def pipeline(scope: dict[str, Study], mesh: MeshFiles, intervention: str | None) -> list[Row]:
    """Per drug: actions, highest phase, trials there and in all, status of the most advanced trial (rank, then
    latest start, then highest NCT id), first and latest start, top lead sponsors (names compared case-blind)."""
    by_drug: dict[str, list[Study]] = defaultdict(list)
    for study in scope.values():
        for ui in drugs(study, mesh, intervention):
            by_drug[ui].append(study)
    rows = []
    for ui, studies in by_drug.items():
        top = max(rank(s) for s in studies)
        lead = max(studies, key=lambda s: (rank(s), start(s) or "", nct(s)))
        starts = [start(s) for s in studies if start(s)]
        sponsors = Counter(same_name(name) for s in studies if (name := lead_sponsor(s)))
        leads = sorted(sponsors.items(), key=lambda item: (-item[1], item[0]))[:LEAD_SPONSORS]
        rows.append(
            {
                "drug": ui,
                "drug_label": _label(mesh, ui, studies),
                "actions": "; ".join(sorted({mesh.heading[a] for a in mesh.actions(ui)})),
                "highest_phase": PHASE_ORDER[top - 1] if top else "NA",
                "trials_at_phase": sum(rank(s) == top for s in studies),
                "trials": len(studies),
                "status": module(lead, "statusModule").get("overallStatus", "NONE"),
                "first_start": min(starts, default=None),
                "latest_start": max(starts, default=None),
                "lead_sponsors": "; ".join(f"{name} ({count})" for name, count in leads),
                "_rank": top,
            }
        )
    rows.sort(key=lambda row: (-row["_rank"], -row["trials"], row["drug_label"], row["drug"]))
    return [{key: value for key, value in row.items() if key != "_rank"} for row in rows]


def trial_actions(study: Study, mesh: MeshFiles) -> set[str]:
    return {action for ui in mesh_terms(study, "interventionBrowseModule") for action in mesh.actions(ui)}


def mechanisms(scope: dict[str, Study], mesh: MeshFiles) -> list[Row]:
    counts = Counter(action for study in scope.values() for action in trial_actions(study, mesh))
    rows = [{"action": a, "action_label": mesh.heading[a], "trials": n} for a, n in counts.items()]
    return sorted(rows, key=lambda row: (-row["trials"], row["action_label"], row["action"]))


def mechanism_matrix(
    scope: dict[str, Study], mesh: MeshFiles, root: str, under: str | None
) -> dict[tuple[str, str, str], int]:
    """(row, action, phase) → trials, rows the children of ``root`` and ``root`` itself, for the top actions or
    those at or under ``under``."""
    ranked = [row["action"] for row in mechanisms(scope, mesh)]
    columns = set(ranked[:TOP_ACTIONS] if under is None else [a for a in ranked if mesh.under(a, under)])
    cells: Counter[tuple[str, str, str]] = Counter()
    for study in scope.values():
        terms = condition_terms(study, mesh, root)
        rows = {child for child in mesh.children(root) if any(mesh.reaches(ui, child, actions=False) for ui in terms)}
        for row in rows | ({root} & terms):  # the condition itself: a row for the trials indexed to it
            cells.update((row, action, phase(study)) for action in trial_actions(study, mesh) & columns)
    return dict(cells)


def portfolio(scope: dict[str, Study], mesh: MeshFiles, root: str | None, sponsor: str) -> dict[tuple[str, str], int]:
    """(condition term, phase) -> the sponsor's trials in scope with that term (one reaching ``root`` if given)."""
    cells: Counter[tuple[str, str]] = Counter()
    for study in scope.values():
        if same_name(lead_sponsor(study) or "") == same_name(sponsor):
            terms = condition_terms(study, mesh, root) if root else mesh_terms(study, "conditionBrowseModule")
            cells.update((term, phase(study)) for term in terms)
    return dict(cells)


ACTIVE_SITES = {"RECRUITING", "NOT_YET_RECRUITING", "ENROLLING_BY_INVITATION", "ACTIVE_NOT_RECRUITING"}


def world_map(scope: dict[str, Study]) -> dict[str, tuple[int, int, int]]:
    """country -> (trials with a site there, sites, active sites by the site's own status)."""
    trials: Counter[str] = Counter()
    sites: Counter[str] = Counter()
    active: Counter[str] = Counter()
    for study in scope.values():
        places = [
            place for place in module(study, "contactsLocationsModule").get("locations", []) if place.get("country")
        ]
        trials.update({place["country"] for place in places})
        sites.update(place["country"] for place in places)
        active.update(place["country"] for place in places if place.get("status") in ACTIVE_SITES)
    return {country: (count, sites[country], active[country]) for country, count in trials.items()}


def _month(date: str) -> int | None:
    return int(date[:4]) * 12 + int(date[5:7]) if len(date) >= 7 else None


def duration(study: Study) -> tuple[str, int] | None:
    """("actual" or "planned", months from start to primary completion): actual when both types are ACTUAL,
    planned when the primary completion is ANTICIPATED (ESTIMATED in API v2); else none."""
    status = module(study, "statusModule")
    began, primary = status.get("startDateStruct", {}), status.get("primaryCompletionDateStruct", {})
    if primary.get("type") in ("ANTICIPATED", "ESTIMATED"):
        kind = "planned"
    elif began.get("type") == "ACTUAL" and primary.get("type") == "ACTUAL":
        kind = "actual"
    else:
        return None
    first, last = _month(began.get("date", "")), _month(primary.get("date", ""))
    return (kind, last - first) if first is not None and last is not None else None


def design(study: Study) -> tuple[str, str, str, int]:
    """(allocation, masking, primary purpose, arm groups), NOT_STATED for a field the record leaves out."""
    info = module(study, "designModule").get("designInfo", {})
    return (
        info.get("allocation", "NOT_STATED"),
        info.get("maskingInfo", {}).get("masking", "NOT_STATED"),
        info.get("primaryPurpose", "NOT_STATED"),
        len(module(study, "armsInterventionsModule").get("armGroups", [])),
    )


def enrollment(study: Study) -> int | None:
    return module(study, "designModule").get("enrollmentInfo", {}).get("count")


def benchmark_figures(studies: Iterable[Study]) -> dict[tuple[str, str], tuple[float, int]]:
    """(measure, group) -> (median or share, trials), computed plainly: medians of durations and enrollment per
    phase and of arms (trials listing arms), shares of each stated allocation, masking and primary purpose."""
    values: dict[tuple[str, str], list[int]] = defaultdict(list)
    stated: dict[str, Counter[str]] = defaultdict(Counter)
    for study in studies:
        if found := duration(study):
            values[(f"duration_{found[0]}_months", phase(study))].append(found[1])
        if (count := enrollment(study)) is not None:
            values[("enrollment", phase(study))].append(count)
        allocation, masking, purpose, arms = design(study)
        if arms:
            values[("arms", "")].append(arms)
        for measure, code in (("allocation", allocation), ("masking", masking), ("primary_purpose", purpose)):
            if code != "NOT_STATED":
                stated[f"{measure}_share"][code] += 1
    figures = {key: (statistics.median(found), len(found)) for key, found in values.items()}
    for measure, counts in stated.items():
        total = sum(counts.values())
        figures.update({(measure, code): (count / total, count) for code, count in counts.items()})
    return figures
