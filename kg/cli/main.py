"""The ``kg`` command line: build, query, explore and export the trial knowledge graph.

Heavy imports live inside the commands so that ``kg --help`` answers at once.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, BinaryIO, Optional

import typer

from kg.cli.app import FormatOption, StoreOption, app
from kg.cli.output import Format, console, errors, print_json, print_mapping, print_result

if TYPE_CHECKING:
    from kg.build_mesh import MeshLoadReport

__all__ = ["app", "main"]


class ExportFormat(str, Enum):
    ttl = "ttl"
    nt = "nt"
    nq = "nq"
    trig = "trig"
    jsonld = "jsonld"
    graphml = "graphml"


class ExportGraph(str, Enum):
    similarity = "similarity"
    bipartite = "bipartite"


_MEDIA_TYPES = {
    "ttl": "text/turtle",
    "nt": "application/n-triples",
    "nq": "application/n-quads",
    "trig": "application/trig",
    "jsonld": "application/ld+json",
}


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
) -> None:
    """Build a new store from study records; it replaces the old one only when complete."""
    from kg.build import BuildFailed
    from kg.build import build as run_build
    from kg.cli.progress import record_progress

    try:
        with record_progress("Reading records") as tick:
            report = run_build(list(paths), store, strict=strict, on_record=tick, mesh=list(mesh), workers=workers)
    except BuildFailed as failed:
        _print_problems(failed.report.problems)
        errors.print(f"[red]{failed}[/red]")
        raise typer.Exit(1) from None
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
    if report.mesh is not None:
        _print_mesh_report(report.mesh)


def _print_mesh_report(report: MeshLoadReport) -> None:
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


@app.command()
def query(
    name: Annotated[str, typer.Argument(help="A named query (see `kg queries`).", show_default=False)],
    param: Annotated[list[str], typer.Option("--param", "-p", help="KEY=VALUE, repeatable.")] = [],  # noqa: B006
    store: StoreOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Run a named query from queries/ with its parameters bound safely."""
    from kg.queries import QueryError, run
    from kg.store import open_store

    values: dict[str, str] = {}
    for item in param:
        key, sep, value = item.partition("=")
        if not sep:
            raise QueryError(f"--param {item!r}: write KEY=VALUE")
        values[key.strip()] = value
    with open_store(store, read_only=True) as opened:
        print_result(run(opened, name, values), fmt, title=name)


@app.command()
def queries(fmt: FormatOption = Format.table) -> None:
    """List the named queries and their parameters."""
    from kg.queries import list_queries
    from kg.store import QueryResult

    rows = [
        {
            "name": q.name,
            "parameters": " ".join(f"{p.name}:{p.kind}" for p in q.parameters),
            "description": q.description,
        }
        for q in list_queries()
    ]
    print_result(QueryResult(["name", "parameters", "description"], rows), fmt)  # type: ignore[arg-type]


