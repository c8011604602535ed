"""Makes this folder the package ``kg.resources.queries`` (see pyproject.toml), so that wheels carry the queries."""
