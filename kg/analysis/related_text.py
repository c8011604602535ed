"""The text component of related trials: a TF-IDF index over what each trial says about itself, and the words two
trials share.

Fields (``FIELDS``, with their weights): title, official title, acronym, conditions, keywords, intervention names and
other names, intervention descriptions, arm descriptions, brief summary, outcome measures. Words are case-folded,
accents dropped, plural ``-s`` removed (shown by their most common spelling); English and trial-boilerplate stop
words, numbers, one-letter words and NCT ids are left out (NCT ids are how the development set is labelled:
see docs/related-trials.md).

A trial's vector: per word ``(1 + ln Σ_field weight · count) · ln(N / trials with the word)``, only words at least
two trials use and at most ``MAX_DF`` of them, the ``TERMS_PER_TRIAL`` heaviest kept, L2-normalised; the similarity
of two trials is the cosine of their vectors (0..1). Stored as packed arrays (rows per trial and postings per word),
a few hundred bytes a trial, inside the related-trials index.

Speed: a query does not score its long document against every trial. Its ``QUERY_TERMS`` most distinctive words
(each used by at most ``RETRIEVAL_DF`` of the trials) gather candidates from the postings; the best ``TEXT_POOL``
of them, with the other components' candidates, are then scored by the full cosine.

Build: the texts are read once, a batch of trials at a time (``BATCH``); each trial's word counts go to a temporary
file, read back to weigh each trial's words once the trials per word are counted. Holding every trial's words at once
would take about 13 kB a trial; reading the texts a second time from the store was half of the build.
"""

from __future__ import annotations

import logging
import math
import re
import tempfile
import unicodedata
from array import array
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, BinaryIO, Final

import numpy as np
import numpy.typing as npt

from kg.analysis.arrays import located, spans
from kg.analysis.saved_index import untracked
from kg.store import Store
from kg.vocab import CTGOV_STUDY, SPARQL_PROLOGUE

__all__ = ["FIELDS", "SharedWord", "TextField", "TextIndex", "build_text_index"]


def _listed(words: str) -> list[str]:
    """The words of a whitespace-separated list kept as text, so that it reads as a paragraph."""
    return words.split()


logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TextField:
    """A kind of text a trial has: its name in explanations, property path from the trial and weight."""

    name: str
    path: str
    weight: float


FIELDS: Final = (
    TextField("title", "schema:name", 2.0),
    TextField("official title", "kg:officialTitle", 1.0),
    TextField("acronym", "schema:alternateName", 2.0),
    TextField("conditions", "kg:condition/rdfs:label", 2.0),
    TextField("keywords", "schema:keywords", 1.5),
    TextField("interventions", "kg:interventionUse/(rdfs:label|kg:otherName)", 2.0),
    TextField("intervention descriptions", "kg:interventionUse/schema:description", 1.0),
    TextField("arms", "kg:arm/schema:description", 1.0),
    TextField("summary", "schema:description", 1.0),
    TextField("outcomes", "(kg:primaryOutcome|kg:secondaryOutcome|kg:otherOutcome)/kg:measure", 1.0),
)
#: Words in more than this share of trials carry next to nothing and would make postings long.
MAX_DF: Final = 0.25
TERMS_PER_TRIAL: Final = 64
QUERY_TERMS: Final = 24
RETRIEVAL_DF: Final = 0.02
TEXT_POOL: Final = 200
SHOWN_WORDS: Final = 5
SHOWN_FIELDS: Final = 3
#: Trials whose texts are read (and weighed) together; the build holds one batch's words at a time.
BATCH: Final = 1000

STOP_WORDS: Final = frozenset(
    _listed(
        """
        a about above after again against all also am an and any are as at be because been before being below
        between both but by can could did do does doing down during each either few for from further had has have
        having he her here hers him his how i if in into is it its itself just may me might more most must my no nor
        not now of off on once only or other our out over own per same shall she should so some such than that the
        their them then there these they this those through to too under until up upon us use used using very via
        was we were what when where which while who whom why will with within without would yet you your study trial
        participant patient subject group arm treatment treat treated therapy effect efficacy safety evaluate
        evaluation assess assessment compare compared comparison randomized randomised controlled control clinical
        phase open label single double blind yes placebo placebo-controlled hour multicenter multicentre pilot
        investigate investigation versus vs week month year day time change baseline outcome measure primary
        secondary score total number rate
        """
    )
)

