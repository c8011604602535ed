"""A trial's posted results on its page, in `kg trial` (terminal and JSON) and in a browser: the numbers shown are
the raw record's, hostile record text stays text, and a trial without results shows no results section."""

from __future__ import annotations

import copy
import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from kg.pipeline.build import build
from kg.store import Store, open_store
from kg.views.trial_page import render_trial_page, write_trial_page
from tests.browser_support import needs_chromium, screenshot, watch
from tests.trial_page_support import AS_OF

if TYPE_CHECKING:
    from playwright.sync_api import Page

Study = dict[str, Any]
#: The ids of the results sections on the page.
SECTIONS = ("participant-flow", "baseline", "outcome-results", "adverse-events", "publications")
#: Stands in for the relationship explorer: these tests are about the results sections.
EXPLORER = "<p>explorer</p>"
SCRIPT = "<script>alert('results')</script>"
IMG = '"><img src=x onerror=alert(1)>'


def _references(study: Study) -> list[dict[str, Any]]:
    return study["protocolSection"].get("referencesModule", {}).get("references", [])


def _pmid(study: Study) -> str:
    """The first well-formed PubMed id the record cites ('' when none)."""
    ids = [(ref.get("pmid") or "").strip() for ref in _references(study)]
    return next((pmid for pmid in ids if pmid.isascii() and pmid.isdigit()), "")


@pytest.fixture(scope="module")
def study(real_studies: dict[str, Study]) -> Study:
    """The first real trial with a participant flow, serious adverse events and a PubMed reference."""
    return next(
        s
        for _, s in sorted(real_studies.items())
        if s.get("resultsSection", {}).get("adverseEventsModule", {}).get("seriousEvents")
        and s["resultsSection"].get("participantFlowModule")
        and _pmid(s)
    )


def _nct(study: Study) -> str:
    return str(study["protocolSection"]["identificationModule"]["nctId"])


