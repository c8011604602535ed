"""Identifier checks and normalisation: NCT ids, MeSH UIs, and slugs for shared node IRIs."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Final
from urllib.parse import quote

__all__ = ["NCT_PATTERN", "is_nct_id", "normalize_mesh_id", "slug", "valid_unicode"]

NCT_PATTERN: Final = re.compile(r"NCT[0-9]{8}\Z")
_MESH_PATTERN: Final = re.compile(r"([DC])0*([0-9]{1,9})\Z")  # at most 9 significant digits

#: Highest number MeSH still writes with 6 digits; every newer UI has 9 digits
#: (``D066331`` is the last 6-digit descriptor, ``C588027`` the last 6-digit supplementary concept).
_LAST_SIX_DIGIT: Final[dict[str, int]] = {"D": 66331, "C": 588027}
_MAX_SLUG: Final = 120


def is_nct_id(value: object) -> bool:
    """True for a well-formed ClinicalTrials.gov id such as ``NCT07232407``."""
    return isinstance(value, str) and NCT_PATTERN.fullmatch(value) is not None


def normalize_mesh_id(raw: str) -> str:
    """The UI MeSH itself uses: ``D000008175`` → ``D008175``, while 9-digit UIs such as ``D000086382`` stay.

    The registry zero-pads every UI to 9 digits in some downloads; stripping zeros would break the
    9-digit UIs MeSH has minted since about 2018, so the width follows the number.

    >>> normalize_mesh_id("D000008175"), normalize_mesh_id("D000086382"), normalize_mesh_id("C447941")
    ('D008175', 'D000086382', 'C447941')
    >>> normalize_mesh_id("C000447941")
    'C447941'
    """
    match = _MESH_PATTERN.fullmatch(raw.strip())
    if match is None:
        raise ValueError(f"not a MeSH descriptor or supplementary concept UI: {raw!r}")
    prefix, digits = match.groups()
    number = int(digits)
    width = 6 if number <= _LAST_SIX_DIGIT[prefix] else 9
    return f"{prefix}{number:0{width}d}"


def valid_unicode(text: str) -> str:
    """``text`` with lone UTF-16 surrogates (invalid Unicode that JSON escapes can carry) replaced by U+FFFD."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def slug(text: str) -> str:
    """A stable, IRI-safe key for a name as written: case- and space-insensitive, percent-encoded.

    Two trials naming "Docetaxel" and "docetaxel " meet at one node. Very long names end in a hash so
    IRIs stay short and still unique.
    """
    folded = " ".join(unicodedata.normalize("NFKC", valid_unicode(text)).casefold().split())
    if len(folded) > _MAX_SLUG:
        digest = hashlib.sha1(folded.encode("utf-8")).hexdigest()[:16]
        folded = f"{folded[:_MAX_SLUG]}~{digest}"
    return quote(folded.replace(" ", "-"), safe="-~")
