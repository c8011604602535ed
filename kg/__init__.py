"""kg: ClinicalTrials.gov records and the MeSH vocabulary as an RDF knowledge graph of related trials.

The Python front door (:mod:`kg.front_door`) is imported on first use, so ``import kg`` and ``kg --help`` stay
instant::

    import kg
    g = kg.open()                                   # $KG_HOME/store, or kg.open("oxigraph:PATH" | "sparql:URL")
    g.trial("NCT07232407")                          # what `kg trial NCT07232407 --format json` prints
    g.query("trials_under", concept="D009371").to_pandas()

``kg.demo`` (the offline demo corpus) and ``kg.networks`` (communities and centrality of ``g.similarity_graph()``)
are imported on first use too.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

from kg._version import __version__

if TYPE_CHECKING:
    from kg import demo
    from kg.analysis import networks
    from kg.front_door import Graph, Records, build, open

__all__ = ["Graph", "Records", "__version__", "build", "demo", "networks", "open"]

_FRONT_DOOR: Final = frozenset({"Graph", "Records", "build", "open"})
_MODULES: Final = {"demo": "kg.demo", "networks": "kg.analysis.networks"}


def __getattr__(name: str) -> Any:
    """The front door's names and modules, imported when first asked for."""
    if name in _FRONT_DOOR:
        return getattr(importlib.import_module("kg.front_door"), name)
    if name in _MODULES:
        return importlib.import_module(_MODULES[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
