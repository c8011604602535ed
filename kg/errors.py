"""The one base of the errors a user can cause: the command line turns any of them into one line and exit 2."""

from __future__ import annotations

__all__ = ["KgError"]


class KgError(Exception):
    """Something the user asked for cannot be done (a missing store, an unknown query, a failed build): the
    message says what and, where it can, how to fix it."""
