"""``kg synth``: a synthetic registry of any size (API v2 records, marked synthetic) for benchmarks and demos."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kg.cli.app import app
from kg.cli.output import console
from kg.errors import KgError

__all__ = ["synth"]


@app.command()
def synth(
    trials: Annotated[
        int, typer.Option("--trials", "-n", min=0, max=999_999, help="How many synthetic trials (up to 999,999).")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the gzip'd JSON Lines shards.")],
    seed: Annotated[int, typer.Option(help="Random seed: the same seed and MeSH files give the same records.")] = (
        20251114
    ),
    mesh: Annotated[
        list[Path],
        typer.Option(help="MeSH files to draw conditions and interventions from (default: the demo subset)."),
    ] = [],  # noqa: B006
    shard_size: Annotated[int, typer.Option(min=1, help="Trials per shard file.")] = 25_000,
) -> None:
    """Write a reproducible synthetic registry (NCT99… ids, every record marked synthetic; finished trials post
    results sections at the real records' rate) for `kg build`."""
    from kg.atomic import ensure_folder, removed_on_failure
    from kg.cli.progress import record_progress
    from kg.demo.registry import write_registry

    for file in mesh:
        if not file.is_file():
            raise FileNotFoundError(f"no such MeSH file: {file}")
    with removed_on_failure(output), record_progress("Generating synthetic trials") as tick:
        ensure_folder(output)  # a folder that cannot be made is one line, before any trial is generated
        try:
            paths = write_registry(
                output, trials, seed=seed, mesh=list(mesh) or None, shard_size=shard_size, on_study=tick
            )
        except ValueError as error:  # its refusal of an input: MeSH files with nothing to draw trials from
            raise KgError(f"cannot generate synthetic trials: {error}") from None
    size = sum(path.stat().st_size for path in paths)
    console.print(
        f"Wrote {trials:,} SYNTHETIC trials (seed {seed}) in {len(paths)} shard(s), {size / 2**20:,.1f} MiB, to "
        f"{output}\nBuild them with: kg build {output}",
        markup=False,
        highlight=False,
    )
