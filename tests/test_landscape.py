"""Landscape tables on the real records equal independent counts over the raw JSON and NLM's MeSH file, both as the
named queries compute them and as the landscape fact table does (byte-identical); the report is offline, escapes
hostile text and renders in a browser."""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kg.analysis.landscape import TABLES, Landscape, index_rows, landscape, make_scope
from kg.identifiers import normalize_mesh_id
from kg.pipeline.build import build
from kg.queries import run
from kg.store import Store, open_store
from tests.browser_support import needs_chromium, screenshot, watch
from tests.conftest import CTGOV_DATA, MESH_DATA, NEOPLASMS, needs_mesh, needs_real_data

Study = dict[str, Any]
ANTINEOPLASTIC_AGENTS = "D000970"
LEAF = "D011470"  # Prostatic Hyperplasia: no children in MeSH, trials in the real records
NO_TRIALS = "D000001"  # Calcimycin: a descriptor no real record has as a condition
#: Both ways of computing a landscape: the named queries (``fast=False``) and the landscape fact table.
PATHS = pytest.mark.parametrize("fast", [False, True], ids=["queries", "fact-table"])
HOSTILE = '"><img src=x onerror=alert(1)></script><script>alert(2)</script>'

pytestmark = [needs_real_data, needs_mesh]


# --- an independent reading of NLM's MeSH file and of the raw records ---------------------------------------------


class Mesh:
    """Tree numbers and pharmacological actions read straight from the NLM ASCII files."""

    def __init__(self) -> None:
        self.trees: dict[str, list[str]] = defaultdict(list)
        self.actions: dict[str, list[str]] = defaultdict(list)
        self.heading_ui: dict[str, str] = {}
        self.heading: dict[str, str] = {}
        for name in ("d2024-reduced.bin", "c2024-reduced.bin"):
            for record in (MESH_DATA / name).read_text(encoding="utf-8").split("*NEWRECORD"):
                fields: dict[str, list[str]] = defaultdict(list)
                for line in record.splitlines():
                    key, sep, value = line.partition(" = ")
                    if sep:
                        fields[key].append(value)
                if "UI" not in fields:
                    continue
                ui = fields["UI"][0]
                self.trees[ui] = fields["MN"]
                self.actions[ui] = fields["PA"]
                heading = (fields["MH"] or fields["NM"])[0]
                self.heading[ui] = heading
                if fields["MH"]:
                    self.heading_ui[heading.casefold()] = ui

    def under(self, ui: str, root: str) -> bool:
        """``ui`` is ``root`` or below it in the tree (tree numbers)."""
        return ui == root or any(t.startswith(r + ".") for t in self.trees.get(ui, ()) for r in self.trees[root])

    def action_uis(self, ui: str) -> list[str]:
        return [self.heading_ui[h.casefold()] for h in self.actions.get(ui, ()) if h.casefold() in self.heading_ui]

    def reaches(self, ui: str, root: str, *, actions: bool) -> bool:
        """The concept is the root, under it, or (a supplementary concept always; a descriptor with ``actions``)
        has a pharmacological action at or under it."""
        if self.under(ui, root):
            return True
        return (actions or ui.startswith("C")) and any(self.under(a, root) for a in self.action_uis(ui))

    def children(self, root: str) -> set[str]:
        prefixes = self.trees[root]
        return {
            ui
            for ui, trees in self.trees.items()
            if any(t.rpartition(".")[0] == p for t in trees for p in prefixes) and ui.startswith("D")
        }


def _module(study: Study, name: str) -> dict[str, Any]:
    return study["protocolSection"].get(name, {})


def _mesh_ids(study: Study, module: str, *fields: str) -> set[str]:
    browse = study.get("derivedSection", {}).get(module, {})
    return {normalize_mesh_id(item["id"]) for field in fields for item in browse.get(field, [])}


def _phase(study: Study) -> str:
    phases = sorted(_module(study, "designModule").get("phases") or [])
    if not phases:
        return "NONE"
    return phases[0] if phases[0] == phases[-1] else f"{phases[0]}/{phases[-1]}"


def _status(study: Study) -> str:
    return _module(study, "statusModule").get("overallStatus", "NONE")


def _condition_scope(studies: dict[str, Study], mesh: Mesh, root: str) -> dict[str, Study]:
    return {
        nct: s
        for nct, s in studies.items()
        if any(mesh.reaches(ui, root, actions=False) for ui in _mesh_ids(s, "conditionBrowseModule", "meshes"))
    }


