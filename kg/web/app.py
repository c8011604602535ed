"""The ``kg serve`` web app: the explorer for any trial, a JSON API for expanding it, and a SPARQL endpoint.

The store is opened read-only once and shared by every request; blocking store calls run in worker threads
(pyoxigraph's read queries are thread-safe). Each heavy kind of request (page, expansion, search, API answer) has
its own cap on computations at once and a time limit (:mod:`kg.web.limits`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import PurePath
from typing import Any, Final, TypeVar

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from kg.identifiers import is_nct_id
from kg.store import Store, open_store
from kg.web.limits import Busy, FlightCache, Gate, Overdue
from kg.web.pages import index_page
from kg.web.served import ServedStore, reopening
from kg.web.sparql import NO_SNIFF, SparqlEndpoint

__all__ = [
    "CACHED_PAGES",
    "DEFAULT_EXPLORER_SLOTS",
    "DEFAULT_EXPLORER_TIMEOUT",
    "DEFAULT_MAX_ROWS",
    "DEFAULT_TIMEOUT",
    "MAX_SEARCH_CHARS",
    "MAX_SPREAD",
    "PAGE_DEPTH",
    "create_app",
    "store_label",
]

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT: Final = 30.0
DEFAULT_MAX_ROWS: Final = 100_000
DEFAULT_EXPLORER_TIMEOUT: Final = 10.0
DEFAULT_EXPLORER_SLOTS: Final = 2
#: Longest search string: a title search of more is no search, and matching costs its length times every title.
MAX_SEARCH_CHARS: Final = 400
#: Largest depth times top of a page: its nodes grow with both (real records: 3 x 10 took 5 s, 3 x 20 10 s).
MAX_SPREAD: Final = 30
_INDEX_ROWS: Final = 100
_MAX_TOP: Final = 100
_MAX_DEPTH: Final = 3
#: Hops of expansions a served page embeds: fewer than a file's two, since the server answers every further Expand.
PAGE_DEPTH: Final = 1
CACHED_PAGES: Final = 16
_CACHED_EXPANSIONS: Final = 1024
T = TypeVar("T")


class _HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _int_param(request: Request, name: str, default: int, high: int, *, low: int = 1) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _HttpError(400, f"{name} must be a whole number from {low} to {high}, not {raw!r}") from None
    if not low <= value <= high:
        raise _HttpError(400, f"{name} must be from {low} to {high}, not {value}")
    return value


def store_label(store: Store) -> str:
    """The store as the server names it to clients: its kind and folder name, never a file path or a URL."""
    kind, _, location = store.spec.partition(":")
    return f"{kind}:{PurePath(location).name}" if kind == "oxigraph" else f"{kind}:"


class _Views:
    """The route handlers, over the served store."""

    def __init__(self, served: ServedStore, *, timeout: float, slots: int) -> None:
        self.served = served
        self.gates = {kind: Gate(kind, slots, timeout) for kind in ("page", "expansion", "search", "API")}
        self._new_caches()
        served.on_swap(lambda store: self._new_caches())

    def _new_caches(self) -> None:
        # The store is read-only while served, so a page or an expansion stays right once computed; pages take
        # a second or more to gather (dozens of batched queries and related-trial rankings), so a revisit should
        # not pay again, and concurrent first visits share one computation. A rebuilt store starts them afresh.
        self._page = FlightCache(self.gates["page"], self._render_page, CACHED_PAGES)
        self._expansion = FlightCache(self.gates["expansion"], self._expand, _CACHED_EXPANSIONS)

    @property
    def store(self) -> Store:
        return self.served.current

    async def _call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await run_in_threadpool(function, self.store, *args, **kwargs)

    async def _trial(self, request: Request) -> str:
        """The path's NCT id, normalised: 400 if it is not one, 404 if the store has no such trial."""
        from kg.analysis.related import RELATED_INDEX

        nct = str(request.path_params["nct"]).strip().upper()
        if not is_nct_id(nct):
            raise _HttpError(400, f"{request.path_params['nct']!r} is not an NCT id like NCT07232407")
        index = await self._call(RELATED_INDEX.load)
        if nct not in index.position:
            raise _HttpError(404, f"no trial {nct} in this store")
        return nct

    async def index(self, request: Request) -> Response:
        query = request.query_params.get("q", "").strip()
        if len(query) > MAX_SEARCH_CHARS:
            raise _HttpError(400, f"a search may have at most {MAX_SEARCH_CHARS} characters, not {len(query):,}")
        if is_nct_id(query.upper()):
            return RedirectResponse(f"/trial/{query.upper()}", status_code=303)
        return HTMLResponse(await self.gates["search"].run(self._search, query))

    def _search(self, query: str) -> str:
        """The index page of the trials whose id and title hold every word of ``query`` (a thread's work: the search
        index finds the candidates, each checked word by word)."""
        from kg.analysis.search_index import search_index

        index = search_index(self.store)
        matches = index.search_titles(query)
        return index_page(matches[:_INDEX_ROWS], total=len(index.ncts), query=query, max_chars=MAX_SEARCH_CHARS)

    def _render_page(self, nct: str, depth: int, top: int) -> str:
        from kg.views.explorer import render_explorer

        return render_explorer(self.store, nct, depth=depth, top=top, api_base="/api")

    def _expand(self, node_id: str, top: int) -> dict[str, Any]:
        from kg.views.explorer import expand

        return expand(self.store, node_id, top=top)

    async def trial_page(self, request: Request) -> Response:
        nct = await self._trial(request)
        depth = _int_param(request, "depth", PAGE_DEPTH, _MAX_DEPTH, low=0)
        top = _int_param(request, "top", 10, _MAX_TOP)
        if depth * top > MAX_SPREAD:
            raise _HttpError(400, f"depth times top may be at most {MAX_SPREAD}, not {depth} * {top}: lower either")
        return HTMLResponse(await self._page.get(nct, depth, top))

    async def expand(self, request: Request) -> Response:
        from kg.queries import QueryError
        from kg.views.explorer_data import node_kind

        node_id = str(request.path_params["node_id"]).strip()
        top = _int_param(request, "top", 10, _MAX_TOP)
        try:
            node_kind(node_id)
        except QueryError as error:
            raise _HttpError(400, str(error)) from None
        try:
            return JSONResponse(await self._expansion.get(node_id, top))
        except QueryError as error:  # a well-formed id the store does not have
            raise _HttpError(404, str(error)) from None

    async def trial_json(self, request: Request) -> Response:
        from kg.analysis.trial import trial_summary

        return JSONResponse(await self.gates["API"].run(trial_summary, self.store, await self._trial(request)))

    async def related_json(self, request: Request) -> Response:
        from kg.analysis.related import related

        nct = await self._trial(request)
        found = await self.gates["API"].run(related, self.store, nct, _int_param(request, "top", 20, _MAX_TOP))
        return JSONResponse([neighbour.to_json() for neighbour in found])

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", "store": store_label(self.store), **self.served.status()})


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, _HttpError)
    return PlainTextResponse(f"{error}\n", status_code=error.status, headers=NO_SNIFF)


