"""Bad input: every problem is named with its file and record, that record is skipped, the rest is built.

Each case builds a file of good records beside the bad input and checks (1) a problem names the bad file and
the record (position or NCT id), (2) every good record — in the good file and in the bad file — is in the
store, (3) nothing else is. ``--strict`` turns any problem into a non-zero exit; a failing, strict or
interrupted build leaves the previous store as it was; the CLI never shows a traceback for a user's mistake.
"""

from __future__ import annotations

import contextlib
import copy
import gzip
import importlib
import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest

from kg.analysis.indexes import SAVED_INDEXES
from kg.pipeline.build import BuildFailed, BuildReport, build
from kg.store import StoreError, open_store
from kg.store.oxigraph import OxigraphStore

HOSTILE = Path(__file__).parent / "fixtures" / "hostile"
SYNTHETIC = {"generator": "tests", "why": "a valid record beside bad input: it must survive the build"}
GOOD_IDS = {"NCT99000001", "NCT99000002", "NCT99000003"}


def nct(n: int) -> str:
    return f"NCT99{n:06d}"


def study(n: int, **title: str) -> dict[str, Any]:
    """A complete enough synthetic record: one site, one intervention, one MeSH term, dates."""
    return {
        "synthetic": SYNTHETIC,
        "protocolSection": {
            "identificationModule": {"nctId": nct(n), "briefTitle": title.get("title", f"Synthetic trial {n}")},
            "statusModule": {
                "overallStatus": "RECRUITING",
                "startDateStruct": {"date": "2024-03", "type": "ACTUAL"},
                "lastUpdatePostDateStruct": {"date": "2025-01-15", "type": "ACTUAL"},
            },
            "sponsorCollaboratorsModule": {"leadSponsor": {"name": "Synthetic Sponsor", "class": "OTHER"}},
            "conditionsModule": {"conditions": ["Synthetic condition"]},
            "designModule": {
                "studyType": "INTERVENTIONAL",
                "phases": ["PHASE2"],
                "enrollmentInfo": {"count": 40, "type": "ESTIMATED"},
            },
            "armsInterventionsModule": {"interventions": [{"type": "DRUG", "name": "Placebo"}]},
            "eligibilityModule": {"healthyVolunteers": False, "sex": "ALL"},
            "contactsLocationsModule": {
                "locations": [
                    {
                        "facility": "Synthetic Hospital",
                        "city": "Lyon",
                        "country": "France",
                        "geoPoint": {"lat": 45.7, "lon": 4.8},
                    }
                ]
            },
        },
        "derivedSection": {"conditionBrowseModule": {"meshes": [{"id": "D000001", "term": "Calcimycin"}]}},
        "hasResults": False,
    }


def dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def jsonl(studies: list[Any]) -> bytes:
    return b"".join(dumps(s) + b"\n" for s in studies)


def good_file(tmp_path: Path) -> Path:
    path = tmp_path / "good.json"
    path.write_bytes(dumps([study(1), study(2), study(3)]))
    return path


def trial_ids(spec: str) -> set[str]:
    query = "SELECT ?id WHERE { ?t a <https://schema.org/MedicalTrial> ; <http://purl.org/dc/terms/identifier> ?id }"
    with open_store(spec, read_only=True) as store:
        return {str(row["id"]) for row in store.select(query).rows}


def build_beside_good(tmp_path: Path, *bad: Path) -> tuple[BuildReport, set[str]]:
    """Build the good file and the bad input into an on-disk store; the report and the trials it holds."""
    spec = f"oxigraph:{tmp_path / 'store'}"
    report = build([good_file(tmp_path), *bad], spec)
    return report, trial_ids(spec)


@pytest.fixture
def build_in_memory(monkeypatch: pytest.MonkeyPatch) -> Callable[..., tuple[BuildReport, set[str]]]:
    """The whole of ``build()`` into an in-memory store that outlives it (an on-disk build costs about
    half a second of Oxigraph bulk loading; the store swap itself is tested below on disk)."""

    def run(*paths: Path, strict: bool = False) -> tuple[BuildReport, set[str]]:
        store = OxigraphStore()

        @contextlib.contextmanager
        def fresh_store(spec: str | None = None) -> Iterator[OxigraphStore]:
            yield store

        monkeypatch.setattr(importlib.import_module("kg.pipeline.build"), "fresh_store", fresh_store)
        report = build(list(paths), "oxigraph:", strict=strict)
        rows = store.select(
            "SELECT ?id WHERE { ?t a <https://schema.org/MedicalTrial> ; <http://purl.org/dc/terms/identifier> ?id }"
        ).rows
        return report, {str(row["id"]) for row in rows}

    return run


