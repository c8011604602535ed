"""A query worker process: ``python -m kg.web.query_child SPEC FD`` answers jobs over the socket FD.

Its own module because ``kg.web`` imports :mod:`kg.web.workers`, and ``-m`` must not run a module already imported.
"""

from __future__ import annotations

import sys
from multiprocessing.connection import Connection

from kg.web.workers import serve

if __name__ == "__main__":
    serve(sys.argv[1], Connection(int(sys.argv[2])))
