"""The labelled-set harness: reading TrialSim/SECRET-layout files and the measures, on a ranking computed by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from kg.analysis.related_eval import LabelsError, evaluate, measures, read_labels

FIXTURE = Path(__file__).parent / "fixtures" / "related" / "trialsim_labels.tsv"

#: Query 101: related 111, 113, 116 (R = 3) ranked at 2, 4 and 6. By hand: P@1 0; P@5 2/5; R@5 2/3;
#: DCG@5 = 1/log2(3) + 1/log2(5) = 0.630930 + 0.430677 = 1.061606, ideal 1 + 0.630930 + 0.5 = 2.130930,
#: nDCG@5 = 0.498188; AP = (1/2 + 2/4 + 3/6) / 3 = 0.5.
#: Query 102: related 121 (R = 1) ranked first: P@1 1, P@5 1/5, R@5 1, nDCG@5 1, AP 1.
#: Query 103 has no related candidate and is left out of the means.
RANKINGS = {
    "NCT00000101": ["NCT00000112", "NCT00000111", "NCT00000114", "NCT00000113", "NCT00000115", "NCT00000116"],
    "NCT00000102": ["NCT00000121", "NCT00000122"],
    "NCT00000103": ["NCT00000131"],
}
EXPECTED = {
    "P@1": (0 + 1) / 2,
    "P@5": (0.4 + 0.2) / 2,
    "R@5": (2 / 3 + 1) / 2,
    "nDCG@5": (0.498188 + 1) / 2,
    "MAP": (0.5 + 1) / 2,
    "queries": 2,
}


def test_trialsim_layout_is_read_with_its_header_and_any_case() -> None:
    labels = read_labels(FIXTURE)
    assert set(labels) == {"NCT00000101", "NCT00000102", "NCT00000103"}
    assert labels["NCT00000101"] == {
        "NCT00000111": 1,
        "NCT00000112": 0,
        "NCT00000113": 1,
        "NCT00000114": 0,
        "NCT00000115": 0,
        "NCT00000116": 1,
    }
    assert labels["NCT00000103"] == {"NCT00000131": 0}


def test_measures_match_the_hand_computed_figures() -> None:
    found = evaluate(RANKINGS, read_labels(FIXTURE))
    assert found == pytest.approx(EXPECTED, abs=1e-6)
    perfect = measures(["NCT00000111", "NCT00000113", "NCT00000116"], {"NCT00000111", "NCT00000113", "NCT00000116"})
    assert perfect == {"P@1": 1.0, "P@5": 0.6, "R@5": 1.0, "nDCG@5": 1.0, "MAP": 1.0}
    assert measures([], {"NCT00000111"}) == {"P@1": 0.0, "P@5": 0.0, "R@5": 0.0, "nDCG@5": 0.0, "MAP": 0.0}


def test_csv_without_header_and_bad_rows(tmp_path: Path) -> None:
    plain = tmp_path / "secret.csv"
    plain.write_text("NCT00000101,NCT00000111,1\nNCT00000101,NCT00000112,0\n", encoding="utf-8")
    assert read_labels(plain) == {"NCT00000101": {"NCT00000111": 1, "NCT00000112": 0}}
    for body, message in (("q,c,label\nNCT1,NCT2,yes\n", "is not 0 or 1"), ("NCT00000101,NCT00000111\n", "expected")):
        bad = tmp_path / "bad.csv"
        bad.write_text(body, encoding="utf-8")
        with pytest.raises(LabelsError, match=message):
            read_labels(bad)