@app.command()
def sparql(
    query_or_file: Annotated[str, typer.Argument(help="SPARQL text, a .rq file, or - for stdin.", show_default=False)],
    store: StoreOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Run any SPARQL query; SELECT/ASK print rows, CONSTRUCT/DESCRIBE print N-Triples."""
    from kg.store import open_store, query_form

    if query_or_file == "-":
        text = sys.stdin.read()
    elif query_or_file.endswith(".rq") or (len(query_or_file) < 500 and Path(query_or_file).is_file()):
        text = Path(query_or_file).read_text(encoding="utf-8")
    else:
        text = query_or_file
    with open_store(store, read_only=True) as opened:
        if query_form(text) in ("CONSTRUCT", "DESCRIBE"):
            sys.stdout.buffer.write(opened.construct(text))
        else:
            print_result(opened.select(text), fmt)


@app.command()
def export(
    fmt: Annotated[
        ExportFormat,
        typer.Option(
            "--format",
            "-f",
            help="ttl, nt (union of graphs), nq, trig (named graphs kept), jsonld; graphml (a networkx projection).",
        ),
    ] = ExportFormat.nq,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="File (default: stdout).")] = None,  # noqa: UP045
    graph: Annotated[
        ExportGraph,
        typer.Option("--graph", help="With graphml: the weighted trial-trial graph or the trial-concept graph."),
    ] = ExportGraph.similarity,
    store: StoreOption = None,
) -> None:
    """Export the whole graph as RDF, or its trial similarity or trial-concept graph as GraphML (Gephi, Cytoscape)."""
    from kg.store import open_store

    with open_store(store, read_only=True) as opened:

        def dump(stream: BinaryIO) -> None:
            if fmt is ExportFormat.graphml:
                from kg.analysis.networks import write_graphml

                write_graphml(opened, stream, kind=graph.value)
            else:
                opened.dump(stream, _MEDIA_TYPES[fmt.value])

        if output is None:
            dump(sys.stdout.buffer)
            return
        partial = output.with_name(output.name + ".partial")
        with partial.open("wb") as stream:
            dump(stream)
        partial.replace(output)
        errors.print(f"Wrote {output} ({output.stat().st_size:,} bytes)", markup=False)


@app.command()
def stats(store: StoreOption = None, fmt: FormatOption = Format.table) -> None:
    """Trials, triples, nodes by type, data versions and skipped records of a store."""
    from kg.analysis.stats import graph_stats
    from kg.store import open_store

    with open_store(store, read_only=True) as opened:
        print_mapping(graph_stats(opened), fmt, title="Knowledge graph")


@app.command()
def ancestors(
    concepts: Annotated[
        list[str], typer.Argument(help="MeSH ids (D008187, C000447941) or exact labels.", show_default=False)
    ],
    store: StoreOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """MeSH ancestors of each concept, from the loaded hierarchy (deepest first)."""
    from kg.analysis.hierarchy import ancestors as find_ancestors
    from kg.store import QueryResult, open_store

    with open_store(store, read_only=True) as opened:
        found = find_ancestors(opened, list(concepts))
    if fmt is Format.json:
        print_json({key: [{"id": row["id"], "label": row["label"]} for row in rows] for key, rows in found.items()})
        return
    rows = [{"concept": key, **row} for key, ancestor_rows in found.items() for row in ancestor_rows]
    print_result(QueryResult(["concept", "id", "label", "depth"], rows), fmt)


@app.command()
def related(
    nct_id: Annotated[str, typer.Argument(help="NCT id, e.g. NCT07232407.", show_default=False)],
    top: Annotated[int, typer.Option(help="How many related trials.")] = 20,
    explain: Annotated[bool, typer.Option(help="Add the explanation column to the table.")] = False,
    store: StoreOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Trials most related to one trial (shared MeSH concepts weighted by information content), with reasons."""
    from kg.analysis.related import related as find_related
    from kg.store import QueryResult, open_store

    with open_store(store, read_only=True) as opened:
        found = find_related(opened, nct_id, top)
    if fmt is Format.json:
        print_json([neighbour.to_json() for neighbour in found])
        return
    columns = ["rank", "nct_id", "score", "title"] + (["explanation"] if explain else [])
    rows = [{**neighbour.to_json(), "score": round(neighbour.score, 2)} for neighbour in found]
    print_result(QueryResult(columns, rows), fmt, title=f"Related to {nct_id.strip().upper()}")
    if found:
        errors.print(f"hierarchy: {found[0].hierarchy}", markup=False, style="dim")


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
    from kg.sources.mesh import ensure_mesh_file

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
    """Load MeSH files into an existing store, replacing its vocabulary; recomputes information content."""
    from kg.build_mesh import load_mesh
    from kg.store import open_store

    for file in files:
        if not file.is_file():
            raise FileNotFoundError(f"no such MeSH file: {file}")
    with open_store(store) as opened:
        _print_mesh_report(load_mesh(opened, files))


@app.command()
def validate(store: StoreOption = None) -> None:
    """Check the graph against the SHACL shapes in ontologies/shapes.ttl."""
    from kg.store import open_store
    from kg.validation import validate as run_validation

    with open_store(store, read_only=True) as opened:
        result = run_validation(opened)
    for warning in result.warnings[:20]:
        errors.print(f"warning: {warning}", markup=False, style="dim")
    for violation in result.violations[:50]:
        errors.print(violation, markup=False, style="yellow")
    if not result.conforms:
        errors.print(f"[red]{len(result.violations)} violation(s)")
        raise typer.Exit(1)
    console.print(f"Conforms: {result.focus_nodes:,} focus nodes checked, no violation.", markup=False)


@app.command()
def demo(
    store: StoreOption = None,
    synthetic: Annotated[int, typer.Option(help="Number of synthetic trials beside the reference trial.")] = 300,
    seed: Annotated[int, typer.Option(help="Random seed of the synthetic trials.")] = 20251114,
) -> None:
    """Offline demo: the reference trial NCT07232407 plus synthetic trials, built into the store, with its explorer,
    trial page and a Neoplasms landscape report written beside the corpus."""
    from kg.build import build as run_build
    from kg.cli.progress import record_progress
    from kg.demo import SEED_NCT, demo_mesh_file, write_demo_corpus
    from kg.store import default_spec, kg_home

    corpus = kg_home() / "demo"
    paths = write_demo_corpus(corpus, n_synthetic=synthetic, seed=seed)
    spec = store or default_spec()
    with record_progress("Building the demo graph") as tick:
        report = run_build(list(paths), spec, on_record=tick, mesh=[demo_mesh_file()])
    console.print(
        f"Demo graph: {report.trials:,} trials ({report.trials - 1:,} of them SYNTHETIC, seed {seed}), "
        f"{report.quads:,} quads, built in {report.seconds:.1f} s into {spec}\nCorpus written to {corpus}",
        markup=False,
        highlight=False,
    )
    pages = _write_demo_pages(spec, corpus / "pages", SEED_NCT)
    console.print(
        "\n".join(f"{name}: {path}" for name, path in pages.items()) + "\n\nNext:\n"
        f"  kg trial {SEED_NCT} --as-of 2026-05-05\n"
        f"  kg related {SEED_NCT} --explain\n"
        f"  kg ancestors Lutetium 'Digestive System Neoplasms'\n"
        f"  kg serve          # then open http://127.0.0.1:8000/trial/{SEED_NCT}\n"
        f"  kg stats\n"
        f"  kg queries\n"
        f"  kg query trials_by_condition --param condition=D009369\n"
        f"  kg sparql 'SELECT (COUNT(*) AS ?n) WHERE {{ ?s ?p ?o }}'\n"
        f"  kg export --format ttl -o graph.ttl",
        markup=False,
        highlight=False,
        soft_wrap=True,  # paths stay whole, so they can be copied
    )


_DEMO_LANDSCAPE = "D009369"  # Neoplasms: the seed trial's condition sits under it


def _write_demo_pages(spec: str, folder: Path, nct_id: str) -> dict[str, Path]:
    """The three pages a first-time user opens: explorer and trial page of the seed trial, and a landscape."""
    from kg.analysis.landscape import landscape
    from kg.store import open_store
    from kg.views.explorer import render_explorer
    from kg.views.landscape_report import write_report
    from kg.views.trial_page import write_trial_page

    folder.mkdir(parents=True, exist_ok=True)
    explorer = folder / f"{nct_id}-explorer.html"
    with open_store(spec, read_only=True) as opened:
        explorer.write_text(render_explorer(opened, nct_id), encoding="utf-8")
        trial_page = write_trial_page(opened, nct_id, folder / f"{nct_id}.html")
        report = write_report(landscape(opened, _DEMO_LANDSCAPE), folder / "landscape-neoplasms", store=spec)
    return {"Explorer": explorer, "Trial page": trial_page, "Landscape report (Neoplasms)": report}


# Feature command modules: importing one registers its commands on ``app`` (after the core commands above, which
# is their order in ``kg --help``).
from kg.cli import explore, harvest, landscape, serve, synth, trial  # noqa: E402

FEATURES = (trial, explore, serve, landscape, harvest, synth)


def main() -> None:
    """Entry point: user mistakes end in one clear sentence and exit 2, never a traceback."""
    try:
        app()
    except Exception as error:
        if not isinstance(error, _user_errors()):
            raise
        errors.print(f"error: {error}", markup=False, style="red")
        sys.exit(2)


def _user_errors() -> tuple[type[Exception], ...]:
    """Errors that mean the user asked for something impossible (imported only when one happens)."""
    from kg.queries import QueryError
    from kg.store import StoreError

    return StoreError, QueryError, FileNotFoundError, IsADirectoryError, PermissionError
