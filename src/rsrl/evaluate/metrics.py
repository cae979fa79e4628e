"""Per-problem results and benchmark metrics of one (checkpoint, benchmark) from its graded samples.

**Answer classes.** Votes are counted per math-equivalence class of answers, not per string (``x=2`` and ``2`` are
one answer). The grading job (:mod:`rsrl.evaluate.grade`) labels every answer of a shard with its class
(``answer_class``: a representative member string); here the classes of all shards of a problem are joined:

* every correct sample is in the one *correct class* (each verified against the gold answer);
* two wrong answers are in one class when a shard put them in one class, closed transitively over shards (a
  string appears under one label per shard; shards sharing a string share its class);
* samples without an extracted answer are in no class and do not vote.

A class's name is its most frequent member string (ties: the first seen).

problems.parquet, one row per problem: problem_id, n (samples), c (correct), accuracy (c / n), n_distinct
(answer classes), majority_answer (name of the largest class; ties: the class seen first),
majority_correct, timeouts, mean_tokens, length_share (share of samples stopped by the token limit,
``finish_reason == "length"``), cut_share (share cut by the grader at an end-of-turn marker, ``"cut"``),
class_fallbacks (answers grouped by string identity only, past the grader's per-problem cap or after a timeout).

metrics.csv, tidy: metric, k, value, ci_low, ci_high with

* ``pass@k`` — unbiased pass@k (:func:`rsrl.passk.pass_at_k`), mean over problems, for k = 1, 2, 4, ... and n;
* ``maj@k`` — the probability that the majority answer of k samples drawn without replacement is correct
  (:func:`maj_at_k`, exact). The majority answer is the class with most votes among the k; **ties are broken
  uniformly at random**, so a tie of the correct class with ``T`` others scores ``1 / (T + 1)``; k samples
  without any vote score 0;
* ``mean@n`` — mean accuracy over all n samples (k = n);
* ``distinct_share`` — mean over problems of (answer classes / n) (k = n);
* ``length_share``, ``cut_share``, ``class_fallback_share`` — mean over problems of the per-problem shares above
  (class_fallbacks / n for the last) (k = n).

Confidence intervals (95 %): the hull of the percentile bootstrap over problems and the Wilson score interval
(:func:`rsrl.passk.problem_ci`; every metric is a mean of per-problem values in [0, 1], and the bootstrap alone
closes to a point when every problem scores 0 or 1).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.signal import convolve, fftconvolve
from scipy.stats import binom

from rsrl.passk import default_ks, pass_at_k, problem_ci

N_BOOT = 2000
ALPHA = 0.05
#: maj@k skips counts of the correct class less likely than this (an error below 1e-10 for n <= 65536).
NEGLIGIBLE = 1e-18

PROBLEM_COLUMNS = [
    "problem_id",
    "n",
    "c",
    "accuracy",
    "n_distinct",
    "majority_answer",
    "majority_correct",
    "timeouts",
    "mean_tokens",
    "length_share",
    "cut_share",
    "class_fallbacks",
]
METRIC_COLUMNS = ["metric", "k", "value", "ci_low", "ci_high"]


# --------------------------------------------------------------------------------------------------------------
# Answer classes of one problem


def class_codes(g: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Classes of the samples of one problem (see the module docstring).

    Returns (code per sample, -1 for no vote; correctness per code; name per code). Codes are numbered in order of
    first appearance; the correct class, if any, is one of them.
    """
    correct = g["correct"].to_numpy(bool)
    answer = g["answer"].astype("string")
    label = (g["answer_class"] if "answer_class" in g else answer).astype("string").fillna(answer)
    wrong = answer.notna().to_numpy() & ~correct
    # Components of the graph whose nodes are wrong answer strings and labels, with an edge per sample.
    m = int(wrong.sum())
    node_ids, nodes = pd.factorize(pd.concat([answer[wrong], label[wrong]], ignore_index=True).to_numpy(object))
    comp = np.zeros(0, dtype=np.int64)
    if m:
        graph = sparse.coo_matrix((np.ones(m), (node_ids[:m], node_ids[m:])), shape=(len(nodes), len(nodes)))
        comp = sparse.csgraph.connected_components(graph, directed=False)[1]
    raw = np.full(len(g), -1, dtype=np.int64)
    raw[wrong] = comp[node_ids[:m]]
    raw[correct] = len(nodes)  # one class for all correct samples
    voting = raw >= 0
    vote_codes, first = pd.factorize(raw[voting])  # numbered in order of first appearance
    codes = np.full(len(g), -1, dtype=np.int64)
    codes[voting] = vote_codes
    code_correct = np.asarray(first == len(nodes), dtype=bool)
    strings = answer.fillna("").to_numpy(object)
    names = []
    for c in range(len(first)):
        s_codes, s_uniques = pd.factorize(strings[codes == c])
        names.append(str(s_uniques[int(np.argmax(np.bincount(s_codes)))]))  # most frequent; ties: first seen
    return codes, code_correct, names


