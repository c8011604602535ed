"""Landscape tables on the real records equal independent counts over the raw JSON and NLM's MeSH file, both as the
named queries compute them and as the landscape fact table does (byte-identical); the report is offline, escapes
hostile text and renders in a browser."""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from kg.analysis.landscape import TABLES, Landscape, index_rows, landscape, make_scope
from kg.identifiers import normalize_mesh_id
from kg.queries import QueryError, run
from kg.store import Store, open_store
from tests import landscape_support as raw
from tests.browser_support import ARTEFACTS, needs_chromium, screenshot, watch
from tests.conftest import MESH_DATA, NEOPLASMS, needs_mesh, needs_real_data

Study = dict[str, Any]
ANTINEOPLASTIC_AGENTS = "D000970"
LEAF = "D011470"  # Prostatic Hyperplasia: no children in MeSH, trials in the real records
NO_TRIALS = "D000001"  # Calcimycin: a descriptor no real record has as a condition
ERECTILE_DYSFUNCTION = "D007172"
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
def mesh_store(real_mesh_store: Store) -> Store:
    """The real records built with NLM's MeSH files (the ``--mesh`` build path), opened read-only."""
    return real_mesh_store


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


# --- pipeline, mechanism x indication and sponsor portfolios against the raw records ------------------------------


@pytest.fixture(scope="module")
def mesh_files() -> raw.MeshFiles:
    return raw.MeshFiles()


def _in_scope(
    studies: dict[str, Study], mesh: raw.MeshFiles, condition: str | None, intervention: str | None
) -> dict[str, Study]:
    found = raw.condition_scope(studies, mesh, condition) if condition else studies
    return raw.intervention_scope(found, mesh, intervention) if intervention else found


