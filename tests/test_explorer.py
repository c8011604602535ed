"""The explorer's data against the raw records and the MeSH file, its expansions, the page's escaping and
self-containment, and ``kg explore``. (The page in a real browser: ``test_explorer_browser.py``.)"""

from __future__ import annotations

import base64
import copy
import gc
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import weakref
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from kg.analysis.health import health_score
from kg.demo import demo_mesh_file, seed_study, write_demo_corpus
from kg.identifiers import normalize_mesh_id, slug
from kg.pipeline.build import build
from kg.queries import QueryError
from kg.store import Store, open_store
from kg.views import explorer_data as explorer_data_module
from kg.views.explorer import VIS_NETWORK, render_explorer, render_page, script_json
from kg.views.explorer_data import expand, explorer_data
from tests.conftest import DIGESTIVE_NEOPLASMS_ANCESTORS, LUTETIUM, LUTETIUM_ANCESTORS, SEED_NCT
from tests.explorer_support import (
    HOSTILE_CONDITION,
    HOSTILE_INTERVENTION,
    HOSTILE_NCT,
    HOSTILE_SPONSOR,
    HOSTILE_TITLE,
    explorer_corpus,
    explorer_spec,
    explorer_store,
    raw_records,
)

__all__ = ["explorer_corpus", "explorer_spec", "explorer_store"]  # fixtures used here

DIGESTIVE_NEOPLASMS = "D004067"
URL = re.compile(r"""(?:https?|ftp|wss?):[/\\]{2}[^\s"'<>)\\]+""", re.IGNORECASE)
CTGOV_LINK = re.compile(r"^https://clinicaltrials\.gov/study/(NCT\d{8})?$")  # a link (href), never fetched
#: URLs inside vis-network's own code: its licence header, home page, an error message and the SVG namespace
#: (a name, never fetched). Anything else found in the page fails the test.
VIS_STRINGS = {
    "https://visjs.github.io/vis-network/",
    "http://almende.com",
    "https://github.com/visjs",
    "http://www.apache.org/licenses/LICENSE-2.0",
    "http://opensource.org/licenses/MIT",
    "http://www.w3.org/2000/svg",
    "https://github.com/uuidjs/uuid#getrandomvalues-not-supported",
    "https://github.com/zloirock/core-js",
    "https://github.com/zloirock/core-js/blob/v3.21.1/LICENSE",
}


# --- independent readings of the inputs ------------------------------------------------------------------------


def mesh_file() -> dict[str, dict[str, Any]]:
    """The demo MeSH file read here: UI → {"label", "trees", "pa"} (descriptors and supplementary concepts)."""
    found: dict[str, dict[str, Any]] = {}
    for chunk in demo_mesh_file().read_text(encoding="utf-8").split("*NEWRECORD"):
        fields: dict[str, list[str]] = {}
        for line in chunk.splitlines():
            key, sep, value = line.partition(" = ")
            if sep:
                fields.setdefault(key.strip(), []).append(value.strip())
        if "UI" in fields:
            label = (fields.get("MH") or fields.get("NM") or [""])[0]
            found[fields["UI"][0]] = {"label": label, "trees": fields.get("MN", []), "pa": fields.get("PA", [])}
    return found


def descriptor_ancestors(mesh: dict[str, dict[str, Any]], ui: str) -> set[str]:
    """UIs of the descriptors whose tree numbers are proper prefixes of the descriptor's."""
    by_tree = {tree: other for other, record in mesh.items() for tree in record["trees"]}
    found = set()
    for tree in mesh[ui]["trees"]:
        parts = tree.split(".")
        found.update(by_tree[".".join(parts[:n])] for n in range(1, len(parts)) if ".".join(parts[:n]) in by_tree)
    return found


def raw_terms(study: dict[str, Any], module: str) -> set[str]:
    meshes = study.get("derivedSection", {}).get(module, {}).get("meshes", [])
    return {normalize_mesh_id(mesh["id"]) for mesh in meshes}


@pytest.fixture(scope="module")
def raw(explorer_corpus: list[Path]) -> dict[str, dict[str, Any]]:
    return raw_records(explorer_corpus)