def _intervention_scope(studies: dict[str, Study], mesh: Mesh, root: str) -> dict[str, Study]:
    return {
        nct: s
        for nct, s in studies.items()
        if any(mesh.reaches(ui, root, actions=True) for ui in _mesh_ids(s, "interventionBrowseModule", "meshes"))
    }


@pytest.fixture(scope="module")
def mesh() -> Mesh:
    return Mesh()


@pytest.fixture(scope="module")
def mesh_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """The real records built with NLM's MeSH files (the ``--mesh`` build path), opened read-only."""
    spec = f"oxigraph:{tmp_path_factory.mktemp('landscape') / 'store'}"
    build([CTGOV_DATA], spec, mesh=[MESH_DATA / "d2024-reduced.bin", MESH_DATA / "c2024-reduced.bin"])
    with open_store(spec, read_only=True) as store:
        yield store


@pytest.fixture(scope="module")
def neoplasms(real_studies: dict[str, Study], mesh: Mesh) -> dict[str, Study]:
    scope = _condition_scope(real_studies, mesh, NEOPLASMS)
    assert len(scope) > 50  # urology (kidney, bladder, prostate cancer) and mixed files
    return scope


@pytest.fixture(scope="module", params=[False, True], ids=["queries", "fact-table"])
def neoplasms_landscape(request: pytest.FixtureRequest, mesh_store: Store) -> Landscape:
    return landscape(mesh_store, NEOPLASMS, fast=request.param)


@pytest.fixture(scope="module", params=["queries", "fact-table"])
def neoplasms_rows(request: pytest.FixtureRequest, mesh_store: Store) -> dict[str, list[dict[str, Any]]]:
    """Every Neoplasms table: the named queries as `kg query` runs them, and the fact table's rows."""
    if request.param == "queries":
        return {table: run(mesh_store, f"landscape_{table}", {"concept": NEOPLASMS}).rows for table in TABLES}
    return index_rows(mesh_store, make_scope(mesh_store, NEOPLASMS))


# --- each named query against the raw records ---------------------------------------------------------------------


@pytest.mark.slow
def test_landscape_summary(neoplasms_rows: dict[str, list[dict[str, Any]]], neoplasms: dict[str, Study]) -> None:
    assert neoplasms_rows["summary"] == [{"trials": len(neoplasms), "synthetic": 0}]


@pytest.mark.slow
def test_landscape_phase_status(neoplasms_rows: dict[str, list[dict[str, Any]]], neoplasms: dict[str, Study]) -> None:
    expected = Counter((_phase(s), _status(s)) for s in neoplasms.values())
    assert {(r["phase"], r["status"]): r["trials"] for r in neoplasms_rows["phase_status"]} == dict(expected)


@pytest.mark.slow
def test_landscape_start_years(neoplasms_rows: dict[str, list[dict[str, Any]]], neoplasms: dict[str, Study]) -> None:
    trials: Counter[int] = Counter()
    estimated: Counter[int] = Counter()
    for study in neoplasms.values():
        start = _module(study, "statusModule").get("startDateStruct", {})
        if "date" in start:
            trials[int(start["date"][:4])] += 1
            estimated[int(start["date"][:4])] += start.get("type") in ("ESTIMATED", "ANTICIPATED")
    rows = neoplasms_rows["start_years"]
    assert {r["year"]: (r["trials"], r["estimated_starts"]) for r in rows} == {
        year: (count, estimated[year]) for year, count in trials.items()
    }


@pytest.mark.slow
def test_landscape_sponsor_classes(
    neoplasms_rows: dict[str, list[dict[str, Any]]], neoplasms: dict[str, Study]
) -> None:
    expected = Counter(
        _module(s, "sponsorCollaboratorsModule").get("leadSponsor", {}).get("class", "NONE") for s in neoplasms.values()
    )
    assert {r["sponsor_class"]: r["trials"] for r in neoplasms_rows["sponsor_classes"]} == dict(expected)


@pytest.mark.slow
def test_landscape_top_sponsors(neoplasms_rows: dict[str, list[dict[str, Any]]], neoplasms: dict[str, Study]) -> None:
    by_name: Counter[str] = Counter()
    for study in neoplasms.values():
        name = _module(study, "sponsorCollaboratorsModule").get("leadSponsor", {}).get("name")
        if name:
            by_name[" ".join(name.casefold().split())] += 1
    rows = neoplasms_rows["top_sponsors"]
    assert [r["trials"] for r in rows] == sorted(by_name.values(), reverse=True)[:25]
    assert all(by_name[" ".join(str(r["sponsor"]).casefold().split())] == r["trials"] for r in rows)


