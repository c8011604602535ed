"""The one HTTP session every source uses: retries with exponential backoff on 429/5xx and connection
errors, honouring ``Retry-After``, and a User-Agent that says who we are."""

from __future__ import annotations

from functools import cache
from typing import Final

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from kg._version import __version__

__all__ = ["USER_AGENT", "session"]

USER_AGENT: Final = f"kg-trials/{__version__} (+https://w3id.org/trialkg)"


@cache
def session() -> requests.Session:
    """A shared ``requests.Session``; urllib3's ``Retry`` does the backoff, not a hand-written loop."""
    retry = Retry(
        total=5,
        backoff_factor=1.0,
        backoff_jitter=0.5,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=("GET", "HEAD"),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    http = requests.Session()
    http.headers["User-Agent"] = USER_AGENT
    adapter = HTTPAdapter(max_retries=retry)
    http.mount("http://", adapter)
    http.mount("https://", adapter)
    return http
