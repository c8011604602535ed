"""MeSH hierarchy over a store: resolve ids or labels, ancestors, and a trial's condition/intervention hierarchies
(from the loaded vocabulary, or the registry's own lists when none is loaded)."""

from __future__ import annotations

from typing import Any

from kg.identifiers import normalize_mesh_id
from kg.queries import QueryError, run
from kg.store import Store

__all__ = ["ancestors", "mesh_loaded", "resolve_concepts", "trial_hierarchy"]

_LOADED = "ASK { ?c a <https://w3id.org/trialkg/vocab/MeshDescriptor> }"


def mesh_loaded(store: Store) -> bool:
    return bool(store.select(_LOADED).rows[0]["ask"])


def resolve_concepts(store: Store, key: str) -> list[str]:
    """MeSH UIs for an id (any spelling) or an exact label, preferred or entry term, case-insensitive."""
    try:
        return [normalize_mesh_id(key)]
    except ValueError:
        pass
    return [str(row["id"]) for row in run(store, "concepts_by_label", {"label": key.strip()}).rows if row["id"]]


def ancestors(store: Store, keys: list[str]) -> dict[str, list[dict[str, Any]]]:
    """For each given id or label, its ancestors as ``{"id", "label", "depth"}``, deepest first."""
    if not mesh_loaded(store):
        raise QueryError(
            "no MeSH vocabulary is loaded in this store: run `kg mesh load d2024.bin c2024.bin` "
            "(or `kg mesh download --load`)"
        )
    answer: dict[str, list[dict[str, Any]]] = {}
    for key in keys:
        uis = resolve_concepts(store, key)
        if not uis:
            raise QueryError(f"no MeSH concept with the id or label {key!r}")
        for ui in uis:
            label = key if len(uis) == 1 else f"{key} ({ui})"
            answer[label] = run(store, "ancestors", {"concept": ui}).rows
    return answer


def trial_hierarchy(store: Store, nct_id: str) -> dict[str, Any]:
    """A trial's condition and intervention ancestors, as on the reference trial page, and where they come from."""
    if mesh_loaded(store):
        rows = run(store, "trial_hierarchy", {"nct": nct_id}).rows
        source = "MeSH vocabulary (loaded)"
    else:
        rows = [
            {"role": str(row["role"]).removesuffix(" ancestor"), "id": row["mesh_id"], "label": row["term"]}
            for row in run(store, "trial_mesh", {"nct": nct_id}).rows
            if str(row["role"]).endswith("ancestor")
        ]
        source = "the registry's derived ancestor lists (no MeSH file loaded)"
    hierarchy: dict[str, Any] = {"source": source, "condition": [], "intervention": []}
    for row in rows:
        hierarchy[str(row["role"])].append({key: value for key, value in row.items() if key != "role"})
    return hierarchy
