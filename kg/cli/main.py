"""The ``kg`` command line: build, query, explore and export the trial knowledge graph.

Heavy imports live inside the commands so that ``kg --help`` answers at once.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, BinaryIO, Final, Optional

import typer

from kg.atomic import WriteFailed, replacing
from kg.cli.app import FormatOption, NctIdArgument, StoreOption, app
from kg.cli.output import Format, console, errors, print_json, print_mapping, print_result
from kg.errors import KgError

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
def query(
    name: Annotated[str, typer.Argument(help="A named query (see `kg queries`).", show_default=False)],
    param: Annotated[list[str], typer.Option("--param", "-p", help="KEY=VALUE, repeatable.")] = [],  # noqa: B006
    store: StoreOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Run a named query from queries/ with its parameters bound safely (on an embedded store, the aggregates and
    the condition and intervention searches are answered from the indexes saved beside it: the same rows)."""
    from kg.analysis.answers import answer
    from kg.queries import QueryError
    from kg.store import open_store

    values: dict[str, str] = {}
    for item in param:
        key, sep, value = item.partition("=")
        if not sep:
            raise QueryError(f"--param {item!r}: write KEY=VALUE")
        values[key.strip()] = value
    with open_store(store, read_only=True) as opened:
        print_result(answer(opened, name, values), fmt, title=name)


@app.command()
def queries(fmt: FormatOption = Format.table) -> None:
    """List the named queries and their parameters."""
    from kg.queries import catalogue

    print_result(catalogue(), fmt)


@app.command()
def sparql(
    query_or_file: Annotated[str, typer.Argument(help="SPARQL text, a .rq file, or - for stdin.", show_default=False)],
    store: StoreOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Run any SPARQL query; SELECT/ASK print rows, CONSTRUCT/DESCRIBE print N-Triples. The endpoint's guard runs
    first (updates, SERVICE, FROM and over-deep queries are refused in one line: Oxigraph segfaults on the latter)."""
    from kg.store import StoreError, open_store
    from kg.web.guard import check_query

    if query_or_file == "-":
        text = sys.stdin.read()
    elif query_or_file.endswith(".rq") or (len(query_or_file) < 500 and Path(query_or_file).is_file()):
        text = Path(query_or_file).read_text(encoding="utf-8")
    else:
        text = query_or_file
    form = check_query(text)
    with open_store(store, read_only=True) as opened:
        try:
            if form in ("CONSTRUCT", "DESCRIBE"):
                sys.stdout.buffer.write(opened.construct(text))
            else:
                print_result(opened.select(text), fmt)
        except RuntimeError as error:  # Oxigraph's refusal of an evaluation, e.g. an unknown function
            raise StoreError(f"the query cannot be evaluated: {error}") from None


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
        with replacing(output, parents=True) as partial, partial.open("wb") as stream:
            dump(stream)
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
    from kg.analysis.hierarchy import ancestor_table
    from kg.analysis.hierarchy import ancestors as find_ancestors
    from kg.store import open_store

    with open_store(store, read_only=True) as opened:
        if fmt is not Format.json:
            print_result(ancestor_table(opened, list(concepts)), fmt)
            return
        found = find_ancestors(opened, list(concepts))
    print_json({key: [{"id": row["id"], "label": row["label"]} for row in rows] for key, rows in found.items()})


@app.command()
def related(
    nct_id: NctIdArgument,
    top: Annotated[int, typer.Option(help="How many related trials.")] = 20,
    explain: Annotated[bool, typer.Option(help="Add the explanation column to the table.")] = False,
    store: StoreOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Trials most related to one trial (shared MeSH concepts weighted by information content, shared words,
    publications, ids, intervention names and sponsors), with reasons."""
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


@app.command()
def validate(store: StoreOption = None) -> None:
    """Check the graph against the SHACL shapes in ontologies/shapes.ttl."""
    from kg.pipeline.validation import validate as run_validation
    from kg.store import open_store

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


# Feature command modules: importing one registers its commands on ``app`` (after the core commands above, which
# is their order in ``kg --help``).
from kg.cli import build, demo, explore, fetch, landscape, mesh, related_eval, serve, synth, trial  # noqa: E402

FEATURES = (build, mesh, demo, trial, explore, serve, landscape, fetch, synth, related_eval)
from kg.cli import changes  # noqa: E402, F401 - registers `kg changes` (issue 19)

#: What a user's mistake raises: kg's own errors, a file that is missing, a folder or not readable, a path through a
#: regular file, and an output that cannot be written.
_USER_ERRORS: Final = (
    KgError,
    FileNotFoundError,
    IsADirectoryError,
    PermissionError,
    NotADirectoryError,
    FileExistsError,
    WriteFailed,
)


def main() -> None:
    """Entry point: user mistakes end in one clear sentence and exit 2, never a traceback."""
    try:
        app()
    except _USER_ERRORS as error:
        errors.print(f"error: {error}", markup=False, style="red", soft_wrap=True)  # one line, however long
        sys.exit(2)
