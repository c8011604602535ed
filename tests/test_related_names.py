"""Intervention names as comparable keys: each rule of kg.analysis.related_names on names as registries write them."""

from __future__ import annotations

import pytest

from kg.analysis.related_names import name_key


@pytest.mark.parametrize(
    ("written", "key"),
    [
        ("Sildenafil Citrate 50 mg tablets", "sildenafil"),  # salt, dose, unit, form
        ("sildenafil", "sildenafil"),
        ("Tadalafil (Cialis) 5mg", "tadalafil"),  # brackets, dose glued to its unit
        ("Metformin Hydrochloride Extended-Release Tablets", "metformin"),
        ("Lutetium Lu 177 dotatate", "dotatate lu lutetium"),  # word order does not matter
        ("dotatate, lutetium Lu-177", "dotatate lu lutetium"),
        ("TPN171H group", "tpn171h"),  # arm words
        ("Sodium Chloride 0.9%", "chloride sodium"),  # nothing left but dropped words: keep them
        ("Café-au-lait spots cream", "au cafe lait spots"),  # accents and case
        ("Cognitive Behavioral Therapy", "behavioral cognitive therapy"),
    ],
)
def test_names_as_keys(written: str, key: str) -> None:
    assert name_key(written) == key


@pytest.mark.parametrize("written", ["Placebo", "Matching placebo tablets", "", "  (n/a) "])
def test_placebos_and_empty_names_have_no_key(written: str) -> None:
    assert name_key(written) is None
