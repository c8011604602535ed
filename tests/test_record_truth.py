"""Pages say exactly what the record says (issue 15): record Markdown rendered, never raw escapes and never markup of
its own; identifiers verbatim; a date's type never guessed; inclusion criteria never lost; each trial's own spelling.
"""

from __future__ import annotations

import copy
import html
import json
import multiprocessing
import re
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from kg.analysis.trial import trial_json, trial_summary
from kg.ctgov.eligibility import split_criteria
from kg.ctgov.mapping import enumeration_quads
from kg.demo import seed_study
from kg.pipeline.build import BuildReport, build, load_records
from kg.queries import run
from kg.store import Store, fresh_store, open_store
from kg.views import trial_page
from kg.views.markdown import markdown_block, markdown_inline, plain_text
from kg.views.trial_page import render_trial_page
from tests.test_trial_page import kg, visible_text
from tests.trial_page_support import AS_OF

#: A Markdown backslash escape of ASCII punctuation, as the registry writes them (``\[``, ``\<``, ``\*``, ``\_``).
ESCAPE = re.compile(r"\\[!-/:-@\[-`{-~]")
#: An inclusion heading as a reader spots one, independently of kg.ctgov.eligibility.
INCLUSION_HEADING = re.compile(
    r"^[\W_]*(?:[A-Za-z]+\s+){0,2}inclusion criteria(?:\s*\([^)]*\))?\s*:?[*_\s]*$", re.IGNORECASE
)
EXCLUSION_HEADING = re.compile(r"^[\W_]*(?:[A-Za-z]+\s+){0,2}(?:exclusion|non-inclusion) cr?iteria\b", re.IGNORECASE)
#: A list marker a reader strips from a criterion's line: bullets, ``1.``, ``1)``, ``(1)``, ``a)``, ``ii.``.
MARKER = re.compile(r"^[\s*•+\-]*(?:\\?\(?[0-9A-Za-z]{1,4}\\?[.)]\s+)?")
HOSTILE = (
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(2)">',
    "[click](javascript:alert(3))",
    "[data](data:text/html;base64,PHNjcmlwdD4=)",
    "{{ 7 * 7 }} {% if true %}x{% endif %}",
)
OWN, OTHER = "NCT99300001", "NCT99300002"


