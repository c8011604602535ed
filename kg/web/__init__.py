"""The local web app of ``kg serve``: the relationship explorer, its JSON API and a read-only SPARQL endpoint."""

from kg.web.app import create_app

__all__ = ["create_app"]
