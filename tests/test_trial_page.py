"""The trial page: `kg trial` in the terminal, as JSON and as an offline HTML page; its queries against raw records;
hostile record text escaped; a screenshot of the reference trial's page in artefacts/."""

from __future__ import annotations

import copy
import html
import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from markupsafe import escape

from kg.demo import seed_study
from kg.pipeline.build import build
from kg.queries import run
from kg.store import Store, open_store
from kg.views.jinja import long_date
from kg.views.trial_page import render_trial_page, trial_explorer, write_trial_page
from tests.browser_support import needs_chromium, screenshot, watch
from tests.conftest import DIGESTIVE_NEOPLASMS_ANCESTORS, LUTETIUM_ANCESTORS, REPO, SEED_NCT
from tests.trial_page_support import AS_OF, demo_build, demo_records, demo_store  # noqa: F401

if TYPE_CHECKING:
    from playwright.sync_api import Page

HOSTILE_NCT = "NCT99200001"
SCRIPT = "<script>alert('page')</script>"
IMG = '"><img src=x onerror=alert(1)>'
CLOSE = "</script><svg onload=alert(2)>"
#: Any URL the page could load or link: only clinicaltrials.gov links are allowed.
URL = re.compile(r"""(?:https?:)?//[^\s"'<>)]+""")