@pytest.fixture(scope="module")
def seed_data(explorer_store: Store) -> dict[str, Any]:
    return explorer_data(explorer_store, SEED_NCT, depth=2, top=10)


@pytest.fixture(scope="module")
def seed_page(explorer_store: Store) -> str:
    return render_explorer(explorer_store, SEED_NCT, depth=1, top=10)


def by_id(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {node["id"]: node for node in [*data["nodes"], *data.get("catalogue", {}).values()]}


# --- data -------------------------------------------------------------------------------------------------------


def test_centre_view_holds_the_trials_mesh_terms_and_their_ancestor_chains(
    seed_data: dict[str, Any], raw: dict[str, dict[str, Any]]
) -> None:
    study = raw[SEED_NCT]
    mesh = mesh_file()
    terms = raw_terms(study, "conditionBrowseModule") | raw_terms(study, "interventionBrowseModule")
    expected = terms.union(*(descriptor_ancestors(mesh, ui) for ui in terms))
    concepts = {node["id"] for node in seed_data["nodes"] if node["kind"] == "concept"}
    assert seed_data["centre"] == SEED_NCT and seed_data["nodes"][0]["id"] == SEED_NCT
    assert concepts == expected
    labels = {node["id"]: node["name"] for node in seed_data["nodes"]}
    assert {labels[ui] for ui in descriptor_ancestors(mesh, LUTETIUM)} == LUTETIUM_ANCESTORS
    assert {labels[ui] for ui in descriptor_ancestors(mesh, DIGESTIVE_NEOPLASMS)} == DIGESTIVE_NEOPLASMS_ANCESTORS
    edges = {(edge["from"], edge["to"], edge["kind"]) for edge in seed_data["edges"]}
    assert (SEED_NCT, LUTETIUM, "intervention-MeSH") in edges
    assert (SEED_NCT, DIGESTIVE_NEOPLASMS, "condition-MeSH") in edges
    # every ancestor hangs off the chain by a broader edge whose ends are a tree-number child and parent
    for source, target, kind in edges:
        if kind == "broader":
            assert any(
                child.rsplit(".", 1)[0] == parent for child in mesh[source]["trees"] for parent in mesh[target]["trees"]
            )
    assert {target for _, target, kind in edges if kind == "broader"} == expected - terms


def test_conditions_and_interventions_as_written_are_shared_nodes(
    explorer_store: Store, raw: dict[str, dict[str, Any]]
) -> None:
    data = explorer_data(explorer_store, HOSTILE_NCT, depth=0)
    arms = raw[HOSTILE_NCT]["protocolSection"]["armsInterventionsModule"]["interventions"]
    written = {node["id"]: node["name"] for node in data["nodes"] if node["kind"] in ("condition", "intervention")}
    assert written == {
        f"condition/{slug(HOSTILE_CONDITION)}": HOSTILE_CONDITION,
        f"intervention/drug/{slug(arms[0]['name'])}": HOSTILE_INTERVENTION,
    }


def test_trial_facts_match_the_raw_record(
    explorer_store: Store, seed_data: dict[str, Any], raw: dict[str, dict[str, Any]]
) -> None:
    mesh = mesh_file()
    nodes = by_id(seed_data)
    trials = [node for node in nodes.values() if node["kind"] == "trial"]
    assert len(trials) > 20
    health = health_score(explorer_store, SEED_NCT).to_json()
    summary = nodes[SEED_NCT]["facts"]["health"]
    assert (summary["score"], summary["label"]) == (health["score"], health["label"])
    assert {name: part["points"] for name, part in summary["components"].items()} == {
        name: part["points"] for name, part in health["components"].items()
    }
    for node in trials:
        protocol = raw[node["id"]]["protocolSection"]
        facts = node["facts"]
        status = protocol["statusModule"]
        assert facts["title"] == protocol["identificationModule"].get("briefTitle")
        assert facts["status"] == status["overallStatus"]
        assert facts["start"] == status.get("startDateStruct", {}).get("date")
        assert facts["completion"] == status.get("completionDateStruct", {}).get("date")
        assert facts["enrollment"] == protocol["designModule"].get("enrollmentInfo", {}).get("count")
        assert facts["phases"] == ("/".join(sorted(protocol["designModule"].get("phases", []))) or None)
        assert facts["lead_sponsor"] == protocol["sponsorCollaboratorsModule"]["leadSponsor"].get("name")
        assert facts["synthetic"] == bool(raw[node["id"]].get("synthetic"))
        assert facts["url"] == f"https://clinicaltrials.gov/study/{node['id']}"
        assert set(facts["health"]) == {"score", "label", "as_of", "components"}
        assert 0 <= facts["health"]["score"] <= 100
        for key, module in (
            ("mesh_conditions", "conditionBrowseModule"),
            ("mesh_interventions", "interventionBrowseModule"),
        ):
            terms = raw_terms(raw[node["id"]], module)
            if terms <= set(mesh):
                assert facts[key] == sorted({mesh[ui]["label"] for ui in terms})


def test_trial_labels_put_a_short_name_under_the_nct_id(explorer_store: Store, tmp_path: Path) -> None:
    """The canvas label: the acronym, else the title's start cut after a whole word, on one line under the NCT id."""
    titled = {
        "NCT99900001": {"acronym": "LUNG-05", "briefTitle": "A Study of Lutetium in Digestive System Neoplasms"},
        "NCT99900002": {"briefTitle": "A Phase 1 Study of\nLutetium [177Lu] in Digestive System Neoplasms"},
    }
    studies = [seed_study()]
    for nct, names in titled.items():
        study = copy.deepcopy(seed_study())
        study["protocolSection"]["identificationModule"] = {"nctId": nct, **names}
        study["synthetic"] = {"generator": "tests/test_explorer.py", "purpose": "trial labels"}
        studies.append(study)
    (tmp_path / "records.json").write_text(json.dumps(studies), encoding="utf-8")
    spec = f"oxigraph:{tmp_path / 'store'}"
    build([tmp_path / "records.json"], spec)
    with open_store(spec, read_only=True) as store:
        labels = {nct: explorer_data(store, nct, depth=0)["nodes"][0]["label"] for nct in [SEED_NCT, *titled]}
    assert labels == {
        SEED_NCT: SEED_NCT,  # the reference record has no title: the NCT id alone
        "NCT99900001": "NCT99900001\nLUNG-05",
        "NCT99900002": "NCT99900002\nA Phase 1 Study of Lutetium [177Lu] in…",
    }
    hostile = explorer_data(explorer_store, HOSTILE_NCT, depth=0)["nodes"][0]["label"]
    name = hostile.split("\n", 1)[1]
    assert hostile.count("\n") == 1 and len(name) <= 40 and name.endswith("…") and "\u2028" not in hostile
    assert HOSTILE_TITLE.startswith(name[:-1])  # shown as text: the page draws it on the canvas, never as markup


def test_concept_facts_count_trials_at_or_under_from_the_raw_records(
    seed_data: dict[str, Any], raw: dict[str, dict[str, Any]]
) -> None:
    mesh = mesh_file()
    node = by_id(seed_data)[DIGESTIVE_NEOPLASMS]
    facts = node["facts"]
    assert facts["tree_numbers"] == sorted(mesh[DIGESTIVE_NEOPLASMS]["trees"])
    assert facts["label"] == "Digestive System Neoplasms" and node["group"] == "disease"
    under = {
        nct
        for nct, study in raw.items()
        if any(
            ui == DIGESTIVE_NEOPLASMS or DIGESTIVE_NEOPLASMS in descriptor_ancestors(mesh, ui)
            for ui in raw_terms(study, "conditionBrowseModule")
            if ui in mesh
        )
    }
    assert facts["trials_at_or_under"] == len(under) and facts["trials_source"] == "kg:trialsAtOrUnder"
    assert by_id(seed_data)[LUTETIUM]["group"] == "drug"


def test_related_trials_are_linked_to_the_centre_with_their_score(
    seed_data: dict[str, Any], raw: dict[str, dict[str, Any]]
) -> None:
    related = [edge for edge in seed_data["edges"] if edge["kind"] == "related"]
    assert len(related) == 10
    assert HOSTILE_NCT in {edge["to"] for edge in related}
    seed_terms = raw_terms(raw[SEED_NCT], "conditionBrowseModule") | raw_terms(
        raw[SEED_NCT], "interventionBrowseModule"
    )
    mesh = mesh_file()
    seed_closure = seed_terms.union(*(descriptor_ancestors(mesh, ui) for ui in seed_terms if ui in mesh))
    for edge in related:
        assert edge["from"] == SEED_NCT and edge["label"].startswith("related ")
        other = raw[edge["to"]]
        terms = raw_terms(other, "conditionBrowseModule") | raw_terms(other, "interventionBrowseModule")
        closure = terms.union(*(descriptor_ancestors(mesh, ui) for ui in terms if ui in mesh))
        assert closure & seed_closure, f"{edge['to']} shares no MeSH concept with the seed"


def test_embedded_expansions_reach_two_hops_and_match_the_server_answer(
    explorer_store: Store, seed_data: dict[str, Any]
) -> None:
    nodes = by_id(seed_data)
    expansions = seed_data["expansions"]
    first = [node["id"] for node in seed_data["nodes"]]
    assert set(first) <= set(expansions)
    second = {n for node_id in first for n in expansions[node_id]["nodes"]} - set(first)
    assert second and second <= set(expansions)
    for hop in expansions.values():
        assert set(hop["nodes"]) <= set(nodes)
        assert all(edge["from"] in hop["nodes"] and edge["to"] in hop["nodes"] for edge in hop["edges"])
    for node_id in (SEED_NCT, LUTETIUM, sorted(second)[0]):
        answer = expand(explorer_store, node_id, top=10)
        assert answer["centre"] == node_id
        assert [node["id"] for node in answer["nodes"]] == expansions[node_id]["nodes"]
        assert answer["edges"] == expansions[node_id]["edges"]
        assert json.loads(json.dumps(answer)) == answer


def test_expanding_a_concept_gives_trials_at_or_under_it_and_its_broader_concepts(
    explorer_store: Store, raw: dict[str, dict[str, Any]]
) -> None:
    mesh = mesh_file()
    answer = expand(explorer_store, "D009371", top=5)  # Neoplasms by Site
    trials = [node["id"] for node in answer["nodes"] if node["kind"] == "trial"]
    assert len(trials) == 5
    for nct in trials:
        terms = raw_terms(raw[nct], "conditionBrowseModule")
        assert any("D009371" in descriptor_ancestors(mesh, ui) for ui in terms if ui in mesh)
    parents = {edge["to"] for edge in answer["edges"] if edge["kind"] == "broader"}
    assert parents == {"D009369"}  # Neoplasms


def test_expanding_a_condition_as_written_gives_the_trials_naming_it(
    explorer_store: Store, raw: dict[str, dict[str, Any]]
) -> None:
    condition = next(
        c for study in raw.values() for c in study["protocolSection"].get("conditionsModule", {}).get("conditions", [])
    )
    naming = {
        nct
        for nct, study in raw.items()
        if slug(condition)
        in {slug(c) for c in study["protocolSection"].get("conditionsModule", {}).get("conditions", [])}
    }
    answer = expand(explorer_store, f"condition/{slug(condition)}", top=50)
    assert {node["id"] for node in answer["nodes"] if node["kind"] == "trial"} == naming
    assert answer["nodes"][0]["facts"]["trials"] == len(naming)


def test_the_collector_is_off_while_pages_are_drawn_and_back_as_it_was(
    explorer_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages are drawn with Python's cyclic collector paused (:mod:`kg.views.collector`), also when two threads of
    ``kg serve`` draw at once: it is on again only after the last page, and stays off for a caller who had it off."""
    seen: list[bool] = []
    ranked = explorer_data_module._ranked
    inside, release = threading.Event(), threading.Event()

    def watching(*args: Any) -> Any:
        seen.append(gc.isenabled())
        if threading.current_thread().name == "first":
            inside.set()
            release.wait(30)
        return ranked(*args)

    monkeypatch.setattr(explorer_data_module, "_ranked", watching)
    monkeypatch.setattr(explorer_data_module, "_RANKED", weakref.WeakKeyDictionary())
    assert gc.isenabled()
    first = threading.Thread(target=explorer_data, args=(explorer_store, SEED_NCT), kwargs={"depth": 1}, name="first")
    first.start()
    assert inside.wait(30)
    explorer_data(explorer_store, SEED_NCT, depth=1)  # a second page, drawn and done while the first is still drawn
    assert not gc.isenabled()
    release.set()
    first.join(30)
    assert gc.isenabled() and seen and not any(seen)
    gc.disable()
    try:
        explorer_data(explorer_store, SEED_NCT, depth=1)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_expand_takes_ids_in_any_spelling(explorer_store: Store) -> None:
    assert expand(explorer_store, " d000008187 ".upper()) == expand(explorer_store, LUTETIUM)
    assert expand(explorer_store, SEED_NCT.lower())["centre"] == SEED_NCT


@pytest.mark.parametrize("node_id", ["NCT00000000", "D999999", "javascript:alert(1)", "condition/no-such-thing", ""])
def test_expanding_an_unknown_node_is_a_query_error(explorer_store: Store, node_id: str) -> None:
    with pytest.raises(QueryError):
        expand(explorer_store, node_id)


def test_bad_depth_or_top_is_a_query_error(explorer_store: Store) -> None:
    with pytest.raises(QueryError):
        explorer_data(explorer_store, SEED_NCT, depth=-1)
    with pytest.raises(QueryError):
        expand(explorer_store, SEED_NCT, top=0)


def test_without_mesh_the_registry_ancestors_hang_off_the_trial(explorer_corpus: list[Path], tmp_path: Path) -> None:
    spec = f"oxigraph:{tmp_path / 'plain'}"
    build(list(explorer_corpus[:1]), spec)  # the reference trial alone
    with open_store(spec, read_only=True) as store:
        data = explorer_data(store, SEED_NCT, depth=0)
    ancestors = {edge["to"] for edge in data["edges"] if edge["kind"] == "registry-ancestor"}
    names = {node["id"]: node["name"] for node in data["nodes"]}
    assert {names[ui] for ui in ancestors} == LUTETIUM_ANCESTORS | DIGESTIVE_NEOPLASMS_ANCESTORS
    assert data["hierarchy"].startswith("the registry")
    concept = next(node for node in data["nodes"] if node["id"] == LUTETIUM)
    assert concept["facts"]["tree_numbers"] == [] and concept["facts"]["trials_at_or_under"] >= 1


# --- the page ---------------------------------------------------------------------------------------------------


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text inside each script element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._script: dict[str, str | None] | None = None
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._script = dict(attrs)
            self.scripts.append((self._script, ""))
        self._in_title = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        self._script = None if tag == "script" else self._script
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)
        if self._in_title:
            self.title += data


def parse(page: str) -> Elements:
    parser = Elements()
    parser.feed(page)
    return parser


def test_page_has_only_its_own_scripts_and_the_data_round_trips(seed_page: str, explorer_store: Store) -> None:
    elements = parse(seed_page)
    kinds = [attrs.get("type") for attrs, _ in elements.scripts]
    assert kinds == ["application/json", "application/json", None, None]
    data = json.loads(elements.scripts[0][1])
    assert data == json.loads(json.dumps(explorer_data(explorer_store, SEED_NCT, depth=1, top=10)))
    assert not [tag for tag, attrs in elements.tags if any(name.startswith("on") for name in attrs)]


def test_hostile_text_never_reaches_the_markup(seed_page: str, explorer_store: Store) -> None:
    page = render_explorer(explorer_store, HOSTILE_NCT, depth=0)
    elements = parse(page)
    assert len(elements.scripts) == 4  # no script element smuggled in by a title or sponsor
    assert not any(tag == "img" for tag, _ in elements.tags)
    assert elements.title == f"Trial relationships: {HOSTILE_NCT} · {HOSTILE_TITLE}"
    data = json.loads(elements.scripts[0][1])
    names = {node["name"] for node in data["nodes"]}
    assert {HOSTILE_TITLE, HOSTILE_CONDITION, HOSTILE_INTERVENTION} <= names
    assert data["nodes"][0]["facts"]["lead_sponsor"] == HOSTILE_SPONSOR
    outside_library = page.replace(elements.scripts[2][1], "")  # vis-network writes "<script>" in a JS string
    assert outside_library.count("<script") == outside_library.count("</script>") == 4  # ours; none from the record
    assert "<img" not in page and "</script><script>" not in page
    assert not any("\u2028" in text for _, text in elements.scripts)
    assert HOSTILE_NCT in seed_page and "<img" not in seed_page


def test_script_json_escapes_what_could_end_a_script() -> None:
    value = {"a": "</script><!-- <img> & \u2028\u2029 é \ud800"}
    text = str(script_json(value))
    assert not set(text) & {"<", ">", "&", "\u2028", "\u2029"} and text.isascii()
    assert json.loads(text) == value


def test_page_loads_nothing_from_outside(seed_page: str) -> None:
    elements = parse(seed_page)
    for tag, attrs in elements.tags:
        for name in ("src", "href", "srcset", "action", "data", "poster"):
            assert attrs.get(name) is None, (tag, name, attrs[name])
    assert "@import" not in seed_page and "url(" not in seed_page.replace("toDataURL(", "")
    vis_text = elements.scripts[2][1]
    assert set(URL.findall(vis_text)) <= VIS_STRINGS
    outside = seed_page.replace(vis_text, "")
    found = set(URL.findall(outside))
    assert found and all(CTGOV_LINK.match(url) for url in found), found - {u for u in found if CTGOV_LINK.match(u)}


def test_content_security_policy_allows_exactly_the_page_scripts(seed_page: str) -> None:
    elements = parse(seed_page)
    policy = next(
        attrs["content"] for tag, attrs in elements.tags if attrs.get("http-equiv") == "Content-Security-Policy"
    )
    assert policy and "default-src 'none'" in policy and "unsafe-inline" not in policy.split("style-src")[0]
    for attrs, text in elements.scripts:
        if attrs.get("type") is None:
            digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in policy


def test_page_inlines_vis_network_from_pyvis(seed_page: str) -> None:
    from importlib import resources

    library = resources.files(VIS_NETWORK[0]).joinpath(VIS_NETWORK[1]).read_text(encoding="utf-8")
    assert parse(seed_page).scripts[2][1] == library


def test_api_base_goes_into_the_config_only(seed_data: dict[str, Any]) -> None:
    page = render_page(seed_data, api_base="/api/")
    config = json.loads(parse(page).scripts[1][1])
    assert config["api_base"] == "/api" and config["top"] == 10 and config["depth"] == 2
    assert json.loads(parse(render_page(seed_data)).scripts[1][1])["api_base"] is None


# --- the command ------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_kg_explore_writes_the_page_and_says_where(tmp_path: Path) -> None:
    corpus = write_demo_corpus(tmp_path / "corpus", n_synthetic=40)
    spec = f"oxigraph:{tmp_path / 'store'}"
    build(corpus, spec, mesh=[demo_mesh_file()])
    env = {**os.environ, "KG_HOME": str(tmp_path), "COLUMNS": "300"}
    out = tmp_path / "pages" / "seed.html"
    done = subprocess.run(
        [sys.executable, "-m", "kg", "explore", SEED_NCT.lower(), "-o", str(out), "--depth", "1", "--store", spec],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert str(out.resolve()) in done.stdout and out.is_file()
    data = json.loads(parse(out.read_text(encoding="utf-8")).scripts[0][1])
    assert data["centre"] == SEED_NCT and data["depth"] == 1
    missing = subprocess.run(
        [sys.executable, "-m", "kg", "explore", "NCT00000000", "--store", spec],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=tmp_path,
    )
    assert missing.returncode == 2 and "NCT00000000" in missing.stderr and "Traceback" not in missing.stderr
