"""Python's cyclic garbage collector paused while a big page is drawn.

A depth-2 explorer page makes hundreds of thousands of short-lived, acyclic objects (rows, nodes, rankings, then its
HTML). They start full collections, each walking every ranking kept in memory and the page built so far: at 600k
trials 10 such passes took 1.8 s of 6 pages (12 % of the time). Reference counting still frees every acyclic
object at once; cycles wait for the collector's next pass.
"""

from __future__ import annotations

import gc
import threading
from typing import Final

__all__ = ["COLLECTOR_PAUSED", "CollectorPause"]


class CollectorPause:
    """Entered by each page being drawn. ``kg serve`` draws pages in several threads: the collector is turned off
    by the first and back on (if it was on then) once the last is done."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pages = 0
        self._resume = False

    def __enter__(self) -> None:
        with self._lock:
            if not self._pages:
                self._resume = gc.isenabled()
                gc.disable()
            self._pages += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._pages -= 1
            if not self._pages and self._resume:
                gc.enable()


#: The one pause every page drawn takes part in.
COLLECTOR_PAUSED: Final = CollectorPause()