_TOKEN: Final = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")
_NCT: Final = re.compile(r"nct\d{8}")
#: Numbers, and doses glued to their unit (5mg, 10ml, 2x): a shared dose says little about what is tested.
_NUMBER: Final = re.compile(r"\d[\d.,'-]*[a-z]{0,3}")

IntArray = npt.NDArray[np.int32]
FloatArray = npt.NDArray[np.float32]


def stem(word: str) -> str:
    """A plural's singular, crudely: ``-ies`` → ``-y``, a final ``-s`` dropped but after s, u, i (class, virus,
    crisis)."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and word[-2] not in "sui'":
        return word[:-1]
    return word


def _fold(text: str) -> str:
    """Case folded, accents dropped (the Unicode pass only for text that needs it: most is ASCII)."""
    if not text.isascii():
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return text.casefold()


def _root(token: str) -> str | None:
    """The indexed form of a token, ``None`` for one left out (see the module docstring)."""
    if len(token) < 2 or _NUMBER.fullmatch(token) or _NCT.fullmatch(token) or token in STOP_WORDS:
        return None
    root = stem(token)
    return None if root in STOP_WORDS else root


@dataclass(frozen=True)
class SharedWord:
    """A word two trials share, how much of their cosine it makes, and the fields each trial has it in."""

    word: str
    weight: float
    query_fields: list[str]
    other_fields: list[str]

    def phrase(self) -> str:
        mine, theirs = (", ".join(names[:SHOWN_FIELDS]) for names in (self.query_fields, self.other_fields))
        return f"{self.word} ({mine})" if mine == theirs else f"{self.word} ({mine} ↔ {theirs})"


@dataclass
class TextIndex:
    """Per trial its words, weights and fields (``ptr``/``terms``/``weights``/``fields``, rows sorted by word), and
    per word its trials (``postings_ptr``/``postings``/``posting_weights``, rebuilt when read)."""

    vocabulary: Sequence[str]
    df: IntArray
    ptr: npt.NDArray[np.int64]
    terms: IntArray
    weights: FloatArray
    fields: npt.NDArray[np.uint16]
    postings_ptr: npt.NDArray[np.int64] = field(init=False, repr=False)
    postings: IntArray = field(init=False, repr=False)
    posting_weights: FloatArray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.vocabulary = untracked(self.vocabulary)
        order = np.argsort(self.terms, kind="stable")
        trial_of = np.repeat(np.arange(len(self.ptr) - 1, dtype=np.int32), np.diff(self.ptr))
        self.postings = trial_of[order]
        self.posting_weights = self.weights[order]
        self.postings_ptr = np.concatenate(([0], np.cumsum(np.bincount(self.terms, minlength=len(self.vocabulary)))))

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("postings") and k != "posting_weights"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__post_init__()

    @property
    def trials(self) -> int:
        return len(self.ptr) - 1

    def row(self, trial: int) -> tuple[IntArray, FloatArray]:
        start, end = self.ptr[trial], self.ptr[trial + 1]
        return self.terms[start:end], self.weights[start:end]

    def candidates(self, query: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """The ``TEXT_POOL`` trials best matching the query's most distinctive words (the query excluded), with
        their scores."""
        terms, weights = self.row(query)
        usable = self.df[terms] <= max(TEXT_POOL, RETRIEVAL_DF * self.trials)
        terms, weights = terms[usable], weights[usable]
        chosen = np.argsort(-weights, kind="stable")[:QUERY_TERMS]
        if not len(chosen):
            return np.empty(0, dtype=np.int64), np.empty(0)
        word, at = spans(self.postings_ptr, terms[chosen])
        trials, gains = self.postings[at], self.posting_weights[at] * weights[chosen][word]
        # Summed per distinct trial by sorting the few thousand postings: a count over every trial of the registry
        # and a scan for its non-zero sums took five times as long at 600,000 trials.
        found, where = np.unique(trials, return_inverse=True)
        sums = np.bincount(where, weights=gains, minlength=len(found))
        keep = (found != query) & (sums != 0)
        found, sums = found[keep], sums[keep]
        if len(found) > TEXT_POOL:
            best = np.argpartition(-sums, TEXT_POOL)[:TEXT_POOL]
            found, sums = found[best], sums[best]
        return found.astype(np.int64), sums.astype(np.float64)

    def similarity(self, query: int, others: Sequence[int]) -> list[float]:
        """The cosine of the query's vector with each other trial's."""
        if not others:
            return []
        terms, weights = self.row(query)
        if not len(terms):
            return [0.0] * len(others)
        segment, rows = spans(self.ptr, np.asarray(others, dtype=np.int64))
        items, values = self.terms[rows], self.weights[rows]
        at, shared = located(terms, items)
        products = np.where(shared, values * weights[at], 0.0)
        return [float(x) for x in np.bincount(segment, weights=products, minlength=len(others))]

    def shared(self, query: int, other: int, limit: int = SHOWN_WORDS) -> list[SharedWord]:
        """The words adding most to the two trials' cosine, heaviest first."""
        mine, theirs = slice(self.ptr[query], self.ptr[query + 1]), slice(self.ptr[other], self.ptr[other + 1])
        common, at_mine, at_theirs = _common(self.terms[mine], self.terms[theirs])
        products = self.weights[mine][at_mine] * self.weights[theirs][at_theirs]
        order = np.argsort(-products, kind="stable")[:limit]
        rows = zip(
            common[order].tolist(),
            products[order].tolist(),
            self.fields[mine][at_mine[order]].tolist(),
            self.fields[theirs][at_theirs[order]].tolist(),
            strict=True,
        )
        return [
            SharedWord(self.vocabulary[word], round(product, 4), _field_names(ours), _field_names(others))
            for word, product, ours, others in rows
        ]


