"""Headless Debian chromium through Playwright, for the page tests: launched offline, never downloaded.

A test that loads a page uses :func:`watch` to collect every network request and console error, so it can assert
that a self-contained page stays offline and quiet. Screenshots go to ``artefacts/`` (ignored by git)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import REPO

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
ARTEFACTS = REPO / "artefacts"
# Without the background-networking flags chromium keeps dialling Google's hosts, which this closed network refuses.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.is_file() or shutil.which("chromium") is None,
    reason="Debian's chromium is not installed (scripts/install-test-deps installs it as root)",
)


@dataclass
class PageLog:
    """What a page did: URLs it requested (its own URL included; data:/blob: left out), console errors, dialogs."""

    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


def watch(page: Page, *, allowed_prefixes: tuple[str, ...] = ()) -> PageLog:
    """Record requests outside ``allowed_prefixes``, console errors, uncaught exceptions and dialogs (alert/confirm:
    a hostile record that manages to run ``alert(1)`` shows up here)."""
    log = PageLog()
    skip = ("data:", "blob:", *allowed_prefixes)
    page.on("request", lambda request: None if request.url.startswith(skip) else log.requests.append(request.url))
    page.on("console", lambda message: log.console_errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: log.page_errors.append(str(error)))

    def on_dialog(dialog) -> None:  # type: ignore[no-untyped-def]
        log.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return log


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One chromium for the session (each test opens its own context and page)."""
    if not CHROMIUM.is_file():
        pytest.skip("Debian's chromium is not installed (scripts/install-test-deps installs it as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page, 1400 by 900, in its own context (no shared cache or storage between tests)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    opened = context.new_page()
    yield opened
    context.close()


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page PNG under ``artefacts/`` and return its path."""
    ARTEFACTS.mkdir(exist_ok=True)
    path = ARTEFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