# --------------------------------------------------------------------------------------------------------------
# maj@k


def maj_at_k(counts, correct: int, n: int, ks) -> np.ndarray:
    """Exact maj@k of one problem for every k in `ks` (the rule: see the module docstring).

    `counts`: votes per answer class; `correct`: index of the correct class (-1 if none); `n`: samples, voting or
    not (``n >= sum(counts)``). The k samples are a uniformly random k-subset of the n.

    Computation: the class counts of a random k-subset are multivariate hypergeometric, which equals independent
    ``Binomial(a_j, q)`` counts conditioned on their sum being k, for any ``0 < q < 1``; ``q = k / n`` keeps every
    intermediate a probability. For each count t of the correct class, a polynomial product over the classes that
    could reach t (degree = votes drawn, truncated to k - t; a second axis counts classes drawn exactly t times,
    the ties) gives the probability that no class beats t with every number of ties; everything else (smaller
    classes, non-voters) is one binomial. Counts t less likely than :data:`NEGLIGIBLE` are skipped.
    """
    counts = np.asarray(counts, dtype=np.int64)
    ks = np.atleast_1d(np.asarray(ks, dtype=np.int64))
    if counts.sum() > n or np.any(counts < 0):
        raise ValueError(f"maj_at_k: need non-negative counts summing to at most n = {n}; got {counts.tolist()}")
    if np.any(ks < 1) or np.any(ks > n):
        raise ValueError(f"maj_at_k: need 1 <= k <= n = {n}; got {ks.tolist()}")
    out = np.zeros(len(ks))
    if correct < 0 or counts[correct] == 0:
        return out
    a_c = int(counts[correct])
    others = np.sort(np.delete(counts, correct))
    others = others[others > 0]
    for j, k in enumerate(ks):
        out[j] = _maj_one(a_c, others, int(n), int(k))
    return out


