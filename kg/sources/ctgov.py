"""ClinicalTrials.gov API v2 study records from files, in every shape users hold them, streamed.

Shapes: one study object; a JSON array (the website's download); an API page ``{"studies": [...]}``;
JSON Lines; a directory of these; the bulk zip (one ``NCTxxxxxxxx.json`` per study); any of them gzip'd.
Problems (unreadable files, malformed JSON, truncated archives) are yielded as :class:`SourceProblem`
values naming the file and position, never raised, so one bad file cannot stop a build.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

import ijson

__all__ = ["SUFFIXES", "SourceProblem", "SourceRecord", "iter_records", "iter_studies"]

logger = logging.getLogger(__name__)

#: File name endings read from a directory; other files there are ignored (and logged).
SUFFIXES: Final = (".json", ".jsonl", ".ndjson", ".zip", ".gz")
_LINE_SUFFIXES: Final = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")
_PEEK: Final = 64


@dataclass(frozen=True)
class SourceRecord:
    """One parsed JSON value that should be a study, with where it came from."""

    study: Any
    source: str
    position: str

    @property
    def where(self) -> str:
        return f"{self.source} [{self.position}]"


@dataclass(frozen=True)
class SourceProblem:
    """Something in the input that could not be read; the rest of the input is still read."""

    source: str
    position: str | None
    message: str

    def __str__(self) -> str:
        where = self.source if self.position is None else f"{self.source} [{self.position}]"
        return f"{where}: {self.message}"


Item = SourceRecord | SourceProblem


def iter_records(paths: Iterable[Path | str]) -> Iterator[Item]:
    """Every study record (or problem) in the given files and directories, in a stable order."""
    for path in map(Path, paths):
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file())
            for file in files:
                if file.name.lower().endswith(SUFFIXES):
                    yield from _iter_file(file)
                else:
                    logger.info("ignoring %s: not a JSON, JSON Lines, zip or gzip file", file)
        elif path.exists():
            yield from _iter_file(path)
        else:
            yield SourceProblem(str(path), None, "no such file or directory")


def iter_studies(paths: Iterable[Path | str]) -> Iterator[Any]:
    """Just the records, logging problems: for notebooks and quick scripts."""
    for item in iter_records(paths):
        if isinstance(item, SourceProblem):
            logger.warning("%s", item)
        else:
            yield item.study


def _iter_file(path: Path) -> Iterator[Item]:
    name = path.name.lower()
    try:
        if name.endswith(".zip"):
            yield from _iter_zip(path)
        elif name.endswith(".gz"):
            with gzip.open(path, "rb") as stream:
                yield from _iter_stream(stream, str(path), lines=name.endswith(_LINE_SUFFIXES))
        else:
            with path.open("rb") as stream:
                yield from _iter_stream(stream, str(path), lines=name.endswith(_LINE_SUFFIXES))
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        yield SourceProblem(str(path), None, f"cannot read file: {_describe(error)}")


def _iter_zip(path: Path) -> Iterator[Item]:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as error:
        yield SourceProblem(str(path), None, f"not a readable zip archive (truncated or corrupt?): {error}")
        return
    with archive:
        for info in archive.infolist():
            if info.is_dir() or not info.filename.lower().endswith((".json", ".jsonl", ".ndjson")):
                continue
            source = f"{path}:{info.filename}"
            try:
                with archive.open(info) as member:
                    yield from _iter_stream(member, source, lines=info.filename.lower().endswith(_LINE_SUFFIXES))
            except (OSError, EOFError, zipfile.BadZipFile) as error:
                yield SourceProblem(source, None, f"cannot read archive member: {_describe(error)}")


def _iter_stream(stream: IO[bytes], source: str, *, lines: bool) -> Iterator[Item]:
    buffered = stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(stream)  # type: ignore[arg-type]
    head = buffered.peek(_PEEK).lstrip()[:1]
    if lines:
        yield from _iter_lines(buffered, source)
    elif head == b"[":
        yield from _iter_array(buffered, source)
    elif head == b"{":
        yield from _iter_objects(buffered, source)
    elif head == b"":
        yield SourceProblem(source, None, "empty file")
    else:
        yield SourceProblem(source, None, f"not JSON: starts with {head!r}")


def _iter_array(stream: IO[bytes], source: str) -> Iterator[Item]:
    """A JSON array, one element at a time: a 10 GB download never sits in memory."""
    position = 0
    try:
        for position, value in enumerate(ijson.items(stream, "item", use_float=True), start=1):
            yield SourceRecord(value, source, f"record {position}")
    except ijson.JSONError as error:
        yield SourceProblem(source, f"after record {position}",
                            f"malformed JSON ({_describe(error)}); the rest of this file was not read")


def _iter_objects(stream: IO[bytes], source: str) -> Iterator[Item]:
    """One study, an API page, or several concatenated objects (JSON Lines without the suffix)."""
    position = 0
    try:
        for value in ijson.items(stream, "", multiple_values=True, use_float=True):
            for study in _unwrap(value):
                position += 1
                yield SourceRecord(study, source, f"record {position}")
    except ijson.JSONError as error:
        yield SourceProblem(source, f"after record {position}",
                            f"malformed JSON ({_describe(error)}); the rest of this file was not read")


def _iter_lines(stream: IO[bytes], source: str) -> Iterator[Item]:
    """JSON Lines: a bad line costs only that line."""
    for number, raw in enumerate(stream, start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as error:
            yield SourceProblem(source, f"line {number}", f"malformed JSON ({_describe(error)})")
            continue
        for study in _unwrap(value):
            yield SourceRecord(study, source, f"line {number}")


def _unwrap(value: Any) -> list[Any]:
    """An API page holds its studies under ``studies``; anything else is one record."""
    if isinstance(value, dict) and "studies" in value and "protocolSection" not in value:
        studies = value["studies"]
        return studies if isinstance(studies, list) else [studies]
    return [value]


def _describe(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text if len(text) <= 200 else text[:200] + "…"
