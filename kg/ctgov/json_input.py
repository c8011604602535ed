"""A byte stream made safe for ijson's C parser (yajl), which gives up on the rest of a file at the first
oddity: with it, one bad record costs only itself. Used by :mod:`kg.ctgov.files`."""

from __future__ import annotations

import codecs
import io
import math
import re
from typing import IO, Any, Final

__all__ = ["CHUNK", "NOT_UTF8", "SafeJsonInput"]

#: Bytes read from the underlying file at a time.
CHUNK: Final = 64 * 1024
#: Stands in for bytes that are not UTF-8 until the record holding them is known (a Unicode noncharacter).
_UNDECODABLE: Final = "\ufdd0"
NOT_UTF8: Final = "bytes that are not UTF-8 (is the file in another encoding?)"
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


class SafeJsonInput(io.RawIOBase):
    """A byte stream made safe for the C JSON parser, which gives up on the rest of a file at the first
    oddity; here each one costs at most its own record:

    - bytes that are not UTF-8 become ``_UNDECODABLE``, and the record holding them a problem;
    - lone UTF-16 surrogate escapes (``\\ud800``), which yajl turns into ``?``, a wrong character or an
      exception, become ``\\ufffd``, as :mod:`kg.ctgov.mapping` does with what the standard library reads;
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
        chunk = self.raw.read(CHUNK)
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
                    problem = NOT_UTF8
                if self.undecodable and isinstance(key, str) and _UNDECODABLE in key:
                    problem = NOT_UTF8
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
