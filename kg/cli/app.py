"""The ``kg`` Typer application and the options its commands share.

Each feature keeps its commands in its own module under ``kg.cli`` and registers them on ``app``;
``kg.cli.main`` imports those modules.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from kg.cli.output import Format

__all__ = ["FormatOption", "StoreOption", "app"]

app = typer.Typer(
    name="kg",
    help="ClinicalTrials.gov records and MeSH as an RDF knowledge graph of related clinical trials.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

StoreOption = Annotated[
    Optional[str],  # noqa: UP045 - typer needs Optional on Python 3.10
    typer.Option(
        "--store",
        "-s",
        envvar="KG_STORE",
        show_default=False,
        help="oxigraph:PATH (default: $KG_HOME/store), oxigraph: (in memory), memory: (rdflib), or sparql:URL.",
    ),
]
FormatOption = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
