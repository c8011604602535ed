"""``kg serve``: the explorer, its JSON API and a read-only SPARQL endpoint on a local web server (uvicorn)."""

from __future__ import annotations

import ipaddress
from typing import Annotated

import typer

from kg.cli.app import StoreOption, app
from kg.cli.output import errors

__all__ = ["serve"]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.command()
def serve(
    store: StoreOption = None,
    host: Annotated[str, typer.Option(help="Address to bind; anything but loopback exposes the store.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    timeout: Annotated[float, typer.Option(help="Seconds a SPARQL query may run.", min=0.1)] = 30.0,
    max_rows: Annotated[int, typer.Option(help="Most rows (or triples) a SPARQL answer may have.", min=1)] = 100_000,
    explorer_timeout: Annotated[
        float, typer.Option(help="Seconds a page, expansion, search or API answer is waited for (then 503).", min=0.1)
    ] = 10.0,
    explorer_slots: Annotated[
        int, typer.Option(help="Computations of each kind (page, expansion, search, API) at once; more get 503.", min=1)
    ] = 2,
) -> None:
    """Serve the explorer (/trial/NCT…), its JSON API (/api/…) and a read-only SPARQL endpoint (/sparql)."""
    import uvicorn

    from kg.web.app import create_app

    if not _is_loopback(host):
        errors.print(
            f"warning: binding {host}: anyone who can reach this address can read the whole store "
            "and run SPARQL queries on it (there is no authentication).",
            markup=False,
            style="yellow",
        )
    web_app = create_app(
        store,
        query_timeout=timeout,
        max_rows=max_rows,
        explorer_timeout=explorer_timeout,
        explorer_slots=explorer_slots,
    )
    address = f"[{host}]" if ":" in host else host
    errors.print(f"Serving {web_app.state.store.spec} at http://{address}:{port}/ (Ctrl-C stops)", markup=False)
    uvicorn.run(web_app, host=host, port=port, log_level="warning")
