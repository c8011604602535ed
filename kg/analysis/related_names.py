"""Intervention names as a comparable key: two trials naming one product in different words should meet.

The rules, applied in this order to a name as written (an intervention's name or one of its other names):

1. Unicode compatibility form, accents dropped, case folded; text in brackets is dropped ("Sildenafil (Viagra)"
   → "sildenafil"; the brand usually comes again as an other name).
2. Split into words at anything but letters and digits (hyphens too: "Lu-177" → "lu", "177").
3. Dropped: doses (a number, alone or glued to a unit: "50", "50mg", "0.5", "mg", "mg/kg" parts), the unit words in
   ``UNITS``, the salt and hydrate words in ``SALTS`` ("sildenafil citrate" → "sildenafil") and the dose-form and
   route words in ``FORMS`` ("tadalafil 5 mg tablets" → "tadalafil") and the arm words in ``ARMS`` ("TPN171H
   group" → "tpn171h").
4. The remaining words sorted and joined by one space, so word order does not matter ("dotatate lutetium" and
   "lutetium dotatate").

A name that is nothing but dropped words keeps its case-folded words ("Sodium Chloride" → "chloride sodium"), so
saline still meets saline. A name naming a placebo (``GENERIC``) has no key: sharing a placebo says nothing.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

__all__ = ["ARMS", "FORMS", "GENERIC", "SALTS", "UNITS", "name_key"]


def _listed(words: str) -> list[str]:
    """The words of a whitespace-separated list kept as text, so that it reads as a paragraph."""
    return words.split()


SALTS: Final = frozenset(
    _listed(
        """
        hydrochloride dihydrochloride hcl citrate sodium disodium potassium calcium magnesium maleate mesylate
        mesilate sulfate sulphate bisulfate phosphate acetate tartrate bitartrate fumarate hemifumarate succinate
        besylate besilate bromide hydrobromide chloride tosylate malate lactate gluconate nitrate oxalate pamoate
        propionate dipropionate valerate hyclate hydrate monohydrate dihydrate trihydrate anhydrous free base
        """
    )
)
FORMS: Final = frozenset(
    _listed(
        """
        tablet tablets capsule capsules caplet caplets pill pills injection injections injectable oral orally
        solution suspension cream gel ointment patch patches spray nasal inhaler inhalation drops syrup powder
        infusion intravenous iv subcutaneous sc intramuscular im topical film coated extended modified delayed
        prolonged release er xr sr ir dr odt orodispersible disintegrating chewable dose doses dosage formulation
        vial
        """
    )
)
ARMS: Final = frozenset(["group", "groups", "arm", "arms", "cohort", "regimen"])
UNITS: Final = frozenset(
    _listed(
        """
        mg g mcg ug µg ng kg ml l iu units unit mmol mol mg/kg mg/ml percent day daily
        """
    )
)
GENERIC: Final = frozenset({"placebo", "placebos"})

_DROPPED: Final = SALTS | FORMS | UNITS | ARMS
_BRACKETS: Final = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_WORD: Final = re.compile(r"[^\W_]+")
_DOSE: Final = re.compile(r"\d+(?:[.,]\d+)?[a-zµ]*")


def _words(name: str) -> list[str]:
    text = unicodedata.normalize("NFKD", name)
    text = "".join(char for char in text if not unicodedata.combining(char)).casefold()
    return _WORD.findall(_BRACKETS.sub(" ", text))


def name_key(name: str) -> str | None:
    """The comparable key of an intervention name (see the module docstring), ``None`` for a placebo or nothing."""
    words = _words(name)
    if not words or GENERIC.intersection(words):
        return None
    kept = [word for word in words if not (_DOSE.fullmatch(word) or word in _DROPPED)]
    if not kept:
        kept = [word for word in words if not _DOSE.fullmatch(word)]
    return " ".join(sorted(set(kept))) or None