@pytest.mark.slow
def test_landscape_countries(neoplasms_rows: dict[str, list[dict[str, Any]]], neoplasms: dict[str, Study]) -> None:
    expected: Counter[str] = Counter()
    for study in neoplasms.values():
        places = _module(study, "contactsLocationsModule").get("locations", [])
        expected.update({place["country"] for place in places if place.get("country")})
    assert {r["country"]: r["trials"] for r in neoplasms_rows["countries"]} == dict(expected)


@pytest.mark.slow
def test_landscape_enrollment(
    neoplasms_rows: dict[str, list[dict[str, Any]]], neoplasms: dict[str, Study], neoplasms_landscape: Landscape
) -> None:
    values = [
        s["protocolSection"]["designModule"]["enrollmentInfo"]["count"]
        for s in neoplasms.values()
        if "count" in _module(s, "designModule").get("enrollmentInfo", {})
    ]
    rows = neoplasms_rows["enrollment"]
    assert {r["enrollment"]: r["trials"] for r in rows} == dict(Counter(values))
    summary = neoplasms_landscape.enrollment
    quartiles = statistics.quantiles(values, n=4, method="inclusive")
    assert (summary.quantiles["P25"], summary.quantiles["P50"], summary.quantiles["P75"]) == pytest.approx(quartiles)
    assert (summary.trials, summary.minimum, summary.maximum, summary.total) == (
        len(values),
        min(values),
        max(values),
        sum(values),
    )
    assert sum(row["trials"] for row in summary.histogram) == len(values)
    assert next(row["trials"] for row in summary.histogram if row["low"] == 101) == sum(101 <= v <= 250 for v in values)


@pytest.mark.slow
def test_landscape_stopped(
    neoplasms_rows: dict[str, list[dict[str, Any]]], neoplasms: dict[str, Study], neoplasms_landscape: Landscape
) -> None:
    expected = Counter(
        (_status(s), _module(s, "statusModule").get("whyStopped", "").strip())
        for s in neoplasms.values()
        if _status(s) in ("TERMINATED", "WITHDRAWN")
    )
    rows = neoplasms_rows["stopped"]
    assert {(r["status"], r["why_stopped"]): r["trials"] for r in rows} == dict(expected)
    stopped = neoplasms_landscape.stopped
    statuses = Counter(_status(s) for s in neoplasms.values())
    assert (stopped.terminated, stopped.withdrawn) == (statuses["TERMINATED"], statuses["WITHDRAWN"])
    assert stopped.share == pytest.approx((statuses["TERMINATED"] + statuses["WITHDRAWN"]) / len(neoplasms), abs=1e-4)


@pytest.mark.slow
def test_landscape_matrix(
    neoplasms_rows: dict[str, list[dict[str, Any]]], neoplasms: dict[str, Study], mesh: Mesh
) -> None:
    children = mesh.children(NEOPLASMS)
    assert "D009371" in children  # Neoplasms by Site
    expected: Counter[tuple[str, str, str]] = Counter()
    for study in neoplasms.values():
        terms = _mesh_ids(study, "conditionBrowseModule", "meshes")
        rows = {child for child in children if any(mesh.reaches(ui, child, actions=False) for ui in terms)}
        interventions = _module(study, "armsInterventionsModule").get("interventions", [])
        types = {item.get("type") or "OTHER" for item in interventions} or {"NONE"}
        expected.update((row, kind, _phase(study)) for row in rows for kind in types)
    rows = neoplasms_rows["matrix"]
    found = {(str(r["row"]).rsplit("/", 1)[-1], r["intervention_type"], r["phase"]): r["trials"] for r in rows}
    assert found == dict(expected)
    assert {str(r["row_label"]) for r in rows} <= {mesh.heading[ui] for ui in children}


# --- the other scopes ---------------------------------------------------------------------------------------------