def _common(mine: IntArray, theirs: IntArray) -> tuple[IntArray, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """``np.intersect1d(mine, theirs, return_indices=True)`` of two rows (sorted, each word once), by binary search:
    four times faster on rows this short."""
    at, shared = located(theirs, mine)
    at_mine = np.flatnonzero(shared)
    return mine[at_mine], at_mine, at[at_mine]


def _field_names(mask: int) -> list[str]:
    return list(_fields_in(mask))


@cache
def _fields_in(mask: int) -> tuple[str, ...]:
    """The names of the fields a mask holds (one bit per field: a few hundred masks occur)."""
    return tuple(f.name for bit, f in enumerate(FIELDS) if mask & (1 << bit))


class _Spill:
    """Each trial's word counts and field bits, words numbered, in a temporary file: written a batch of trials at a
    time while the texts are read, read back in the same order. 14 bytes a word of a trial: about 1 GB of disk at
    600,000 trials, where holding them would take gigabytes of memory."""

    def __init__(self, file: BinaryIO) -> None:
        self.roots: list[str] = []
        self._numbers: dict[str, int] = {}
        self._df = np.zeros(0, dtype=np.int64)
        self._file = file
        self._pending: list[tuple[list[int], list[float], list[int]]] = []
        self._batches = 0

    def _number(self, root: str) -> int:
        number = self._numbers.get(root)
        if number is None:
            number = self._numbers[root] = len(self.roots)
            self.roots.append(root)
        return number

    def add(self, tally: dict[str, float], mask: dict[str, int]) -> None:
        """One trial's words (in the order met, which breaks ties between equal weights), counts and field bits."""
        words = [self._number(root) for root in tally]
        self._pending.append((words, list(tally.values()), [mask[root] for root in tally]))
        if len(self._pending) == BATCH:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        words = np.fromiter((w for row in self._pending for w in row[0]), dtype=np.int32)
        columns = (
            np.array([len(row[0]) for row in self._pending], dtype=np.int64),
            words,
            np.fromiter((n for row in self._pending for n in row[1]), dtype=np.float64),
            np.fromiter((b for row in self._pending for b in row[2]), dtype=np.uint16),
        )
        for column in columns:
            np.save(self._file, column, allow_pickle=False)
        counted = np.bincount(words, minlength=len(self.roots))
        counted[: len(self._df)] += self._df
        self._df = counted
        self._pending.clear()
        self._batches += 1

    def trials_per_word(self) -> list[int]:
        """Per word number, how many trials use it (each trial's words are distinct)."""
        self._flush()
        return list(self._df.tolist())

    def trials(self) -> Iterator[tuple[list[int], list[float], list[int]]]:
        """Every trial's words, counts and field bits, in the order added."""
        self._flush()
        self._file.seek(0)
        for _ in range(self._batches):
            lengths, words, counts, masks = (np.load(self._file, allow_pickle=False) for _ in range(4))
            ends = np.cumsum(lengths).tolist()
            words, counts, masks = words.tolist(), counts.tolist(), masks.tolist()
            start = 0
            for end in ends:
                yield words[start:end], counts[start:end], masks[start:end]
                start = end


@dataclass
class _Reader:
    """Reads trials' texts a batch at a time: tokens analysed once each, spellings counted for display."""

    store: Store
    roots: dict[str, str | None] = field(default_factory=dict)
    spellings: Counter[str] = field(default_factory=Counter)

    def tallies(self, ncts: Sequence[str]) -> Iterator[tuple[dict[str, float], dict[str, int]]]:
        """Per trial, in order: each word's count weighted by its fields' weights, and the fields' bits."""
        for start in range(0, len(ncts), BATCH):
            batch = {nct: number for number, nct in enumerate(ncts[start : start + BATCH])}
            counts: list[dict[str, float]] = [{} for _ in batch]
            masks: list[dict[str, int]] = [{} for _ in batch]
            values = " ".join(f"<{CTGOV_STUDY}{nct}>" for nct in batch)
            for number, text_field in enumerate(FIELDS):
                query = (
                    f"{SPARQL_PROLOGUE}SELECT ?trial ?text "
                    f"WHERE {{ VALUES ?trial {{ {values} }} ?trial {text_field.path} ?text }}"
                )
                for trial_iri, text in self.store.solutions(query, "trial", "text"):
                    at = batch[trial_iri.rsplit("/", 1)[-1]]
                    self._add(text, FIELDS[number].weight, 1 << number, counts[at], masks[at])
            yield from zip(counts, masks, strict=True)

    def _add(self, text: str, weight: float, bit: int, tally: dict[str, float], mask: dict[str, int]) -> None:
        for token, times in Counter(_TOKEN.findall(_fold(text))).items():
            root = self.roots[token] if token in self.roots else self.roots.setdefault(token, _root(token))
            if root is not None:
                self.spellings[token] += times
                tally[root] = tally.get(root, 0.0) + weight * times
                mask[root] = mask.get(root, 0) | bit

    def shown(self) -> dict[str, str]:
        """Each root's most common spelling."""
        found: dict[str, str] = {}
        for token, _ in self.spellings.most_common():
            found.setdefault(self.roots[token] or token, token)
        return found


def build_text_index(store: Store, ncts: Sequence[str]) -> TextIndex:
    """Read every trial's texts and weigh its words (see the module docstring), ``ncts`` in index order. The texts
    are read once, a batch of trials at a time; each trial's word counts go to a temporary file (:class:`_Spill`), and
    a second pass over that file, once every word's trial count is known, weighs and keeps each trial's heaviest
    words. At no time are all trials' words held in memory (13 kB a trial: 8 GB at 600,000)."""
    reader = _Reader(store)
    with tempfile.TemporaryFile() as file:
        spill = _Spill(file)
        for tally, mask in reader.tallies(ncts):
            spill.add(tally, mask)
        df = spill.trials_per_word()
        total = max(len(ncts), 1)
        roots = spill.roots
        kept = sorted((number for number, n in enumerate(df) if 2 <= n <= MAX_DF * total), key=roots.__getitem__)
        kept_as = [-1] * len(roots)  # a word's number in the index, -1 when left out
        idf = [0.0] * len(roots)
        for position, number in enumerate(kept):
            kept_as[number] = position
            idf[number] = math.log(total / df[number])
        ptr, terms, weights, fields = array("q", [0]), array("i"), array("f"), array("H")
        for words, counts, masks in spill.trials():
            row = [
                (kept_as[word], (1 + math.log(n)) * idf[word], bits)
                for word, n, bits in zip(words, counts, masks, strict=True)
                if kept_as[word] >= 0
            ]
            row = sorted(row, key=lambda item: -item[1])[:TERMS_PER_TRIAL]
            norm = math.sqrt(sum(w * w for _, w, _ in row)) or 1.0
            for position, w, bits in sorted(row):  # by word: positions are distinct
                terms.append(position)
                weights.append(w / norm)
                fields.append(bits)
            ptr.append(len(terms))
    shown = reader.shown()
    return TextIndex(
        vocabulary=[shown[roots[number]] for number in kept],
        df=np.array([df[number] for number in kept], dtype=np.int32),
        ptr=np.array(ptr, dtype=np.int64),
        terms=np.array(terms, dtype=np.int32),
        weights=np.array(weights, dtype=np.float32),
        fields=np.array(fields, dtype=np.uint16),
    )
