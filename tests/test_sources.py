"""Reading study records in every shape users hold them, streamed, and de-duplicating them by NCT id.

Synthetic records here carry NCT99… ids and a top-level ``synthetic`` key; real records are read from
``../shared/data`` at test time (see conftest.py) and the tests that need them skip when it is absent.
"""

from __future__ import annotations

import gzip
import itertools
import json
import tracemalloc
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kg.ctgov.files import SourceProblem, SourceRecord, iter_records
from kg.pipeline.build import BuildReport, build
from kg.store import open_store
from tests.conftest import CTGOV_DATA, latest_by_nct, needs_real_data, raw_studies

SYNTHETIC = {"generator": "tests", "why": "a minimal record to test reading and de-duplication"}


def study(
    n: int,
    *,
    title: str | None = None,
    updated: str | None = "2024-01-15",
    condition: str | None = None,
    padding: int = 0,
) -> dict[str, Any]:
    """A small synthetic API v2 record (NCT99…); ``padding`` adds that many characters of summary text."""
    status: dict[str, Any] = {"overallStatus": "COMPLETED"}
    if updated is not None:
        status["lastUpdatePostDateStruct"] = {"date": updated, "type": "ACTUAL"}
    record: dict[str, Any] = {
        "synthetic": SYNTHETIC,
        "protocolSection": {
            "identificationModule": {"nctId": nct(n), "briefTitle": title or f"Synthetic trial {n}"},
            "statusModule": status,
            "conditionsModule": {"conditions": [condition or f"Synthetic condition {n % 7}"]},
        },
        "hasResults": False,
    }
    if padding:
        record["protocolSection"]["descriptionModule"] = {"briefSummary": "x" * padding}
    return record


def nct(n: int) -> str:
    return f"NCT99{n:06d}"


def ids_of(items: list[SourceRecord | SourceProblem]) -> list[str]:
    return [
        item.study["protocolSection"]["identificationModule"]["nctId"]
        for item in items
        if isinstance(item, SourceRecord)
    ]


def problems_of(items: list[SourceRecord | SourceProblem]) -> list[SourceProblem]:
    return [item for item in items if isinstance(item, SourceProblem)]


def dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def jsonl(studies: list[dict[str, Any]]) -> bytes:
    return b"".join(dumps(s) + b"\n" for s in studies)


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def trial_titles(spec: str) -> dict[str, str]:
    """NCT id → title of every trial in a built store."""
    query = (
        "SELECT ?id ?title WHERE { ?t a <https://schema.org/MedicalTrial> ; "
        "<http://purl.org/dc/terms/identifier> ?id . OPTIONAL { ?t <https://schema.org/name> ?title } }"
    )
    with open_store(spec, read_only=True) as store:
        return {str(row["id"]): str(row["title"]) for row in store.select(query).rows}


# --- every shape ------------------------------------------------------------------------------------------

STUDIES = [study(n) for n in range(1, 8)]
IDS = [nct(n) for n in range(1, 8)]


def _objects(tmp: Path) -> list[Path]:
    paths = []
    for s in STUDIES:
        path = tmp / f"{s['protocolSection']['identificationModule']['nctId']}.json"
        path.write_bytes(dumps(s))
        paths.append(path)
    return paths


def _array(tmp: Path) -> list[Path]:
    (tmp / "download.json").write_bytes(json.dumps(STUDIES, indent=2).encode())
    return [tmp / "download.json"]


def _pages(tmp: Path) -> list[Path]:
    (tmp / "page-1.json").write_bytes(dumps({"studies": STUDIES[:4], "nextPageToken": "NF0g5JGBlvYs"}))
    (tmp / "page-2.json").write_bytes(dumps({"studies": STUDIES[4:]}))
    return [tmp / "page-1.json", tmp / "page-2.json"]


def _lines(suffix: str) -> Callable[[Path], list[Path]]:
    def write(tmp: Path) -> list[Path]:
        (tmp / f"studies{suffix}").write_bytes(jsonl(STUDIES[:3]) + b"\n   \n" + jsonl(STUDIES[3:]))
        return [tmp / f"studies{suffix}"]

    return write


def _concatenated(tmp: Path) -> list[Path]:
    """JSON Lines saved with a .json suffix: several objects one after another."""
    (tmp / "studies.json").write_bytes(jsonl(STUDIES))
    return [tmp / "studies.json"]


def _bulk_zip(tmp: Path) -> list[Path]:
    members = {f"{nct(n)}.json": dumps(study(n)) for n in range(1, 8)}
    return [write_zip(tmp / "ctg-studies.json.zip", members)]