@pytest.mark.slow
@PATHS
def test_landscape_by_intervention_and_pharmacological_action(
    mesh_store: Store, real_studies: dict[str, Study], mesh: Mesh, fast: bool
) -> None:
    """Antineoplastic Agents is a pharmacological action: drugs count through their PA field, not their tree."""
    scope = _intervention_scope(real_studies, mesh, ANTINEOPLASTIC_AGENTS)
    through_action_only = [
        nct
        for nct, s in scope.items()
        if not any(mesh.under(ui, ANTINEOPLASTIC_AGENTS) for ui in _mesh_ids(s, "interventionBrowseModule", "meshes"))
    ]
    assert len(scope) > 20 and through_action_only
    result = landscape(mesh_store, intervention=ANTINEOPLASTIC_AGENTS, fast=fast)
    assert result.trials == len(scope)
    assert {(r["phase"], r["status"]): r["trials"] for r in result.phase_status} == dict(
        Counter((_phase(s), _status(s)) for s in scope.values())
    )
    assert result.matrix == [] and any("needs a condition" in note for note in result.notes)


@pytest.mark.slow
@PATHS
def test_landscape_condition_and_intervention(
    mesh_store: Store, neoplasms: dict[str, Study], mesh: Mesh, fast: bool
) -> None:
    both = _intervention_scope(neoplasms, mesh, ANTINEOPLASTIC_AGENTS)
    assert 0 < len(both) < len(neoplasms)
    result = landscape(mesh_store, NEOPLASMS, ANTINEOPLASTIC_AGENTS, fast=fast)
    assert result.trials == len(both)
    assert {r["sponsor_class"]: r["trials"] for r in result.sponsor_classes} == dict(
        Counter(
            _module(s, "sponsorCollaboratorsModule").get("leadSponsor", {}).get("class", "NONE") for s in both.values()
        )
    )
    assert result.scope.condition is not None and result.scope.condition.label == "Neoplasms"
    assert result.scope.intervention is not None and result.scope.intervention.label == "Antineoplastic Agents"


@PATHS
def test_landscape_registry_fallback(real_store: Store, real_studies: dict[str, Study], fast: bool) -> None:
    """Without MeSH files the registry's own lists define the subtree, and the result says so."""
    scope = {
        nct: s
        for nct, s in real_studies.items()
        if NEOPLASMS in _mesh_ids(s, "conditionBrowseModule", "meshes", "ancestors")
    }
    result = landscape(real_store, "D000009369", fast=fast)  # the padded spelling of 2023-24 downloads
    assert result.scope.hierarchy == "registry" and "registry" in result.notes[0]
    assert result.trials == len(scope)
    assert {(r["phase"], r["status"]): r["trials"] for r in result.phase_status} == dict(
        Counter((_phase(s), _status(s)) for s in scope.values())
    )
    assert result.matrix == [] and any("needs the MeSH tree" in note for note in result.notes)
    drugs = landscape(real_store, intervention=ANTINEOPLASTIC_AGENTS, fast=fast)
    assert drugs.trials == sum(
        ANTINEOPLASTIC_AGENTS in _mesh_ids(s, "interventionBrowseModule", "meshes", "ancestors")
        for s in real_studies.values()
    )


# --- the fact table against the queries ---------------------------------------------------------------------------


def _json(result: Landscape) -> str:
    """The landscape's JSON as `kg landscape --format json` writes it, without the time it took."""
    data = result.to_json()
    del data["seconds"]
    return json.dumps(data, ensure_ascii=False)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("condition", "intervention"),
    [
        (NEOPLASMS, None),
        (None, ANTINEOPLASTIC_AGENTS),
        (NEOPLASMS, ANTINEOPLASTIC_AGENTS),
        (LEAF, None),
        (NO_TRIALS, None),
    ],
    ids=["neoplasms", "antineoplastic-agents", "both", "leaf", "no-trials"],
)
def test_fact_table_landscape_is_the_queries_landscape(
    mesh_store: Store, condition: str | None, intervention: str | None, tmp_path: Path
) -> None:
    from kg.views.landscape_report import write_report

    queries = landscape(mesh_store, condition, intervention, fast=False)
    table = landscape(mesh_store, condition, intervention, fast=True)
    assert _json(table) == _json(queries)
    assert (table.trials == 0) == (condition == NO_TRIALS)
    if condition == NEOPLASMS and intervention is None:
        assert table.matrix and table.top_sponsors and table.stopped.reasons  # every table has rows to compare
        for name, result in (("queries", queries), ("table", table)):
            write_report(result, tmp_path / name)
        for csv in (tmp_path / "queries").glob("*.csv"):
            assert (tmp_path / "table" / csv.name).read_bytes() == csv.read_bytes(), csv.name