def kg(*args: str, store: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KG_STORE": store, "COLUMNS": "160"}
    return subprocess.run([sys.executable, "-m", "kg", *args], capture_output=True, text=True, env=env, timeout=300)


def hostile_study() -> dict[str, Any]:
    """The reference trial with hostile text in every free-text field the page shows; marked synthetic."""
    study = copy.deepcopy(seed_study())
    study.pop("transcriptionNotes", None)
    study["synthetic"] = {"generator": "tests/test_trial_page.py", "why": "hostile text on the trial page"}
    protocol = study["protocolSection"]
    protocol["identificationModule"].update(
        {"nctId": HOSTILE_NCT, "briefTitle": SCRIPT, "officialTitle": IMG, "acronym": CLOSE}
    )
    protocol["sponsorCollaboratorsModule"]["leadSponsor"] = {"name": f"{SCRIPT} Pharma", "class": "INDUSTRY"}
    protocol["sponsorCollaboratorsModule"]["collaborators"] = [{"name": IMG, "class": "OTHER"}]
    protocol["conditionsModule"] = {"conditions": [CLOSE], "keywords": [IMG]}
    protocol["descriptionModule"]["briefSummary"] = f"{SCRIPT}\n{IMG}"
    protocol["outcomesModule"]["primaryOutcomes"][0].update({"measure": SCRIPT, "description": IMG, "timeFrame": CLOSE})
    protocol["armsInterventionsModule"]["armGroups"][0]["description"] = IMG
    protocol["armsInterventionsModule"]["interventions"][0]["description"] = CLOSE
    protocol["eligibilityModule"]["eligibilityCriteria"] = (
        f"Inclusion Criteria:\n\n* {SCRIPT}\n\nExclusion Criteria:\n\n* {IMG}"
    )
    protocol["contactsLocationsModule"]["locations"][0]["facility"] = SCRIPT
    return study


@pytest.fixture(scope="module")
def hostile_store(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("hostile")
    records = folder / "records.json"
    records.write_text(json.dumps([seed_study(), hostile_study()]), encoding="utf-8")
    spec = f"oxigraph:{folder / 'store'}"
    build([records], spec)
    with open_store(spec, read_only=True) as store:
        yield store


@pytest.fixture(scope="module")
def seed_page(demo_store: Store, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    return write_trial_page(demo_store, SEED_NCT, tmp_path_factory.mktemp("page") / "seed.html", as_of=AS_OF)


def visible_text(page_html: str) -> str:
    """The page's text without tags, entities decoded, whitespace collapsed (what a reader sees, roughly)."""
    without_style = re.sub(r"<(style|script)\b.*?</\1>", " ", page_html, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", without_style)).split())


def bullets(criteria: str, heading: str) -> list[str]:
    """Top-level ``* `` items under one heading of an eligibility text, read independently of kg.ctgov.mapping."""
    section = criteria.split(f"{heading} Criteria:", 1)[1].split("Criteria:", 1)[0]
    return [line[2:].strip() for line in section.splitlines() if line.startswith("* ")]


@pytest.mark.slow
def test_reference_trial_page_sections(seed_page: Path, demo_build: tuple[str, list[Path]]) -> None:  # noqa: F811
    page_html = seed_page.read_text(encoding="utf-8")
    text = visible_text(page_html)
    raw = seed_study()["protocolSection"]
    # health and timeline, as the reference page shows them
    phase1 = [
        study["protocolSection"]["designModule"]["enrollmentInfo"]["count"]
        for study in demo_records(demo_build[1])
        if study["protocolSection"]["designModule"].get("phases") == ["PHASE1"]
    ]
    p25, p50 = np.percentile(phase1, [25, 50])
    assert p25 < 22 <= p50
    for expected in (
        "22 participants targeted",
        "Target at P25-P50 for phase 1",
        "19mo left",
        "Started Nov 2025",
        "1 country",
        "1 active site of 1",
        "recruiting",
        "On Track",
        "Study Progress 23%",
        "Nov 2025 \N{EN DASH} Dec 2027",
        "Same day until next milestone",
        "4 days until next milestone",
        "2 years until next milestone",
        "Enrollment Period 2 years",
        "November 14, 2025",
        "December 1, 2027 (estimated)",
        "Record last verified: 2026-01",
        "Sichuan Cancer Hospital",
        "Chengdu, Sichuan, China",
    ):
        assert expected in text, expected
    for section in ("summary", "health", "timeline", "conditions", "mesh", "outcomes", "arms", "eligibility"):
        assert f'<section id="{section}">' in page_html
    for section in ("sponsors", "sites", "design", "record-dates", "relationships"):
        assert f'<section id="{section}">' in page_html
    for label in LUTETIUM_ANCESTORS | DIGESTIVE_NEOPLASMS_ANCESTORS:
        assert html.escape(label) in page_html, label
    outcomes = raw["outcomesModule"]
    assert f"Primary Outcomes ({len(outcomes['primaryOutcomes'])})" in text
    assert f"Secondary Outcomes ({len(outcomes['secondaryOutcomes'])})" in text
    assert all(html.escape(item["measure"], quote=False) in page_html for item in outcomes["secondaryOutcomes"])
    criteria = raw["eligibilityModule"]["eligibilityCriteria"]
    for kind, heading in (("inclusion", "Inclusion"), ("exclusion", "Exclusion")):
        block = page_html.split(f'data-criteria="{kind}">', 1)[1].split("</ul>", 1)[0]
        assert block.count("<li>") == len(bullets(criteria, heading)) > 10
    assert "single group" in text and "Healthy Volunteers No" in text and "Age 18 Years+" in text


def test_page_is_offline_except_registry_links(seed_page: Path) -> None:
    """Outside the embedded explorer (a page of its own, whose inlined libraries name their home pages in comments);
    the browser tests check that nothing at all is requested."""
    page_html = re.sub(r'srcdoc="[^"]*"', "", seed_page.read_text(encoding="utf-8"))
    found = set(URL.findall(page_html))
    assert found and all(url.startswith("https://clinicaltrials.gov/") for url in found), found
    assert "default-src 'none'" in page_html


def test_an_explorer_already_rendered_makes_the_same_page(seed_page: Path, demo_store: Store) -> None:  # noqa: F811
    """`kg demo` renders the explorer once, writes it, and hands it to the trial page, which embeds it unchanged."""
    explorer = trial_explorer(demo_store, SEED_NCT)
    given = render_trial_page(demo_store, SEED_NCT, as_of=AS_OF, explorer=explorer)
    assert given == seed_page.read_text(encoding="utf-8")
    assert f'srcdoc="{escape(explorer)}"' in given


def test_hostile_text_is_escaped(hostile_store: Store) -> None:
    page_html = render_trial_page(hostile_store, HOSTILE_NCT, as_of=AS_OF)
    for raw in (SCRIPT, IMG, CLOSE, "<img", "<svg"):
        assert raw not in page_html, raw
    assert page_html.count("&lt;script&gt;alert(") >= 6  # title, sponsor, summary, outcome, criterion, site
    assert "SYNTHETIC record" in page_html
    text = visible_text(page_html)
    assert SCRIPT in text and IMG in text and CLOSE in text  # shown as text, in full


@needs_chromium
def test_hostile_page_in_a_browser(hostile_store: Store, page: Page, tmp_path: Path) -> None:
    path = write_trial_page(hostile_store, HOSTILE_NCT, tmp_path / "hostile.html", as_of=AS_OF)
    log = watch(page)
    page.goto(path.as_uri())
    page.wait_for_timeout(500)
    assert log.dialogs == [] and log.page_errors == []
    assert log.requests == [path.as_uri()]
    assert page.locator("h1").inner_text() == SCRIPT


@pytest.mark.slow
@needs_chromium
def test_screenshot_of_the_reference_trial_page(seed_page: Path, page: Page) -> None:
    log = watch(page)
    page.goto(seed_page.as_uri())
    explorer = page.frame_locator("iframe.explorer")
    explorer.locator("canvas").first.wait_for(timeout=20_000)
    # a full-page capture resizes the viewport, and the explorer's canvas redraws after a resize: resize first
    page.set_viewport_size({"width": 1400, "height": page.evaluate("document.documentElement.scrollHeight")})
    page.wait_for_timeout(3000)  # the explorer's layout settles
    assert SEED_NCT in explorer.locator("body").inner_text()
    assert log.requests == [seed_page.as_uri()] and log.console_errors == [] and log.page_errors == []
    points = page.locator("[data-component] .num").all_inner_texts()
    assert page.locator(".score b").inner_text() == str(sum(int(cell.split("/")[0]) for cell in points))
    bar = page.locator("[role=progressbar] > div").bounding_box()
    track = page.locator("[role=progressbar]").bounding_box()
    assert bar is not None and track is not None and bar["width"] / track["width"] == pytest.approx(0.23, abs=0.01)
    path = screenshot(page, f"trial-page-{SEED_NCT}")
    assert path.stat().st_size > 50_000 and path.parent == REPO / "artefacts"


@pytest.mark.slow
def test_cli_json_table_and_html(demo_build: tuple[str, list[Path]], tmp_path: Path) -> None:  # noqa: F811
    spec = demo_build[0]
    result = kg("trial", SEED_NCT.lower(), "--as-of", "2026-05-05", "--format", "json", store=spec)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["nct"] == SEED_NCT and answer["enrollment"] == 22  # the summary, as before
    health, timeline = answer["health"], answer["timeline"]
    assert health["label"] == "On Track" and health["as_of"] == "2026-05-05"
    assert health["components"]["enrollment"]["value"]["band"] == "P25-P50"
    assert health["components"]["reach"]["value"] == {"countries": 1, "sites": 1, "active_sites": 1}
    assert health["components"]["status"]["value"]["status"] == "RECRUITING"
    assert timeline["months_left"] == 19 and timeline["progress_percent"] == 23
    assert [item["gap_to_next"] for item in timeline["milestones"][:4]] == ["Same day", "4 days", "2 years", "Same day"]

    table = kg("trial", SEED_NCT, "--as-of", "2026-05-05", store=spec)
    assert table.returncode == 0, table.stderr
    assert f"{health['score']}/100  On Track" in table.stdout and "Study progress 23%" in table.stdout
    assert "19 months left to primary completion" in table.stdout and "4 days" in table.stdout

    target = tmp_path / "page.html"
    written = kg("trial", SEED_NCT, "--as-of", "2026-05-05", "--html", str(target), store=spec)
    assert written.returncode == 0, written.stderr
    assert f"Wrote {target}" in written.stderr and "Study Progress 23%" in target.read_text(encoding="utf-8")

    bad = kg("trial", SEED_NCT, "--as-of", "5 May 2026", store=spec)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_long_date() -> None:
    assert long_date("2025-11-14") == "November 14, 2025"
    assert long_date("2026-01") == "January 2026"
    assert long_date("2026") == "2026"


# --- the page's named queries against the raw records -----------------------------------------------------------


def sample(real_studies: dict[str, dict[str, Any]], seed: int, size: int = 150) -> list[str]:
    return random.Random(seed).sample(sorted(real_studies), size)


def test_trial_outcomes(real_store: Store, real_studies: dict[str, dict[str, Any]]) -> None:
    for nct in sample(real_studies, 11):
        module = real_studies[nct]["protocolSection"].get("outcomesModule", {})
        expected = [
            (kind, position, item.get("measure"), item.get("description"), item.get("timeFrame"))
            for field, kind in (
                ("primaryOutcomes", "primary"),
                ("secondaryOutcomes", "secondary"),
                ("otherOutcomes", "other"),
            )
            for position, item in enumerate(module.get(field, []), start=1)
        ]
        rows = run(real_store, "trial_outcomes", {"nct": nct}).rows
        got = [(r["kind"], r["position"], r["measure"], r["description"], r["time_frame"]) for r in rows]
        assert got == [tuple(value or None for value in row) for row in expected], nct


def test_trial_arms(real_store: Store, real_studies: dict[str, dict[str, Any]]) -> None:
    for nct in sample(real_studies, 12):
        arms = real_studies[nct]["protocolSection"].get("armsInterventionsModule", {}).get("armGroups", [])
        by_position: dict[int, list[dict[str, Any]]] = {}
        for row in run(real_store, "trial_arms", {"nct": nct}).rows:
            by_position.setdefault(int(row["position"]), []).append(row)  # type: ignore[arg-type]
        assert sorted(by_position) == list(range(1, len(arms) + 1)), nct
        defined = {(squash(kind), squash(name)) for kind, name in _defined(real_studies[nct])}
        for position, arm in enumerate(arms, start=1):
            rows = by_position[position]
            assert {(row["label"], row["type"], row["description"]) for row in rows} == {
                (arm.get("label") or None, arm.get("type"), arm.get("description") or None)
            }, nct
            given = {
                (squash(str(row["intervention_type"])), squash(str(row["intervention_name"])))
                for row in rows
                if row["intervention"]
            }
            named = {tuple(squash(part) for part in name.split(": ", 1)) for name in arm.get("interventionNames", [])}
            # the arm gives the interventions it names that the record defines (a shared node may be spelt otherwise)
            assert given == named & defined, nct


def squash(text: str) -> str:
    """Letters and digits only, case-folded: spellings of one shared node ("ARIES-ED", "Aries ED") compare equal."""
    return re.sub(r"[^0-9a-z]+", "", text.casefold())


def _defined(study: dict[str, Any]) -> set[tuple[str, str]]:
    interventions = study["protocolSection"].get("armsInterventionsModule", {}).get("interventions", [])
    return {(item.get("type") or "OTHER", item["name"]) for item in interventions}


def test_trial_interventions(real_store: Store, real_studies: dict[str, dict[str, Any]]) -> None:
    for nct in sample(real_studies, 13):
        items = real_studies[nct]["protocolSection"].get("armsInterventionsModule", {}).get("interventions", [])
        uses: dict[int, list[dict[str, Any]]] = {}
        for row in run(real_store, "trial_interventions", {"nct": nct}).rows:
            uses.setdefault(int(str(row["use"]).rsplit("/", 1)[-1]), []).append(row)
        assert sorted(uses) == list(range(1, len(items) + 1)), nct
        for position, item in enumerate(items, start=1):
            rows = uses[position]
            assert {(row["type"], row["description"]) for row in rows} == {
                (item.get("type") or "OTHER", item.get("description") or None)
            }, nct
            others = sorted(str(row["other_name"]) for row in rows if row["other_name"])
            assert others == sorted({name for name in item.get("otherNames", []) if name}), nct


def test_trial_eligibility(real_store: Store, real_studies: dict[str, dict[str, Any]]) -> None:
    for nct in sample(real_studies, 14):
        module = real_studies[nct]["protocolSection"].get("eligibilityModule", {})
        found: dict[str, list[Any]] = {}
        for row in run(real_store, "trial_eligibility", {"nct": nct}).rows:
            found.setdefault(str(row["field"]), []).append(row["value"])
        assert found.get("sex") == ([module["sex"]] if module.get("sex") else None), nct
        assert found.get("minimum_age") == ([module["minimumAge"]] if module.get("minimumAge") else None), nct
        assert found.get("maximum_age") == ([module["maximumAge"]] if module.get("maximumAge") else None), nct
        volunteers = module.get("healthyVolunteers")
        assert found.get("healthy_volunteers") == (None if volunteers is None else ["yes" if volunteers else "no"])
        assert sorted(found.get("age_group", [])) == sorted(module.get("stdAges", [])), nct
        criteria = module.get("eligibilityCriteria") or ""
        assert found.get("criteria") == ([criteria] if criteria.strip() else None), nct
        if re.search(r"^Inclusion Criteria:\s*\n\s*\* ", criteria, flags=re.M | re.I):
            assert len(found.get("inclusion", [])) >= 1, nct


def test_trial_design(real_store: Store, real_studies: dict[str, dict[str, Any]]) -> None:
    for nct in sample(real_studies, 15):
        protocol = real_studies[nct]["protocolSection"]
        design = protocol.get("designModule", {})
        info = design.get("designInfo", {})
        row = run(real_store, "trial_design", {"nct": nct}).rows[0]
        assert row["official_title"] == (protocol["identificationModule"].get("officialTitle") or None), nct
        assert row["study_type"] == design.get("studyType")
        assert row["allocation"] == info.get("allocation") and row["masking"] == info.get("maskingInfo", {}).get(
            "masking"
        )
        assert row["intervention_model"] == info.get("interventionModel")
        assert row["primary_purpose"] == info.get("primaryPurpose")
        party = protocol.get("sponsorCollaboratorsModule", {}).get("responsibleParty", {}).get("type")
        assert row["responsible_party"] == party, nct
        assert row["why_stopped"] == (protocol["statusModule"].get("whyStopped") or None), nct
        assert row["has_results"] == real_studies[nct].get("hasResults"), nct


def test_trial_sponsors(real_store: Store, real_studies: dict[str, dict[str, Any]]) -> None:
    for nct in sample(real_studies, 16):
        module = real_studies[nct]["protocolSection"].get("sponsorCollaboratorsModule", {})
        rows = run(real_store, "trial_sponsors", {"nct": nct}).rows
        lead = [row for row in rows if row["role"] == "lead sponsor"]
        assert [(row["name"], row["class"]) for row in lead] == [
            (module["leadSponsor"]["name"], module["leadSponsor"].get("class"))
        ], nct
        collaborators = {item["name"] for item in module.get("collaborators", [])}
        assert {row["name"] for row in rows if row["role"] == "collaborator"} == collaborators, nct
