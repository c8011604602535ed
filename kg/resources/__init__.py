"""The files ``kg`` reads at run time that live outside ``kg/`` in the repository: the named queries and the ontology.

``queries/`` and ``ontologies/`` sit at the top of the repository, where people look for them; pyproject.toml maps
them into the package as ``kg.resources.queries`` and ``kg.resources.ontologies``, so a wheel carries them and an
editable install reads the checkout's own. They are read through :mod:`importlib.resources` only: a path into the
checkout would work in a checkout and nowhere else.
"""

from __future__ import annotations

import sys
from importlib import resources

if sys.version_info >= (3, 11):
    from importlib.resources.abc import Traversable
else:
    from importlib.abc import Traversable

__all__ = ["SHAPE_FILES", "VOCABULARY_FILES", "Traversable", "ontology_file", "query_file", "query_names"]

_QUERIES = "kg.resources.queries"
_ONTOLOGIES = "kg.resources.ontologies"
#: The vocabulary, one module per part of the record: the protocol and registry fields, then the results section.
VOCABULARY_FILES = ("trialkg.ttl", "trialkg-results.ttl")
#: The SHACL shapes, in the same two modules.
SHAPE_FILES = ("shapes.ttl", "shapes-results.ttl")


def query_names() -> list[str]:
    """The names of the named queries (their files are ``NAME.rq``), sorted."""
    return sorted(path.name[:-3] for path in resources.files(_QUERIES).iterdir() if path.name.endswith(".rq"))


def query_file(name: str) -> Traversable:
    """Where the named query ``name`` is (or would be: check ``is_file()``)."""
    return resources.files(_QUERIES) / f"{name}.rq"


def ontology_file(name: str) -> Traversable:
    """A file of ``ontologies/``: ``trialkg.ttl`` (the vocabulary), ``shapes.ttl`` (the SHACL shapes)."""
    return resources.files(_ONTOLOGIES) / name