# --- every real record's page ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_pages(real_build: tuple[str, Any], real_studies: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Every real trial's page, rendered once, in two processes (each reads the store), without the relationship
    explorer and the related-trials table (their own tests cover them; ranking related trials was ~40 % of a page's
    time)."""
    ids = sorted(real_studies)
    halves = [ids[::2], ids[1::2]]
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
        rendered = pool.map(_render_pages, [real_build[0]] * 2, halves)
        return {nct: page for pages in rendered for nct, page in pages.items()}


def _render_pages(spec: str, nct_ids: list[str]) -> dict[str, str]:
    trial_page.related = lambda *_: []  # type: ignore[assignment]  # in this worker process only
    with open_store(spec, read_only=True) as store:
        return {nct: render_trial_page(store, nct, as_of=AS_OF, explorer="") for nct in nct_ids}


def test_no_markdown_escape_is_visible_on_any_real_page(real_pages: dict[str, str]) -> None:
    shown = {nct: ESCAPE.findall(visible_text(page)) for nct, page in real_pages.items()}
    assert {nct: found for nct, found in shown.items() if found} == {}
    escaped = [nct for nct, page in real_pages.items() if "\\[" in page or "\\&lt;" in page]
    assert escaped == []


def test_identifiers_are_verbatim_on_every_real_page(
    real_pages: dict[str, str], real_studies: dict[str, dict[str, Any]]
) -> None:
    checked = 0
    for nct, page in real_pages.items():
        identification = real_studies[nct]["protocolSection"]["identificationModule"]
        shown = [html.unescape(value) for value in re.findall(r'data-identifier="org-study-id">([^<]*)<', page)]
        org = identification.get("orgStudyIdInfo", {}).get("id")
        assert shown == ([org] if org else []), nct
        secondary = re.findall(r'data-identifier="secondary-id">([^<]*?)(?: <span|</dd>)', page)
        assert sorted(html.unescape(value) for value in secondary) == sorted(
            item["id"] for item in identification.get("secondaryIdInfos", [])
        ), nct
        checked += bool(org)
    assert checked > 1000


def _inclusion_lines(criteria: str) -> list[str] | None:
    """The lines under the first inclusion heading, up to an exclusion heading, markers stripped; None without one."""
    lines = criteria.splitlines()
    start = next((index for index, line in enumerate(lines) if INCLUSION_HEADING.match(line)), None)
    if start is None:
        return None
    section = []
    for line in lines[start + 1 :]:
        if EXCLUSION_HEADING.match(line):
            break
        if text := MARKER.sub("", line).strip():
            section.append(text)
    return section


def test_inclusion_lists_are_never_lost(
    real_store: Store, real_pages: dict[str, str], real_studies: dict[str, dict[str, Any]]
) -> None:
    """In the graph and on the page: inclusion items that hold every line under the heading, or no items at all
    (unsure) and the whole text shown."""
    counts = {"split": 0, "whole text": 0}
    for nct, page in real_pages.items():
        criteria = real_studies[nct]["protocolSection"].get("eligibilityModule", {}).get("eligibilityCriteria", "")
        lines = _inclusion_lines(criteria)
        if lines is None:
            continue
        rows = run(real_store, "trial_eligibility", {"nct": nct}).rows
        items = {
            kind: [str(row["value"]) for row in rows if row["field"] == kind] for kind in ("inclusion", "exclusion")
        }
        if not items["inclusion"] and not items["exclusion"]:
            assert 'data-criteria="text"' in page, nct
            counts["whole text"] += 1
            continue
        inclusion = "\n".join(items["inclusion"])
        assert inclusion and 'data-criteria="inclusion"' in page, nct
        assert [line for line in lines if line not in inclusion] == [], nct
        counts["split"] += 1
    assert counts["split"] > 1000 and counts["whole text"] < 30, counts


# --- criteria splitting: heading variants, placeholders, the "unsure" rule ---------------------------------------


@pytest.mark.parametrize(
    "heading",
    [
        "Inclusion Criteria:",
        "Key Inclusion Criteria:",
        "Main inclusion criteria",
        "Inclusion Criteria (Patients):",
        "Inclusion Criteria for healthy volunteers:",
        "• Inclusion Criteria:",
        "* Inclusion Criteria:",
        "**Inclusion Criteria:**",
        "### Inclusion Criteria",
        "1. Inclusion Criteria",
        "INCLUSION CRITERIA:",
        "Inclusion:",
    ],
)
def test_criteria_heading_variants_keep_the_inclusion_list(heading: str) -> None:
    text = f"{heading}\n\n* Adults\n* Asthma\n\nExclusion Criteria:\n\n* Smokers"
    assert split_criteria(text) == [("inclusion", 1, "Adults"), ("inclusion", 2, "Asthma"), ("exclusion", 1, "Smokers")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "Inclusion Criteria: adults with asthma\n\nExclusion Criteria: smokers",
            [("inclusion", 1, "adults with asthma"), ("exclusion", 1, "smokers")],
            id="text after the colon",
        ),
        pytest.param(
            "Inclusion Criteria:\n\n- Adults\n- -\n* \n- N/A\n\nExclusion Criteria:\n\n* None",
            [("inclusion", 1, "Adults")],
            id="placeholders are never criteria",
        ),
        pytest.param(
            "Inclusion Criteria:\n\n• Adults\n1) Asthma\n(3) Consent\n8\\. Smoke-free\nii. Literate\n\n"
            "Exclusion:\n\n- Smokers",
            [
                ("inclusion", 1, "Adults"),
                ("inclusion", 2, "Asthma"),
                ("inclusion", 3, "Consent"),
                ("inclusion", 4, "Smoke-free"),
                ("inclusion", 5, "Literate"),
                ("exclusion", 1, "Smokers"),
            ],
            id="bullets and numbered lists",
        ),
        pytest.param(
            "Exclusion Criteria:\n\nMedical conditions:\n\n* Asthma\n\nOther exclusion criteria:\n\n* Smokers",
            [
                ("exclusion", 1, "Medical conditions:"),
                ("exclusion", 2, "Asthma"),
                ("exclusion", 3, "Other exclusion criteria:"),
                ("exclusion", 4, "Smokers"),
            ],
            id="sub-headings inside a list are items of their own",
        ),
        pytest.param(
            "Inclusion Criteria:\n\n* All of the following are met:\n\n  1. Adults\n  2. Asthma, one of:\n\n"
            "     1. mild\n",
            [
                ("inclusion", 1, "All of the following are met:"),
                ("inclusion", 2, "Adults"),
                ("inclusion", 3, "Asthma, one of:\n\n1. mild"),
            ],
            id="a lead-in gives its nested items",
        ),
        pytest.param(
            "Inclusion Criteria:\n\n* Adults\n* Asthma\nwrapped line\n\nA note after the list",
            [
                ("inclusion", 1, "Adults"),
                ("inclusion", 2, "Asthma\nwrapped line"),
                ("inclusion", 3, "A note after the list"),
            ],
            id="wrapped lines continue, paragraphs start items",
        ),
        pytest.param(
            "Inclusion Criteria:\n\n* Adults\n* Any participant not meeting inclusion criteria\n"
            "* Note: Other inclusion criteria apply",
            [
                ("inclusion", 1, "Adults"),
                ("inclusion", 2, "Any participant not meeting inclusion criteria"),
                ("inclusion", 3, "Note: Other inclusion criteria apply"),
            ],
            id="sentences naming criteria are not headings",
        ),
        pytest.param(
            "Inclusion Criteria:\n\n* Adults\n\nExclusion Criteria:\n\n* None",
            [("inclusion", 1, "Adults")],
            id="an exclusion section of placeholders only",
        ),
    ],
)
def test_criteria_split_cases(text: str, expected: list[tuple[str, int, str]]) -> None:
    assert split_criteria(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("Adults with asthma.", id="no heading"),
        pytest.param("Adults only.\n\nInclusion Criteria:\n\n* Asthma", id="text before the first heading"),
        pytest.param("Inclusion Criteria:\n\nExclusion Criteria:\n\n* Smokers", id="an inclusion heading with nothing"),
        pytest.param("Inclusion Criteria:\n\n* N/A\n\nExclusion Criteria:\n\n* Smokers", id="placeholders only"),
        pytest.param(
            "Inclusion Criteria (patients):\n* Asthma\nExclusion Criteria (patients):\n* Smokers\n"
            "Inclusion Criteria (volunteers):\n* Healthy",
            id="a kind that comes back",
        ),
        pytest.param("Inclusion Criteria:\n\n* Adults Exclusion Criteria:- Smokers", id="a heading glued to text"),
    ],
)
def test_criteria_split_when_unsure_gives_no_items(text: str) -> None:
    assert split_criteria(text) == []


# --- Markdown: rendered, never markup of its own -------------------------------------------------------------------


def test_markdown_escapes_are_removed() -> None:
    assert markdown_inline(r"hemoglobin A1c \[HbA1c\], HbA1C\<8%") == "hemoglobin A1c [HbA1c], HbA1C&lt;8%"
    assert plain_text(r"hemoglobin A1c \[HbA1c\], HbA1C\<8% \*\_\#") == "hemoglobin A1c [HbA1c], HbA1C<8% *_#"
    assert markdown_block("* one\n* two") == "<ul>\n<li>one</li>\n<li>two</li>\n</ul>\n"
    assert markdown_block("just one line") == "just one line"  # fits in a list item without a paragraph


@pytest.mark.parametrize("hostile", HOSTILE)
def test_record_text_never_becomes_markup(hostile: str) -> None:
    for rendered in (markdown_block(hostile), markdown_inline(hostile)):
        assert "<script" not in rendered and "<img" not in rendered and "href" not in rendered
    assert plain_text(hostile) == hostile


def test_only_web_and_mail_links_are_links() -> None:
    assert markdown_inline("[site](https://example.org)") == (
        '<a href="https://example.org" rel="nofollow noopener noreferrer">site</a>'
    )
    assert "href" in markdown_inline("[mail](mailto:a@example.org)")
    for target in ("javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,x", "vbscript:x", "page.html"):
        assert "href" not in markdown_inline(f"[x]({target})"), target
    assert "<img" not in markdown_block("![pixel](https://example.org/p.png)")


# --- a small store: own spellings, hostile text, a date without a type ---------------------------------------------


def _variant(nct: str, condition: str, intervention: str, text: str) -> dict[str, Any]:
    """The reference trial as another trial: its condition and drug spelt its own way, ``text`` in its free text."""
    study = copy.deepcopy(seed_study())
    study.pop("transcriptionNotes", None)
    study["synthetic"] = {"generator": "tests/test_record_truth.py", "why": "spellings, hostile text, date types"}
    protocol = study["protocolSection"]
    protocol["identificationModule"].update(
        {"nctId": nct, "briefTitle": f"Title {text}", "orgStudyIdInfo": {"id": "RG_14-088"}}
    )
    protocol["conditionsModule"] = {"conditions": [condition]}
    protocol["descriptionModule"]["briefSummary"] = f"Summary {text}"
    arms = protocol["armsInterventionsModule"]
    arms["interventions"][0]["name"] = intervention
    arms["armGroups"][0]["interventionNames"] = [f"Drug: {intervention}"]
    arms["armGroups"][0]["description"] = f"Arm {text}"
    protocol["eligibilityModule"]["eligibilityCriteria"] = (
        f"Inclusion Criteria:\n\n* {text}\n\nExclusion Criteria:\n\n* -"
    )
    return study


@pytest.fixture(scope="module")
def small_records(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two trials spelling one condition and one drug differently; the second with hostile text in its free text
    and a start date without a type."""
    other = _variant(OTHER, "COVID-19", "LUTETIUM [177LU] BL-ARC001", " ".join(HOSTILE))
    del other["protocolSection"]["statusModule"]["startDateStruct"]["type"]
    records = [_variant(OWN, "Covid-19", "Lutetium [177Lu] BL-ARC001", r"HbA1C\<8% \[x\]"), other]
    path = tmp_path_factory.mktemp("truth") / "records.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def small_store(small_records: Path) -> Iterator[Store]:
    spec = f"oxigraph:{small_records.parent / 'store'}"
    build([small_records], spec)
    with open_store(spec, read_only=True) as store:
        yield store