async def _unavailable(request: Request, error: Exception) -> Response:
    """A full cap or a time limit passed: 503, with when to come back."""
    assert isinstance(error, Busy | Overdue)
    headers = {**NO_SNIFF, "Retry-After": str(error.retry_after)}
    return PlainTextResponse(f"{error}\n", status_code=503, headers=headers)


def create_app(
    store: str | Store | None = None,
    *,
    query_timeout: float = DEFAULT_TIMEOUT,
    max_rows: int = DEFAULT_MAX_ROWS,
    explorer_timeout: float = DEFAULT_EXPLORER_TIMEOUT,
    explorer_slots: int = DEFAULT_EXPLORER_SLOTS,
) -> Starlette:
    """The app over a store spec (opened read-only here, closed at shutdown) or an already open store;
    ``explorer_timeout`` and ``explorer_slots`` limit each kind of explorer and API request."""
    opened = store if isinstance(store, Store) else open_store(store, read_only=True)
    owned = not isinstance(store, Store)
    served = ServedStore(opened, reopen=owned)  # a store the caller opened is the caller's to replace
    views = _Views(served, timeout=explorer_timeout, slots=explorer_slots)
    sparql = SparqlEndpoint(opened, timeout=query_timeout, max_rows=max_rows)
    served.on_swap(sparql.use)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        for gate in views.gates.values():
            gate.close()
        if sparql.workers is not None:
            sparql.workers.close()  # the query processes end with the server, not when they next notice
        if owned:
            served.current.close()

    routes = [
        Route("/", views.index),
        Route("/trial/{nct}", views.trial_page),
        Route("/api/expand/{node_id:path}", views.expand),
        Route("/api/trial/{nct}", views.trial_json),
        Route("/api/related/{nct}", views.related_json),
        Route("/sparql", sparql.handle, methods=["GET", "POST"]),
        Route("/healthz", views.health),
    ]
    # Any origin may read (YASGUI on its own site, notebooks): everything here is read-only, without cookies.
    handlers = {_HttpError: _http_error, Busy: _unavailable, Overdue: _unavailable}
    cors = Middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "POST"], allow_headers=["*"])
    app = Starlette(routes=routes, middleware=[cors], lifespan=lifespan, exception_handlers=handlers)
    app.state.store = opened
    app.state.served = served
    app.add_middleware(reopening, served=served)
    return app
