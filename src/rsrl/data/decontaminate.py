"""Decontamination of training problems against benchmark problems.

A training problem is contaminated by a benchmark when its normalised text equals a benchmark problem's
(:func:`rsrl.data.normalize.problem_keys`), or when at least `overlap` of its distinct word n-grams occur in
some benchmark problem. Words are lower-case alphanumeric runs (:func:`rsrl.data.normalize.words`). Problems
shorter than n words have no n-grams and are checked by exact match only.

Everything is vectorised: words are split with Arrow compute kernels, each n-gram becomes one 64-bit rolling
hash (numpy), and membership is a sorted-array lookup, so a 100k-problem set takes seconds.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rsrl.data.normalize import KEY_NOISE, problem_keys

_MULT = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit multiplier of the rolling hash


def _lowered(problems) -> pa.Array:
    arr = problems if isinstance(problems, (pa.Array, pa.ChunkedArray)) else pa.array(problems, type=pa.large_string())
    return pc.utf8_lower(pc.utf8_normalize(arr, form="NFKC"))


def _word_codes(lowered, vocab: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Word codes of all problems, flattened, and the problem index of each word.

    Codes come from `vocab` (extended in place), so hashes of two corpora built with one vocab are comparable.
    """
    toks = pc.ascii_split_whitespace(pc.replace_substring_regex(lowered, pattern=r"[^a-z0-9]+", replacement=" "))
    flat = pc.list_flatten(toks)
    parent = pc.list_parent_indices(toks)
    if isinstance(flat, pa.ChunkedArray):
        flat, parent = flat.combine_chunks(), parent.combine_chunks()
    enc = pc.dictionary_encode(flat)
    words = enc.dictionary.to_pylist()
    remap = np.fromiter((vocab.setdefault(w, len(vocab) + 1) for w in words), dtype=np.uint64, count=len(words))
    codes = remap[enc.indices.to_numpy(zero_copy_only=False)] if len(words) else np.zeros(0, np.uint64)
    return codes, parent.to_numpy(zero_copy_only=False)


def _window_hashes(codes: np.ndarray, parent: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(problem index, 64-bit hash) of every n-word window that stays inside one problem."""
    m = len(codes) - n + 1
    if m <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.uint64)
    with np.errstate(over="ignore"):
        h = np.zeros(m, np.uint64)
        for j in range(n):
            h = h * _MULT + codes[j : j + m]
        h ^= h >> np.uint64(29)
    ok = parent[:m] == parent[n - 1 :]
    return parent[:m][ok].astype(np.int64), h[ok]


_BUCKET_SHIFT = np.uint64(40)  # 2**24 buckets for the prefilter bitmap


@dataclass
class Match:
    kind: str  # "exact" or "ngram"
    benchmark: str
    share: float  # share of the training problem's n-grams found in benchmarks (1.0 for exact matches)
    problem_id: str  # the matched benchmark problem (for n-grams: the one sharing most n-grams)


class BenchmarkIndex:
    """Exact keys and n-gram hashes of every benchmark problem."""

    def __init__(self, benchmarks: dict[str, list[tuple[str, str]]], n: int):
        """`benchmarks`: name -> list of (problem id, problem text)."""
        self.n = n
        self.vocab: dict[str, int] = {}
        self.exact: dict[str, tuple[str, str]] = {}
        rows = [(b, pid, text) for b, probs in benchmarks.items() for pid, text in probs]
        for (b, pid, _), key in zip(rows, problem_keys([r[2] for r in rows])):
            self.exact.setdefault(key, (b, pid))
        self.rows = [(b, pid) for b, pid, _ in rows]
        self.hashes, self.row = np.zeros(0, np.uint64), np.zeros(0, np.int64)
        self.bitmap = np.zeros(1 << 24, bool)
        if rows:
            p, h = _window_hashes(*_word_codes(_lowered([r[2] for r in rows]), self.vocab), n)
            order = np.argsort(h, kind="stable")
            h, r = h[order], p[order]
            first = np.ones(len(h), bool)
            first[1:] = h[1:] != h[:-1]
            self.hashes, self.row = h[first], r[first]
            self.bitmap[self.hashes >> _BUCKET_SHIFT] = True

    def match_all(self, problems, overlap: float) -> list[Match | None]:
        """A :class:`Match` (or None) for each problem (a list of strings or an Arrow string array)."""
        lowered = _lowered(problems)
        keys = pc.replace_substring_regex(lowered, pattern=KEY_NOISE, replacement="").to_pylist()
        out: list[Match | None] = [None] * len(keys)
        for i, key in enumerate(keys):
            hit = self.exact.get(key)
            if hit is not None:
                out[i] = Match("exact", hit[0], 1.0, hit[1])
        if not len(self.hashes) or not keys:
            return out
        p, h = _window_hashes(*_word_codes(lowered, dict(self.vocab)), self.n)
        # Cheap bitmap prefilter, then an exact sorted lookup for the few candidates.
        cand = np.flatnonzero(self.bitmap[h >> _BUCKET_SHIFT])
        pos = np.searchsorted(self.hashes, h[cand])
        pos[pos == len(self.hashes)] = 0
        hit = self.hashes[pos] == h[cand]
        cand, pos = cand[hit], pos[hit]
        if not len(cand):
            return out
        starts = np.searchsorted(p, np.arange(len(keys) + 1))  # windows are grouped by problem, in order
        for i in np.unique(p[cand]):
            if out[i] is not None:
                continue
            grams = np.unique(h[starts[i] : starts[i + 1]])
            mine = p[cand] == i
            found = np.unique(h[cand[mine]])
            share = len(found) / len(grams)
            if share >= overlap:
                bench, pid = self.rows[Counter(self.row[pos[mine]].tolist()).most_common(1)[0][0]]
                out[i] = Match("ngram", bench, float(share), pid)
        return out


def find_contaminated(problems, index: BenchmarkIndex, overlap: float) -> list[Match | None]:
    """One :class:`Match` (or None) per training problem."""
    return index.match_all(problems, overlap)
