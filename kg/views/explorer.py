"""The relationship explorer: one self-contained HTML page (vis-network inlined, data embedded as JSON) that works
from ``file://`` offline, and the JSON its Expand button reads.

Record text is hostile (anyone can register a trial): the page's template autoescapes, the data sits in a
``type="application/json"`` script with ``<``, ``>`` and ``&`` escaped, and the page's script shows every string with
``textContent``, never as markup.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Final

from markupsafe import Markup

from kg.atomic import write_atomic
from kg.store import Store
from kg.views.collector import COLLECTOR_PAUSED
from kg.views.explorer_data import GROUPS, expand, explorer_data
from kg.views.jinja import environment

__all__ = [
    "GROUP_STYLES",
    "expand",
    "explorer_data",
    "render_explorer",
    "render_page",
    "script_json",
    "write_explorer",
]

logger = logging.getLogger(__name__)

#: vis-network as pyvis ships it (MIT/Apache-2.0), inlined so the page needs no network.
VIS_NETWORK: Final = ("pyvis", "templates/lib/vis-9.1.2/vis-network.min.js")
#: Colour and vis-network shape per node group (the legend is drawn from the same table).
GROUP_STYLES: Final = {
    "trial": {"color": "#2f6db5", "shape": "dot"},
    "condition": {"color": "#f2a65a", "shape": "box"},
    "intervention": {"color": "#8cc084", "shape": "box"},
    "disease": {"color": "#c8413a", "shape": "diamond"},
    "drug": {"color": "#7b4fa0", "shape": "triangle"},
    "concept": {"color": "#8a8a8a", "shape": "hexagon"},
}
CENTRE_STYLE: Final = {"color": "#f0b400", "shape": "star"}
_ESCAPES: Final = (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"))


def script_json(value: Any) -> Markup:
    """JSON that is safe inside a ``<script>`` element: no ``<``, ``>``, ``&`` or non-ASCII character (so neither
    ``</script>``, ``<!--`` nor U+2028/U+2029) can appear in it; each stays a JSON ``\\u`` escape."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    for raw, escaped in _ESCAPES:
        text = text.replace(raw, escaped)
    return Markup(text)  # escaped above; a script element's content is not HTML


@cache
def _asset(package: str, path: str) -> str:
    return resources.files(package).joinpath(path).read_text(encoding="utf-8")


def _script(package: str, path: str) -> Markup:
    """A bundled script's text for an inline ``<script>``; refuses one that could close the element early."""
    text = _asset(package, path)
    if "</script" in text.lower() or "<!--" in text:
        raise ValueError(f"{package}/{path} cannot be inlined: it contains </script or <!--")
    return Markup(text)  # our own or pyvis's bundled code, checked above


def _csp_hash(script: str) -> str:
    """A Content-Security-Policy source that allows exactly this inline script (and no injected one)."""
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    return f"'sha256-{digest}'"


def render_page(data: dict[str, Any], *, api_base: str | None = None) -> str:
    """The explorer page for data from :func:`explorer_data` (``api_base``: where ``kg serve`` answers
    ``/expand/{id}``; without it the page expands only from its embedded data)."""
    centre = data["nodes"][0]
    config = {
        "api_base": api_base.rstrip("/") if api_base else None,
        "top": data.get("top", 10),
        "depth": data.get("depth", 0),
        "styles": GROUP_STYLES,
        "centre_style": CENTRE_STYLE,
        "groups": dict(GROUPS),
    }
    vis_js = _script(*VIS_NETWORK)
    explorer_js = _script("kg.views", "static/explorer.js")
    return (
        environment()
        .get_template("explorer.html.j2")
        .render(
            centre_id=data["centre"],
            centre_name=centre.get("name") or data["centre"],
            legend=[(group, text, GROUP_STYLES[group]) for group, text in GROUPS],
            centre_style=CENTRE_STYLE,
            data_json=script_json(data),
            config_json=script_json(config),
            css=Markup(_asset("kg.views", "static/explorer.css")),  # our own stylesheet
            script_sources=" ".join(_csp_hash(script) for script in (vis_js, explorer_js)),
            vis_js=vis_js,
            explorer_js=explorer_js,
        )
    )


def render_explorer(store: Store, nct_id: str, *, depth: int = 2, top: int = 10, api_base: str | None = None) -> str:
    """The whole self-contained explorer page for a trial (see :func:`explorer_data` for what it embeds). The
    collector stays paused until the page's data is let go, so that it never walks them."""
    with COLLECTOR_PAUSED:
        return render_page(explorer_data(store, nct_id, depth=depth, top=top), api_base=api_base)


def write_explorer(store: Store, nct_id: str, path: Path, *, depth: int = 2, top: int = 10) -> Path:
    """Write the explorer page of a trial whole to ``path`` (its folder created if needed) and return ``path``."""
    return write_atomic(path, render_explorer(store, nct_id, depth=depth, top=top), parents=True)
