"""Every setting ``kg`` reads from the environment, in one place: the data home, the default store, the
source URLs (tests point them at servers on 127.0.0.1) and a remote store's credentials.

| variable | what it sets |
|---|---|
| ``KG_HOME`` | the data home (default ``~/.local/share/kg``): the store, harvests, MeSH downloads, the demo |
| ``KG_STORE`` | the default store spec (default ``oxigraph:$KG_HOME/store``) |
| ``KG_CTGOV_URL`` | the ClinicalTrials.gov API v2 root |
| ``KG_MESH_URL`` | NLM's MeSH download folder |
| ``KG_SPARQL_UPDATE_URL``, ``KG_SPARQL_GRAPH_STORE_URL``, ``KG_SPARQL_LOAD`` | how a ``sparql:`` store is written |
| ``KG_SPARQL_USER``, ``KG_SPARQL_PASSWORD``, ``KG_SPARQL_AUTH`` | its credentials (``basic`` or ``digest``) |

Each is read when asked for, not at import, so a test or a notebook can change one and see the change.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RemoteSettings", "ctgov_url", "default_spec", "kg_home", "mesh_url", "remote_settings"]


def _get(name: str) -> str | None:
    """The variable's value; an empty one counts as unset."""
    return os.environ.get(name) or None


def kg_home() -> Path:
    """The data directory: ``$KG_HOME``, else ``~/.local/share/kg``."""
    return Path(_get("KG_HOME") or Path.home() / ".local" / "share" / "kg")


def default_spec() -> str:
    """``$KG_STORE`` if set, else the on-disk Oxigraph store under :func:`kg_home`."""
    return _get("KG_STORE") or f"oxigraph:{kg_home() / 'store'}"


def ctgov_url() -> str | None:
    """``$KG_CTGOV_URL``: another ClinicalTrials.gov API root, or ``None`` for the public one."""
    return _get("KG_CTGOV_URL")


def mesh_url() -> str | None:
    """``$KG_MESH_URL``: another MeSH download folder, or ``None`` for NLM's."""
    return _get("KG_MESH_URL")


@dataclass(frozen=True)
class RemoteSettings:
    """How a ``sparql:`` store is written and authenticated; credentials stay out of store specs and logs."""

    update_url: str | None
    graph_store_url: str | None
    load: str
    user: str | None
    password: str
    digest: bool

    def __repr__(self) -> str:  # never print the password
        return f"RemoteSettings(update_url={self.update_url!r}, load={self.load!r}, user={self.user!r})"


def remote_settings() -> RemoteSettings:
    """The ``KG_SPARQL_*`` variables."""
    return RemoteSettings(
        update_url=_get("KG_SPARQL_UPDATE_URL"),
        graph_store_url=_get("KG_SPARQL_GRAPH_STORE_URL"),
        load=_get("KG_SPARQL_LOAD") or "update",
        user=_get("KG_SPARQL_USER"),
        password=os.environ.get("KG_SPARQL_PASSWORD", ""),
        digest=(_get("KG_SPARQL_AUTH") or "basic").lower() == "digest",
    )
