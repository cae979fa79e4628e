"""Per-problem results and benchmark metrics of one (checkpoint, benchmark) from its graded samples.

problems.parquet, one row per problem: problem_id, n (samples), c (correct), accuracy (c / n), n_distinct
(distinct extracted answers), majority_answer, majority_correct, timeouts, mean_tokens, truncated (share of
samples stopped by the token limit).

metrics.csv, tidy: metric, k, value, ci_low, ci_high with

* ``pass@k`` — unbiased pass@k (:func:`rsrl.passk.pass_at_k`), mean over problems, for k = 1, 2, 4, ... and n;
* ``maj@k`` — the probability that the most frequent answer among k samples drawn without replacement is
  correct. Estimated per problem by Monte Carlo over ``MAJ_DRAWS`` random k-subsets (fixed seed); ties are broken
  uniformly at random; samples without an extracted answer do not vote; a subset without any answer counts as
  wrong. Answers are grouped by math-verify's extracted string. At k = n only the tie-breaking is random;
* ``mean@n`` — mean accuracy over all n samples (k = n);
* ``distinct_share`` — mean over problems of (distinct answers / n) (k = n).

Confidence intervals: percentile bootstrap over problems (:func:`rsrl.passk.bootstrap_ci`, 95 %).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rsrl.passk import bootstrap_ci, default_ks, pass_at_k

MAJ_DRAWS = 256
N_BOOT = 2000
ALPHA = 0.05

PROBLEM_COLUMNS = ["problem_id", "n", "c", "accuracy", "n_distinct", "majority_answer", "majority_correct",
                   "timeouts", "mean_tokens", "truncated"]
METRIC_COLUMNS = ["metric", "k", "value", "ci_low", "ci_high"]


def _answer_codes(answers: pd.Series, correct: np.ndarray) -> tuple[np.ndarray, np.ndarray, list]:
    """Integer code per sample (-1: no answer), correctness per code, answer per code (first-seen order)."""
    ans = answers.astype("string")
    codes, uniques = pd.factorize(ans, use_na_sentinel=True)
    code_correct = np.zeros(len(uniques), dtype=bool)
    valid = codes >= 0
    # Equal strings got equal verdicts from the grader; take the verdict of the first sample with the answer.
    first = pd.Series(np.arange(len(codes))[valid]).groupby(codes[valid]).first()
    code_correct[first.index.to_numpy()] = correct[first.to_numpy()]
    return codes, code_correct, list(uniques)


def maj_at_k(codes: np.ndarray, code_correct: np.ndarray, ks, draws: int = MAJ_DRAWS, rng=None) -> np.ndarray:
    """Monte Carlo maj@k of one problem for every k in `ks` (see the module docstring)."""
    rng = np.random.default_rng(rng)
    n, u = len(codes), len(code_correct)
    out = np.zeros(len(ks))
    if u == 0:
        return out
    order = rng.permuted(np.tile(np.arange(n), (draws, 1)), axis=1)
    noise = rng.random((draws, u)) * 0.5  # counts are integers: noise < 1 only breaks ties, uniformly
    for j, k in enumerate(ks):
        sel = codes[order[:, :k]]                                     # [draws, k]
        rows = np.repeat(np.arange(draws), k)
        flat = sel.ravel()
        keep = flat >= 0
        counts = np.bincount(rows[keep] * u + flat[keep], minlength=draws * u).reshape(draws, u).astype(float)
        winner = np.argmax(counts + noise, axis=1)
        voted = counts.sum(axis=1) > 0
        out[j] = np.mean(code_correct[winner] & voted)
    return out


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
        codes, code_correct, uniques = _answer_codes(g["answer"], correct)
        if len(uniques):
            counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
            m = int(np.argmax(counts))  # ties: the answer seen first
            maj_answer, maj_correct = uniques[m], bool(code_correct[m])
        else:
            maj_answer, maj_correct = None, False
        finish = g["finish_reason"].astype("string") if "finish_reason" in g else pd.Series([], dtype="string")
        rows.append({
            "problem_id": pid, "n": len(g), "c": int(correct.sum()), "accuracy": float(correct.mean()),
            "n_distinct": len(uniques), "majority_answer": maj_answer, "majority_correct": maj_correct,
            "timeouts": int(g["timeout"].sum()),
            "mean_tokens": float(g["n_tokens"].mean()) if "n_tokens" in g else np.nan,
            "truncated": float((finish == "length").mean()) if len(finish) else np.nan,
        })
    df = pd.DataFrame(rows, columns=PROBLEM_COLUMNS)
    df["majority_answer"] = df["majority_answer"].astype("string")
    return df


def metrics_table(graded: pd.DataFrame, problems: pd.DataFrame, *, seed: int = 0, n_boot: int = N_BOOT,
                  draws: int = MAJ_DRAWS) -> pd.DataFrame:
    """The tidy metrics table (see the module docstring)."""
    n = problems["n"].to_numpy(np.int64)
    c = problems["c"].to_numpy(np.int64)
    n_min = int(n.min())
    ks = default_ks(n_min)
    rows = []

    def add(metric, kk, per_problem):
        per_problem = np.asarray(per_problem, dtype=float)
        ci = bootstrap_ci(per_problem, n_boot=n_boot, alpha=ALPHA, seed=seed)
        if per_problem.ndim == 1:
            rows.append((metric, int(kk[0]), float(ci.mean), float(ci.low), float(ci.high)))
        else:
            for j, k in enumerate(kk):
                rows.append((metric, int(k), float(ci.mean[j]), float(ci.low[j]), float(ci.high[j])))

    add("pass@k", ks, pass_at_k(n[:, None], c[:, None], ks[None, :]))
    rng = np.random.default_rng(seed)
    groups = dict(tuple(graded.groupby("problem_id", sort=False)))
    maj = np.zeros((len(problems), len(ks)))
    for i, pid in enumerate(problems["problem_id"]):
        g = groups[pid].sort_values("sample_idx", kind="stable")
        codes, code_correct, _ = _answer_codes(g["answer"], g["correct"].to_numpy(bool))
        maj[i] = maj_at_k(codes, code_correct, ks, draws=draws, rng=rng)
    add("maj@k", ks, maj)
    add("mean@n", [n_min], c / n)
    add("distinct_share", [n_min], problems["n_distinct"].to_numpy() / n)
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)


def score(cfg: dict, *, graded_files: list[str], bench_file: str | None, problems_out: str, metrics_out: str,
          benchmark: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
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
            ids, n_expected = ids[:st.get("limit") or len(ids)], st["n"]
    problems = problem_table(graded, ids)
    if n_expected is not None and (problems["n"] != n_expected).any():
        bad = problems[problems["n"] != n_expected].iloc[0]
        raise ValueError(f"score: problem {bad['problem_id']} has {bad['n']} graded samples, expected n = "
                         f"{n_expected} (evaluation.per_benchmark.{benchmark}.n); a shard is missing from "
                         f"{graded_files}")
    metrics = metrics_table(graded, problems, seed=int(cfg["evaluation"].get("seed", 0)))
    write_table(problems_out, problems)
    write_table(metrics_out, metrics)
    return problems, metrics
