"""The named graphs of a store and the IRIs its bookkeeping hangs on: one home, so a writer and a reader
(the pipeline, the saved indexes' fingerprint, validation) can never disagree about where a statement lives.

A trial's own statements sit in a graph of their own, replaced as a unit when the trial changes; shared nodes
(conditions, drugs, sponsors, sites), the enumerations, MeSH, its statistics and the build's provenance each
have one graph.
"""

from __future__ import annotations

from typing import Final

from pyoxigraph import NamedNode

from kg.vocab import DATA

__all__ = [
    "BUILD",
    "BUILD_GRAPH",
    "CHANGES_GRAPH",
    "ENUM_GRAPH",
    "IC_GRAPH",
    "MESH_GRAPH",
    "MESH_SCHEME",
    "NODES_GRAPH",
    "TRIAL_GRAPH_PREFIX",
    "trial_graph",
]

NODES_GRAPH: Final = DATA["graph/nodes"]
ENUM_GRAPH: Final = DATA["graph/vocabulary"]
MESH_GRAPH: Final = DATA["graph/mesh"]
IC_GRAPH: Final = DATA["graph/mesh-statistics"]
BUILD_GRAPH: Final = DATA["graph/build"]
#: Change events (``kg:ChangeEvent``) and the updates that found them: only ever added to, copied across rebuilds.
CHANGES_GRAPH: Final = DATA["graph/changes"]
#: The build activity (``prov:startedAtTime``) and the MeSH concept scheme (``kg:meshVersion``): together the
#: fingerprint a saved index must match.
BUILD: Final = DATA["build"]
MESH_SCHEME: Final = DATA["mesh/scheme"]
TRIAL_GRAPH_PREFIX: Final = DATA["graph/NCT"].value  # every trial graph's IRI starts so


def trial_graph(nct_id: str) -> NamedNode:
    """The named graph holding one trial's own statements."""
    return DATA[f"graph/{nct_id}"]