def test_each_trial_shows_its_own_spelling(small_store: Store) -> None:
    for nct, condition, drug in ((OWN, "Covid-19", "Lutetium [177Lu]"), (OTHER, "COVID-19", "LUTETIUM [177LU]")):
        parts = trial_summary(small_store, nct)["parts"]
        assert [item["label"] for item in parts["condition"]] == [condition], nct
        assert [item["label"] for item in parts["intervention"]] == [f"{drug} BL-ARC001"], nct
        uses = run(small_store, "trial_interventions", {"nct": nct}).rows
        assert [row["name"] for row in uses] == [f"{drug} BL-ARC001"], nct
        arms = run(small_store, "trial_arms", {"nct": nct}).rows
        assert [row["intervention_name"] for row in arms] == [f"{drug} BL-ARC001"], nct
        page = visible_text(render_trial_page(small_store, nct, as_of=AS_OF, explorer=""))
        assert f"Conditions {condition} " in page and f"Drug: {drug} BL-ARC001" in page, nct


_PREFIXES = """
PREFIX kg: <https://w3id.org/trialkg/vocab/>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
"""
_OWN_SPELLINGS = (
    _PREFIXES
    + """
SELECT ?part
WHERE { GRAPH ?g { { ?trial kg:conditionMention ?part } UNION { ?part a kg:InterventionUse ; rdfs:label ?l } } }
"""
)
#: Per-trial spellings removed: a store as built before conditions had mentions and intervention uses labels.
_FORGET_OWN_SPELLINGS = (
    _PREFIXES
    + """
DELETE { GRAPH ?g { ?trial kg:conditionMention ?mention . ?mention ?p ?o } }
WHERE { GRAPH ?g { ?trial kg:conditionMention ?mention . ?mention ?p ?o } } ;
DELETE { GRAPH ?g { ?use rdfs:label ?label } } WHERE { GRAPH ?g { ?use a kg:InterventionUse ; rdfs:label ?label } }
"""
)


