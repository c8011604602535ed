"""ClinicalTrials.gov API v2 study records from files, in every shape users hold them, streamed.

Shapes: one study object; a JSON array (the website's download); an API page ``{"studies": [...]}``;
JSON Lines; a directory of these; the bulk zip (one ``NCTxxxxxxxx.json`` per study); any of them gzip'd.
Problems (unreadable files, malformed JSON, truncated archives) are yielded as :class:`SourceProblem`
values naming the file and position, never raised, so one bad file cannot stop a build.
"""

from __future__ import annotations

import codecs
import functools
import gzip
import io
import json
import logging
import math
import re
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final, cast

import ijson

from kg.identifiers import is_nct_id

__all__ = ["SUFFIXES", "SourceProblem", "SourceRecord", "iter_records", "iter_studies"]

logger = logging.getLogger(__name__)

#: File name endings read from a directory; other files there are ignored (and logged).
SUFFIXES: Final = (".json", ".jsonl", ".ndjson", ".zip", ".gz")
_LINE_SUFFIXES: Final = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")
_PEEK: Final = 64
_CHUNK: Final = 64 * 1024
#: What reading a damaged file can raise: I/O, truncated gzip, bad zip CRC, corrupt deflate data.
_READ_ERRORS: Final = (OSError, EOFError, zipfile.BadZipFile, zlib.error)
#: Stands in for bytes that are not UTF-8 until the record holding them is known (a Unicode noncharacter).
_UNDECODABLE: Final = "\ufdd0"
_NOT_UTF8: Final = "bytes that are not UTF-8 (is the file in another encoding?)"
#: Starts the placeholder of a number the C parser cannot hold (another noncharacter).
_BIG_NUMBER: Final = "\ufdd1"
#: Escaped backslashes (to stay in step), surrogate pairs (kept), then lone surrogates (replaced).
_SURROGATE_ESCAPES: Final = re.compile(
    rb"\\\\|\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|\\u[dD][89a-fA-F][0-9a-fA-F]{2}"
)
_STRING_END: Final = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_TOKEN: Final = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?|-?[0-9][0-9.eE+-]*', re.DOTALL)
_BACKSLASHES_QUOTE: Final = re.compile(rb'\\+"')
_HIGH_SURROGATE: Final = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}")
_LOW_SURROGATE: Final = re.compile(rb"\\u[dD][c-fC-F]")
#: Bytes an escape or a number is made of: a piece passed on never ends in them (nor inside a character).
_CUTTABLE: Final = frozenset(b"\\u0123456789abcdefABCDEF.+-")
_TAIL: Final = 16
_MAX_BACKTRACK: Final = 1024
_FITS: Final = object()


