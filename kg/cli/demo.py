"""``kg demo``: the offline demo corpus built into the store, with the pages a first-time user opens."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kg.cli.app import StoreOption, app
from kg.cli.output import console

__all__ = ["demo"]


@app.command()
def demo(
    store: StoreOption = None,
    synthetic: Annotated[
        int, typer.Option(min=0, max=999_999, help="Number of synthetic trials beside the reference trial.")
    ] = 300,
    seed: Annotated[int, typer.Option(help="Random seed of the synthetic trials.")] = 20251114,
) -> None:
    """Offline demo: the reference trial NCT07232407 plus synthetic trials, built into the store, with its explorer,
    trial page and a Neoplasms landscape report written beside the corpus."""
    from kg.atomic import removed_on_failure
    from kg.cli.progress import record_progress
    from kg.config import default_spec, kg_home
    from kg.demo import SEED_NCT, demo_mesh_file, write_demo_corpus
    from kg.pipeline.build import build as run_build

    corpus = kg_home() / "demo"
    spec = store or default_spec()
    with removed_on_failure(corpus):  # a store that cannot be built leaves no corpus behind
        paths = write_demo_corpus(corpus, n_synthetic=synthetic, seed=seed)
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
    from kg.atomic import ensure_folder, write_atomic
    from kg.store import open_store
    from kg.views.landscape_report import write_report
    from kg.views.trial_page import trial_explorer, write_trial_page

    explorer = ensure_folder(folder) / f"{nct_id}-explorer.html"
    with open_store(spec, read_only=True) as opened:
        page = trial_explorer(opened, nct_id)  # rendered once: the trial page embeds the same page
        write_atomic(explorer, page)
        trial_page = write_trial_page(opened, nct_id, folder / f"{nct_id}.html", explorer=page)
        report = write_report(landscape(opened, _DEMO_LANDSCAPE), folder / "landscape-neoplasms", store=spec)
    return {"Explorer": explorer, "Trial page": trial_page, "Landscape report (Neoplasms)": report}
