"""NLM's MeSH files downloaded once per year into ``$KG_HOME/mesh/{year}``."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Final

from kg.config import kg_home, mesh_url

__all__ = ["MESH_URL", "ensure_mesh_file", "mesh_cache_dir"]

logger = logging.getLogger(__name__)

#: NLM's download area; ``KG_MESH_URL`` overrides it (tests point it at a server on 127.0.0.1).
MESH_URL: Final = "https://nlmpubs.nlm.nih.gov/projects/mesh/MESH_FILES/asciimesh/"
_KINDS: Final = {"descriptors": "d{year}.bin", "supplementary": "c{year}.bin"}


def mesh_cache_dir(year: int) -> Path:
    """``$KG_HOME/mesh/{year}``: one folder per MeSH year, so years never overwrite each other."""
    return kg_home() / "mesh" / str(year)


def ensure_mesh_file(kind: str, year: int, *, force: bool = False) -> Path:
    """Download NLM's ``d{year}.bin`` (``kind="descriptors"``) or ``c{year}.bin`` (``"supplementary"``) once.

    The file is written beside its final name and renamed when complete, so an interrupted download never
    leaves a truncated file that looks cached.
    """
    import requests
    import urllib3

    from kg.http import session

    name = _KINDS[kind].format(year=year)
    target = mesh_cache_dir(year) / name
    if target.exists() and not force:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    url = (mesh_url() or MESH_URL).rstrip("/") + "/" + name
    logger.info("downloading %s", url)
    part = Path(tempfile.mkstemp(dir=target.parent, prefix=name, suffix=".part")[1])
    try:
        with session().get(url, stream=True, timeout=(10, 300)) as response, part.open("wb") as output:
            response.raise_for_status()
            for chunk in response.iter_content(chunk_size=1 << 20):
                output.write(chunk)
    except (requests.RequestException, urllib3.exceptions.HTTPError) as error:
        part.unlink(missing_ok=True)
        raise OSError(f"cannot download {url}: {error}") from None
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    part.replace(target)
    return target
