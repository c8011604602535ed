"""ClinicalTrials.gov API v2 study records from files, in every shape users hold them, streamed.

Shapes: one study object; a JSON array (the website's download); an API page ``{"studies": [...]}``;
JSON Lines; a directory of these; the bulk zip (one ``NCTxxxxxxxx.json`` per study); any of them gzip'd.
Problems (unreadable files, malformed JSON, truncated archives) are yielded as :class:`SourceProblem`
values naming the file and position, never raised, so one bad file cannot stop a build.
"""

from __future__ import annotations

import functools
import gzip
import io
import json
import logging
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final, cast

import ijson

from kg.ctgov.json_input import CHUNK, NOT_UTF8, SafeJsonInput
from kg.identifiers import is_nct_id

__all__ = ["HARVEST_FILES", "SUFFIXES", "SourceProblem", "SourceRecord", "iter_records"]

logger = logging.getLogger(__name__)

#: File name endings read from a directory; other files there are ignored (and logged).
SUFFIXES: Final = (".json", ".jsonl", ".ndjson", ".zip", ".gz")
_LINE_SUFFIXES: Final = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")
#: A harvest's own bookkeeping beside its pages (:mod:`kg.ctgov.raw_store`): JSON, but not study records.
HARVEST_FILES: Final = frozenset({"harvest-manifest.json", "harvest-checkpoint.json"})
_PEEK: Final = 64
#: What reading a damaged file can raise: I/O, truncated gzip, bad zip CRC, corrupt deflate data.
_READ_ERRORS: Final = (OSError, EOFError, zipfile.BadZipFile, zlib.error)


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
#: Opens a file or archive member for reading bytes (again, when a file must be re-read).
Opener = Callable[[], IO[bytes]]


def iter_records(paths: Iterable[Path | str]) -> Iterator[Item]:
    """Every study record (or problem) in the given files and directories, in a stable order."""
    for path in map(Path, paths):
        if path.is_dir():
            # a dangling link is listed too, so that it is reported rather than silently left out
            files = sorted(p for p in path.rglob("*") if p.is_file() or (p.is_symlink() and not p.exists()))
            found = False
            for file in files:
                if file.name in HARVEST_FILES:
                    continue
                if file.name.lower().endswith(SUFFIXES):
                    found = True
                    yield from _iter_file(file)
                else:
                    logger.info("ignoring %s: not a JSON, JSON Lines, zip or gzip file", file)
            if not found:
                yield SourceProblem(str(path), None, f"no study files here (looked for {', '.join(SUFFIXES)})")
        elif path.exists():
            yield from _iter_file(path)
        else:
            yield SourceProblem(str(path), None, "no such file or directory")


def _iter_file(path: Path) -> Iterator[Item]:
    name = path.name.lower()
    lines = name.endswith(_LINE_SUFFIXES)
    try:
        if name.endswith(".zip"):
            yield from _iter_zip(path)
        elif name.endswith(".gz"):
            yield from _iter_stream(cast(Opener, functools.partial(gzip.open, path, "rb")), str(path), lines=lines)
        else:
            yield from _iter_stream(cast(Opener, functools.partial(path.open, "rb")), str(path), lines=lines)
    except _READ_ERRORS as error:
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
                yield from _iter_stream(
                    functools.partial(archive.open, info), source, lines=info.filename.lower().endswith(_LINE_SUFFIXES)
                )
            except _READ_ERRORS as error:
                yield SourceProblem(source, None, f"cannot read archive member: {_describe(error)}")


def _iter_stream(opener: Opener, source: str, *, lines: bool) -> Iterator[Item]:
    """The records of one file (or archive member); ``opener`` opens it, again if it must be re-read."""
    with opener() as stream:
        if lines:
            buffered = (
                stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(cast(io.RawIOBase, stream))
            )
            yield from _iter_lines(buffered, source)
            return
        text = SafeJsonInput(stream)
        buffered = io.BufferedReader(text, CHUNK)
        head = _first_byte(buffered)
        if head in (b"[", b"{"):
            yield from _iter_json(buffered, text, source, opener, array=head == b"[")
        elif head == b"":
            yield SourceProblem(source, None, "empty file")
        else:
            yield SourceProblem(source, None, f"not JSON: starts with {head!r}")


