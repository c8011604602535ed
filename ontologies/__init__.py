"""Makes this folder the package ``kg.resources.ontologies`` (see pyproject.toml), so that wheels carry it."""
