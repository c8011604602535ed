"""Offline demo corpus: the reference trial NCT07232407 transcribed from its page, plus synthetic studies."""

from __future__ import annotations

import json
import logging
from importlib import resources
from pathlib import Path

from kg.ctgov.mapping import RawStudy
from kg.demo.synthetic import DEFAULT_SEED, synthetic_studies

__all__ = ["SEED_NCT", "demo_mesh_file", "seed_study", "synthetic_studies", "write_demo_corpus"]

logger = logging.getLogger(__name__)

SEED_NCT = "NCT07232407"
SYNTHETIC_FILE = "synthetic.jsonl"


def seed_study() -> RawStudy:
    """The reference trial as one API v2 study object (a fresh copy each call, so callers may change it)."""
    text = resources.files(__name__).joinpath(f"data/{SEED_NCT}.json").read_text(encoding="utf-8")
    study: RawStudy = json.loads(text)
    return study


def demo_mesh_file() -> Path:
    """The MeSH subset the demo needs (real 2024 descriptors, tree numbers and hierarchy, NLM ASCII format),
    written by ``python -m kg.demo.make_vocabulary``."""
    return Path(str(resources.files(__name__).joinpath("data/mesh-demo.bin")))


def write_demo_corpus(directory: Path, *, n_synthetic: int = 300, seed: int = DEFAULT_SEED) -> list[Path]:
    """Write the seed study and ``n_synthetic`` synthetic ones (JSON Lines) into ``directory``; return both paths.

    The files use the layouts the reader takes from real downloads: one study object per ``NCT….json`` file, and
    one study per line in ``synthetic.jsonl``, streamed so a large ``n_synthetic`` needs no extra memory.
    """
    directory.mkdir(parents=True, exist_ok=True)
    seed_path = directory / f"{SEED_NCT}.json"
    seed_path.write_text(json.dumps(seed_study(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    synthetic_path = directory / SYNTHETIC_FILE
    with synthetic_path.open("w", encoding="utf-8") as out:
        for study in synthetic_studies(n_synthetic, seed=seed):
            out.write(json.dumps(study, ensure_ascii=False) + "\n")
    logger.info("wrote %s and %d synthetic studies to %s", seed_path.name, n_synthetic, synthetic_path)
    return [seed_path, synthetic_path]