@pytest.fixture(scope="module")
def results_page(real_store: Store, study: Study, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("results") / f"{_nct(study)}.html"
    return write_trial_page(real_store, _nct(study), path, as_of=AS_OF, explorer=EXPLORER)


def _section(page_html: str, section_id: str) -> str:
    match = re.search(rf'<section id="{section_id}".*?</section>', page_html, flags=re.S)
    assert match is not None, f"no section {section_id}"
    return match.group(0)


def _cells(fragment: str) -> dict[str, str]:
    """Group id → the text of its cell in one table row."""
    return {
        group: " ".join(html.unescape(re.sub(r"<[^>]+>", " ", cell)).split())
        for group, cell in re.findall(r'<td class="num" data-group="([^"]+)"[^>]*>(.*?)</td>', fragment, flags=re.S)
    }


def test_flow_counts_match_the_record(results_page: Path, study: Study) -> None:
    flow = _section(results_page.read_text(encoding="utf-8"), "participant-flow")
    first = study["resultsSection"]["participantFlowModule"]["periods"][0]
    started = next(m for m in first["milestones"] if m["type"] == "STARTED")
    row = re.search(r'<tr data-milestone="STARTED">.*?</tr>', flow, flags=re.S)
    assert row is not None
    assert _cells(row.group(0)) == {a["groupId"]: a["numSubjects"] for a in started["achievements"]}


def test_an_outcome_value_matches_the_record(results_page: Path, study: Study) -> None:
    outcomes = _section(results_page.read_text(encoding="utf-8"), "outcome-results")
    first = study["resultsSection"]["outcomeMeasuresModule"]["outcomeMeasures"][0]
    shown = re.search(r'<details class="outcome-result" data-outcome="1".*?</details>', outcomes, flags=re.S)
    assert shown is not None and html.escape(first["title"], quote=False) in shown.group(0)
    for cell in first["classes"][0]["categories"][0]["measurements"]:
        assert f">{cell['value']}" in shown.group(0)


def test_an_adverse_event_rate_matches_the_record(results_page: Path, study: Study) -> None:
    events = _section(results_page.read_text(encoding="utf-8"), "adverse-events")
    module = study["resultsSection"]["adverseEventsModule"]
    event = module["seriousEvents"][0]
    assert html.escape(event["term"], quote=False) in events
    serious = re.search(r'<table class="results" data-events="serious">.*?</table>', events, flags=re.S)
    assert serious is not None
    for stats in event["stats"]:
        affected, at_risk = stats["numAffected"], stats["numAtRisk"]
        assert f'{affected}/{at_risk} <span class="muted">({affected / at_risk * 100:.2f}%)</span>' in serious.group(0)
    if "frequencyThreshold" in module:
        assert f"<dd data-threshold>{module['frequencyThreshold']}%" in events


def test_publications_link_to_pubmed(results_page: Path, study: Study) -> None:
    publications = _section(results_page.read_text(encoding="utf-8"), "publications")
    assert f'href="https://pubmed.ncbi.nlm.nih.gov/{_pmid(study)}/"' in publications
    assert publications.count("<li>") == len(_references(study))


def test_a_trial_without_results_shows_no_results_section(real_store: Store, real_studies: dict[str, Study]) -> None:
    bare = next(nct for nct, s in sorted(real_studies.items()) if not s.get("resultsSection") and not _references(s))
    page_html = render_trial_page(real_store, bare, as_of=AS_OF, explorer=EXPLORER)
    for section_id in SECTIONS:
        assert f'id="{section_id}"' not in page_html
    assert "table.results" not in page_html  # nor their style


def _kg(*args: str, store: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KG_STORE": store, "COLUMNS": "160"}
    return subprocess.run([sys.executable, "-m", "kg", *args], capture_output=True, text=True, env=env, timeout=300)


def test_kg_trial_json_has_the_results(real_build: tuple[str, Any], study: Study) -> None:
    answer = _kg("trial", _nct(study), "--format", "json", store=real_build[0])
    assert answer.returncode == 0, answer.stderr
    results = json.loads(answer.stdout)["results"]
    raw = study["resultsSection"]
    periods = raw["participantFlowModule"]["periods"]
    assert [len(p["milestones"]) for p in results["participant_flow"]["periods"]] == [
        len(p["milestones"]) for p in periods
    ]
    posted = [o for o in raw["outcomeMeasuresModule"]["outcomeMeasures"] if o.get("classes")]
    assert [o["title"] for o in results["outcomes"]] == [o["title"] for o in posted]
    assert sum(len(o["analyses"]) for o in results["outcomes"]) == sum(len(o.get("analyses", [])) for o in posted)
    events = raw["adverseEventsModule"]
    for kind in ("serious", "other"):
        shown = sum(len(system["events"]) for system in results["adverse_events"][kind])
        assert shown == len(events.get(f"{kind}Events", [])), kind
    assert {g["id"]: g["serious_affected"] for g in results["adverse_events"]["groups"]} == {
        g["id"]: g.get("seriousNumAffected") for g in events["eventGroups"]
    }
    assert len(results["publications"]) == len(_references(study))


def test_kg_trial_names_a_serious_adverse_event(real_build: tuple[str, Any], study: Study) -> None:
    printed = _kg("trial", _nct(study), store=real_build[0])
    assert printed.returncode == 0, printed.stderr
    term = study["resultsSection"]["adverseEventsModule"]["seriousEvents"][0]["term"]
    assert "Serious adverse events" in printed.stdout and term in printed.stdout


def _hostile(study: Study) -> Study:
    """``study`` with hostile text in the results' free text a page shows; marked synthetic."""
    hostile = copy.deepcopy(study)
    hostile["synthetic"] = {"generator": "tests/test_results_page.py", "why": "hostile text in results"}
    hostile["protocolSection"]["identificationModule"]["nctId"] = "NCT99200002"
    raw = hostile["resultsSection"]
    raw["participantFlowModule"]["groups"][0]["title"] = SCRIPT
    raw["participantFlowModule"]["periods"][0]["title"] = IMG
    raw["outcomeMeasuresModule"]["outcomeMeasures"][0]["title"] = SCRIPT
    raw["outcomeMeasuresModule"]["outcomeMeasures"][0]["classes"][0]["categories"][0]["measurements"][0]["value"] = IMG
    raw["adverseEventsModule"]["seriousEvents"][0].update({"term": SCRIPT, "organSystem": IMG})
    hostile["protocolSection"]["referencesModule"]["references"][0]["citation"] = IMG
    return hostile


def test_hostile_results_text_is_escaped(study: Study, tmp_path: Path) -> None:
    records = tmp_path / "records.json"
    records.write_text(json.dumps([_hostile(study)]), encoding="utf-8")
    spec = f"oxigraph:{tmp_path / 'store'}"
    build([records], spec)
    with open_store(spec, read_only=True) as store:
        page_html = render_trial_page(store, "NCT99200002", as_of=AS_OF, explorer=EXPLORER)
    results = "".join(_section(page_html, section_id) for section_id in SECTIONS)
    for raw in (SCRIPT, IMG, "<img", "<script"):
        assert raw not in results, raw
    assert results.count("&lt;script&gt;alert(") >= 3  # group title, outcome title, event term


@needs_chromium
def test_results_page_in_a_browser(results_page: Path, study: Study, page: Page) -> None:
    """Offline and quiet, the results sections visible, and nothing wider than a laptop screen."""
    page.set_viewport_size({"width": 1366, "height": 900})
    log = watch(page)
    page.goto(results_page.as_uri())
    page.wait_for_timeout(500)
    assert log.requests == [results_page.as_uri()]
    assert log.console_errors == [] and log.page_errors == [] and log.dialogs == []
    for section_id in SECTIONS:
        assert page.locator(f"#{section_id}").is_visible(), section_id
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    term = study["resultsSection"]["adverseEventsModule"]["seriousEvents"][0]["term"]
    assert term in page.locator("#adverse-events").inner_text()
    page.locator("#participant-flow").scroll_into_view_if_needed()
    assert screenshot(page, f"trial-results-{_nct(study)}").stat().st_size > 50_000
