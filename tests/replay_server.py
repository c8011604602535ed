"""A real HTTP server on 127.0.0.1 that replays ClinicalTrials.gov API v2 over the real records of
``../shared/data/ctgov`` (latest version per NCT id), with faults on demand. Used by the tests, and by
``benchmarks/fetch.py`` in a process of its own (``python -m tests.replay_server``)::

    with ReplayServer(ReplayData.real()) as server:
        client = CtgovClient(server.url, rate=0)
        server.faults.push("429", "drop")

What it honours, as the API documents it: ``pageSize`` (default 10, coerced down to 1,000), ``pageToken`` (opaque;
tied to the query, like the real one), ``countTotal`` (``totalCount`` on the first page only), ``fields=NCTId``,
``filter.ids``, ``filter.overallStatus``, ``query.cond``/``query.term``/``query.intr``/``query.spons`` (simple
case-insensitive substring match), ``filter.advanced`` with ``AREA[LastUpdatePostDate]RANGE[a,b]`` and
``AREA[Phase]X`` joined by AND/OR and parentheses; unknown parameters get HTTP 400 as from the real API. Like the
real server, it mints a next token whenever a page is full, without looking ahead: a last page that is exactly full is
followed by a token that yields an empty page (``look_ahead=True`` turns that off). ``/version`` gives the data
timestamp; ``/studies/download?format=json.zip`` the bulk zip (with ``Range`` support).

Faults (``server.faults``): ``429`` (with ``Retry-After``), ``500``, ``503``, ``drop`` (connection closed mid-body),
``reset`` (closed before any response), ``slow`` (headers only after ``slow_seconds``), ``invalid_json`` (a 200 HTML
page), ``truncated_json`` (a 200 JSON body cut short). The data set is mutable for update tests: updated and added
records are marked ``"synthetic"``.
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import io
import json
import re
import socket
import struct
import sys
import threading
import time
import zipfile
from collections import deque
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

__all__ = ["FAULTS", "Faults", "ReplayData", "ReplayServer"]

FAULTS: Final = ("429", "500", "503", "drop", "reset", "slow", "invalid_json", "truncated_json")
_KNOWN_PARAMS: Final = frozenset(
    {
        "format",
        "markupFormat",
        "query.cond",
        "query.term",
        "query.intr",
        "query.spons",
        "filter.overallStatus",
        "filter.ids",
        "filter.advanced",
        "fields",
        "sort",
        "pageSize",
        "pageToken",
        "countTotal",
    }
)
_ATOM = re.compile(r"AREA\[(\w+)\](?:RANGE\[([^,\]]*),\s*([^\]]*)\]|([A-Za-z0-9_]+))")
_TOKENS = re.compile(r"\s*(\(|\)|\bAND\b|\bOR\b|AREA\[\w+\](?:RANGE\[[^\]]*\]|[A-Za-z0-9_]+))")
Study = dict[str, Any]
Predicate = Callable[[Study], bool]
SYNTHETIC_PREFIX: Final = "NCT99"


def nct_of(study: Study) -> str:
    return str(study["protocolSection"]["identificationModule"]["nctId"])


def last_update(study: Study) -> str:
    return str(study["protocolSection"]["statusModule"].get("lastUpdatePostDateStruct", {}).get("date", ""))


class ReplayData:
    """The records the server answers from: one per NCT id, in NCT id order; changes bump the data timestamp."""

    def __init__(self, studies: Iterable[Study], *, timestamp: str = "2026-11-25T09:00:05") -> None:
        self._studies = {nct_of(study): study for study in studies}
        self.timestamp = timestamp
        self._lock = threading.Lock()
        self._version = 0

    @classmethod
    def real(cls) -> ReplayData:
        """The real records (latest version per NCT id), read once per process; each server gets its own copy."""
        return cls(_real_studies().values())

    def studies(self) -> list[Study]:
        with self._lock:
            return [self._studies[key] for key in sorted(self._studies)]

    @property
    def version(self) -> int:
        return self._version

    def update(self, ids: Iterable[str], *, day: str) -> None:
        """Change real records as the registry would: a new title, status and condition, posted on ``day``."""
        with self._lock:
            for nct_id in ids:
                study = copy.deepcopy(self._studies[nct_id])
                protocol = study["protocolSection"]
                protocol["identificationModule"]["briefTitle"] += " (updated)"
                protocol["statusModule"]["overallStatus"] = "TERMINATED"
                protocol["statusModule"]["lastUpdatePostDateStruct"] = {"date": day, "type": "ACTUAL"}
                conditions = protocol.setdefault("conditionsModule", {}).setdefault("conditions", [])
                conditions.append(f"Replay test condition of {nct_id}")
                study["synthetic"] = {"generator": "tests/replay_server.py", "from": nct_id, "change": "updated"}
                self._studies[nct_id] = study
            self._changed()

    def remove(self, nct_id: str) -> None:
        with self._lock:
            del self._studies[nct_id]
            self._changed()

    def add_synthetic(self, count: int, *, day: str, template: str) -> list[str]:
        """``count`` new SYNTHETIC records (ids ``NCT99…``), copies of ``template`` under new ids and titles."""
        added = []
        with self._lock:
            for number in range(1, count + 1):
                study = copy.deepcopy(self._studies[template])
                nct_id = f"{SYNTHETIC_PREFIX}{number:06d}"
                identification = study["protocolSection"]["identificationModule"]
                identification["nctId"] = nct_id
                identification["briefTitle"] = f"SYNTHETIC replay trial {number}"
                identification.pop("officialTitle", None)
                study["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"] = {"date": day, "type": "ACTUAL"}
                study["synthetic"] = {"generator": "tests/replay_server.py", "from": template, "change": "added"}
                self._studies[nct_id] = study
                added.append(nct_id)
            self._changed()
        return added

    def _changed(self) -> None:
        self._version += 1
        self.timestamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{self._version}"


@functools.cache
def _real_studies() -> dict[str, Study]:
    from tests.conftest import latest_by_nct, raw_studies

    return latest_by_nct(raw_studies())


class Faults:
    """Which requests of ``/studies`` (pages, listings, bulk) fail, and how: one-off faults in order
    (:meth:`push`), a rotation over every ``every``-th request (:meth:`rotate`), or every request (:meth:`always`)."""

    def __init__(self) -> None:
        self.retry_after = "1"
        self.slow_seconds = 0.5
        self._queue: deque[str] = deque()
        self._rotation: list[str] = []
        self._every = 0
        self._always: str | None = None
        self._count = 0
        self._lock = threading.Lock()
        self.injected: list[str] = []

    def push(self, *kinds: str) -> None:
        self._check(kinds)
        with self._lock:
            self._queue.extend(kinds)

    def rotate(self, kinds: Iterable[str], *, every: int) -> None:
        self._rotation = list(kinds)
        self._check(self._rotation)
        self._every = every

    def always(self, kind: str | None) -> None:
        if kind is not None:
            self._check([kind])
        self._always = kind

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
            self._rotation, self._every, self._always = [], 0, None

    def next(self) -> str | None:
        with self._lock:
            self._count += 1
            kind = self._always
            if kind is None and self._queue:
                kind = self._queue.popleft()
            if kind is None and self._every and self._count % self._every == 0:
                kind = self._rotation[(self._count // self._every - 1) % len(self._rotation)]
            if kind is not None:
                self.injected.append(kind)
            return kind

    @staticmethod
    def _check(kinds: Iterable[str]) -> None:
        unknown = set(kinds) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown fault(s) {sorted(unknown)}; use {FAULTS}")


class _BadRequest(ValueError):
    pass


class ReplayServer:
    """ThreadingHTTPServer on 127.0.0.1 (a free port); ``url`` is the API root to give the client."""

    def __init__(self, data: ReplayData, *, look_ahead: bool = False) -> None:
        self.data = data
        self.look_ahead = look_ahead
        self.faults = Faults()
        self.log: list[tuple[float, str, dict[str, str]]] = []
        self._log_lock = threading.Lock()
        self._cache: dict[tuple[Any, ...], Any] = {}
        handler = type("Handler", (_Handler,), {"replay": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._httpd.handle_error = lambda request, address: None  # type: ignore[method-assign]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="replay-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/api/v2"

    def start(self) -> ReplayServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def requests(self, path: str = "/api/v2/studies") -> list[dict[str, str]]:
        """The parameters of every request made to ``path`` so far, in order."""
        with self._log_lock:
            return [params for _, logged, params in self.log if logged == path]

    # --- answers --------------------------------------------------------------------------------------------------
    def _record(self, path: str, params: dict[str, str]) -> None:
        with self._log_lock:
            self.log.append((time.monotonic(), path, params))

    def studies_page(self, params: dict[str, str]) -> dict[str, Any]:
        unknown = sorted(set(params) - _KNOWN_PARAMS)
        if unknown:
            raise _BadRequest(f"`{unknown[0]}` is unknown parameter")
        size = _page_size(params.get("pageSize"))
        query = {key: value for key, value in params.items() if key not in ("pageSize", "pageToken", "countTotal")}
        found = self._matching(query)
        token = params.get("pageToken")
        offset = _read_token(token, query) if token else 0
        chosen = found[offset : offset + size]
        if params.get("fields"):
            chosen = [_project(study, params["fields"]) for study in chosen]
        page: dict[str, Any] = {}
        if not token and params.get("countTotal", "false").lower() == "true":
            page["totalCount"] = len(found)
        page["studies"] = chosen
        more = offset + size < len(found) if self.look_ahead else len(chosen) == size and size > 0
        if more:
            page["nextPageToken"] = _make_token(offset + size, query)
        return page

    def page_bytes(self, params: dict[str, str]) -> bytes:
        """A page as JSON, serialised once per data version (so that benchmarks time the client, not us)."""
        key = ("page", self.data.version, tuple(sorted(params.items())), self.look_ahead)
        if key not in self._cache:
            self._cache[key] = _json_bytes(self.studies_page(params))
        return bytes(self._cache[key])

    def _matching(self, query: dict[str, str]) -> list[Study]:
        key = ("match", self.data.version, tuple(sorted(query.items())))
        if key not in self._cache:
            predicates = _predicates(query)
            self._cache[key] = [study for study in self.data.studies() if all(test(study) for test in predicates)]
        return list(self._cache[key])

    def bulk_zip(self) -> bytes:
        key = ("zip", self.data.version)
        if key not in self._cache:
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for study in self.data.studies():
                    archive.writestr(f"{nct_of(study)}.json", json.dumps(study, ensure_ascii=False, indent=2))
            self._cache[key] = buffer.getvalue()
        return bytes(self._cache[key])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    replay: ReplayServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read ``ReplayServer.log`` instead."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        self.replay._record(url.path, params)
        try:
            if url.path == "/api/v2/version":
                self._send(200, _json_bytes({"apiVersion": "2.0.5", "dataTimestamp": self.replay.data.timestamp}))
                return
            if url.path not in ("/api/v2/studies", "/api/v2/studies/download"):
                self._send(404, b"Not Found", "text/plain")
                return
            fault = self.replay.faults.next()
            if fault is not None and self._fault(fault, url.path, params):
                return
            if url.path == "/api/v2/studies":
                self._send(200, self.replay.page_bytes(params))
            else:
                self._send_bulk(params)
        except _BadRequest as error:
            self._send(400, str(error).encode("utf-8"), "text/plain")

    def _send_bulk(self, params: dict[str, str]) -> None:
        if params.get("format") != "json.zip":
            raise _BadRequest("format must be json.zip here")
        body = self.replay.bulk_zip()
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        if match is None:
            self._send(200, body, "application/zip")
            return
        start = int(match.group(1))
        if start >= len(body):
            self._send(416, b"", "text/plain", {"Content-Range": f"bytes */{len(body)}"})
            return
        self._send(
            206, body[start:], "application/zip", {"Content-Range": f"bytes {start}-{len(body) - 1}/{len(body)}"}
        )

    def _fault(self, kind: str, path: str, params: dict[str, str]) -> bool:
        """Inject one fault; False when the request should then be answered normally (``slow``)."""
        faults = self.replay.faults
        if kind == "429":
            self._send(429, b"Too Many Requests", "text/plain", {"Retry-After": faults.retry_after})
        elif kind in ("500", "503"):
            self._send(int(kind), b"Service Unavailable", "text/plain")
        elif kind == "reset":
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        elif kind == "slow":
            time.sleep(faults.slow_seconds)
            return False
        elif kind == "invalid_json":
            self._send(200, b"<html><body>Service temporarily unavailable</body></html>", "application/json")
        else:
            try:
                body = self.replay.page_bytes(params) if path == "/api/v2/studies" else self.replay.bulk_zip()
            except _BadRequest:
                body = b'{"studies": []}'
            half = body[: max(len(body) // 2, 1)]
            if kind == "truncated_json":
                self._send(200, half)
            else:  # drop: announce the whole body, send half, hang up
                self.close_connection = True
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(half)
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
        return True

    def _send(
        self, status: int, body: bytes, content_type: str = "application/json", headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


# --- the query language, as far as the harvest needs it ---------------------------------------------------------


def _predicates(query: dict[str, str]) -> list[Predicate]:
    tests: list[Predicate] = []
    for name, text in (
        ("query.cond", _condition_text),
        ("query.term", _all_text),
        ("query.intr", _intervention_text),
        ("query.spons", _sponsor_text),
    ):
        needle = query.get(name, "").strip().lower()
        if needle:
            tests.append(lambda study, needle=needle, text=text: needle in text(study))  # type: ignore[misc]
    if query.get("filter.ids"):
        ids = {item.strip() for item in re.split(r"[,|]", query["filter.ids"]) if item.strip()}
        tests.append(lambda study: nct_of(study) in ids)
    if query.get("filter.overallStatus"):
        statuses = {item.strip() for item in re.split(r"[,|]", query["filter.overallStatus"])}
        tests.append(lambda study: study["protocolSection"]["statusModule"].get("overallStatus") in statuses)
    if query.get("filter.advanced"):
        tests.append(_parse_advanced(query["filter.advanced"]))
    fields = query.get("fields")
    if fields and {item.strip() for item in re.split(r"[,|]", fields)} != {"NCTId"}:
        raise _BadRequest(f"this replay server serves fields=NCTId only, not {fields!r}")
    return tests


def _parse_advanced(text: str) -> Predicate:
    """``a AND (b OR c)`` over ``AREA[LastUpdatePostDate]RANGE[x,y]`` and ``AREA[Phase]X`` atoms."""
    tokens = _TOKENS.findall(text)
    if "".join(tokens).replace(" ", "") != text.replace(" ", ""):
        raise _BadRequest(f"cannot parse filter.advanced {text!r}")
    position = 0

    def expression() -> Predicate:
        nonlocal position
        terms = [conjunction()]
        while position < len(tokens) and tokens[position] == "OR":
            position += 1
            terms.append(conjunction())
        return terms[0] if len(terms) == 1 else lambda study: any(term(study) for term in terms)

    def conjunction() -> Predicate:
        nonlocal position
        terms = [atom()]
        while position < len(tokens) and tokens[position] == "AND":
            position += 1
            terms.append(atom())
        return terms[0] if len(terms) == 1 else lambda study: all(term(study) for term in terms)

    def atom() -> Predicate:
        nonlocal position
        if position >= len(tokens):
            raise _BadRequest(f"filter.advanced {text!r} ends too early")
        token = tokens[position]
        position += 1
        if token == "(":
            inner = expression()
            if position >= len(tokens) or tokens[position] != ")":
                raise _BadRequest(f"filter.advanced {text!r}: unbalanced parentheses")
            position += 1
            return inner
        match = _ATOM.fullmatch(token)
        if match is None:
            raise _BadRequest(f"filter.advanced {text!r}: unexpected {token!r}")
        area, low, high, value = match.groups()
        if area == "LastUpdatePostDate" and value is None:
            low, high = low.strip(), high.strip()
            return lambda study: (
                bool(last_update(study))
                and ((low == "MIN" or last_update(study) >= low) and (high == "MAX" or last_update(study) <= high))
            )
        if area == "Phase" and value is not None:
            return lambda study: value in study["protocolSection"].get("designModule", {}).get("phases", [])
        raise _BadRequest(f"filter.advanced: this replay server does not know AREA[{area}] {token!r}")

    predicate = expression()
    if position != len(tokens):
        raise _BadRequest(f"filter.advanced {text!r}: unexpected {tokens[position]!r}")
    return predicate


def _condition_text(study: Study) -> str:
    protocol = study["protocolSection"]
    module = protocol.get("conditionsModule", {})
    identification = protocol["identificationModule"]
    parts = [*module.get("conditions", []), *module.get("keywords", [])]
    parts += [identification.get("briefTitle", ""), identification.get("officialTitle", "")]
    return " | ".join(parts).lower()


def _intervention_text(study: Study) -> str:
    interventions = study["protocolSection"].get("armsInterventionsModule", {}).get("interventions", [])
    return " | ".join(
        name for item in interventions for name in [item.get("name", ""), *item.get("otherNames", [])]
    ).lower()


def _sponsor_text(study: Study) -> str:
    module = study["protocolSection"].get("sponsorCollaboratorsModule", {})
    names = [module.get("leadSponsor", {}).get("name", "")] + [
        item.get("name", "") for item in module.get("collaborators", [])
    ]
    return " | ".join(names).lower()


def _all_text(study: Study) -> str:
    return json.dumps(study, ensure_ascii=False).lower()


def _project(study: Study, fields: str) -> Study:
    return {"protocolSection": {"identificationModule": {"nctId": nct_of(study)}}}


def _page_size(value: str | None) -> int:
    if value is None or value == "":
        return 10
    if not value.isdigit():
        raise _BadRequest(f"pageSize {value!r} is not a non-negative integer")
    return min(int(value), 1000) or 10


def _query_key(query: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(sorted(query.items())).encode("utf-8")).hexdigest()[:16]


def _make_token(offset: int, query: dict[str, str]) -> str:
    raw = json.dumps({"o": offset, "q": _query_key(query)}).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _read_token(token: str, query: dict[str, str]) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        offset, key = int(data["o"]), data["q"]
    except (ValueError, KeyError, TypeError):
        raise _BadRequest(f"invalid pageToken {token!r}") from None
    if key != _query_key(query):
        raise _BadRequest("pageToken was issued for other query parameters")
    return offset


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def main() -> None:
    """``python -m tests.replay_server [--look-ahead]``: serve the real records until killed; prints the API root."""
    with ReplayServer(ReplayData.real(), look_ahead="--look-ahead" in sys.argv) as server:
        print(server.url, flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