def problems_naming(report: BuildReport, *parts: str) -> list[str]:
    return [problem for problem in report.problems if all(part in problem for part in parts)]


def with_field(record: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``record`` with the dotted ``path`` (``a.b[0].c``) set to ``value`` (created as needed)."""
    record = copy.deepcopy(record)
    *parents, last = path.replace("[", ".[").split(".")
    node: Any = record
    for part in parents:
        node = node[int(part[1:-1])] if part.startswith("[") else node.setdefault(part, {})
    if last.startswith("["):
        node[int(last[1:-1])] = value
    else:
        node[last] = value
    return record


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


# --- one bad file beside a good one: the shared shape of most cases --------------------------------------


@dataclass(frozen=True)
class Bad:
    """Bad input written by ``write`` (returns the path given to the build), the problem's expected
    ``where`` (file, relative to tmp_path, and record marker) and words, and the records of the bad input
    that must be kept."""

    write: Callable[[Path], Path]
    where: str
    words: tuple[str, ...]
    kept: frozenset[str] = frozenset()


def _file(name: str, content: bytes) -> Callable[[Path], Path]:
    def write(tmp: Path) -> Path:
        (tmp / name).write_bytes(content)
        return tmp / name

    return write


def _truncated_array(tmp: Path) -> Path:
    text = dumps([study(4), study(5), study(6), study(7)])
    cut = text.index(nct(6).encode()) + 40
    (tmp / "truncated.json").write_bytes(text[:cut])
    return tmp / "truncated.json"


def _truncated_zip(tmp: Path) -> Path:
    data = write_zip(tmp / "full.zip", {f"{nct(n)}.json": dumps(study(n)) for n in (4, 5, 6)}).read_bytes()
    (tmp / "full.zip").unlink()
    (tmp / "truncated.zip").write_bytes(data[: len(data) * 2 // 3])
    return tmp / "truncated.zip"


def _corrupt_zip_member(tmp: Path) -> Path:
    path = write_zip(tmp / "bulk.zip", {f"{nct(n)}.json": dumps(study(n)) for n in (4, 5, 6)})
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo(f"{nct(5)}.json")
    start = info.header_offset + 30 + len(info.filename)  # the local header is 30 bytes plus the name
    data[start : start + info.compress_size] = b"\xff" * info.compress_size
    path.write_bytes(bytes(data))
    return path


def _truncated_gzip(tmp: Path) -> Path:
    data = gzip.compress(dumps([study(n) for n in range(4, 200)]))
    (tmp / "truncated.json.gz").write_bytes(data[: len(data) // 2])
    return tmp / "truncated.json.gz"


def _dangling_link(tmp: Path) -> Path:
    folder = tmp / "folder"
    folder.mkdir()
    (folder / "a.json").write_bytes(dumps(study(4)))
    (folder / "gone.json").symlink_to(tmp / "deleted.json")
    return folder


def _empty_folder_named_json(tmp: Path) -> Path:
    (tmp / "studies.json").mkdir()
    (tmp / "studies.json" / "README.txt").write_text("no studies here")
    return tmp / "studies.json"


def _latin1(record_bytes: bytes) -> bytes:
    """A record whose title is in Latin-1, not UTF-8 (é is the single byte 0xe9)."""
    return record_bytes.replace(b"Synthetic trial", "Essai thérapeutique".encode("latin-1"))


NO_NCT = {"synthetic": SYNTHETIC, "protocolSection": {"identificationModule": {"briefTitle": "no id"}}}

BAD: dict[str, Bad] = {
    "malformed JSON in an array": Bad(
        _file("malformed.json", b"[" + dumps(study(4)) + b",\n" + dumps(study(5)) + b',\n{"protocolSection": ]'),
        "malformed.json [after record 2]",
        ("malformed JSON",),
        frozenset({nct(4), nct(5)}),
    ),
    "array cut off mid-record": Bad(
        _truncated_array, "truncated.json [after record 2]", ("malformed JSON",), frozenset({nct(4), nct(5)})
    ),
    "malformed JSON line": Bad(
        _file(
            "lines.jsonl",
            dumps(study(4)) + b'\n{"protocolSection": {"identificationModule": \n' + dumps(study(6)) + b"\n",
        ),
        "lines.jsonl [line 2]",
        ("malformed JSON",),
        frozenset({nct(4), nct(6)}),
    ),
    "JSON line nested too deeply": Bad(
        _file(
            "deep.jsonl",
            dumps(study(4))
            + b"\n"
            + dumps(with_field(study(5), "futureSection", "DEEP")).replace(b'"DEEP"', b"[" * 5_000 + b"]" * 5_000)
            + b"\n"
            + dumps(study(6))
            + b"\n",
        ),
        "deep.jsonl [line 2]",
        ("malformed JSON", "recursion"),
        frozenset({nct(4), nct(6)}),
    ),
    "malformed single object": Bad(
        _file("one.json", dumps(study(4))[:-10]), "one.json [after record 0]", ("malformed JSON",)
    ),
    "trailing garbage after an object": Bad(
        _file("trailing.json", dumps(study(4)) + b" }}garbage"),
        "trailing.json [after record 1]",
        ("malformed JSON",),
        frozenset({nct(4)}),
    ),
    "not JSON at all": Bad(_file("notes.json", b"Trial list, see attached spreadsheet"), "notes.json:", ("not JSON",)),
    "empty file": Bad(_file("empty.json", b""), "empty.json:", ("empty file",)),
    "whitespace-only file": Bad(_file("blank.json", b"  \n\t\n"), "blank.json:", ("empty file",)),
    "record without an NCT id": Bad(
        _file("no-id.json", dumps([study(4), NO_NCT, study(6)])),
        "no-id.json [record 2]",
        ("nctId", "record skipped"),
        frozenset({nct(4), nct(6)}),
    ),
    "JSON line without an NCT id": Bad(
        _file("no-id.jsonl", jsonl([study(4), NO_NCT, study(6)])),
        "no-id.jsonl [line 2]",
        ("nctId",),
        frozenset({nct(4), nct(6)}),
    ),
    "non-UTF-8 bytes in an array": Bad(
        _file("latin1.json", b"[" + dumps(study(4)) + b"," + _latin1(dumps(study(5))) + b"," + dumps(study(6)) + b"]"),
        "latin1.json [record 2]",
        (nct(5), "UTF-8"),
        frozenset({nct(4), nct(6)}),
    ),
    "non-UTF-8 bytes in a gzip'd array": Bad(
        _file(
            "latin1.json.gz",
            gzip.compress(b"[" + dumps(study(4)) + b"," + _latin1(dumps(study(5))) + b"," + dumps(study(6)) + b"]"),
        ),
        "latin1.json.gz [record 2]",
        (nct(5), "UTF-8"),
        frozenset({nct(4), nct(6)}),
    ),
    "non-UTF-8 bytes in a JSON line": Bad(
        _file("latin1.jsonl", dumps(study(4)) + b"\n" + _latin1(dumps(study(5))) + b"\n" + dumps(study(6)) + b"\n"),
        "latin1.jsonl [line 2]",
        (nct(5), "UTF-8"),
        frozenset({nct(4), nct(6)}),
    ),
    "non-UTF-8 bytes in a single object": Bad(
        _file("latin1-one.json", _latin1(dumps(study(4)))), "latin1-one.json [record 1]", (nct(4), "UTF-8")
    ),
    "truncated zip": Bad(_truncated_zip, "truncated.zip:", ("zip",)),
    "corrupt zip member": Bad(
        _corrupt_zip_member, f"bulk.zip:{nct(5)}.json", ("cannot read",), frozenset({nct(4), nct(6)})
    ),
    "broken gzip": Bad(
        _file("broken.json.gz", b"\x1f\x8b\x08\x00 this is not deflate data"), "broken.json.gz:", ("cannot read",)
    ),
    "not gzip at all": Bad(_file("plain.json.gz", dumps(study(4))), "plain.json.gz:", ("cannot read",)),
    "truncated gzip": Bad(_truncated_gzip, "truncated.json.gz", ("cannot read",)),
    "path that does not exist": Bad(lambda tmp: tmp / "typo.json", "typo.json:", ("no such file",)),
    "dangling link in a folder": Bad(_dangling_link, "folder/gone.json:", ("cannot read",), frozenset({nct(4)})),
    "folder named x.json without studies": Bad(_empty_folder_named_json, "studies.json:", ("no study files",)),
}


@pytest.mark.parametrize("case", BAD.values(), ids=BAD.keys())
def test_bad_input_is_named_skipped_and_the_rest_is_built(tmp_path: Path, case: Bad, build_in_memory: Any) -> None:
    report, ids = build_in_memory(good_file(tmp_path), case.write(tmp_path))
    named = problems_naming(report, f"{tmp_path}{os.sep}{case.where}", *case.words)
    assert named, f"no problem names {case.where!r} and {case.words}: {report.problems}"
    assert ids == GOOD_IDS | case.kept
    assert report.trials == len(ids)
    assert report.skipped == len(report.problems) >= 1


@pytest.mark.parametrize("case", BAD.values(), ids=BAD.keys())
def test_strict_mode_fails_on_the_same_bad_input(tmp_path: Path, case: Bad, build_in_memory: Any) -> None:
    with pytest.raises(BuildFailed) as failed:
        build_in_memory(good_file(tmp_path), case.write(tmp_path), strict=True)
    assert any(f"{tmp_path}{os.sep}{case.where}" in problem for problem in failed.value.report.problems)


def test_truncated_gzip_keeps_what_came_before_the_cut(tmp_path: Path) -> None:
    """A large truncated download keeps the records read before the cut and says where it stopped."""
    records = [study(n, title="x" * 2000) for n in range(4, 404)]
    data = gzip.compress(dumps(records), compresslevel=1)
    path = tmp_path / "big.json.gz"
    path.write_bytes(data[: len(data) // 2])
    report, ids = build_beside_good(tmp_path, path)
    [problem] = report.problems
    assert problem.startswith(f"{path} [after record ")
    read = int(problem.split("[after record ")[1].split("]")[0])
    assert 0 < read < len(records)
    assert ids == GOOD_IDS | {nct(n) for n in range(4, 4 + read)}


# --- wrong types and values: the problem names the file, the record, its NCT id and the field ------------

WRONG = {
    "conditions is a string": ("protocolSection.conditionsModule.conditions", "Asthma"),
    "a condition is a number": ("protocolSection.conditionsModule.conditions", ["Asthma", 7]),
    "enrollment count is text": ("protocolSection.designModule.enrollmentInfo.count", "120"),
    "enrollment count is a float": ("protocolSection.designModule.enrollmentInfo.count", 12.5),
    "enrollment count is true": ("protocolSection.designModule.enrollmentInfo.count", True),
    "phases is a string": ("protocolSection.designModule.phases", "PHASE2"),
    "phase is lower case": ("protocolSection.designModule.phases", ["phase2"]),
    "status module is a string": ("protocolSection.statusModule", "RECRUITING"),
    "status is not a code": ("protocolSection.statusModule.overallStatus", "<b>RECRUITING</b>"),
    "status ends in a newline": ("protocolSection.statusModule.overallStatus", "RECRUITING\n"),
    "start date is a number": ("protocolSection.statusModule.startDateStruct.date", 20240301),
    "start date is words": ("protocolSection.statusModule.startDateStruct.date", "March 2024"),
    "start date ends in a newline": ("protocolSection.statusModule.startDateStruct.date", "2024-03-01\n"),
    "start date does not exist": ("protocolSection.statusModule.startDateStruct.date", "2024-02-30"),
    "start month 13": ("protocolSection.statusModule.startDateStruct.date", "2024-13"),
    "start date in other digits": ("protocolSection.statusModule.startDateStruct.date", "\u0662\u0660\u0662\u0664"),
    "title is an object": ("protocolSection.identificationModule.briefTitle", {"text": "a title"}),
    "title is a list": ("protocolSection.identificationModule.briefTitle", ["a", "title"]),
    "lead sponsor is a string": ("protocolSection.sponsorCollaboratorsModule.leadSponsor", "Acme"),
    "locations is an object": ("protocolSection.contactsLocationsModule.locations", {"city": "Paris"}),
    "latitude is text": ("protocolSection.contactsLocationsModule.locations[0].geoPoint.lat", "45.7"),
    "intervention without a name": ("protocolSection.armsInterventionsModule.interventions", [{"type": "DRUG"}]),
    "healthy volunteers is text": ("protocolSection.eligibilityModule.healthyVolunteers", "No"),
    "hasResults is text": ("hasResults", "yes"),
    "MeSH id is not a MeSH id": ("derivedSection.conditionBrowseModule.meshes[0].id", "Q12345"),
    "MeSH id missing": ("derivedSection.conditionBrowseModule.meshes[0]", {"term": "Calcimycin"}),
    "derived section is a list": ("derivedSection", []),
}


@pytest.mark.parametrize(("path", "value"), WRONG.values(), ids=WRONG.keys())
@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_wrong_type_names_record_id_and_field(
    tmp_path: Path, path: str, value: Any, suffix: str, build_in_memory: Any
) -> None:
    records = [study(4), with_field(study(5), path, value), study(6)]
    bad = tmp_path / f"wrong{suffix}"
    bad.write_bytes(dumps(records) if suffix == ".json" else jsonl(records))
    report, ids = build_in_memory(good_file(tmp_path), bad)
    where = f"{bad} [record 2]" if suffix == ".json" else f"{bad} [line 2]"
    field = path.rsplit(".", 1)[-1].split("[")[0]
    [problem] = report.problems
    assert problem.startswith(where) and nct(5) in problem and field in problem, problem
    assert ids == GOOD_IDS | {nct(4), nct(6)}


NOT_IDS = {
    "too short": "NCT123",
    "lower case": "nct99000005",
    "trailing newline": "NCT99000005\n",
    "leading space": " NCT99000005",
    "other digits": "NCT9900000\u0665",  # ARABIC-INDIC DIGIT FIVE
    "markup": "<script>NCT99000005</script>",
    "a number": 99000005,
    "null": None,
    "a list": ["NCT99000005"],
}


@pytest.mark.parametrize("value", NOT_IDS.values(), ids=NOT_IDS.keys())
def test_an_invalid_nct_id_is_a_record_without_one(tmp_path: Path, value: Any, build_in_memory: Any) -> None:
    bad = tmp_path / "ids.json"
    bad.write_bytes(
        dumps([study(4), with_field(study(5), "protocolSection.identificationModule.nctId", value), study(6)])
    )
    report, ids = build_in_memory(good_file(tmp_path), bad)
    [problem] = report.problems
    assert problem.startswith(f"{bad} [record 2]: ") and "nctId" in problem
    assert ids == GOOD_IDS | {nct(4), nct(6)}


@pytest.mark.parametrize(
    "value",
    [42, "NCT99000005", None, True, ["a", "list"], {"protocolSection": []}],
    ids=["number", "string", "null", "boolean", "list", "protocolSection is a list"],
)
def test_an_array_element_that_is_not_a_record(tmp_path: Path, value: Any, build_in_memory: Any) -> None:
    bad = tmp_path / "mixed.json"
    bad.write_bytes(dumps([study(4), value, study(6)]))
    report, ids = build_in_memory(good_file(tmp_path), bad)
    assert [p for p in report.problems if p.startswith(f"{bad} [record 2]: ")] == report.problems != []
    assert ids == GOOD_IDS | {nct(4), nct(6)}


# --- tolerated: unknown fields, a BOM, folders that look like files --------------------------------------


def test_unknown_fields_are_tolerated(tmp_path: Path) -> None:
    record = study(4)
    record["futureSection"] = {"anything": [1, {"deep": None}]}
    record["protocolSection"]["newModule"] = {"x": "y"}
    record["protocolSection"]["identificationModule"]["newField"] = ["z"]
    record["protocolSection"]["designModule"]["enrollmentInfo"]["newKey"] = 1
    record["protocolSection"]["contactsLocationsModule"]["locations"][0]["newKey"] = {"a": 1}
    record["derivedSection"]["conditionBrowseModule"]["meshes"][0]["newKey"] = True
    record["derivedSection"]["newBrowseModule"] = {"meshes": "not even a list"}
    bad = tmp_path / "future.jsonl"
    bad.write_bytes(jsonl([record]))
    plain = study(5)
    (tmp_path / "plain.json").write_bytes(dumps(plain))
    report, ids = build_beside_good(tmp_path, bad, tmp_path / "plain.json")
    assert report.problems == [] and report.warnings == []
    assert ids == GOOD_IDS | {nct(4), nct(5)}
    with open_store(f"oxigraph:{tmp_path / 'store'}", read_only=True) as store:
        count = "SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <https://w3id.org/trialkg/id/graph/{}> {{ ?s ?p ?o }} }}"
        assert store.select(count.format(nct(4))).rows == store.select(count.format(nct(5))).rows


def test_a_folder_named_like_a_file_inside_a_folder_is_walked(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "more.json").mkdir(parents=True)
    (data / "more.json" / "inner.json").write_bytes(dumps(study(4)))
    report, ids = build_beside_good(tmp_path, data)
    assert report.problems == []
    assert ids == GOOD_IDS | {nct(4)}


# --- hostile strings: kept verbatim, never executed, never breaking a serialisation -----------------------


def _as_rdf_text(text: str) -> str:
    """What the store keeps of a string: lone UTF-16 surrogates become U+FFFD (see kg.ctgov.emitter.clean)."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _hostile_records(tmp_path: Path) -> tuple[list[Path], list[dict[str, Any]]]:
    """The hand-written fixture as is (a JSON array read by ijson), and again as JSON Lines (read by the
    standard library) under other NCT ids, since the two parsers treat odd escapes differently."""
    fixture = HOSTILE / "hostile-strings.json"
    records = json.loads(fixture.read_text(encoding="utf-8"))
    again = []
    for record in copy.deepcopy(records):
        ident = record["protocolSection"]["identificationModule"]
        ident["nctId"] = ident["nctId"].replace("NCT991", "NCT992")
        again.append(record)
    lines = tmp_path / "hostile-strings.jsonl"
    lines.write_text("".join(json.dumps(r) + "\n" for r in again), encoding="ascii")
    return [fixture, lines], records + again


def _labels(store: Any, nct_id: str, predicate: str) -> set[str]:
    query = (
        f"SELECT ?label WHERE {{ <https://clinicaltrials.gov/study/{nct_id}> <{predicate}> ?node . "
        "?node <http://www.w3.org/2000/01/rdf-schema#label> ?label }"
    )
    return {str(row["label"]) for row in store.select(query).rows}


def test_hostile_strings_are_kept_verbatim(tmp_path: Path) -> None:
    paths, records = _hostile_records(tmp_path)
    report, ids = build_beside_good(tmp_path, *paths)
    assert report.problems == []
    assert ids == GOOD_IDS | {r["protocolSection"]["identificationModule"]["nctId"] for r in records}
    with open_store(f"oxigraph:{tmp_path / 'store'}", read_only=True) as store:
        for record in records:
            ident = record["protocolSection"]["identificationModule"]
            nct_id = ident["nctId"]
            trial = f"<https://clinicaltrials.gov/study/{nct_id}>"
            rows = store.select(
                f"SELECT ?title ?official WHERE {{ {trial} <https://schema.org/name> ?title ; "
                "<https://w3id.org/trialkg/vocab/officialTitle> ?official }"
            ).rows
            assert rows and rows[0]["title"] == _as_rdf_text(ident["briefTitle"]), nct_id
            assert rows[0]["official"] == _as_rdf_text(ident["officialTitle"]), nct_id
            conditions = {_as_rdf_text(c) for c in record["protocolSection"]["conditionsModule"]["conditions"]}
            assert _labels(store, nct_id, "https://w3id.org/trialkg/vocab/condition") == conditions, nct_id
            sponsor = record["protocolSection"].get("sponsorCollaboratorsModule", {}).get("leadSponsor")
            if sponsor:
                assert _labels(store, nct_id, "https://w3id.org/trialkg/vocab/leadSponsor") == {
                    _as_rdf_text(sponsor["name"])
                }, nct_id


def test_lone_surrogates_are_replaced_the_same_by_both_readers(tmp_path: Path) -> None:
    paths, _ = _hostile_records(tmp_path)
    report, _ = build_beside_good(tmp_path, *paths)
    query = "SELECT ?title WHERE {{ <https://clinicaltrials.gov/study/{}> <https://schema.org/name> ?title }}"
    with open_store(f"oxigraph:{tmp_path / 'store'}", read_only=True) as store:
        for suffix in ("100006", "100007"):
            from_array = store.select(query.format(f"NCT99{suffix}")).rows
            from_lines = store.select(query.format(f"NCT99{suffix.replace('1', '2', 1)}")).rows
            assert from_array == from_lines != []
    assert any("invalid Unicode" in warning for warning in report.warnings)  # said, not silently changed


@pytest.mark.parametrize(
    ("media_type", "fmt"),
    [
        ("application/n-quads", ox.RdfFormat.N_QUADS),
        ("application/trig", ox.RdfFormat.TRIG),
        ("text/turtle", ox.RdfFormat.TURTLE),
        ("application/n-triples", ox.RdfFormat.N_TRIPLES),
        ("application/ld+json", ox.RdfFormat.JSON_LD),
    ],
    ids=["nq", "trig", "ttl", "nt", "jsonld"],
)
def test_hostile_strings_survive_every_export(tmp_path: Path, media_type: str, fmt: ox.RdfFormat) -> None:
    paths, records = _hostile_records(tmp_path)
    build_beside_good(tmp_path, *paths)
    output = io.BytesIO()
    with open_store(f"oxigraph:{tmp_path / 'store'}", read_only=True) as store:
        store.dump(output, media_type)
    parsed = list(ox.parse(output.getvalue(), fmt))
    titles = {q.object.value for q in parsed if q.predicate == ox.NamedNode("https://schema.org/name")}
    for record in records:
        assert _as_rdf_text(record["protocolSection"]["identificationModule"]["briefTitle"]) in titles


BIG = "NCT99100101"


@pytest.mark.parametrize("shape", ["array", "gzip'd array", "API page", "JSON Lines", "bulk zip"])
def test_numbers_beyond_64_bits_cost_at_most_their_record(tmp_path: Path, shape: str, build_in_memory: Any) -> None:
    """yajl stops on a number it cannot hold; the reader reads such a file again, setting them aside."""
    fixture = (HOSTILE / "big-numbers.json").read_bytes()
    unreadable = dumps(with_field(study(5), "futureSection.digits", "DIGITS")).replace(b'"DIGITS"', b"1" * 5_000)
    records = json.loads(fixture)
    array = fixture.rstrip().removesuffix(b"]") + b"," + unreadable + b"," + dumps(study(6)) + b"]"
    bad = {
        "array": _file("big.json", array),
        "gzip'd array": _file("big.json.gz", gzip.compress(array)),
        "API page": _file("page.json", b'{"nextPageToken": 1e999, "studies": ' + array + b"}"),
        "JSON Lines": _file("big.jsonl", b"\n".join([*(dumps(r) for r in records), unreadable, dumps(study(6))])),
        "bulk zip": lambda tmp: write_zip(tmp / "big.zip", {"a.json": array}),
    }[shape](tmp_path)
    report, ids = build_in_memory(good_file(tmp_path), bad)
    assert ids == GOOD_IDS | {BIG, "NCT99100102", nct(6)}
    [problem] = report.problems
    where = "[line 3]" if shape == "JSON Lines" else "[record 3]"
    assert where in problem and str(bad) in problem, problem


def test_numbers_beyond_64_bits_are_stored_as_read(tmp_path: Path) -> None:
    report, _ = build_beside_good(tmp_path, HOSTILE / "big-numbers.json")
    assert report.problems == []
    with open_store(f"oxigraph:{tmp_path / 'store'}", read_only=True) as store:
        rows = store.select(
            "SELECT ?id ?n WHERE { ?t <http://purl.org/dc/terms/identifier> ?id ; "
            "<https://w3id.org/trialkg/vocab/enrollment> ?n }"
        ).rows
        coordinates = store.select("ASK { ?site <https://schema.org/latitude> ?lat }").rows
    assert {row["id"]: row["n"] for row in rows} == {
        BIG: 18446744073709551616000,
        "NCT99100102": 2**63 - 1,
        **{i: 40 for i in GOOD_IDS},
    }
    assert coordinates == [{"ask": True}]  # the good records' sites; none from the infinite ones
    assert report.trials == 5


def test_huge_strings_are_kept_and_keep_iris_short(tmp_path: Path) -> None:
    title = "A" * 5_000_000
    condition = "Long condition " * 100_000
    record = with_field(study(4, title=title), "protocolSection.conditionsModule.conditions", [condition])
    record = with_field(record, "protocolSection.sponsorCollaboratorsModule.leadSponsor.name", "é" * 1_000_000)
    bad = tmp_path / "huge.json"
    bad.write_bytes(dumps([record, study(5)]))
    report, ids = build_beside_good(tmp_path, bad)
    assert report.problems == []
    assert ids == GOOD_IDS | {nct(4), nct(5)}
    with open_store(f"oxigraph:{tmp_path / 'store'}", read_only=True) as store:
        rows = store.select(
            f"SELECT ?title ?c ?label WHERE {{ <https://clinicaltrials.gov/study/{nct(4)}> "
            "<https://schema.org/name> ?title ; <https://w3id.org/trialkg/vocab/condition> ?c . "
            "?c <http://www.w3.org/2000/01/rdf-schema#label> ?label }"
        ).rows
    assert [len(str(rows[0]["title"])), rows[0]["label"]] == [len(title), condition]
    assert len(str(rows[0]["c"])) < 300


# --- the command line: a summary, no traceback, --strict exits non-zero -----------------------------------


def kg(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KG_HOME": str(home), "COLUMNS": "200"}
    env.pop("KG_STORE", None)
    return subprocess.run([sys.executable, "-m", "kg", *args], capture_output=True, text=True, env=env, timeout=300)


def stats(store: str, home: Path) -> dict[str, Any]:
    result = kg("stats", "--store", store, "--format", "json", home=home)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def bad_inputs(tmp_path: Path) -> list[Path]:
    """A malformed JSON line, a record without an id, a truncated zip and a path that does not exist."""
    lines = tmp_path / "bad.jsonl"
    lines.write_bytes(dumps(study(4)) + b"\n{oops\n")
    no_id = tmp_path / "no-id.json"
    no_id.write_bytes(dumps([NO_NCT]))
    return [lines, no_id, _truncated_zip(tmp_path), tmp_path / "missing.json"]


def test_cli_names_each_problem_and_prints_a_summary(tmp_path: Path, bad_inputs: list[Path]) -> None:
    store = f"oxigraph:{tmp_path / 'store'}"
    result = kg("build", str(good_file(tmp_path)), *map(str, bad_inputs), "--store", store, home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for where in (f"{bad_inputs[0]} [line 2]", f"{bad_inputs[1]} [record 1]", str(bad_inputs[2]), str(bad_inputs[3])):
        assert f"skipped: {where}" in result.stderr
    assert "Built 4 trials" in result.stderr and "4 skipped" in result.stderr
    summary = stats(store, tmp_path)
    assert (summary["trials"], summary["skipped"], len(summary["problems"])) == (4, 4, 4)
    assert trial_ids(store) == GOOD_IDS | {nct(4)}


def test_cli_strict_exits_non_zero_and_keeps_the_previous_store(tmp_path: Path, bad_inputs: list[Path]) -> None:
    store = f"oxigraph:{tmp_path / 'store'}"
    first = kg("build", str(good_file(tmp_path)), "--store", store, "--strict", home=tmp_path)
    assert first.returncode == 0, first.stderr
    before = stats(store, tmp_path)
    (tmp_path / "new.json").write_bytes(dumps([study(n) for n in range(10, 20)]))
    result = kg("build", str(tmp_path / "new.json"), *map(str, bad_inputs), "--store", store, "--strict", home=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    assert f"{bad_inputs[0]} [line 2]" in result.stderr and "strict" in result.stderr
    assert stats(store, tmp_path) == before
    assert trial_ids(store) == GOOD_IDS
    assert list(tmp_path.glob("store.building-*")) == []


def test_cli_strict_accepts_clean_input_with_hostile_strings(tmp_path: Path) -> None:
    store = f"oxigraph:{tmp_path / 'store'}"
    result = kg("build", str(HOSTILE), "--store", store, "--strict", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    expected = sum(len(json.loads(path.read_text(encoding="utf-8"))) for path in HOSTILE.glob("*.json"))
    assert stats(store, tmp_path)["trials"] == expected >= 9


@pytest.mark.parametrize(
    "args",
    [
        ["build", "{good}", "--store", "nosuchkind:x"],
        ["build", "{good}", "--store", "sparql:ftp://example.org"],
        ["stats", "--store", "oxigraph:{tmp}/never-built"],
    ],
    ids=["unknown store kind", "bad endpoint", "missing store"],
)
def test_cli_user_mistakes_exit_2_with_one_line(tmp_path: Path, args: list[str]) -> None:
    good = good_file(tmp_path)
    result = kg(*(a.format(good=good, tmp=tmp_path) for a in args), home=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and args[-1].format(tmp=tmp_path).removeprefix("oxigraph:") in line


# --- no half-written store --------------------------------------------------------------------------------


def _previous_store(tmp_path: Path) -> str:
    spec = f"oxigraph:{tmp_path / 'store'}"
    report = build([good_file(tmp_path)], spec)
    assert report.trials == 3 and trial_ids(spec) == GOOD_IDS
    return spec


def test_strict_build_of_bad_input_keeps_the_previous_store(tmp_path: Path) -> None:
    spec = _previous_store(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_bytes(dumps([study(7), NO_NCT, study(8)]))
    with pytest.raises(BuildFailed) as failed:
        build([bad], spec, strict=True)
    assert failed.value.report.problems[0].startswith(f"{bad} [record 2]")
    assert trial_ids(spec) == GOOD_IDS
    assert list(tmp_path.glob("store.building-*")) == []
    assert build([bad], spec).trials == 2 and trial_ids(spec) == {nct(7), nct(8)}  # not strict: built


def _stop_after(count: int, error: BaseException) -> Callable[[], None]:
    seen = 0

    def on_record() -> None:
        nonlocal seen
        seen += 1
        if seen > count:
            raise error

    return on_record


@pytest.mark.parametrize("error", [KeyboardInterrupt(), RuntimeError("disk on fire")], ids=["Ctrl-C", "crash"])
@pytest.mark.parametrize("after", [0, 25], ids=["first record", "mid-build"])
def test_interrupted_build_keeps_the_previous_store(tmp_path: Path, error: BaseException, after: int) -> None:
    spec = _previous_store(tmp_path)
    new = tmp_path / "new.json"
    new.write_bytes(dumps([study(n) for n in range(10, 60)]))
    indexes = sorted(tmp_path.glob("store.*.pickle"))  # the previous build's saved indexes
    before = [index.read_bytes() for index in indexes]
    with pytest.raises(type(error)):
        build([new], spec, on_record=_stop_after(after, error))
    assert trial_ids(spec) == GOOD_IDS
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("store")) == [
        "store",
        *(index.name for index in indexes),
    ]
    assert len(indexes) == len(SAVED_INDEXES) and [index.read_bytes() for index in indexes] == before


def test_interrupted_first_build_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        build([good_file(tmp_path)], f"oxigraph:{tmp_path / 'store'}", on_record=_stop_after(1, KeyboardInterrupt()))
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("store")] == []
    with pytest.raises(StoreError, match="no store"):
        open_store(f"oxigraph:{tmp_path / 'store'}")