def _gzip(name: str, content: Callable[[], bytes]) -> Callable[[Path], list[Path]]:
    def write(tmp: Path) -> list[Path]:
        (tmp / name).write_bytes(gzip.compress(content()))
        return [tmp / name]

    return write


def _directory(tmp: Path) -> list[Path]:
    root = tmp / "downloads"
    (root / "nested" / "deeper").mkdir(parents=True)
    (root / "a-object.json").write_bytes(dumps(STUDIES[0]))
    (root / "b-array.json").write_bytes(dumps(STUDIES[1:3]))
    (root / "nested" / "c-lines.jsonl").write_bytes(jsonl(STUDIES[3:4]))
    (root / "nested" / "deeper" / "d-page.json.gz").write_bytes(gzip.compress(dumps({"studies": STUDIES[4:5]})))
    write_zip(root / "nested" / "e-bulk.zip", {f"{nct(n)}.json": dumps(study(n)) for n in (6, 7)})
    (root / "README.txt").write_text("not a study file: ignored")
    (root / "notes.md").write_text("# ignored too")
    return [root]


SHAPES = {
    "one study object per file": _objects,
    "JSON array": _array,
    "API pages": _pages,
    "JSON Lines": _lines(".jsonl"),
    "NDJSON": _lines(".ndjson"),
    "concatenated objects": _concatenated,
    "bulk zip": _bulk_zip,
    "gzip'd array": _gzip("download.json.gz", lambda: dumps(STUDIES)),
    "gzip'd JSON Lines": _gzip("studies.jsonl.gz", lambda: jsonl(STUDIES)),
    "gzip'd API page": _gzip("page.json.gz", lambda: dumps({"studies": STUDIES, "nextPageToken": None})),
    "directory of all of these": _directory,
}


@pytest.mark.parametrize("writer", SHAPES.values(), ids=SHAPES.keys())
def test_every_shape_yields_every_record_in_order(tmp_path: Path, writer: Callable[[Path], list[Path]]) -> None:
    items = list(iter_records(writer(tmp_path)))
    assert problems_of(items) == []
    assert ids_of(items) == IDS
    assert all(item.study == s for item, s in zip(items, STUDIES, strict=True))  # type: ignore[union-attr]


@pytest.mark.parametrize("writer", SHAPES.values(), ids=SHAPES.keys())
def test_every_record_names_its_file_and_a_unique_position(
    tmp_path: Path, writer: Callable[[Path], list[Path]]
) -> None:
    items = [item for item in iter_records(writer(tmp_path)) if isinstance(item, SourceRecord)]
    assert len({item.where for item in items}) == len(items)
    for item in items:
        file = Path(item.source.split(".zip:")[0] + ".zip") if ".zip:" in item.source else Path(item.source)
        assert file.is_file() and file.is_relative_to(tmp_path)
        assert item.position.startswith(("record ", "line "))
        assert item.where == f"{item.source} [{item.position}]"


def test_bulk_zip_names_the_member(tmp_path: Path) -> None:
    zipped = _bulk_zip(tmp_path)[0]
    items = list(iter_records([zipped]))
    assert [item.source for item in items] == [f"{zipped}:{nct(n)}.json" for n in range(1, 8)]


def test_zip_skips_folders_and_other_members(tmp_path: Path) -> None:
    zipped = write_zip(
        tmp_path / "bulk.zip",
        {
            "ctg-studies/": b"",
            f"ctg-studies/{nct(1)}.json": dumps(study(1)),
            "ctg-studies/LICENSE.txt": b"public domain",
            f"ctg-studies/{nct(2)}.json": dumps(study(2)),
        },
    )
    items = list(iter_records([zipped]))
    assert ids_of(items) == [nct(1), nct(2)] and problems_of(items) == []


def test_jsonl_positions_are_line_numbers(tmp_path: Path) -> None:
    path = _lines(".jsonl")(tmp_path)[0]
    items = list(iter_records([path]))
    # three records, one blank and one whitespace-only line (skipped), then four more
    assert [item.position for item in items] == ["line 1", "line 2", "line 3", "line 6", "line 7", "line 8", "line 9"]


def test_a_byte_order_mark_is_not_a_problem(tmp_path: Path) -> None:
    (tmp_path / "bom.json").write_bytes(b"\xef\xbb\xbf" + dumps(STUDIES[:2]))
    (tmp_path / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + jsonl(STUDIES[2:4]))
    items = list(iter_records([tmp_path / "bom.json", tmp_path / "bom.jsonl"]))
    assert problems_of(items) == []
    assert ids_of(items) == IDS[:4]