def _mark_undecodable(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: a byte that is not UTF-8 becomes one marker character the reader can find."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return _UNDECODABLE, error.end


codecs.register_error("kg-undecodable", _mark_undecodable)


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


def iter_studies(paths: Iterable[Path | str]) -> Iterator[Any]:
    """Just the records, logging problems: for notebooks and quick scripts."""
    for item in iter_records(paths):
        if isinstance(item, SourceProblem):
            logger.warning("%s", item)
        else:
            yield item.study


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
        text = _ParserInput(stream)
        buffered = io.BufferedReader(text, _CHUNK)
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
    stream: IO[bytes], text: _ParserInput, source: str, opener: Opener, *, array: bool, skip: int = 0
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
                retry = _ParserInput(again, set_aside_numbers=True)
                yield from _iter_json(
                    io.BufferedReader(retry, _CHUNK), retry, source, opener, array=array, skip=position
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
                    source, f"line {number}", f"{nct_id + ': ' if nct_id else ''}{_NOT_UTF8}; record skipped"
                )
                continue
            except (ValueError, RecursionError) as error:
                yield SourceProblem(source, f"line {number}", f"malformed JSON ({_describe(error)})")
                continue
            for study in _unwrap(value):
                yield SourceRecord(study, source, f"line {number}")
    except _READ_ERRORS as error:
        yield SourceProblem(source, f"after line {number}", f"cannot read the rest of this file: {_describe(error)}")


def _record(value: Any, text: _ParserInput, source: str, position: str) -> Item:
    """The record, with what :class:`_ParserInput` set aside put back, or a problem naming it."""
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


class _ParserInput(io.RawIOBase):
    """A byte stream made safe for the C JSON parser, which gives up on the rest of a file at the first
    oddity; here each one costs at most its own record:

    - bytes that are not UTF-8 become ``_UNDECODABLE``, and the record holding them a problem;
    - lone UTF-16 surrogate escapes (``\\ud800``), which yajl turns into ``?``, a wrong character or an
      exception, become ``\\ufffd``, as :mod:`kg.mapping` does with what the standard library reads;
    - with ``set_aside_numbers`` (a second reading, after yajl stopped on one), numbers beyond a 64-bit
      integer or a double pass as placeholder strings that :meth:`restore` turns back into the numbers
      the standard library would read;
    - a leading byte order mark is dropped.

    Pieces are passed on whole: never ending inside a character, an escape or a number.
    """

    def __init__(self, raw: IO[bytes], *, set_aside_numbers: bool = False) -> None:
        super().__init__()
        self.raw = raw
        self.numbers_set_aside = set_aside_numbers
        self.undecodable = False
        self._numbers: dict[str, int | float | None] = {}  # placeholder → number (None: unreadable)
        self._count = 0
        self._pending = b""
        self._out = b""
        self._in_string = False
        self._started = False
        self._eof = False

    @property
    def altered(self) -> bool:
        """Whether records may hold something to put back or to report."""
        return self.undecodable or bool(self._numbers)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._out and not self._eof:
            self._out = self._next()
        size = min(len(buffer), len(self._out))
        buffer[:size] = self._out[:size]
        self._out = self._out[size:]
        return size

    def _next(self) -> bytes:
        chunk = self.raw.read(_CHUNK)
        self._eof = not chunk
        data = self._pending + chunk
        if not self._started and data:
            self._started = True
            data = data.removeprefix(codecs.BOM_UTF8)
        cut = len(data) if self._eof else _safe_cut(data)
        piece, self._pending = data[:cut], data[cut:]
        if not piece.isascii():
            try:
                piece.decode("utf-8")
            except UnicodeDecodeError:
                self.undecodable = True
                piece = piece.decode("utf-8", "kg-undecodable").encode("utf-8")
        if b"\\u" in piece:
            piece = _SURROGATE_ESCAPES.sub(lambda m: b"\\ufffd" if len(m.group()) == 6 else m.group(), piece)
        if self.numbers_set_aside:
            in_string = self._in_string
            quotes = piece.count(b'"')
            if quotes and b'\\"' in piece:  # an odd run of backslashes escapes the quote
                quotes -= sum(len(run) % 2 == 0 for run in _BACKSLASHES_QUOTE.findall(piece))
            self._in_string = in_string != (quotes % 2 == 1)
            piece = self._set_aside_big_numbers(piece, in_string)
        return piece

    def _set_aside_big_numbers(self, piece: bytes, in_string: bool) -> bytes:
        start = 0
        if in_string:
            end = _STRING_END.match(piece)
            if end is None:
                return piece
            start = end.end()
        parts, last = [], 0
        for match in _TOKEN.finditer(piece, start):
            token = match.group()
            if token.startswith(b'"'):
                continue
            number = _number(token)
            if number is _FITS:
                continue
            self._count += 1
            key = f"{_BIG_NUMBER}{self._count}"
            self._numbers[key] = number  # type: ignore[assignment]
            parts += [piece[last : match.start()], b'"' + key.encode("utf-8") + b'"']
            last = match.end()
        return b"".join([*parts, piece[last:]]) if parts else piece

    def restore(self, value: Any) -> tuple[Any, str | None]:
        """``value`` with its numbers put back, and what is wrong with it (None: nothing)."""
        problem = None
        root = [value]
        stack: list[Any] = [root]
        while stack:
            node = stack.pop()
            for key, item in list(node.items() if isinstance(node, dict) else enumerate(node)):
                if isinstance(item, (dict, list)):
                    stack.append(item)
                elif isinstance(item, str) and item.startswith(_BIG_NUMBER) and item in self._numbers:
                    number = self._numbers.pop(item)
                    if number is None:
                        problem = problem or "a number that cannot be read"
                    else:
                        node[key] = number
                elif self.undecodable and isinstance(item, str) and _UNDECODABLE in item:
                    problem = _NOT_UTF8
                if self.undecodable and isinstance(key, str) and _UNDECODABLE in key:
                    problem = _NOT_UTF8
        return root[0], problem


def _safe_cut(data: bytes) -> int:
    """Where to end a piece: before a tail that may hold part of an escape, a number or a character."""
    end = len(data) - _TAIL
    if end <= 0:
        return 0
    floor = max(end - _MAX_BACKTRACK, 0)
    cut = end
    while cut > floor and data[cut - 1] in _CUTTABLE:
        cut -= 1
    if cut == floor > 0:  # a long run of escapes (text written as \\uXXXX) or digits
        cut = _escape_start(data, floor, end)
    if cut > 0 and data[cut - 1] == 0x5C and (cut - len(data[:cut].rstrip(b"\\"))) % 2:  # never split a \\ in two
        cut -= 1
    while cut > 0 and 0x80 <= data[cut] < 0xC0:
        cut -= 1
    return cut


def _escape_start(data: bytes, floor: int, end: int) -> int:
    """The last escape in ``data[floor:end]`` that may start a piece: not the second half of a surrogate
    pair, nor the second of a run of backslashes; ``end`` when there is none (a run of digits)."""
    position = end
    while (position := data.rfind(b"\\", floor + 1, position)) > floor:
        if data[position - 1] != 0x5C and not (
            _LOW_SURROGATE.match(data, position) and _HIGH_SURROGATE.fullmatch(data, max(position - 6, 0), position)
        ):
            return position
    return end


def _number(token: bytes) -> int | float | object | None:
    """A number the C parser cannot hold, as the standard library reads it; ``_FITS`` when it can hold
    it; None for a number nobody can read (over 4,300 digits, or not a number at all)."""
    text = token.decode("ascii")
    try:
        if any(c in text for c in ".eE"):
            real = float(text)
            return real if math.isinf(real) else _FITS
        integer = int(text)
    except ValueError:
        return None
    return _FITS if -(2**63) <= integer < 2**63 else integer


def _unwrap(value: Any) -> list[Any]:
    """An API page holds its studies under ``studies``; anything else is one record."""
    if isinstance(value, dict) and "studies" in value and "protocolSection" not in value:
        studies = value["studies"]
        return studies if isinstance(studies, list) else [studies]
    return [value]


def _describe(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text if len(text) <= 200 else text[:200] + "…"
