"""The explorer page in headless Debian chromium: offline from file://, clicks on the canvas open the panel, Expand,
search, freeze, reset and PNG export work, Expand asks ``api_base`` beyond its data, and a hostile record runs
nothing. Screenshots go to ``artefacts/``."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import pytest

from kg.store import Store, open_store
from kg.views.explorer import render_explorer
from kg.views.explorer_data import expand
from tests.browser_support import PageLog, needs_chromium, screenshot, watch
from tests.conftest import LUTETIUM, SEED_NCT, needs_real_data
from tests.explorer_support import (
    HOSTILE_CONDITION,
    HOSTILE_NCT,
    HOSTILE_SPONSOR,
    HOSTILE_TITLE,
    explorer_corpus,
    explorer_spec,
    explorer_store,
    raw_records,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

__all__ = ["explorer_corpus", "explorer_spec", "explorer_store"]  # fixtures used here

pytestmark = needs_chromium

LANTHANOIDS = "D028581"
SETTLED = 60_000  # ms; the first view has a few dozen nodes and settles in about a second on two busy cores


@pytest.fixture(scope="module")
def pages(explorer_store: Store, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pages")
    written = {
        "seed": render_explorer(explorer_store, SEED_NCT, depth=2),
        "hostile": render_explorer(explorer_store, HOSTILE_NCT, depth=1),
        "shallow": render_explorer(explorer_store, SEED_NCT, depth=0, top=5),
    }
    paths = {}
    for name, html in written.items():
        paths[name] = folder / f"{name}.html"
        paths[name].write_text(html, encoding="utf-8")
    return paths


@pytest.fixture(scope="module")
def raw(explorer_corpus: list[Path]) -> dict[str, dict[str, Any]]:
    return raw_records(explorer_corpus)


def open_explorer(page: Page, path: Path | str) -> PageLog:
    """Open a page, wait until its physics has settled, and freeze it so nodes stay where a click aims."""
    url = path if isinstance(path, str) else path.as_uri()
    log = watch(page)
    page.goto(url)
    page.locator("#kg-status").filter(has_text="settled").wait_for(timeout=SETTLED)
    page.click("#kg-freeze")
    return log


def node_count(page: Page) -> int:
    return int(page.evaluate("kgExplorer.nodes.length"))


def click_node(page: Page, node_id: str) -> None:
    """A real mouse click where the network draws the node (brought into view first, as a user would pan)."""
    point = page.evaluate(
        """id => {
            const network = kgExplorer.network;
            const at = network.getPositions([id])[id];
            network.moveTo({ position: at, scale: 1.0 });
            const dom = network.canvasToDOM(at);
            const box = document.getElementById("kg-graph").getBoundingClientRect();
            return { x: box.left + dom.x, y: box.top + dom.y };
        }""",
        node_id,
    )
    page.mouse.click(point["x"], point["y"])


def panel_title(page: Page) -> str:
    return page.locator("#kg-panel-title").inner_text(timeout=5_000)


def panel_fact(page: Page, label: str) -> str:
    return page.locator("#kg-panel dt", has_text=label).locator("xpath=following-sibling::dd[1]").inner_text()


def related_trials(path: Path) -> list[str]:
    data = json.loads(path.read_text(encoding="utf-8").split('id="kg-data">', 1)[1].split("</script>", 1)[0])
    return [edge["to"] for edge in data["edges"] if edge["kind"] == "related"]


def test_page_loads_offline_with_no_request_and_no_console_error(page: Page, pages: dict[str, Path]) -> None:
    log = open_explorer(page, pages["seed"])
    assert log.requests == [pages["seed"].as_uri()]
    assert log.console_errors == [] and log.page_errors == [] and log.dialogs == []
    assert node_count(page) == len(explorer_data_ids(pages["seed"]))
    assert page.locator("#kg-legend").inner_text().count("\n") >= 6
    assert "frozen" in page.locator("#kg-status").inner_text()
    screenshot(page, "explorer-demo")


def explorer_data_ids(path: Path) -> list[str]:
    data = json.loads(path.read_text(encoding="utf-8").split('id="kg-data">', 1)[1].split("</script>", 1)[0])
    return [node["id"] for node in data["nodes"]]


def test_click_on_the_centre_trial_opens_its_panel(page: Page, pages: dict[str, Path]) -> None:
    open_explorer(page, pages["seed"])
    click_node(page, SEED_NCT)
    # the reference record has no brief title: the panel says so under the NCT id
    assert panel_title(page) == f"{SEED_NCT} (no title in the record)"
    assert panel_fact(page, "Status") == "RECRUITING" and panel_fact(page, "Enrollment") == "22"
    link = page.locator("#kg-ctgov-link")
    assert link.get_attribute("href") == f"https://clinicaltrials.gov/study/{SEED_NCT}"
    assert link.get_attribute("rel") == "noopener noreferrer"
    screenshot(page, "explorer-demo-centre-panel")


def test_click_on_a_related_trial_opens_its_panel(
    page: Page, pages: dict[str, Path], raw: dict[str, dict[str, Any]]
) -> None:
    log = open_explorer(page, pages["seed"])
    other = next(nct for nct in related_trials(pages["seed"]) if nct != HOSTILE_NCT)
    click_node(page, other)
    protocol = raw[other]["protocolSection"]
    assert panel_title(page) == protocol["identificationModule"]["briefTitle"]
    assert panel_fact(page, "Status") == protocol["statusModule"]["overallStatus"]
    assert "SYNTHETIC" in page.locator("#kg-panel").inner_text()
    assert log.console_errors == [] and log.page_errors == []


def test_expand_adds_nodes_two_hops_out_offline(page: Page, pages: dict[str, Path]) -> None:
    log = open_explorer(page, pages["seed"])
    before = node_count(page)
    click_node(page, LUTETIUM)
    assert panel_title(page) == "Lutetium"
    page.click("#kg-expand")
    assert page.locator("#kg-expand-message").inner_text().startswith("Added ")
    after_first = node_count(page)
    assert after_first > before
    added = page.evaluate(f"kgExplorer.data.expansions[{json.dumps(LUTETIUM)}].nodes")
    second = next(node_id for node_id in added if node_id not in explorer_data_ids(pages["seed"]))
    click_node(page, second)
    page.click("#kg-expand")
    message = page.locator("#kg-expand-message").inner_text()
    assert message.startswith(("Added ", "Nothing new")) and "kg serve" not in message
    assert node_count(page) >= after_first
    assert log.requests == [pages["seed"].as_uri()] and log.page_errors == []
    screenshot(page, "explorer-demo-expanded")


def test_search_finds_and_focuses_a_node(page: Page, pages: dict[str, Path]) -> None:
    open_explorer(page, pages["seed"])
    page.fill("#kg-search-input", "lanthanoid series")
    page.press("#kg-search-input", "Enter")
    assert panel_title(page) == "Lanthanoid Series Elements"
    assert page.evaluate("kgExplorer.network.getSelectedNodes()") == [LANTHANOIDS]
    page.fill("#kg-search-input", "neoplasms")
    page.press("#kg-search-input", "Enter")
    results = page.locator("#kg-panel .kg-results button")
    assert results.count() >= 3  # Neoplasms, Neoplasms by Site, Digestive System Neoplasms, …
    results.filter(has_text="Neoplasms by Site").first.click()
    assert panel_title(page) == "Neoplasms by Site"
    page.fill("#kg-search-input", "no such node anywhere")
    page.press("#kg-search-input", "Enter")
    assert "No node in view matches" in page.locator("#kg-panel").inner_text()


def test_freeze_reset_and_png_export(page: Page, pages: dict[str, Path]) -> None:
    open_explorer(page, pages["seed"])
    assert page.evaluate("kgExplorer.network.physics.physicsEnabled") is False
    page.click("#kg-freeze")
    assert page.locator("#kg-freeze").inner_text() == "Freeze"
    assert page.evaluate("kgExplorer.network.physics.physicsEnabled") is True
    page.click("#kg-freeze")
    assert page.locator("#kg-freeze").inner_text() == "Unfreeze"
    first = node_count(page)
    click_node(page, LUTETIUM)
    page.click("#kg-expand")
    assert node_count(page) > first
    page.click("#kg-reset")
    assert node_count(page) == first
    with page.expect_download() as download_info:
        page.click("#kg-png")
    download = download_info.value
    assert download.suggested_filename == f"{SEED_NCT}-explorer.png"
    png = Path(download.path()).read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5_000


def test_beyond_the_embedded_data_the_panel_points_to_the_server(page: Page, pages: dict[str, Path]) -> None:
    log = open_explorer(page, pages["shallow"])
    click_node(page, SEED_NCT)
    before = node_count(page)
    page.click("#kg-expand")
    assert "kg serve" in page.locator("#kg-expand-message").inner_text()
    assert node_count(page) == before and log.requests == [pages["shallow"].as_uri()]


class _Explorer(BaseHTTPRequestHandler):
    """The page at /trial/NCT… with api_base /api, and /api/expand/{id} from :func:`expand`: what ``kg serve``
    promises, served here so the page's fetch path is tested without the server module."""

    spec = ""
    asked: list[str] = []  # noqa: RUF012 - one test server, class-level by design

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        with open_store(self.spec, read_only=True) as store:
            if url.path.startswith("/api/expand/"):
                node_id = unquote(url.path.removeprefix("/api/expand/"))
                self.asked.append(node_id)
                body, kind = json.dumps(expand(store, node_id, top=5)).encode(), "application/json"
            else:
                nct = url.path.rsplit("/", 1)[-1]
                body, kind = render_explorer(store, nct, depth=0, top=5, api_base="/api").encode(), "text/html"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def explorer_server(explorer_spec: str) -> Iterator[str]:
    handler = type("Handler", (_Explorer,), {"spec": explorer_spec, "asked": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_expand_beyond_the_embedded_data_asks_api_base(page: Page, explorer_server: str) -> None:
    log = open_explorer(page, f"{explorer_server}/trial/{SEED_NCT}")
    click_node(page, LUTETIUM)
    before = node_count(page)
    page.click("#kg-expand")
    page.locator("#kg-expand-message", has_text="Added").wait_for(timeout=15_000)
    assert node_count(page) > before
    assert f"{explorer_server}/api/expand/{LUTETIUM}?top=5" in log.requests
    assert all(url.startswith(explorer_server) for url in log.requests)
    assert log.console_errors == [] and log.page_errors == []


def test_hostile_record_runs_no_script_and_shows_its_text_literally(page: Page, pages: dict[str, Path]) -> None:
    log = open_explorer(page, pages["hostile"])
    click_node(page, HOSTILE_NCT)
    assert page.locator("#kg-panel-title").text_content() == HOSTILE_TITLE
    assert panel_fact(page, "Lead sponsor") == HOSTILE_SPONSOR
    page.fill("#kg-search-input", "onerror=alert(5)")
    page.press("#kg-search-input", "Enter")
    assert panel_title(page) == HOSTILE_CONDITION
    page.mouse.move(1, 1)
    screenshot(page, "explorer-hostile")
    assert page.evaluate("typeof window.kgPwned") == "undefined"
    assert page.locator("img").count() == 0 and page.locator("script").count() == 4
    assert log.dialogs == [] and log.page_errors == [] and log.console_errors == []
    assert log.requests == [pages["hostile"].as_uri()]  # no <img src=x> fetched either


def test_hostile_related_trial_clicked_from_the_seed_page(page: Page, pages: dict[str, Path]) -> None:
    log = open_explorer(page, pages["seed"])
    click_node(page, HOSTILE_NCT)
    assert page.locator("#kg-panel-title").text_content() == HOSTILE_TITLE
    assert log.dialogs == [] and log.page_errors == [] and page.evaluate("typeof window.kgPwned") == "undefined"


@pytest.mark.slow
@needs_real_data
def test_real_trial_explorer(page: Page, real_store: Store, tmp_path: Path) -> None:
    """A urology trial with many MeSH terms (built without a MeSH file: the registry's ancestor lists)."""
    nct = "NCT06532149"
    path = tmp_path / "real.html"
    path.write_text(render_explorer(real_store, nct, depth=1), encoding="utf-8")
    log = open_explorer(page, path)
    click_node(page, nct)
    assert panel_title(page).startswith("ERectile Dysfunctions, gOnadotoxicity")
    assert log.requests == [path.as_uri()] and log.console_errors == [] and log.page_errors == []
    screenshot(page, f"explorer-real-{nct}")