def _first_byte(stream: io.BufferedReader[Any]) -> bytes:
    """The first byte that is not white space (b"" for none), leaving it in the stream."""
    while True:
        peeked = stream.peek(_PEEK)
        if not peeked:
            return b""
        if peeked.strip():
            return peeked.lstrip()[:1]
        stream.read(len(peeked))


def _iter_json(
    stream: IO[bytes], text: SafeJsonInput, source: str, opener: Opener, *, array: bool, skip: int = 0
) -> Iterator[Item]:
    """A JSON array one element at a time (a 10 GB download never sits in memory); or one study, an API
    page, or several concatenated objects (JSON Lines without the suffix).

    A number beyond what the C parser holds stops it; the file is then read again from the start, the
    records already given skipped, with such numbers set aside (slower, so only when needed).
    """
    position = 0
    values = (
        ijson.items(stream, "item", use_float=True)
        if array
        else ijson.items(stream, "", multiple_values=True, use_float=True)
    )
    try:
        for value in values:
            for study in [value] if array else _unwrap(value):
                position += 1
                if position > skip:
                    yield _record(study, text, source, f"record {position}")
    except (ijson.JSONError, UnicodeDecodeError) as error:
        if "overflow" in str(error) and not text.numbers_set_aside:
            with opener() as again:
                retry = SafeJsonInput(again, set_aside_numbers=True)
                yield from _iter_json(
                    io.BufferedReader(retry, CHUNK), retry, source, opener, array=array, skip=position
                )
            return
        yield SourceProblem(
            source,
            f"after record {position}",
            f"malformed JSON ({_describe(error)}); the rest of this file was not read",
        )
    except _READ_ERRORS as error:
        yield SourceProblem(
            source, f"after record {position}", f"cannot read the rest of this file: {_describe(error)}"
        )


def _iter_lines(stream: IO[bytes], source: str) -> Iterator[Item]:
    """JSON Lines: a bad line costs only that line."""
    number = 0
    try:
        for number, raw in enumerate(stream, start=1):
            if not raw.strip():
                continue
            try:
                value = json.loads(raw)
            except UnicodeDecodeError:
                nct_id = _nct_id(_loads_or_none(raw.decode("utf-8", "replace")))
                yield SourceProblem(
                    source, f"line {number}", f"{nct_id + ': ' if nct_id else ''}{NOT_UTF8}; record skipped"
                )
                continue
            except (ValueError, RecursionError) as error:
                yield SourceProblem(source, f"line {number}", f"malformed JSON ({_describe(error)})")
                continue
            for study in _unwrap(value):
                yield SourceRecord(study, source, f"line {number}")
    except _READ_ERRORS as error:
        yield SourceProblem(source, f"after line {number}", f"cannot read the rest of this file: {_describe(error)}")


def _record(value: Any, text: SafeJsonInput, source: str, position: str) -> Item:
    """The record, with what :class:`SafeJsonInput` set aside put back, or a problem naming it."""
    if text.altered:
        value, problem = text.restore(value)
        if problem is not None:
            nct_id = _nct_id(value)
            return SourceProblem(source, position, f"{nct_id + ': ' if nct_id else ''}{problem}; record skipped")
    return SourceRecord(value, source, position)


def _loads_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _nct_id(value: Any) -> str | None:
    try:
        nct_id = value["protocolSection"]["identificationModule"]["nctId"]
    except (KeyError, TypeError):
        return None
    return nct_id if is_nct_id(nct_id) else None


def _unwrap(value: Any) -> list[Any]:
    """An API page holds its studies under ``studies``; anything else is one record."""
    if isinstance(value, dict) and "studies" in value and "protocolSection" not in value:
        studies = value["studies"]
        return studies if isinstance(studies, list) else [studies]
    return [value]


def _describe(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text if len(text) <= 200 else text[:200] + "…"