@pytest.mark.parametrize("blank", [b"", b"\n", b" \t\r\n" * 50_000], ids=["none", "a newline", "300 kB"])
def test_leading_white_space_is_not_a_problem(tmp_path: Path, blank: bytes) -> None:
    (tmp_path / "array.json").write_bytes(blank + dumps(STUDIES[:2]))
    (tmp_path / "object.json").write_bytes(blank + dumps(STUDIES[2]) + blank)
    items = list(iter_records([tmp_path / "array.json", tmp_path / "object.json"]))
    assert problems_of(items) == [] and ids_of(items) == IDS[:3]


def test_directory_order_is_stable_and_ignores_other_files(tmp_path: Path) -> None:
    root = _directory(tmp_path)[0]
    first = [item.where for item in iter_records([root])]
    assert first == [item.where for item in iter_records([root])]
    assert not any(where.endswith((".txt", ".md")) for where in first)


# --- real data --------------------------------------------------------------------------------------------


@needs_real_data
def test_real_downloads_read_exactly_what_the_standard_library_reads() -> None:
    items = list(iter_records([CTGOV_DATA]))
    assert problems_of(items) == []
    expected = Counter(s["protocolSection"]["identificationModule"]["nctId"] for s in raw_studies())
    assert Counter(ids_of(items)) == expected


@needs_real_data
def test_real_bulk_zip_yields_one_record_per_member() -> None:
    zipped = next(CTGOV_DATA.glob("*.zip"))
    with zipfile.ZipFile(zipped) as archive:
        members = sorted(name for name in archive.namelist() if name.endswith(".json"))
    items = list(iter_records([zipped]))
    assert len(items) == len(members) == 635
    for item in items:
        assert isinstance(item, SourceRecord)
        member = item.source.rpartition(":")[2]
        assert member == f"{item.study['protocolSection']['identificationModule']['nctId']}.json"


@needs_real_data
def test_real_records_read_the_same_gzipped_and_as_json_lines(tmp_path: Path) -> None:
    source = CTGOV_DATA / "mixed-2024-11.json"
    studies = json.loads(source.read_text(encoding="utf-8"))
    (tmp_path / "mixed.json.gz").write_bytes(gzip.compress(source.read_bytes()))
    (tmp_path / "mixed.jsonl.gz").write_bytes(gzip.compress(jsonl(studies)))
    for path in (tmp_path / "mixed.json.gz", tmp_path / "mixed.jsonl.gz"):
        items = list(iter_records([path]))
        assert [item.study for item in items] == studies  # type: ignore[union-attr]


# --- duplicates -------------------------------------------------------------------------------------------

VERSIONS = [("2023-03-01", "Middle version"), ("2025-06-30", "Latest version"), ("2021-11-11", "Oldest version")]


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))), ids=lambda o: "-".join(map(str, o)))
def test_duplicates_keep_the_latest_last_update_and_count_the_rest(tmp_path: Path, order: tuple[int, ...]) -> None:
    versions = [VERSIONS[i] for i in order]
    dupes = [study(1, updated=date, title=title, condition=title + " condition") for date, title in versions]
    (tmp_path / "a.json").write_bytes(dumps([study(2), dupes[0], study(3)]))
    (tmp_path / "b.jsonl").write_bytes(jsonl([dupes[1], study(4)]))
    write_zip(tmp_path / "c.zip", {f"{nct(1)}.json": dumps(dupes[2])})
    spec = f"oxigraph:{tmp_path / 'store'}"
    report = build([tmp_path / "a.json", tmp_path / "b.jsonl", tmp_path / "c.zip"], spec)
    assert (report.records, report.trials, report.duplicates_dropped, report.problems) == (6, 4, 2, [])
    assert trial_titles(spec) == {
        nct(1): "Latest version",
        nct(2): "Synthetic trial 2",
        nct(3): "Synthetic trial 3",
        nct(4): "Synthetic trial 4",
    }
    # the dropped versions leave nothing behind in the kept trial's own statements
    with open_store(spec, read_only=True) as store:
        rows = store.select(
            f"SELECT ?label WHERE {{ GRAPH <https://w3id.org/trialkg/id/graph/{nct(1)}> {{ "
            "?t <https://w3id.org/trialkg/vocab/condition> ?c } ?c "
            "<http://www.w3.org/2000/01/rdf-schema#label> ?label }"
        ).rows
    assert [row["label"] for row in rows] == ["Latest version condition"]


