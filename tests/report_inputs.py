"""Synthetic evaluation and training outputs for the report tests (no pipeline run needed).

Per-problem success probabilities follow a logistic model ``p = sigmoid(a · (d + s))`` with a problem difficulty
``d`` (shifted per benchmark), a checkpoint skill ``s`` and a sharpness ``a``. GRPO gets a high skill and a large
sharpness (pass@1 rises, the tail of hard problems collapses); RS-GRPO trades a little sharpness for coverage as
β grows; the base model is least sharp. Correct counts are binomial, pass@k uses :mod:`rsrl.passk`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rsrl.config import BASE_METHOD, BASE_TRAIN_SET, benchmark_settings, cells, checkpoints
from rsrl.io import write_table
from rsrl.passk import bootstrap_ci, default_ks, pass_at_k_curve
from rsrl.report.beta_ablation import ablation_checkpoints
from rsrl.report.style import method_beta, split_method

_BENCH_SHIFT = {"math500": 1.5, "aime24": -1.5, "aime25": -1.8, "hmmt_feb24": -2.6, "hmmt_feb25": -2.8,
                "cmimc25": -2.4}
_BENCH_SIZE = {"math500": 500, "aime24": 30, "aime25": 30, "hmmt_feb24": 30, "hmmt_feb25": 30, "cmimc25": 40}


def _params(method: str, frac: float) -> tuple[float, float]:
    """(skill, sharpness) of a checkpoint `frac` of the way through training."""
    base_s, base_a = 0.0, 0.9
    if method == BASE_METHOD:
        return base_s, base_a
    beta = method_beta(method)
    if beta is None:
        s, a = 1.2, 2.4
    else:
        s, a = 1.05 + 0.02 * beta, 2.2 - 0.12 * min(beta, 10)
    return base_s + frac * (s - base_s), base_a + frac * (a - base_a)


def write_synthetic(cfg: dict, root: str | Path, seed: int = 0, n_boot: int = 200,
                    n_problems: dict[str, int] | None = None) -> None:
    """Write problems.parquet, eval metrics.csv, passk.csv, eval_summary.csv and training metrics.csv under
    `root` (a results directory) for every checkpoint and ablation snapshot of the configured grid."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    max_steps = int(cfg["training"]["max_steps"])
    ckpts = list(checkpoints(cfg)) + ablation_checkpoints(cfg)
    difficulty = {}
    for b in cfg["benchmarks"]:
        size = (n_problems or {}).get(b, _BENCH_SIZE.get(b, 30))
        difficulty[b] = rng.normal(_BENCH_SHIFT.get(b, -1.0), 1.6, size=size)
    model_skill = {m: 0.4 * i for i, m in enumerate(dict.fromkeys(m for m, _, _ in ckpts))}
    passk_rows, summary_rows = [], []
    for model, ts, method in ckpts:
        base_method, step = split_method(method)
        frac = 1.0 if step is None else step / max_steps
        s, a = _params(base_method, frac)
        s += model_skill[model] + (0.1 * (sum(map(ord, ts)) % 3) if ts != BASE_TRAIN_SET else 0.0)
        for b, d in difficulty.items():
            n = int(benchmark_settings(cfg, b)["n"])
            p = 1.0 / (1.0 + np.exp(-a * (d + s) + rng.normal(0, 0.3, size=d.size)))
            c = rng.binomial(n, p)
            beta = method_beta(base_method)
            spread = 0.6 if base_method == BASE_METHOD else (0.15 if beta is None else 0.2 + 0.04 * min(beta, 10))
            n_distinct = np.clip(np.round(1 + (n - c) * spread * rng.uniform(0.5, 1.0, size=d.size)), 1, n)
            prob = pd.DataFrame({
                "problem_id": [f"{b}-{i:04d}" for i in range(d.size)],
                "n": n, "c": c, "accuracy": c / n, "n_distinct": n_distinct.astype(int),
                "majority_answer": ["42"] * d.size, "majority_correct": c > n / 2, "timeouts": 0,
                "mean_tokens": rng.uniform(300, 1500, size=d.size), "truncated": 0.0,
            })
            edir = root / "eval" / model / ts / method / b
            write_table(edir / "problems.parquet", prob)
            curve = pass_at_k_curve(n, c, default_ks(n))
            ci = bootstrap_ci(curve.per_problem, n_boot=n_boot, seed=seed)
            mrows = []
            for j, k in enumerate(curve.ks):
                passk_rows.append({"model": model, "train_set": ts, "method": method, "beta": method_beta(method),
                                   "benchmark": b, "k": int(k), "pass_at_k": float(curve.mean[j]),
                                   "ci_low": float(ci.low[j]), "ci_high": float(ci.high[j]),
                                   "n_problems": d.size, "n_samples": n})
                mrows.append({"metric": "pass@k", "k": int(k), "value": float(curve.mean[j]),
                              "ci_low": float(ci.low[j]), "ci_high": float(ci.high[j])})
            share = float((prob["n_distinct"] / n).mean())
            mrows += [{"metric": "mean@n", "k": n, "value": float(prob["accuracy"].mean()), "ci_low": np.nan,
                       "ci_high": np.nan},
                      {"metric": "distinct_share", "k": n, "value": share, "ci_low": np.nan, "ci_high": np.nan}]
            write_table(edir / "metrics.csv", pd.DataFrame(mrows))
            summary_rows.append({"model": model, "train_set": ts, "method": method, "benchmark": b,
                                 "mean_at_n": float(prob["accuracy"].mean()), "distinct_share": share})
    write_table(root / "tables" / "passk.csv", pd.DataFrame(passk_rows))
    write_table(root / "tables" / "eval_summary.csv", pd.DataFrame(summary_rows))
    for c in cells(cfg):
        steps = np.arange(1, max_steps + 1)
        s_fin, _ = _params(c.method, 1.0)
        reward = 0.35 + (0.25 + 0.05 * s_fin) * (1 - np.exp(-steps / (0.3 * max_steps)))
        reward = np.clip(reward + rng.normal(0, 0.03, size=steps.size), 0, 1)
        beta = c.beta or 0.0
        cum = 0.5 + (0.3 + 0.01 * beta) * (1 - np.exp(-steps / (0.4 * max_steps)))
        df = pd.DataFrame({"step": steps, "reward_mean": reward,
                           "solve_rate": np.clip(reward + 0.2, 0, 1), "cumulative_solve_rate": cum,
                           "entropy": 0.8 * np.exp(-steps / max_steps), "response_length": 600.0, "kl": 0.0})
        write_table(root / "train" / c.model / c.train_set / c.method / "metrics.csv", df)
