"""Property-based tests: mutated REAL records never crash a build and never cost a good record;
MeSH ids survive padding; slugs are IRI-safe.

The mutations (drop a field, give it the wrong type, huge or non-ASCII text, markup, lone surrogates, bytes
that are not UTF-8) are applied to one of about thirty real records read from ``../shared/data``; the
others must come out exactly as they do without the mutation.
"""

from __future__ import annotations

import contextlib
import copy
import gzip
import importlib
import json
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pyoxigraph as ox
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from kg.ctgov import files as ctgov
from kg.ctgov import json_input
from kg.ctgov.mapping import nct_id_of
from kg.graphs import NODES_GRAPH, trial_graph
from kg.identifiers import normalize_mesh_id, slug
from kg.pipeline.build import BuildReport, build
from kg.store.oxigraph import OxigraphStore
from kg.vocab import DATA

SAMPLE_SIZE = 30
PROPERTY_SETTINGS = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)

Path_ = tuple[str | int, ...]


# --- building a sample and looking at the result ----------------------------------------------------------


def build_kept(paths: list[Path]) -> tuple[BuildReport, OxigraphStore]:
    """The whole of ``build()``, into an in-memory store kept afterwards (the swap is tested elsewhere)."""
    store = OxigraphStore()

    @contextlib.contextmanager
    def fresh_store(spec: str | None = None) -> Iterator[OxigraphStore]:
        yield store

    with mock.patch.object(importlib.import_module("kg.pipeline.build"), "fresh_store", fresh_store):
        report = build(list(paths), "oxigraph:")
    return report, store


def trial_graphs(store: OxigraphStore) -> dict[str, frozenset[ox.Quad]]:
    """NCT id → the quads of that trial's own named graph."""
    prefix = str(trial_graph("NCT00000000").value)[: -len("NCT00000000")]
    graphs: dict[str, set[ox.Quad]] = {}
    for quad in store.inner.quads_for_pattern(None, None, None, None):
        name = quad.graph_name
        if isinstance(name, ox.NamedNode) and name.value.startswith(prefix) and name != NODES_GRAPH:
            graphs.setdefault(name.value[len(prefix) :], set()).add(quad)
    return {nct_id: frozenset(quads) for nct_id, quads in graphs.items() if nct_id.startswith("NCT")}


def write(records: list[Any], folder: Path, shape: str, *, ascii_only: bool = True) -> Path:
    """Records as a JSON array or JSON Lines; ``ascii_only=False`` writes lone surrogates as raw bytes
    (not UTF-8), the way a broken exporter would."""

    def encode(value: Any) -> bytes:
        return json.dumps(value, ensure_ascii=ascii_only, allow_nan=False).encode("utf-8", "surrogatepass")

    path = folder / f"sample.{shape}"
    if shape == "json":
        path.write_bytes(b"[\n" + b",\n".join(map(encode, records)) + b"\n]")
    else:
        path.write_bytes(b"".join(encode(r) + b"\n" for r in records))
    return path


def position(shape: str, index: int) -> str:
    return f"record {index + 1}" if shape == "json" else f"line {index + 1}"