def _maj_one(a_c: int, others: np.ndarray, n: int, k: int) -> float:
    if k == n:  # every sample drawn
        top = int(others.max()) if len(others) else 0
        return 0.0 if top > a_c else 1.0 / (1 + int((others == a_c).sum()))
    q = k / n
    pool = n - a_c  # other classes and non-voters
    t_free = int(others.max()) + 1 if len(others) else 1  # from here on no other class can reach t
    total = 0.0
    # t >= t_free: the correct class wins outright whenever it has t votes.
    t = np.arange(max(1, t_free), min(a_c, k) + 1)
    if len(t):
        total += float(np.sum(binom.pmf(t, a_c, q) * binom.pmf(k - t, pool, q)))
    for t in range(1, min(t_free, a_c + 1, k + 1)):
        p_t = binom.pmf(t, a_c, q)
        if p_t < NEGLIGIBLE:
            continue
        d = k - t  # votes left for the others
        big = others[others >= t]  # classes that could tie or beat t
        rest = pool - int(big.sum())
        poly = np.zeros((min(len(big), d // t) + 1, d + 1))  # [ties, votes drawn from `big`]
        poly[0, 0] = 1.0
        for a in big:
            b = binom.pmf(np.arange(t + 1), a, q)
            conv = fftconvolve(poly, b[None, :t], axes=1) if t > 32 else convolve(poly, b[None, :t], method="direct")
            new = conv[:, : d + 1]
            if d >= t and poly.shape[0] > 1:
                new[1:, t:] += poly[:-1, : d + 1 - t] * b[t]
            poly = new
        r = binom.pmf(d - np.arange(d + 1), rest, q)  # the remaining votes come from the rest
        per_ties = np.clip(poly, 0.0, None) @ r
        total += p_t * float(np.sum(per_ties / np.arange(1, len(per_ties) + 1)))
    return float(min(1.0, total / binom.pmf(k, n, q)))


# --------------------------------------------------------------------------------------------------------------
# Tables


def _share(g: pd.DataFrame, reason: str) -> float:
    if "finish_reason" not in g:
        return np.nan
    return float((g["finish_reason"].astype("string") == reason).fillna(False).mean())


def problem_table(graded: pd.DataFrame, problem_ids=None) -> pd.DataFrame:
    """One row per problem (in `problem_ids` order if given, else first-seen order)."""
    graded = graded.sort_values(["problem_id", "sample_idx"], kind="stable")
    rows = []
    groups = dict(tuple(graded.groupby("problem_id", sort=False)))
    ids = list(problem_ids) if problem_ids is not None else list(groups)
    missing = [p for p in ids if p not in groups]
    if missing:
        raise ValueError(f"no graded samples for problem(s) {missing[:5]}; a shard is missing or empty")
    for pid in ids:
        g = groups[pid]
        correct = g["correct"].to_numpy(bool)
        codes, code_correct, names = class_codes(g)
        if len(names):
            counts = np.bincount(codes[codes >= 0], minlength=len(names))
            m = int(np.argmax(counts))  # ties: the class seen first
            maj_answer, maj_correct = names[m], bool(code_correct[m])
        else:
            maj_answer, maj_correct = None, False
        rows.append(
            {
                "problem_id": pid,
                "n": len(g),
                "c": int(correct.sum()),
                "accuracy": float(correct.mean()),
                "n_distinct": len(names),
                "majority_answer": maj_answer,
                "majority_correct": maj_correct,
                "timeouts": int(g["timeout"].sum()),
                "mean_tokens": float(g["n_tokens"].mean()) if "n_tokens" in g else np.nan,
                "length_share": _share(g, "length"),
                "cut_share": _share(g, "cut"),
                "class_fallbacks": int(g["class_fallback"].sum()) if "class_fallback" in g else 0,
            }
        )
    df = pd.DataFrame(rows, columns=PROBLEM_COLUMNS)
    df["majority_answer"] = df["majority_answer"].astype("string")
    return df


def maj_table(graded: pd.DataFrame, problem_ids, ks) -> np.ndarray:
    """[problems, ks] exact maj@k of every problem."""
    groups = dict(tuple(graded.groupby("problem_id", sort=False)))
    maj = np.zeros((len(problem_ids), len(ks)))
    for i, pid in enumerate(problem_ids):
        g = groups[pid].sort_values("sample_idx", kind="stable")
        codes, code_correct, names = class_codes(g)
        if not code_correct.any():
            continue
        counts = np.bincount(codes[codes >= 0], minlength=len(names))
        maj[i] = maj_at_k(counts, int(np.flatnonzero(code_correct)[0]), len(g), ks)
    return maj


def metrics_table(graded: pd.DataFrame, problems: pd.DataFrame, *, seed: int = 0, n_boot: int = N_BOOT) -> pd.DataFrame:
    """The tidy metrics table (see the module docstring)."""
    n = problems["n"].to_numpy(np.int64)
    c = problems["c"].to_numpy(np.int64)
    n_min = int(n.min())
    ks = default_ks(n_min)
    rows = []

    def add(metric, kk, per_problem):
        per_problem = np.asarray(per_problem, dtype=float)
        ci = problem_ci(per_problem, n_boot=n_boot, alpha=ALPHA, seed=seed)
        if per_problem.ndim == 1:
            rows.append((metric, int(kk[0]), float(ci.mean), float(ci.low), float(ci.high)))
        else:
            for j, k in enumerate(kk):
                rows.append((metric, int(k), float(ci.mean[j]), float(ci.low[j]), float(ci.high[j])))

    add("pass@k", ks, pass_at_k(n[:, None], c[:, None], ks[None, :]))
    add("maj@k", ks, maj_table(graded, problems["problem_id"].tolist(), ks))
    add("mean@n", [n_min], c / n)
    add("distinct_share", [n_min], problems["n_distinct"].to_numpy() / n)
    for share in ("length_share", "cut_share"):
        if problems[share].notna().all():
            add(share, [n_min], problems[share].to_numpy(float))
    add("class_fallback_share", [n_min], problems["class_fallbacks"].to_numpy() / n)
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)


def score(
    cfg: dict,
    *,
    graded_files: list[str],
    bench_file: str | None,
    problems_out: str,
    metrics_out: str,
    benchmark: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read graded shards, write problems.parquet and metrics.csv atomically."""
    from rsrl.io import write_table

    if not graded_files:
        raise ValueError("score: no graded shard files given")
    graded = pd.concat([pd.read_parquet(f) for f in graded_files], ignore_index=True)
    dup = graded.duplicated(["problem_id", "sample_idx"])
    if dup.any():
        raise ValueError(f"score: {int(dup.sum())} duplicated (problem_id, sample_idx) rows across {graded_files}")
    ids, n_expected = None, None
    if bench_file:  # every problem of the benchmark (up to its limit) must have been graded
        ids = pd.read_parquet(bench_file, columns=["id"])["id"].astype(str).tolist()
        if benchmark is not None:
            from rsrl.evaluate.shards import eval_settings

            st = eval_settings(cfg, benchmark)
            ids, n_expected = ids[: st.get("limit") or len(ids)], st["n"]
    problems = problem_table(graded, ids)
    if n_expected is not None and (problems["n"] != n_expected).any():
        bad = problems[problems["n"] != n_expected].iloc[0]
        raise ValueError(
            f"score: problem {bad['problem_id']} has {bad['n']} graded samples, expected n = "
            f"{n_expected} (evaluation.per_benchmark.{benchmark}.n); a shard is missing from "
            f"{graded_files}"
        )
    metrics = metrics_table(graded, problems, seed=int(cfg["evaluation"].get("seed", 0)))
    write_table(problems_out, problems)
    write_table(metrics_out, metrics)
    return problems, metrics