@pytest.mark.parametrize(
    ("condition", "intervention"),
    [(NEOPLASMS, None), (None, ANTINEOPLASTIC_AGENTS), (NEOPLASMS, ANTINEOPLASTIC_AGENTS)],
)
def test_fact_table_landscape_is_the_queries_landscape_without_mesh(
    real_store: Store, condition: str | None, intervention: str | None
) -> None:
    table = landscape(real_store, condition, intervention, fast=True)
    assert table.scope.hierarchy == "registry" and table.trials > 0
    assert _json(table) == _json(landscape(real_store, condition, intervention, fast=False))


# --- command line and report --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_kg_landscape_writes_report_and_csvs(mesh_store: Store, neoplasms: dict[str, Study], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from kg.cli.main import app

    out = tmp_path / "report"
    # A second read-only opening of the on-disk store beside the fixture's (read-only openings share it).
    answer = CliRunner().invoke(
        app, ["landscape", "--condition", NEOPLASMS, "-o", str(out), "--store", mesh_store.spec, "--format", "json"]
    )
    assert answer.exit_code == 0, answer.output
    data = json.loads(answer.stdout)
    assert data["trials"] == len(neoplasms) and data["report"] == str(out / "index.html")
    assert (out / "index.html").is_file()
    with (out / "phase_status.csv").open(encoding="utf-8") as stream:
        lines = stream.read().splitlines()
    assert lines[0] == "phase,status,trials"
    assert sum(int(line.rsplit(",", 1)[1]) for line in lines[1:]) == len(neoplasms)
    assert {path.name for path in out.glob("*.csv")} >= {"countries.csv", "matrix.csv", "stopped_reasons.csv"}


@pytest.mark.slow
@needs_chromium
def test_landscape_report_in_browser(neoplasms_landscape: Landscape, tmp_path: Path, page: Any) -> None:
    """The Neoplasms report on the real records: offline from file://, no console error, every figure drawn."""
    from plotly.offline import get_plotlyjs

    from kg.views.landscape_report import write_report

    index = write_report(neoplasms_landscape, tmp_path / "neoplasms", store="real records + MeSH 2024")
    text = index.read_text(encoding="utf-8")
    assert text.count(get_plotlyjs()) == 1  # plotly.js inlined once
    # Outside plotly.js itself (whose source names plotly.com), nothing points off the page.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text.replace(get_plotlyjs(), ""))
    log = watch(page)
    page.goto(index.as_uri())
    page.wait_for_selector("#figure-matrix .main-svg")
    assert page.locator(".plotly .main-svg").count() >= 7
    screenshot(page, "landscape-neoplasms")
    assert log.requests == [index.as_uri()] and log.console_errors == [] and log.page_errors == []


@pytest.mark.slow
@needs_chromium
def test_landscape_report_escapes_hostile_text(tmp_path: Path, page: Any) -> None:
    """A record whose sponsor, country and stop reason are markup shows them as text and runs nothing."""
    from kg.ctgov.mapping import enumeration_quads
    from kg.demo import demo_mesh_file, seed_study
    from kg.pipeline.build import BuildReport, load_records
    from kg.pipeline.mesh_load import load_mesh
    from kg.views.landscape_report import write_report

    study = seed_study()
    protocol = study["protocolSection"]
    protocol["sponsorCollaboratorsModule"]["leadSponsor"]["name"] = HOSTILE
    protocol["statusModule"]["overallStatus"] = "TERMINATED"
    protocol["statusModule"]["whyStopped"] = HOSTILE
    for place in protocol["contactsLocationsModule"]["locations"]:
        place["country"] = HOSTILE
    (tmp_path / "hostile.json").write_text(json.dumps(study), encoding="utf-8")
    with open_store("oxigraph:") as store:
        store.add(enumeration_quads())
        load_records(store, [tmp_path / "hostile.json"], BuildReport())
        load_mesh(store, [demo_mesh_file()])
        result = landscape(store, NEOPLASMS)
    assert result.trials == 1 and result.top_sponsors[0]["sponsor"] == HOSTILE
    index = write_report(result, tmp_path / "report")
    text = index.read_text(encoding="utf-8")
    assert "<img src=x" not in text and "<script>alert" not in text
    log = watch(page)
    page.goto(index.as_uri())
    page.wait_for_selector("#figure-top_sponsors .main-svg")
    assert HOSTILE in page.locator("#stopped table").inner_text()
    assert log.dialogs == [] and log.page_errors == [] and log.requests == [index.as_uri()]
