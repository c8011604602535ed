"""The server's two small HTML pages (the trial index and the SPARQL form), rendered by the pages' one Jinja
environment, which autoescapes: every title comes from a record anyone can register, so none is inserted unescaped."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from kg.views.jinja import environment

__all__ = ["index_page", "sparql_form"]

_STYLE: Final = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #222 }
input[type=text], textarea { font: inherit; padding: .3rem; width: 100% ; box-sizing: border-box }
textarea { font-family: ui-monospace, monospace; height: 14rem }
table { border-collapse: collapse; width: 100% } td { padding: .2rem .5rem; border-bottom: 1px solid #ddd }
.muted { color: #666 } code { background: #f3f3f3; padding: 0 .2rem }
"""

_INDEX: Final = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>kg: trials</title><style>{{ style }}</style></head>
<body>
<h1>Related clinical trials</h1>
<form action="/" method="get" role="search">
  <input type="text" name="q" value="{{ query }}" maxlength="{{ max_chars }}" placeholder="NCT id or words of a title"
         autofocus>
</form>
<p class="muted">{{ total }} trials in the store; {{ shown }} shown{% if query %} matching “{{ query }}”{% endif %}.
Open one to explore it, or query the graph at <a href="/sparql">/sparql</a>.</p>
<table>
{% for nct, title in trials %}<tr><td><a href="/trial/{{ nct | urlencode }}">{{ nct }}</a></td><td>{{ title }}</td></tr>
{% endfor %}
</table>
</body></html>
"""

_SPARQL: Final = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>kg: SPARQL endpoint</title><style>{{ style }}</style></head>
<body>
<h1>SPARQL endpoint</h1>
<p>SPARQL 1.1 Protocol, read-only: <code>GET {{ path }}?query=…</code>, or <code>POST</code> a form or an
<code>application/sparql-query</code> body. Results as SPARQL JSON, XML, CSV or TSV (<code>Accept</code> header
or <code>format=json|xml|csv|tsv</code>); CONSTRUCT and DESCRIBE as Turtle, N-Triples, RDF/XML or JSON-LD. The default
graph is the union of all graphs. Limits: {{ timeout }} s and {{ max_rows }} rows per query. Updates, LOAD and SERVICE
are refused.</p>
<form action="{{ path }}" method="post">
<textarea name="query">PREFIX schema: &lt;https://schema.org/&gt;
PREFIX dcterms: &lt;http://purl.org/dc/terms/&gt;
SELECT ?nct ?title WHERE {
  ?trial a schema:MedicalTrial ; dcterms:identifier ?nct ; schema:name ?title .
} ORDER BY ?nct LIMIT 10</textarea>
<p><label>Format <select name="format">
{% for name in formats %}<option>{{ name }}</option>{% endfor %}
</select></label> <button type="submit">Run</button></p>
</form>
</body></html>
"""


def index_page(trials: Sequence[tuple[str, str]], *, total: int, query: str, max_chars: int) -> str:
    """The entry page: a search box (that takes at most ``max_chars``, as the server does) and a list of
    (NCT id, title) links to the explorer."""
    template = environment().from_string(_INDEX)
    return template.render(
        style=_STYLE, trials=trials, total=f"{total:,}", shown=len(trials), query=query, max_chars=max_chars
    )


def sparql_form(path: str, timeout: float, max_rows: int) -> str:
    """What a browser sees at the endpoint without a query: how to use it, and a form to try one."""
    template = environment().from_string(_SPARQL)
    formats = ["json", "xml", "csv", "tsv"]
    return template.render(style=_STYLE, path=path, timeout=f"{timeout:g}", max_rows=f"{max_rows:,}", formats=formats)