def _case_blind(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pipeline rows with the lead sponsors' names compared as the graph merges them (case and spacing)."""
    return [{**row, "lead_sponsors": raw.same_name(str(row["lead_sponsors"]))} for row in rows]


@pytest.mark.slow
@PATHS
@pytest.mark.parametrize(
    ("condition", "intervention"),
    [(NEOPLASMS, None), (ERECTILE_DYSFUNCTION, None), (None, ANTINEOPLASTIC_AGENTS)],
    ids=["neoplasms", "erectile-dysfunction", "antineoplastic-agents"],
)
def test_pipeline_mechanisms_and_portfolios_equal_the_records(
    mesh_store: Store,
    real_studies: dict[str, Study],
    mesh_files: raw.MeshFiles,
    condition: str | None,
    intervention: str | None,
    fast: bool,
) -> None:
    scope = _in_scope(real_studies, mesh_files, condition, intervention)
    indexed = [s for s in scope.values() if raw.mesh_terms(s, "conditionBrowseModule")]
    sponsors = [name for name, _ in Counter(filter(None, map(raw.lead_sponsor, indexed))).most_common(2)]
    expected = raw.pipeline(scope, mesh_files, intervention)
    # Enough variety that the highest phase, the ties and the missing phases are exercised.
    assert len(expected) > 15 and {row["highest_phase"] for row in expected} >= {"PHASE2", "PHASE3"}
    assert any(row["trials_at_phase"] < row["trials"] for row in expected)
    result = landscape(mesh_store, condition, intervention, sponsors=sponsors, fast=fast)

    assert _case_blind(result.pipeline) == _case_blind(expected)
    by_drug: Counter[tuple[str, str]] = Counter()
    for study in scope.values():
        if name := raw.lead_sponsor(study):
            by_drug.update((drug, raw.same_name(name)) for drug in raw.drugs(study, mesh_files, intervention))
    assert {(r["drug"], raw.same_name(r["sponsor"])): r["trials"] for r in result.pipeline_sponsors} == dict(by_drug)
    assert result.mechanisms == raw.mechanisms(scope, mesh_files)
    world = {r["country"]: (r["trials"], r["sites"], r["active_sites"]) for r in result.map}
    assert world == raw.world_map(scope) and any(active for _, _, active in world.values())
    assert result.sponsors == sponsors
    for sponsor in sponsors:
        cells = {(r["row"], r["phase"]): r["trials"] for r in result.portfolio if r["sponsor"] == sponsor}
        assert cells and cells == raw.portfolio(scope, mesh_files, condition, sponsor)
    found = {(r["row"], r["action"], r["phase"]): r["trials"] for r in result.mechanism_matrix}
    if condition is None:
        assert found == {}
    else:
        assert found and found == raw.mechanism_matrix(scope, mesh_files, condition, None)


@pytest.mark.slow
@PATHS
def test_mechanism_columns_under_a_chosen_action(
    mesh_store: Store, neoplasms: dict[str, Study], mesh_files: raw.MeshFiles, fast: bool
) -> None:
    """Columns: the actions at or under Antineoplastic Agents, given as --action or as the intervention filter."""
    expected = raw.mechanism_matrix(neoplasms, mesh_files, NEOPLASMS, ANTINEOPLASTIC_AGENTS)
    assert len({action for _, action, _ in expected}) > 2
    chosen = landscape(mesh_store, NEOPLASMS, action=ANTINEOPLASTIC_AGENTS, fast=fast)
    assert {(r["row"], r["action"], r["phase"]): r["trials"] for r in chosen.mechanism_matrix} == expected
    filtered = landscape(mesh_store, NEOPLASMS, ANTINEOPLASTIC_AGENTS, fast=fast)
    assert {r["action"] for r in filtered.mechanism_matrix} <= {action for _, action, _ in expected}


@PATHS
def test_unknown_sponsor_names_close_matches(mesh_store: Store, fast: bool) -> None:
    with pytest.raises(QueryError, match=r"no lead sponsor is named 'pfizer'.*close matches: 'Pfizer'"):
        landscape(mesh_store, ERECTILE_DYSFUNCTION, sponsors=["pfizer"], fast=fast)


@pytest.mark.slow
@needs_chromium
def test_landscape_sections_in_browser(mesh_store: Store, tmp_path: Path, page: Any) -> None:
    """The pipeline chart, the mechanism heatmap, a portfolio and the world map drawn offline, each with its table a
    click away."""
    from kg.views.landscape_report import write_report

    result = landscape(mesh_store, ERECTILE_DYSFUNCTION, sponsors=[str(landscape_top_sponsor(mesh_store))])
    index = write_report(result, tmp_path / "sections")
    log = watch(page)
    page.goto(index.as_uri())
    for figure in ("pipeline", "mechanism_matrix", "portfolio_0", "map", "benchmarks"):
        page.wait_for_selector(f"#figure-{figure} .main-svg")
    assert page.locator("#figure-pipeline .bars path").count() >= min(len(result.pipeline), 40) - 5
    assert page.locator("#figure-mechanism_matrix .hm").count() == 1
    # Countries drawn from the inlined geometry (plotly.js would otherwise fetch it from its CDN).
    assert page.locator("#figure-map .choroplethlocation").count() >= len(result.map) - 10 > 0
    details = page.locator("#pipeline details")
    assert not details.locator("table").is_visible()
    details.locator("summary").click()
    assert details.locator("table tr").count() == min(len(result.pipeline), 40) + 1
    for section in ("pipeline", "mechanisms", "portfolio", "map", "benchmarks"):
        page.locator(f"#{section}").screenshot(path=str(ARTEFACTS / f"landscape-{section}.png"))
    assert log.requests == [index.as_uri()] and log.console_errors == [] and log.page_errors == []


def landscape_top_sponsor(store: Store) -> object:
    return landscape(store, ERECTILE_DYSFUNCTION).top_sponsors[0]["sponsor"]


# --- benchmarks against the raw records -----------------------------------------------------------------------


def _figures(rows: list[dict[str, Any]], side: str) -> dict[tuple[str, str], tuple[float, int]]:
    return {(r["measure"], r["group"]): (r[side], r[f"{side}_trials"]) for r in rows if r[f"{side}_trials"]}


def _same_figures(found: dict[tuple[str, str], tuple[float, int]], expected: dict[tuple[str, str], Any]) -> None:
    assert found.keys() == expected.keys()
    for key, (value, trials) in expected.items():
        assert found[key] == (pytest.approx(value, abs=1e-4), trials), key


@pytest.mark.slow
@PATHS
@pytest.mark.parametrize(
    ("condition", "intervention"),
    [(NEOPLASMS, None), (ERECTILE_DYSFUNCTION, None), (None, ANTINEOPLASTIC_AGENTS)],
    ids=["neoplasms", "erectile-dysfunction", "antineoplastic-agents"],
)
def test_benchmarks_equal_the_records(
    mesh_store: Store,
    real_studies: dict[str, Study],
    mesh_files: raw.MeshFiles,
    condition: str | None,
    intervention: str | None,
    fast: bool,
) -> None:
    """Durations, enrollment and design by phase for the scope and the whole graph, each table and each median or
    share equal to plain Python over the raw JSON."""
    scope = _in_scope(real_studies, mesh_files, condition, intervention)
    result = landscape(mesh_store, condition, intervention, fast=fast)
    durations = Counter((raw.phase(s), *found) for s in scope.values() if (found := raw.duration(s)))
    assert {kind for _, kind, _ in durations} == {"actual", "planned"}
    assert {(r["phase"], r["duration"], r["months"]): r["trials"] for r in result.durations} == dict(durations)
    enrolled = Counter((raw.phase(s), count) for s in scope.values() if (count := raw.enrollment(s)) is not None)
    assert {(r["phase"], r["enrollment"]): r["trials"] for r in result.phase_enrollment} == dict(enrolled)
    design = Counter(raw.design(s) for s in scope.values())
    assert {(r["allocation"], r["masking"], r["primary_purpose"], r["arms"]): r["trials"] for r in result.design} == (
        dict(design)
    )
    expected = raw.benchmark_figures(scope.values())
    assert ("allocation_share", "RANDOMIZED") in expected and ("duration_actual_months", "PHASE3") in expected
    _same_figures(_figures(result.benchmarks, "scope"), expected)
    _same_figures(_figures(result.benchmarks, "graph"), raw.benchmark_figures(real_studies.values()))
    assert all(row["graph_trials"] >= row["scope_trials"] for row in result.benchmarks)


# --- kg landscape compare -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compared(mesh_store: Store, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    """`kg landscape compare` of Neoplasms (A) and Erectile Dysfunction (B) on the real records, as JSON."""
    from typer.testing import CliRunner

    from kg.cli.main import app

    out = tmp_path_factory.mktemp("compare") / "report"
    args = ["landscape", "compare", "-a", NEOPLASMS, "-b", ERECTILE_DYSFUNCTION, "-o", str(out)]
    answer = CliRunner().invoke(app, [*args, "--store", mesh_store.spec, "--format", "json"])
    assert answer.exit_code == 0, answer.output
    return json.loads(answer.stdout), out


@pytest.mark.slow
def test_landscape_compare_equals_the_records(
    compared: tuple[dict[str, Any], Path], real_studies: dict[str, Study], mesh_files: raw.MeshFiles
) -> None:
    """Phases, statuses and benchmarks of two scopes side by side, differences A minus B, against the raw JSON."""
    data, out = compared
    a = raw.condition_scope(real_studies, mesh_files, NEOPLASMS)
    b = raw.condition_scope(real_studies, mesh_files, ERECTILE_DYSFUNCTION)
    assert (data["a"]["trials"], data["b"]["trials"]) == (len(a), len(b)) and data["report"] == str(out / "index.html")
    for table, read in (("phases", raw.phase), ("statuses", lambda s: raw.module(s, "statusModule")["overallStatus"])):
        left, right = Counter(map(read, a.values())), Counter(map(read, b.values()))
        rows = {row[table[:-1] if table == "phases" else "status"]: row for row in data["tables"][table]}
        assert rows.keys() == left.keys() | right.keys()
        for key, row in rows.items():
            assert (row["a_trials"], row["b_trials"], row["difference"]) == (
                left[key],
                right[key],
                left[key] - right[key],
            )
            share = left[key] / len(a) - right[key] / len(b)
            assert row["share_difference"] == pytest.approx(share, abs=2e-4)
    assert any(row["share_difference"] > 0 for row in data["tables"]["statuses"])  # both signs, both shaded
    assert any(row["share_difference"] < 0 for row in data["tables"]["statuses"])
    ours, theirs = raw.benchmark_figures(a.values()), raw.benchmark_figures(b.values())
    for row in data["tables"]["benchmarks"]:
        key = (row["measure"], row["group"])
        assert (row["a_trials"], row["b_trials"]) == (ours.get(key, (0, 0))[1], theirs.get(key, (0, 0))[1])
        if key in ours and key in theirs:
            assert row["difference"] == pytest.approx(ours[key][0] - theirs[key][0], abs=2e-4)
    with (out / "phases.csv").open(encoding="utf-8") as stream:
        assert stream.readline().strip() == "phase,a_trials,a_share,b_trials,b_share,difference,share_difference"


@pytest.mark.slow
@needs_chromium
def test_landscape_compare_in_browser(compared: tuple[dict[str, Any], Path], page: Any) -> None:
    """The comparison page offline: each chart drawn, differences shaded, tables a click away, nothing fetched."""
    data, out = compared
    index = out / "index.html"
    log = watch(page)
    page.goto(index.as_uri())
    for figure in ("phases", "statuses", "countries", "mechanisms", "benchmarks"):
        page.wait_for_selector(f"#figure-{figure} .main-svg")
    details = page.locator("#phases details")
    assert not details.locator("table").is_visible()
    details.locator("summary").click()
    assert details.locator("table tr").count() == len(data["tables"]["phases"]) + 1
    assert page.locator("td.diff[style*='rgba(46, 125, 50']").count() > 0  # A above B
    assert page.locator("td.diff[style*='rgba(198, 40, 40']").count() > 0  # A below B
    screenshot(page, "landscape-compare")
    assert log.requests == [index.as_uri()] and log.console_errors == [] and log.page_errors == []


# --- the benchmarks' named queries, as `kg query` runs them, and the fact table ---------------------------------


@pytest.mark.slow
def test_landscape_durations(neoplasms_rows: dict[str, list[dict[str, Any]]], neoplasms: dict[str, Study]) -> None:
    expected = Counter((raw.phase(s), *found) for s in neoplasms.values() if (found := raw.duration(s)))
    assert {(r["phase"], r["duration"], r["months"]): r["trials"] for r in neoplasms_rows["durations"]} == expected


@pytest.mark.slow
def test_landscape_phase_enrollment(
    neoplasms_rows: dict[str, list[dict[str, Any]]], neoplasms: dict[str, Study]
) -> None:
    expected = Counter((raw.phase(s), n) for s in neoplasms.values() if (n := raw.enrollment(s)) is not None)
    assert {(r["phase"], r["enrollment"]): r["trials"] for r in neoplasms_rows["phase_enrollment"]} == expected


@pytest.mark.slow
def test_landscape_design(neoplasms_rows: dict[str, list[dict[str, Any]]], neoplasms: dict[str, Study]) -> None:
    rows = neoplasms_rows["design"]
    found = {(r["allocation"], r["masking"], r["primary_purpose"], r["arms"]): r["trials"] for r in rows}
    assert found == Counter(raw.design(s) for s in neoplasms.values())
    assert rows == sorted(rows, key=lambda r: (r["allocation"], r["masking"], r["primary_purpose"], r["arms"]))


# --- the pipeline, mechanism, portfolio and map named queries, as `kg query` runs them, and the fact table -------


@pytest.mark.slow
def test_landscape_pipeline(
    neoplasms_rows: dict[str, list[dict[str, Any]]], neoplasms: dict[str, Study], mesh_files: raw.MeshFiles
) -> None:
    columns = ("drug", "drug_label", "highest_phase", "trials_at_phase", "trials", "status", "first_start")
    expected = [{column: row[column] for column in columns} for row in raw.pipeline(neoplasms, mesh_files, None)]
    assert [{column: row[column] for column in columns} for row in neoplasms_rows["pipeline"]] == expected


@pytest.mark.slow
def test_landscape_pipeline_sponsors(
    neoplasms_rows: dict[str, list[dict[str, Any]]], neoplasms: dict[str, Study], mesh_files: raw.MeshFiles
) -> None:
    expected: Counter[tuple[str, str]] = Counter()
    for study in neoplasms.values():
        if name := raw.lead_sponsor(study):
            expected.update((drug, raw.same_name(name)) for drug in raw.drugs(study, mesh_files, None))
    rows = neoplasms_rows["pipeline_sponsors"]
    assert {(r["drug"], raw.same_name(r["sponsor"])): r["trials"] for r in rows} == expected


@pytest.mark.slow
def test_landscape_mechanisms(
    neoplasms_rows: dict[str, list[dict[str, Any]]], neoplasms: dict[str, Study], mesh_files: raw.MeshFiles
) -> None:
    assert neoplasms_rows["mechanisms"] == raw.mechanisms(neoplasms, mesh_files)


@pytest.mark.slow
def _top_cells(rows: list[dict[str, Any]], neoplasms: dict[str, Study], mesh: raw.MeshFiles) -> dict[Any, int]:
    """Matrix cells ``(row, action, phase) -> trials`` in the columns of the top actions."""
    columns = {row["action"] for row in raw.mechanisms(neoplasms, mesh)[: raw.TOP_ACTIONS]}
    return {
        (str(r["row"]).rsplit("/", 1)[-1], r["action"], r["phase"]): r["trials"] for r in rows if r["action"] in columns
    }


@pytest.mark.slow
def test_landscape_mechanism_root(mesh_store: Store, neoplasms: dict[str, Study], mesh_files: raw.MeshFiles) -> None:
    """The condition's own row: the trials indexed to Neoplasms itself."""
    root = _top_cells(run(mesh_store, "landscape_mechanism_root", {"concept": NEOPLASMS}).rows, neoplasms, mesh_files)
    expected = raw.mechanism_matrix(neoplasms, mesh_files, NEOPLASMS, None)
    assert root and root == {cell: trials for cell, trials in expected.items() if cell[0] == NEOPLASMS}


@pytest.mark.slow
def test_landscape_mechanism_matrix_with_its_root(
    mesh_store: Store,
    neoplasms_rows: dict[str, list[dict[str, Any]]],
    neoplasms: dict[str, Study],
    mesh_files: raw.MeshFiles,
) -> None:
    """The children's cells with the condition's own row (a query of its own; the fact table has both)."""
    root = run(mesh_store, "landscape_mechanism_root", {"concept": NEOPLASMS}).rows
    cells = _top_cells([*neoplasms_rows["mechanism_matrix"], *root], neoplasms, mesh_files)
    assert cells == raw.mechanism_matrix(neoplasms, mesh_files, NEOPLASMS, None)


@pytest.mark.slow
def test_landscape_portfolio(mesh_store: Store, neoplasms: dict[str, Study], mesh_files: raw.MeshFiles) -> None:
    sponsor = Counter(filter(None, map(raw.lead_sponsor, neoplasms.values()))).most_common(1)[0][0]
    rows = run(mesh_store, "landscape_portfolio", {"concept": NEOPLASMS, "sponsor": sponsor}).rows
    assert rows and {(r["row"], r["phase"]): r["trials"] for r in rows} == raw.portfolio(
        neoplasms, mesh_files, NEOPLASMS, sponsor
    )


@pytest.mark.slow
def test_landscape_map(neoplasms_rows: dict[str, list[dict[str, Any]]], neoplasms: dict[str, Study]) -> None:
    found = {r["country"]: (r["trials"], r["sites"], r["active_sites"]) for r in neoplasms_rows["map"]}
    assert found == raw.world_map(neoplasms)
