"""``kg explore``: the relationship explorer for one trial as a self-contained HTML file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from kg.cli.app import NctIdArgument, StoreOption, app
from kg.cli.output import console

__all__ = ["explore"]


@app.command()
def explore(
    nct_id: NctIdArgument,
    output: Annotated[
        Optional[Path],  # noqa: UP045 - typer needs Optional on Python 3.10
        typer.Option(
            "--output", "-o", help="HTML file to write (default: NCT…-explorer.html here).", show_default=False
        ),
    ] = None,
    depth: Annotated[int, typer.Option(help="Hops beyond the first view that Expand can add offline.")] = 2,
    top: Annotated[int, typer.Option(help="Related trials (and trials per concept) per node.")] = 10,
    store: StoreOption = None,
) -> None:
    """Write the explorer page: the trial, its conditions, interventions and MeSH chains, and its related trials;
    click a node for details, expand it, search, export PNG. One file, no network needed to open it."""
    from kg.store import open_store
    from kg.views.explorer import write_explorer

    nct = nct_id.strip().upper()
    with open_store(store, read_only=True) as opened:
        path = write_explorer(opened, nct, output or Path(f"{nct}-explorer.html"), depth=depth, top=top)
    console.print(
        f"Explorer for {nct} written to {path.resolve()} ({path.stat().st_size / 1024:,.0f} KiB)", markup=False
    )
