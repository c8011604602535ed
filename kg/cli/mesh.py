"""``kg mesh download`` and ``kg mesh load``: the MeSH vocabulary into a store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kg.cli.app import StoreOption, app
from kg.cli.build import print_index_seconds, print_mesh_report
from kg.cli.output import console

__all__ = ["mesh_app"]

mesh_app = typer.Typer(
    help="Download and load the MeSH vocabulary (descriptors, supplementary concepts, trees).", no_args_is_help=True
)
app.add_typer(mesh_app, name="mesh")


@mesh_app.command("download")
def mesh_download(
    year: Annotated[int, typer.Option(help="MeSH year.")] = 2025,
    force: Annotated[bool, typer.Option(help="Download again even if cached.")] = False,
    load: Annotated[bool, typer.Option(help="Load the files into the store afterwards.")] = False,
    store: StoreOption = None,
) -> None:
    """Fetch d{YEAR}.bin and c{YEAR}.bin from NLM into $KG_HOME/mesh/{YEAR}/ (cached)."""
    from kg.mesh.download import ensure_mesh_file

    paths = [ensure_mesh_file(kind, year, force=force) for kind in ("descriptors", "supplementary")]
    for path in paths:
        console.print(str(path), markup=False, highlight=False)
    if load:
        mesh_load(paths, store)


@mesh_app.command("load")
def mesh_load(
    files: Annotated[
        list[Path],
        typer.Argument(help="d{YEAR}.bin, c{YEAR}.bin and/or mtrees{YEAR}.bin (also .gz).", show_default=False),
    ],
    store: StoreOption = None,
) -> None:
    """Load MeSH files into the store (created if there is none yet), replacing its vocabulary; recomputes
    information content."""
    from kg.pipeline.mesh_load import load_mesh_into, read_mesh

    for file in files:
        if not file.is_file():
            raise FileNotFoundError(f"no such MeSH file: {file}")
    read = read_mesh(files)  # files that are not MeSH fail here, before a store is opened or created
    report = load_mesh_into(store, read)  # a new data home: the vocabulary first, trials later
    print_mesh_report(report)
    print_index_seconds(report.index_seconds)
