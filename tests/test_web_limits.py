"""``kg serve`` under load: per-kind caps answer 503 with Retry-After at once, time limits answer 503 and keep the
work, one computation per uncached page, bounded depth times top, bounded searches, and no file paths in /healthz.

The heavy functions are replaced by fakes that block on an event, so every test is quick and deterministic."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from kg.store import Store, open_store
from kg.web.app import MAX_SEARCH_CHARS, MAX_SPREAD, create_app
from kg.web.limits import Gate
from tests.conftest import SEED_NCT
from tests.server_support import HOSTILE_NCT, app_client, demo_corpus, demo_spec  # noqa: F401 - fixtures

#: Longest any fake blocks, so that a failing test cannot hang.
BLOCK = 10.0


@pytest.fixture(scope="module")
def store(demo_spec: str) -> Iterator[Store]:  # noqa: F811
    with open_store(demo_spec, read_only=True) as opened:
        yield opened


class Blocker:
    """A fake heavy function: counts its calls, says when one has started, and returns only once released."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.calls: list[tuple[Any, ...]] = []
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, store: Store, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(args)
        self.started.set()
        self.release.wait(BLOCK)
        return self.answer


def poll(condition: Callable[[], bool], seconds: float = BLOCK) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


# (route for one trial, route for another, module and function the route computes with, fake's answer)
HEAVY = {
    "page": ("/trial/{}", "kg.views.explorer", "render_explorer", "<!doctype html><p>fake page</p>"),
    "expansion": ("/api/expand/{}", "kg.views.explorer", "expand", {"centre": "x", "nodes": [], "edges": []}),
    "trial API": ("/api/trial/{}", "kg.analysis.trial", "trial_summary", {"fake": True}),
    "related API": ("/api/related/{}", "kg.analysis.related", "related", []),
}


@pytest.mark.parametrize("kind", sorted(HEAVY))
def test_a_full_cap_answers_503_at_once_with_retry_after(
    kind: str, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    route, module, name, answer = HEAVY[kind]
    fake = Blocker(answer)
    monkeypatch.setattr(f"{module}.{name}", fake)
    with app_client(create_app(store, explorer_slots=1, explorer_timeout=BLOCK)) as http, ThreadPoolExecutor(1) as pool:
        first = pool.submit(http.get, route.format(SEED_NCT))
        assert fake.started.wait(BLOCK)
        began = time.monotonic()
        refused = http.get(route.format(HOSTILE_NCT))
        assert time.monotonic() - began < 1.0
        assert refused.status_code == 503 and "busy" in refused.text
        assert int(refused.headers["Retry-After"]) >= 1
        fake.release.set()
        assert first.result(BLOCK).status_code == 200
        assert http.get(route.format(HOSTILE_NCT)).status_code == 200  # the slot is free again
    assert len(fake.calls) == 2


def test_ten_requests_for_one_uncached_page_compute_it_once(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = Blocker("<!doctype html><p>the one page</p>")
    monkeypatch.setattr("kg.views.explorer.render_explorer", fake)
    waiting: list[int] = []
    wait = Gate.wait

    async def counted(self: Gate, future: Any) -> Any:
        waiting.append(1)
        return await wait(self, future)

    monkeypatch.setattr(Gate, "wait", counted)
    # One slot: a request that did not join the flight under way would be refused with 503.
    app = create_app(store, explorer_slots=1, explorer_timeout=BLOCK)
    with app_client(app) as http, ThreadPoolExecutor(10) as pool:
        answers = [pool.submit(http.get, f"/trial/{SEED_NCT}") for _ in range(10)]
        poll(lambda: len(waiting) == 10)  # all ten await the one computation
        fake.release.set()
        bodies = {answer.result(BLOCK).text for answer in answers}
        assert {answer.result().status_code for answer in answers} == {200}
        assert http.get(f"/trial/{SEED_NCT}").text in bodies  # then from the cache
    assert bodies == {"<!doctype html><p>the one page</p>"}
    assert len(fake.calls) == 1


def test_a_computation_past_its_time_limit_answers_503_and_is_kept(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = Blocker("<!doctype html><p>late page</p>")
    monkeypatch.setattr("kg.views.explorer.render_explorer", fake)
    with app_client(create_app(store, explorer_slots=1, explorer_timeout=0.3)) as http:
        began = time.monotonic()
        late = http.get(f"/trial/{SEED_NCT}")
        assert time.monotonic() - began < 3.0
        assert late.status_code == 503 and "longer than 0.3 s" in late.text
        assert int(late.headers["Retry-After"]) >= 1
        assert http.get(f"/trial/{HOSTILE_NCT}").status_code == 503  # the abandoned work still holds its slot
        fake.release.set()
        poll(lambda: http.get(f"/trial/{SEED_NCT}").status_code == 200)
    assert len(fake.calls) == 1  # the page that came too late was cached, not computed again


def test_depth_times_top_is_bounded(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = Blocker("<!doctype html><p>page</p>")
    fake.release.set()
    monkeypatch.setattr("kg.views.explorer.render_explorer", fake)
    with app_client(create_app(store)) as http:
        refused = http.get(f"/trial/{SEED_NCT}", params={"depth": 3, "top": 100})
        assert refused.status_code == 400
        assert f"depth times top may be at most {MAX_SPREAD}, not 3 * 100" in refused.text
        assert http.get(f"/trial/{SEED_NCT}", params={"depth": 3, "top": MAX_SPREAD // 3}).status_code == 200
    assert fake.calls == [(SEED_NCT,)]


def test_a_long_search_is_refused_and_a_search_leaves_the_server_free(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    with app_client(create_app(store)) as http:
        refused = http.get("/", params={"q": "a" * (MAX_SEARCH_CHARS + 1)})
        assert refused.status_code == 400 and f"at most {MAX_SEARCH_CHARS} characters" in refused.text
        longest = http.get("/", params={"q": "a " * (MAX_SEARCH_CHARS // 2)})
        assert longest.status_code == 200 and f'maxlength="{MAX_SEARCH_CHARS}"' in longest.text
    searching = threading.Event()
    release = threading.Event()

    def slow_search(self: Any, query: str) -> str:
        searching.set()
        release.wait(BLOCK)
        return "<p>found</p>"

    monkeypatch.setattr("kg.web.app._Views._search", slow_search)
    with app_client(create_app(store)) as http, ThreadPoolExecutor(1) as pool:
        search = pool.submit(http.get, "/", params={"q": "cancer"})
        assert searching.wait(BLOCK)
        assert http.get("/healthz").status_code == 200  # answered while the search runs
        release.set()
        assert search.result(BLOCK).text == "<p>found</p>"


def test_healthz_names_the_store_without_its_path(store: Store, demo_spec: str) -> None:  # noqa: F811
    with app_client(create_app(store)) as http:
        answer = http.get("/healthz")
    assert answer.json()["store"] == "oxigraph:store" and set(answer.json()) == {"status", "store", "opened"}
    assert str(Path(demo_spec.partition(":")[2]).parent) not in answer.text
