"""The registry of indexes saved beside a store, and their refresh after the pipeline writes one.

The index modules define their :class:`~kg.analysis.saved_index.SavedIndex` and never import this registry, so
there is no import circle: the pipeline imports the registry, the registry imports the indexes.
"""

from __future__ import annotations

from typing import Any, Final

from kg.analysis.health import HEALTH_PEERS_INDEX
from kg.analysis.landscape_index import LANDSCAPE_INDEX
from kg.analysis.related import RELATED_INDEX
from kg.analysis.saved_index import SavedIndex
from kg.analysis.search_index import SEARCH_INDEX
from kg.analysis.trial_facts import TRIAL_FACTS_INDEX
from kg.config import default_spec
from kg.store import Store, open_store

__all__ = ["SAVED_INDEXES", "refresh_saved_indexes"]

#: Every index saved beside an on-disk store (``PATH.<name>.pickle``).
SAVED_INDEXES: Final[tuple[SavedIndex[Any], ...]] = (
    RELATED_INDEX,
    LANDSCAPE_INDEX,
    HEALTH_PEERS_INDEX,
    SEARCH_INDEX,
    TRIAL_FACTS_INDEX,
)


def refresh_saved_indexes(target: str | Store | None) -> None:
    """Rebuild every saved index after a build (``target`` is the store spec, ``None`` for the default) or a MeSH
    load (``target`` is the open store; rebuilt only where an index was saved before, so a build's staging store
    gets none)."""
    if isinstance(target, Store):
        for kind in SAVED_INDEXES:
            kind.refresh(target, only_if_saved=True)
        return
    spec = target or default_spec()
    kinds = [kind for kind in SAVED_INDEXES if kind.path(spec) is not None]
    if kinds:
        with open_store(spec, read_only=True) as store:
            for kind in kinds:
                kind.refresh(store, only_if_saved=False, unless_superseded=True)  # a later build may have swapped