def test_a_store_built_before_own_spellings_shows_a_shared_spelling(small_records: Path) -> None:
    with fresh_store("oxigraph:") as store:
        store.add(enumeration_quads())
        load_records(store, [small_records], BuildReport())
        store.update(_FORGET_OWN_SPELLINGS)
        assert not store.select(_OWN_SPELLINGS).rows
        for nct in (OWN, OTHER):
            parts = trial_summary(store, nct)["parts"]
            assert [item["label"] for item in parts["condition"]] in (["Covid-19"], ["COVID-19"]), nct
            drugs = {"Lutetium [177Lu] BL-ARC001", "LUTETIUM [177LU] BL-ARC001"}
            used = {row["name"] for row in run(store, "trial_interventions", {"nct": nct}).rows}
            given = {row["intervention_name"] for row in run(store, "trial_arms", {"nct": nct}).rows}
            assert len(used) == len(given) == 1 and used | given <= drugs, nct


def test_hostile_record_text_is_text_on_the_page(small_store: Store) -> None:
    page = render_trial_page(small_store, OTHER, as_of=AS_OF, explorer="")
    body = page.split("<body>", 1)[1]
    assert "<script" not in body and "<img" not in body
    assert not re.search(r'href="(?:javascript|data):', body, re.IGNORECASE)
    text = visible_text(page)
    for hostile in HOSTILE:
        assert text.count(hostile) >= 4, hostile  # title, summary, arm, criterion: shown as text, in full
    own = visible_text(render_trial_page(small_store, OWN, as_of=AS_OF, explorer=""))
    assert "HbA1C<8% [x]" in own and ESCAPE.search(own) is None


