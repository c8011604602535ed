"""What a store holds: trials, triples, nodes by type, data versions, and what its build skipped."""

from __future__ import annotations

from typing import Any

from kg.store import Store
from kg.vocab import SPARQL_PROLOGUE

__all__ = ["graph_stats"]

_NODE_TYPES = (
    SPARQL_PROLOGUE
    + """
SELECT ?type (COUNT(DISTINCT ?node) AS ?n) WHERE {
  VALUES ?type { schema:MedicalTrial kg:Condition kg:Intervention schema:Organization kg:Site schema:Country
                 kg:Arm kg:Outcome kg:TrialSite skos:Concept }
  ?node a ?type
} GROUP BY ?type"""
)
_VERSIONS = SPARQL_PROLOGUE + "SELECT ?version (COUNT(?t) AS ?n) WHERE { ?t kg:dataVersion ?version } GROUP BY ?version"
_BUILD = (
    SPARQL_PROLOGUE
    + """
SELECT ?trials ?records ?skipped ?duplicates ?warnings ?started ?ended WHERE {
  ?b a kg:Build ; kg:trialCount ?trials ; kg:recordCount ?records ; kg:skippedCount ?skipped ;
     kg:duplicatesDropped ?duplicates ; kg:warningCount ?warnings .
  OPTIONAL { ?b <http://www.w3.org/ns/prov#startedAtTime> ?started ; <http://www.w3.org/ns/prov#endedAtTime> ?ended }
}"""
)
_PROBLEMS = SPARQL_PROLOGUE + "SELECT ?problem WHERE { ?b a kg:Build ; kg:problem ?problem }"
_SYNTHETIC = SPARQL_PROLOGUE + "SELECT (COUNT(?t) AS ?n) WHERE { ?t kg:synthetic true }"
_MESH = (
    SPARQL_PROLOGUE
    + """
SELECT ?version (COUNT(?d) AS ?descriptors) WHERE {
  ?scheme kg:meshVersion ?version . ?d a kg:MeshDescriptor
} GROUP BY ?version"""
)
_LOCAL_NAMES = {
    "MedicalTrial": "trials",
    "Condition": "conditions",
    "Intervention": "interventions",
    "Organization": "organizations",
    "Site": "sites",
    "Country": "countries",
    "Arm": "arms",
    "Outcome": "outcomes",
    "TrialSite": "trial_sites",
    "Concept": "mesh_concepts",
}


def graph_stats(store: Store) -> dict[str, Any]:
    """One dictionary for ``kg stats`` (and its JSON): counts read from the store itself."""
    nodes = {
        _LOCAL_NAMES[str(row["type"]).rsplit("/", 1)[-1].rsplit("#", 1)[-1]]: row["n"]
        for row in store.select(_NODE_TYPES).rows
    }
    build = store.select(_BUILD).rows
    last = build[0] if build else {}
    mesh = store.select(_MESH).rows
    return {
        "store": store.spec,
        "trials": nodes.get("trials", 0),
        "triples": len(store),
        "skipped": last.get("skipped", 0),
        "records_read": last.get("records", 0),
        "duplicates_dropped": last.get("duplicates", 0),
        "warnings": last.get("warnings", 0),
        "synthetic_trials": store.select(_SYNTHETIC).rows[0]["n"],
        "nodes": dict(sorted(nodes.items())),
        "data_versions": {
            str(row["version"]): row["n"]
            for row in sorted(store.select(_VERSIONS).rows, key=lambda row: str(row["version"]))
        },
        "mesh_hierarchy": f"MeSH {mesh[0]['version']} loaded ({mesh[0]['descriptors']:,} descriptors)"
        if mesh
        else "no MeSH file loaded: hierarchies use the registry's derived ancestor lists",
        "built": last.get("ended"),
        "problems": [row["problem"] for row in store.select(_PROBLEMS).rows],
    }