@pytest.mark.parametrize(
    ("dates", "kept"),
    [
        (("2024-01-01", "2024-01-01"), "first"),
        ((None, "2020-01-01"), "second"),
        (("2020-01-01", None), "first"),
        ((None, None), "first"),
    ],
    ids=["tie keeps the first", "a date beats none", "none never beats a date", "neither dated"],
)
def test_duplicate_ties_and_missing_dates(tmp_path: Path, dates: tuple[str | None, str | None], kept: str) -> None:
    (tmp_path / "dupes.json").write_bytes(
        dumps([study(1, updated=dates[0], title="first"), study(1, updated=dates[1], title="second")])
    )
    spec = f"oxigraph:{tmp_path / 'store'}"
    report = build([tmp_path / "dupes.json"], spec)
    assert (report.trials, report.duplicates_dropped) == (1, 1)
    assert trial_titles(spec) == {nct(1): kept}


def test_a_dropped_duplicate_leaves_no_orphan_nodes(tmp_path: Path) -> None:
    (tmp_path / "dupes.json").write_bytes(
        dumps([study(1, updated="2020-01-01", condition="Old only"), study(1, updated="2024-01-01", condition="New")])
    )
    spec = f"oxigraph:{tmp_path / 'store'}"
    assert build([tmp_path / "dupes.json"], spec).duplicates_dropped == 1
    with open_store(spec, read_only=True) as store:
        labels = store.select(
            "SELECT ?label WHERE { ?c a <https://w3id.org/trialkg/vocab/Condition> ; "
            "<http://www.w3.org/2000/01/rdf-schema#label> ?label }"
        ).column("label")
    assert labels == ["New"]


@needs_real_data
def test_real_duplicates_are_dropped_and_counted(tmp_path: Path) -> None:
    source = CTGOV_DATA / "mixed-2023-06.json"
    studies = json.loads(source.read_text(encoding="utf-8"))
    expected = latest_by_nct(studies)
    spec = f"oxigraph:{tmp_path / 'store'}"
    report = build([source], spec)
    assert report.problems == []
    assert (report.records, report.trials, report.duplicates_dropped) == (61, 51, 10)
    titles = trial_titles(spec)
    assert set(titles) == set(expected)
    assert all(titles[k] == v["protocolSection"]["identificationModule"]["briefTitle"] for k, v in expected.items())


@needs_real_data
def test_real_build_counts_every_duplicate(
    real_build: tuple[str, BuildReport], real_studies: dict[str, dict[str, Any]]
) -> None:
    _, report = real_build
    assert report.problems == []
    assert report.records == len(raw_studies())
    assert report.trials == len(real_studies)
    assert report.duplicates_dropped == report.records - report.trials > 0


# --- streaming --------------------------------------------------------------------------------------------


def _write_array(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("[\n")
        for i in range(n):
            out.write(("," if i else "") + json.dumps(study(i, padding=800)) + "\n")
        out.write("]\n")


def _write_lines(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            out.write(json.dumps(study(i, padding=800)) + "\n")


def _write_gzip_array(path: Path, n: int) -> None:
    plain = path.with_suffix("")
    _write_array(plain, n)
    path.write_bytes(gzip.compress(plain.read_bytes(), compresslevel=1))
    plain.unlink()


def _peak_while_reading(path: Path) -> tuple[int, int]:
    """(records read, peak traced bytes) while iterating, never holding more than one record."""
    count = 0
    tracemalloc.start()
    try:
        for item in iter_records([path]):
            assert isinstance(item, SourceRecord), item
            count += 1
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    ("name", "writer"),
    [
        ("studies.json", _write_array),
        ("studies.jsonl", _write_lines),
        ("studies.json.gz", _write_gzip_array),
    ],
    ids=["JSON array", "JSON Lines", "gzip'd JSON array"],
)
def test_memory_does_not_grow_with_the_number_of_records(
    tmp_path: Path, name: str, writer: Callable[[Path, int], None]
) -> None:
    small, large = tmp_path / "small", tmp_path / "large"
    small.mkdir()
    large.mkdir()
    writer(small / name, 2_000)
    writer(large / name, 20_000)
    n_small, peak_small = _peak_while_reading(small / name)
    n_large, peak_large = _peak_while_reading(large / name)
    assert (n_small, n_large) == (2_000, 20_000)
    assert peak_large < 3 * peak_small, (peak_small, peak_large)
    # and far below what holding the records would take (20,000 records of about 1 kB each)
    assert peak_large < 2_000_000, peak_large
