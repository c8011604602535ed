"""The ClinicalTrials.gov API v2, politely: paging with ``nextPageToken``, a request budget, timeouts, and retries
with exponential backoff and jitter (tenacity) on 429, 5xx, dropped connections, timeouts and broken JSON.

What the client relies on, as the API documents it (``/api/v2/studies``): ``pageSize`` is coerced down to 1,000;
``countTotal=true`` returns ``totalCount`` with the first page only; "if response contains ``nextPageToken``, use its
value in ``pageToken`` to get next page. The last page will not contain ``nextPageToken``. A page may have empty
``studies`` array." The server mints a token whenever a page is full, without looking ahead, so a last page that is
exactly full is followed by a token yielding an empty page: an empty page ends the harvest. ``filter.advanced`` takes
Essie expressions (``AREA[Phase]PHASE3``, ``AREA[LastUpdatePostDate]RANGE[2025-01-01,MAX]``); ``fields=NCTId`` lists
ids only; ``/api/v2/version`` gives the data version (``dataTimestamp``); ``/api/v2/studies/download?format=json.zip``
is the whole registry as a zip of one ``NCTxxxxxxxx.json`` per study.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Final

import requests
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from kg.config import ctgov_url
from kg.errors import KgError
from kg.http import USER_AGENT

__all__ = [
    "API_URL",
    "PAGE_SIZE",
    "ApiError",
    "CtgovClient",
    "Page",
    "RequestBudget",
    "RetryPolicy",
    "StudyQuery",
    "api_url",
]

logger = logging.getLogger(__name__)

#: The public API; ``KG_CTGOV_URL`` overrides it (tests point it at a replay server on 127.0.0.1).
API_URL: Final = "https://clinicaltrials.gov/api/v2"
PAGE_SIZE: Final = 1000
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_PHASES: Final = frozenset({"EARLY_PHASE1", "PHASE1", "PHASE2", "PHASE3", "PHASE4", "NA"})
#: Failures worth another try: the connection broke, stalled, or the body arrived incomplete.
_TRANSIENT: Final = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
_CHUNK: Final = 1 << 20


def api_url(base_url: str | None = None) -> str:
    """The API root: the argument, else ``$KG_CTGOV_URL``, else the public API."""
    return (base_url or ctgov_url() or API_URL).rstrip("/")


@dataclass(frozen=True)
class StudyQuery:
    """A search of the registry, as the ``kg fetch`` options give it; :meth:`params` are the request parameters."""

    cond: str | None = None
    term: str | None = None
    intr: str | None = None
    sponsor: str | None = None
    status: tuple[str, ...] = ()
    phase: tuple[str, ...] = ()
    nct_ids: tuple[str, ...] = ()
    advanced: str | None = None
    updated_since: str | None = None

    def __post_init__(self) -> None:
        if self.updated_since is not None and not _DATE.match(self.updated_since):
            raise ValueError(f"updated since {self.updated_since!r}: write a date as YYYY-MM-DD")
        unknown = sorted(set(self.phase) - _PHASES)
        if unknown:
            raise ValueError(f"unknown phase {', '.join(unknown)}: use {', '.join(sorted(_PHASES))}")

    def params(self) -> dict[str, str]:
        """The query as API v2 parameters (the same on every page)."""
        params = {
            name: value
            for name, value in (
                ("query.cond", self.cond),
                ("query.term", self.term),
                ("query.intr", self.intr),
                ("query.spons", self.sponsor),
                ("filter.overallStatus", ",".join(self.status)),
                ("filter.ids", ",".join(self.nct_ids)),
            )
            if value
        }
        advanced = [f"({self.advanced})"] if self.advanced else []
        if self.phase:
            phases = " OR ".join(f"AREA[Phase]{phase}" for phase in self.phase)
            advanced.append(phases if len(self.phase) == 1 else f"({phases})")
        if self.updated_since:
            advanced.append(f"AREA[LastUpdatePostDate]RANGE[{self.updated_since},MAX]")
        if advanced:
            params["filter.advanced"] = " AND ".join(advanced)
        return params

    def since(self, day: str) -> StudyQuery:
        """The same search, narrowed to records posted as updated on or after ``day``."""
        return dataclasses.replace(self, updated_since=day)

    def to_json(self) -> dict[str, Any]:
        return {
            key: list(value) if isinstance(value, tuple) else value for key, value in dataclasses.asdict(self).items()
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StudyQuery:
        names = {item.name for item in dataclasses.fields(cls)}
        values: dict[str, Any] = {
            key: tuple(value) if isinstance(value, list) else value for key, value in data.items() if key in names
        }
        return cls(**values)


@dataclass(frozen=True)
class Page:
    """One page of studies: its number (1-based), the token that asked for it, and the token of the next."""

    number: int
    token: str | None
    studies: list[Any]
    next_token: str | None
    total: int | None = None
    body: bytes = field(default=b"", repr=False)  # the response as received: what the raw store keeps


class ApiError(KgError, RuntimeError):
    """The API refused a request, or kept failing after the bounded number of tries."""

    def __init__(self, message: str, *, page: int | None = None, token: str | None = None) -> None:
        super().__init__(message)
        self.page = page
        self.token = token


class _Transient(Exception):
    """A failure worth another try; ``retry_after`` is the server's ``Retry-After`` in seconds, if it sent one."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RequestBudget:
    """At most ``rate`` requests per second across threads (0 turns it off): the pace a shared registry deserves."""

    def __init__(self, rate: float) -> None:
        if rate < 0:
            raise ValueError("the request rate cannot be negative (0 turns the budget off)")
        self.interval = 1.0 / rate if rate else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            delay = self._next - now
            self._next = max(now, self._next) + self.interval
            if delay > 0:
                time.sleep(delay)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to try again: exponential backoff from ``backoff`` seconds up to
    ``max_backoff``, plus up to ``jitter`` seconds; a ``Retry-After`` is honoured up to ``max_retry_after``."""

    tries: int = 6
    backoff: float = 1.0
    max_backoff: float = 60.0
    jitter: float = 1.0
    max_retry_after: float = 300.0

    def wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        if isinstance(error, _Transient) and error.retry_after is not None:
            return min(error.retry_after, self.max_retry_after)
        backoff = wait_exponential(multiplier=self.backoff, max=self.max_backoff) + wait_random(0, self.jitter)
        return float(backoff(state))


@dataclass
class CtgovClient:
    """API v2 requests with a request budget, timeouts (connect, read) and bounded retries."""

    base_url: str | None = None  # None: ``KG_CTGOV_URL`` or the public API
    rate: float = 1.0
    timeout: tuple[float, float] = (10.0, 120.0)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    session: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self) -> None:
        self.base_url = api_url(self.base_url)
        self.budget = RequestBudget(self.rate)
        self.session.headers["User-Agent"] = USER_AGENT

    # --- pages ----------------------------------------------------------------------------------------------------
    def iter_pages(
        self,
        params: dict[str, str],
        *,
        page_size: int = PAGE_SIZE,
        token: str | None = None,
        first: int = 1,
    ) -> Iterator[Page]:
        """The pages of a search from ``token`` on (numbered from ``first``); ``countTotal`` only on page 1."""
        number = first
        while True:
            page = self.page(params, token=token, number=number, page_size=page_size)
            yield page
            if not page.next_token or not page.studies:  # an empty page after a full one ends it too
                return
            token, number = page.next_token, number + 1

    def page(self, params: dict[str, str], *, token: str | None, number: int, page_size: int = PAGE_SIZE) -> Page:
        request = {**params, "pageSize": str(min(page_size, PAGE_SIZE)), "format": "json"}
        if token:
            request["pageToken"] = token
        if number == 1:
            request["countTotal"] = "true"
        body, raw = self._json("studies", request, what=f"page {number}", page=number, token=token)
        studies = body.get("studies", [])
        if not isinstance(studies, list) or not all(isinstance(item, dict) for item in studies):
            raise ApiError(f"page {number}: `studies` is not a list of objects", page=number, token=token)
        next_token = body.get("nextPageToken")
        total = body.get("totalCount")
        return Page(
            number,
            token,
            studies,
            next_token if isinstance(next_token, str) and next_token else None,
            total if isinstance(total, int) else None,
            raw,
        )

    def list_ids(self, params: dict[str, str], *, page_size: int = PAGE_SIZE) -> set[str]:
        """Every NCT id the search finds (``fields=NCTId``: a few bytes per trial)."""
        ids: set[str] = set()
        for page in self.iter_pages({**params, "fields": "NCTId"}, page_size=page_size):
            for study in page.studies:
                nct_id = study.get("protocolSection", {}).get("identificationModule", {}).get("nctId")
                if isinstance(nct_id, str):
                    ids.add(nct_id)
        return ids

    def data_version(self) -> str | None:
        """The registry's data timestamp (``/version``), or None when the server does not say."""
        try:
            body, _ = self._json("version", {}, what="the data version")
        except ApiError as error:
            logger.info("no data version: %s", error)
            return None
        version = body.get("dataTimestamp")
        return version if isinstance(version, str) else None

    # --- bulk download ----------------------------------------------------------------------------------------------
    def download(self, target: Path, *, on_bytes: Callable[[int, int | None], None] | None = None) -> Path:
        """The whole registry as ``ctg-studies.json.zip`` into ``target``: written to ``target.part`` and renamed when
        complete; an interrupted download (even a killed process) continues where the part ends (HTTP ``Range``)."""
        part = target.with_name(target.name + ".part")
        url = f"{self.base_url}/studies/download"
        retrying = self._retrying("the bulk download")
        try:
            retrying(self._download_once, url, part, on_bytes)
        except _Transient as error:
            raise ApiError(
                f"the bulk download failed after {self.retry.tries} tries (the last error: {error}); "
                f"{part.stat().st_size if part.exists() else 0:,} bytes are kept in {part}"
            ) from None
        if not zipfile.is_zipfile(part):
            part.unlink()
            raise ApiError(f"the bulk download from {url} is not a zip archive")
        part.replace(target)
        return target

    def _download_once(self, url: str, part: Path, on_bytes: Callable[[int, int | None], None] | None) -> None:
        offset = part.stat().st_size if part.exists() else 0
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        self.budget.wait()
        try:
            with self.session.get(
                url, params={"format": "json.zip"}, headers=headers, stream=True, timeout=self.timeout
            ) as response:
                if response.status_code == 416:  # the part is already whole
                    return
                self._check(response, "the bulk download")
                resumed = response.status_code == 206
                length = response.headers.get("Content-Length")
                total = (offset if resumed else 0) + int(length) if length and length.isdigit() else None
                written = offset if resumed else 0
                with part.open("ab" if resumed else "wb") as output:
                    for chunk in response.iter_content(chunk_size=_CHUNK):
                        output.write(chunk)
                        written += len(chunk)
                        if on_bytes is not None:
                            on_bytes(written, total)
        except _TRANSIENT as error:
            raise _Transient(f"broke off: {_describe(error)}") from None
        if total is not None and written != total:
            raise _Transient(f"ended after {written:,} of {total:,} bytes")

    # --- one request ----------------------------------------------------------------------------------------------
    def _json(
        self, path: str, params: dict[str, str], *, what: str, page: int | None = None, token: str | None = None
    ) -> tuple[dict[str, Any], bytes]:
        try:
            return self._retrying(what)(self._get_json, path, params, what)
        except _Transient as error:
            raise ApiError(
                f"{what} could not be fetched after {self.retry.tries} tries (the last error: {error})",
                page=page,
                token=token,
            ) from None
        except ApiError as error:
            error.page, error.token = page, token
            raise

    def _retrying(self, what: str) -> Retrying:
        return Retrying(
            stop=stop_after_attempt(self.retry.tries),
            wait=self.retry.wait,
            retry=retry_if_exception_type(_Transient),
            before_sleep=lambda state: logger.warning(
                "%s: %s; trying again (%d of %d)",
                what,
                state.outcome.exception() if state.outcome else "",
                state.attempt_number + 1,
                self.retry.tries,
            ),
            reraise=True,
        )

    def _get_json(self, path: str, params: dict[str, str], what: str) -> tuple[dict[str, Any], bytes]:
        self.budget.wait()
        try:
            response = self.session.get(f"{self.base_url}/{path}", params=params, timeout=self.timeout)
            content = response.content
        except _TRANSIENT as error:
            raise _Transient(_describe(error)) from None
        self._check(response, what)
        try:
            body = json.loads(content)
        except ValueError as error:  # truncated or not JSON at all: the next try may get it whole
            raise _Transient(f"invalid JSON ({_describe(error)})") from None
        if not isinstance(body, dict):
            raise _Transient(f"expected a JSON object, got {type(body).__name__}")
        return body, content

    @staticmethod
    def _check(response: requests.Response, what: str) -> None:
        status = response.status_code
        if status == 429 or status >= 500:
            raise _Transient(f"HTTP {status} {response.reason}", _retry_after(response))
        if status >= 400:
            text = " ".join(response.text.split())[:300]
            raise ApiError(f"{what}: HTTP {status} from {response.url}: {text or response.reason}")


def _retry_after(response: requests.Response) -> float | None:
    """``Retry-After`` in seconds: a number, or an HTTP date."""
    value = (response.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(moment.timestamp() - time.time(), 0.0)


def _describe(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text if len(text) <= 200 else text[:200] + "…"
