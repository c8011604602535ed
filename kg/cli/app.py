"""The ``kg`` Typer application and the options its commands share.

Each feature keeps its commands in its own module under ``kg.cli`` and registers them on ``app``;
``kg.cli.main`` imports those modules.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from kg.cli.output import Format

__all__ = ["FormatOption", "NctIdArgument", "StoreOption", "app"]

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
NctIdArgument = Annotated[str, typer.Argument(help="NCT id, e.g. NCT07232407.", show_default=False)]


def _print_version(value: bool) -> None:
    """Eager, so ``kg --version`` answers before any command (or the missing one) is looked at."""
    if value:
        from kg._version import __version__

        typer.echo(f"kg {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Options given before the command (``kg --version``)."""
