"""NumPy helpers the saved indexes share."""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import numpy.typing as npt

__all__ = ["distinct", "located", "spans"]

Scalar = TypeVar("Scalar", bound=np.generic)


def distinct(values: npt.NDArray[Scalar]) -> npt.NDArray[Scalar]:
    """The distinct values, sorted, as ``np.unique(values)`` gives them, by sorting. NumPy 2.4 answers a plain
    ``np.unique`` through a hash table, 7 to 12 times slower on large integer arrays (a million int64 keys: 660 ms
    against 53 ms); with ``return_inverse`` or ``return_counts`` it still sorts."""
    ordered = np.sort(values, kind="stable")
    if len(ordered) < 2:
        return ordered
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


Positions = npt.NDArray[np.int64]


def spans(ptr: npt.NDArray[np.integer], rows: npt.NDArray[np.integer]) -> tuple[Positions, Positions]:
    """Rows of a packed table (row ``i`` is ``items[ptr[i]:ptr[i + 1]]``) laid end to end, without a Python loop:
    (position in ``rows`` of each item's row, the item's position in ``items``)."""
    starts = ptr[rows].astype(np.int64)
    lengths = ptr[rows + 1] - starts
    owner = np.repeat(np.arange(len(rows)), lengths)
    return owner, np.arange(len(owner)) + np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)


def located(ordered: npt.NDArray[Scalar], values: npt.NDArray[Scalar]) -> tuple[Positions, npt.NDArray[np.bool_]]:
    """Where each of ``values`` would sit in ``ordered`` (sorted, distinct), and whether it is there: ``np.isin``
    with the positions, by binary search, several times faster than ``np.isin`` or ``np.intersect1d`` on the short
    rows of a ranking."""
    if not len(ordered):
        return np.zeros(len(values), dtype=np.int64), np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(ordered, values), len(ordered) - 1)
    return at, ordered[at] == values