@pytest.fixture(scope="module")
def sample(real_studies: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """About thirty real records spread over the data set (every file, every data version)."""
    ids = sorted(real_studies)
    return [real_studies[nct_id] for nct_id in ids[:: len(ids) // SAMPLE_SIZE][:SAMPLE_SIZE]]


@pytest.fixture(scope="module")
def baseline(sample: list[dict[str, Any]]) -> dict[str, frozenset[ox.Quad]]:
    """Each sampled trial's graph when nothing is mutated."""
    with tempfile.TemporaryDirectory() as folder:
        report, store = build_kept([write(sample, Path(folder), "json")])
    assert report.problems == [] and report.trials == len(sample)
    return trial_graphs(store)


def paths_in(value: Any, here: Path_ = ()) -> Iterator[Path_]:
    """Every position in a JSON value, the value itself first."""
    yield here
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths_in(item, (*here, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths_in(item, (*here, index))


def get(value: Any, path: Path_) -> Any:
    for step in path:
        value = value[step]
    return value


# --- strategies -------------------------------------------------------------------------------------------

MARKUP = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "</script>",
    "<!--",
    "]]>",
    "' OR '1'='1",
    '" } ; DROP ALL ; INSERT DATA { <a> <b> "c',
    "\\",
    '"',
    "\n",
    "\x00",
    "\x1b[2J",
    "\u202e",
    "\u200f",
    "\ufeff",
    "\u2028",
    "💊",
    "👩🏽‍⚕️",
    "\ud800",
    "\udc00",
    "\udfff\ud800",
    "é",
    "中文",
    "NCT00000000",
    "D000000001",
    "2024-02-30",
    "RECRUITING\n",
]
any_text = st.text(st.characters(exclude_categories=()), max_size=40)  # every code point, lone surrogates too
hostile_text = st.one_of(
    any_text,
    st.sampled_from(MARKUP),
    st.lists(st.sampled_from(MARKUP) | any_text, min_size=2, max_size=6).map("".join),
    st.builds(lambda piece, times: piece * times, st.sampled_from([*MARKUP, "x", "é "]), st.integers(1_000, 20_000)),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    hostile_text,
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


@st.composite
def mutation(draw: st.DrawFn, record: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """One random mutation of a copy of ``record``: (what was done, the mutated record)."""
    record = copy.deepcopy(record)
    paths = list(paths_in(record))
    path = draw(st.sampled_from(paths))
    node = get(record, path)
    kinds = ["replace"] + (["drop"] if path else []) + (["add"] if isinstance(node, dict) else [])
    kinds += ["edit"] if isinstance(node, str) else []
    kind = draw(st.sampled_from(kinds))
    if kind == "replace":
        value = draw(json_values)
        if not path:
            return f"replace the record with {value!r:.60}", value
        get(record, path[:-1])[path[-1]] = value
    elif kind == "drop":
        del get(record, path[:-1])[path[-1]]
    elif kind == "add":
        node[draw(st.text(max_size=8))] = draw(json_values)
    else:
        text = draw(hostile_text)
        get(record, path[:-1])[path[-1]] = draw(st.sampled_from([text + node, node + text, text]))
    return f"{kind} {'.'.join(map(str, path)) or 'the record'}", record


# --- properties -------------------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(data=st.data(), shape=st.sampled_from(["json", "jsonl"]), ascii_only=st.booleans())
def test_a_mutated_record_never_crashes_the_build_nor_costs_a_good_one(
    sample: list[dict[str, Any]],
    baseline: dict[str, frozenset[ox.Quad]],
    data: st.DataObject,
    shape: str,
    ascii_only: bool,
) -> None:
    index = data.draw(st.integers(0, len(sample) - 1), label="mutated record")
    what, mutated = data.draw(mutation(sample[index]), label="mutation")
    original_id = nct_id_of(sample[index])
    new_id = nct_id_of(mutated)
    assume(new_id is None or new_id == original_id)  # a mutation that makes another real trial's id is a duplicate
    records = [*sample[:index], mutated, *sample[index + 1 :]]

    with tempfile.TemporaryDirectory() as folder:
        path = write(records, Path(folder), shape, ascii_only=ascii_only)
        report, store = build_kept([path])
        graphs = trial_graphs(store)

    good = {nct_id_of(r) for i, r in enumerate(sample) if i != index}
    assert good <= set(graphs), f"{what}: lost {good - set(graphs)}"
    for nct_id in good:  # unchanged, statement for statement
        assert graphs[nct_id] == baseline[nct_id], f"{what}: changed {nct_id}"
    named = [p for p in report.problems if p.startswith(f"{path} [{position(shape, index)}]")]
    assert (new_id in graphs) != bool(named), f"{what}: kept={new_id in graphs}, problems={report.problems}"
    event("mutated record kept" if new_id in graphs else "mutated record named as a problem")
    event(what.split(" ")[0])
    assert named == report.problems, f"{what}: other problems {report.problems}"
    assert set(graphs) <= good | {new_id}
    assert report.trials == len(graphs) == len(sample) - len(named)
    assert report.duplicates_dropped == 0


@PROPERTY_SETTINGS
@given(data=st.data())
def test_unknown_fields_never_change_a_trial(
    sample: list[dict[str, Any]], baseline: dict[str, frozenset[ox.Quad]], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(sample) - 1), label="record")
    record = copy.deepcopy(sample[index])
    objects = [path for path in paths_in(record) if isinstance(get(record, path), dict)]
    for path in data.draw(st.lists(st.sampled_from(objects), min_size=1, max_size=5), label="where"):
        name = "zzUnknown" + data.draw(st.text(max_size=8), label="name")
        get(record, path)[name] = data.draw(json_values, label="value")
    with tempfile.TemporaryDirectory() as folder:
        report, store = build_kept([write([record], Path(folder), "jsonl")])
    assert report.problems == []
    assert trial_graphs(store) == {nct_id_of(record): baseline[nct_id_of(record)]}


def _without_lone_surrogates(value: Any) -> Any:
    """What the reader makes of a parsed value: each lone UTF-16 surrogate is U+FFFD (keys too)."""
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, list):
        return [_without_lone_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {_without_lone_surrogates(k): _without_lone_surrogates(v) for k, v in value.items()}
    return value


def _has_surrogates(value: Any) -> bool:
    return any(0xD800 <= ord(c) <= 0xDFFF for c in json.dumps(value, ensure_ascii=False))


def hostile_records(*, long_text: bool) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Records of any shape: markup, every code point (lone surrogates too), integers beyond 64 bits,
    and with ``long_text`` runs of thousands of characters (escaped, that is long runs of escapes)."""
    texts = [
        any_text,
        st.sampled_from(MARKUP),
        st.lists(st.sampled_from(MARKUP) | any_text, min_size=2, max_size=6).map("".join),
    ]
    if long_text:
        texts.append(
            st.builds(
                lambda piece, times: piece * times, st.sampled_from([*MARKUP, "x", "é "]), st.integers(100, 3_000)
            )
        )
    leaves = st.one_of(
        st.none(),
        st.booleans(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.integers(min_value=-(2**90), max_value=2**90),
        *texts,
    )
    values = st.recursive(
        leaves, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3), max_leaves=8
    )
    keys = st.text(st.characters(exclude_categories=()), max_size=6)
    return st.lists(st.dictionaries(keys, values, max_size=5), min_size=1, max_size=8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(
    data=st.data(),
    shape=st.sampled_from(["array", "objects", "gzip"]),
    ascii_only=st.booleans(),
    chunk=st.sampled_from([1, 2, 3, 7, 16, 17, 100, 1000, 64 * 1024]),
    indent=st.sampled_from([None, 1]),
)
def test_the_reader_reads_what_the_standard_library_reads(
    data: st.DataObject, shape: str, ascii_only: bool, chunk: int, indent: int | None
) -> None:
    """Whatever the text (markup, lone surrogates, numbers beyond 64 bits) and wherever the file is cut into
    pieces, each record comes out as ``json.loads`` reads it, or, written as bytes that are not UTF-8, as a
    problem naming it; never costing another record."""
    records = data.draw(hostile_records(long_text=chunk >= 100), label="records")  # tiny pieces: short texts

    def encode(value: Any) -> bytes:
        return json.dumps(value, ensure_ascii=ascii_only, indent=indent).encode("utf-8", "surrogatepass")

    pieces = list(map(encode, records))
    content = b"\n".join(pieces) if shape == "objects" else b"[" + b",".join(pieces) + b"]"
    name = {"array": "r.json", "objects": "r.json", "gzip": "r.json.gz"}[shape]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(gzip.compress(content) if shape == "gzip" else content)
        with mock.patch.object(json_input, "CHUNK", chunk), mock.patch.object(ctgov, "CHUNK", chunk):
            items = list(ctgov.iter_records([path]))
    assert len(items) == len(records)
    for index, (item, record) in enumerate(zip(items, records, strict=True), start=1):
        if not ascii_only and _has_surrogates(record):
            assert isinstance(item, ctgov.SourceProblem) and item.position == f"record {index}", item
            assert "not UTF-8" in item.message
        else:
            assert isinstance(item, ctgov.SourceRecord), item
            assert item.position == f"record {index}"
            assert item.study == _without_lone_surrogates(json.loads(encode(record))), index


# --- identifiers ------------------------------------------------------------------------------------------

MESH_UI = re.compile(r"[DC]([0-9]{6}|[0-9]{9})")
#: what normalize_mesh_id may answer for any input: it also accepts numbers of more than 9 digits
MESH_LIKE = re.compile(r"[DC][0-9]{6,}")


@settings(max_examples=300, deadline=None)
@given(
    prefix=st.sampled_from("DC"),
    number=st.integers(1, 999_999_999),
    padding=st.integers(0, 12),
    space=st.sampled_from(["", " ", "\t", "\n"]),
)
def test_normalize_mesh_id_is_stable_under_padding(prefix: str, number: int, padding: int, space: str) -> None:
    canonical = normalize_mesh_id(f"{prefix}{number}")
    assert MESH_UI.fullmatch(canonical) and int(canonical[1:]) == number
    assert normalize_mesh_id(canonical) == canonical
    assert normalize_mesh_id(f"{space}{prefix}{'0' * padding}{number}{space}") == canonical
    assert normalize_mesh_id(f"{prefix}{number:09d}") == canonical


@settings(max_examples=300, deadline=None)
@given(any_text)
def test_normalize_mesh_id_answers_an_id_or_value_error(text: str) -> None:
    try:
        result = normalize_mesh_id(text)
    except ValueError:
        return
    assert MESH_LIKE.fullmatch(result)
    assert normalize_mesh_id(result) == result


def test_real_mesh_ids_round_trip(real_studies: dict[str, dict[str, Any]]) -> None:
    ids = {
        item["id"]
        for study in real_studies.values()
        for module in study.get("derivedSection", {}).values()
        if isinstance(module, dict)
        for key in ("meshes", "ancestors")
        for item in module.get(key, [])
    }
    assert len(ids) > 1_000 and any(len(i) == 10 for i in ids) and any(len(i) == 7 for i in ids)
    for raw in ids:
        canonical = normalize_mesh_id(raw)
        assert MESH_UI.fullmatch(canonical)
        assert normalize_mesh_id(canonical) == canonical
        assert normalize_mesh_id(f"{raw[0]}{int(raw[1:]):09d}") == canonical  # the registry's padded spelling
    assert normalize_mesh_id("D000008175") == "D008175" and normalize_mesh_id("D000086382") == "D000086382"


TEXT_MARKUP = [m for m in MARKUP if not any(0xD800 <= ord(c) <= 0xDFFF for c in m)]
IRI_SAFE = re.compile(r"(?:[A-Za-z0-9_.~-]|%[0-9A-F]{2})*")
text_without_surrogates = st.text(st.characters(codec="utf-8"), max_size=300)


@settings(max_examples=300, deadline=None)
@given(text=text_without_surrogates | st.sampled_from(TEXT_MARKUP) | st.text(" \t\n\u00a0\u3000aA.~-%/#?", max_size=20))
def test_slug_is_iri_safe_for_any_text(text: str) -> None:
    key = slug(text)
    assert IRI_SAFE.fullmatch(key), key
    assert len(key) <= 120 * 12 + 17  # 120 characters of up to 4 UTF-8 bytes each, '~' and a 16-digit hash
    node = DATA[f"condition/{key}"]  # pyoxigraph rejects an invalid IRI
    assert node.value.endswith("/condition/" + key)
    assert slug(f" \t{text}\n ") == key  # surrounding space does not matter


@settings(max_examples=100, deadline=None)
@given(
    words=st.lists(
        st.text(st.characters(exclude_categories=("Zs", "Zl", "Zp", "Cc", "Cs")), min_size=1, max_size=10),
        min_size=1,
        max_size=5,
    )
)
def test_slug_ignores_how_words_are_spaced(words: list[str]) -> None:
    assert slug(" ".join(words)) == slug("  \t".join(words)) == slug("\n" + "   ".join(words) + " ")


@pytest.mark.parametrize("text", ["\ud800", "a\udc00b", "\udfff\ud800"])
def test_slug_is_iri_safe_even_for_lone_surrogates(text: str) -> None:
    assert IRI_SAFE.fullmatch(slug(text))
