"""``kg build``: a new store from study records, swapped in only when complete."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from kg.cli.app import StoreOption, app
from kg.cli.output import errors

if TYPE_CHECKING:
    from kg.pipeline.mesh_load import MeshLoadReport

__all__ = ["build", "print_index_seconds", "print_mesh_report"]


@app.command()
def build(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Files or directories of API v2 study JSON (.json, .jsonl, .zip, .gz).", show_default=False
        ),
    ],
    store: StoreOption = None,
    strict: Annotated[bool, typer.Option(help="Exit non-zero, keeping the previous store, on any problem.")] = False,
    mesh: Annotated[
        list[Path],
        typer.Option(help="MeSH files to load into the new store (d2024.bin, c2024.bin, mtrees2024.bin); repeatable."),
    ] = [],  # noqa: B006
    workers: Annotated[
        Optional[int],  # noqa: UP045 - typer needs Optional on Python 3.10
        typer.Option(
            min=1,
            help="Processes mapping records (default: one per core but one left to the loader, at most 8; "
            "1 maps in this process).",
            show_default=False,
        ),
    ] = None,
    contacts: Annotated[
        bool,
        typer.Option(
            "--contacts/--no-contacts",
            help="Map contact persons (central and site contacts: names, emails, phones). They are public registry "
            "data but personal: --no-contacts leaves them out; kg update then keeps them out too.",
        ),
    ] = True,
) -> None:
    """Build a new store from study records; it replaces the old one only when complete."""
    from kg.cli.progress import record_progress
    from kg.pipeline.build import BuildFailed, IndexesInterrupted
    from kg.pipeline.build import build as run_build

    if not any(
        path.exists() for path in paths
    ):  # some missing among others are reported as skipped, and the build goes on
        raise FileNotFoundError(f"no such file or folder: {', '.join(map(str, paths))}")
    try:
        with record_progress("Reading records") as tick:
            report = run_build(
                list(paths),
                store,
                strict=strict,
                on_record=tick,
                mesh=list(mesh),
                workers=workers,
                include_contacts=contacts,
                on_phase=tick.phase,
            )
    except BuildFailed as failed:
        _print_problems(failed.report.problems)
        errors.print(f"[red]{failed}[/red]")
        raise typer.Exit(1) from None
    except IndexesInterrupted:
        errors.print(
            "[yellow]Interrupted while saving the indexes: the new store is in place; an index not saved is rebuilt "
            "when first used."
        )
        raise typer.Exit(130) from None
    except KeyboardInterrupt:
        errors.print("[yellow]Interrupted: the half-built store was removed; the previous store is untouched.")
        raise typer.Exit(130) from None
    _print_problems(report.problems)
    errors.print(
        f"Built {report.trials:,} trials ({report.quads:,} quads) from {report.records:,} records in "
        f"{report.seconds:.1f} s: {report.skipped} skipped, {report.duplicates_dropped} duplicate(s) dropped "
        f"(the latest lastUpdatePostDate kept), {len(report.warnings)} warning(s).",
        markup=False,
    )
    if report.change_events:
        errors.print(
            f"Recorded {report.change_events:,} change event(s) against the store it replaced (`kg changes`).",
            markup=False,
        )
    if report.mesh is not None:
        print_mesh_report(report.mesh)
    print_index_seconds(report.index_seconds)


def print_index_seconds(index_seconds: dict[str, float]) -> None:
    if index_seconds:
        taken = ", ".join(f"{name} {seconds:,.1f} s" for name, seconds in index_seconds.items())
        errors.print(f"Indexes saved beside the store: {taken}.", markup=False)


def print_mesh_report(report: MeshLoadReport) -> None:
    for problem in report.problems[:20]:
        errors.print(f"MeSH: {problem}", markup=False, style="yellow")
    errors.print(
        f"MeSH {report.version}: {report.descriptors:,} descriptors, {report.supplementary:,} supplementary "
        f"concepts, {report.quads:,} quads in {report.seconds:.1f} s; {len(report.problems)} problem(s).",
        markup=False,
    )


def _print_problems(problems: list[str]) -> None:
    for problem in problems[:50]:
        errors.print(f"skipped: {problem}", markup=False, style="yellow")
    if len(problems) > 50:
        errors.print(f"… and {len(problems) - 50} more (all listed by `kg stats`)", style="yellow")