def test_identifiers_are_not_relabelled(small_store: Store) -> None:
    page = render_trial_page(small_store, OWN, as_of=AS_OF, explorer="")
    assert '<dd data-identifier="org-study-id">RG_14-088</dd>' in page and "rg 14-088" not in page


def test_a_date_without_a_type_is_not_stated(small_store: Store) -> None:
    """Everywhere: the page's timeline and record dates, ``kg trial --format json`` and the terminal."""
    page = render_trial_page(small_store, OTHER, as_of=AS_OF, explorer="")
    start = page.split('data-milestone="study_start"', 1)[1].split("</li>", 1)[0]
    assert "(type not stated)" in start and "not stated" in visible_text(start)
    dates = visible_text(page.split('<section id="record-dates">', 1)[1].split("</section>", 1)[0])
    assert "Study Start November 14, 2025 (type not stated)" in dates
    assert "Primary Completion December 1, 2027 (estimated)" in dates
    answer = trial_json(small_store, OTHER, as_of=AS_OF)["timeline"]
    assert answer["record_date_types"]["study_start"] == "not stated"
    assert answer["record_date_types"]["primary_completion"] == "estimated"
    assert "first_submitted" not in answer["record_date_types"]  # a plain registry date has no type at all
    assert trial_json(small_store, OWN, as_of=AS_OF)["timeline"]["record_date_types"]["study_start"] == "actual"
    table = kg("trial", OTHER, "--as-of", "2026-05-05", store=small_store.spec)
    assert table.returncode == 0, table.stderr
    assert re.search(r"(?m)^\W*Start +2025-11-14 \(type not stated\)", table.stdout)  # the facts, not the timeline
    assert re.search(r"Study Start +2025-11-14 \(type not stated\) +not stated", table.stdout)
