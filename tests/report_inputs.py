"""Synthetic evaluation and training outputs for the report tests (no pipeline run needed).

Per-problem success probabilities follow a logistic model ``p = sigmoid(a · (d + s))`` with a problem difficulty
``d`` (shifted per benchmark), a checkpoint skill ``s`` and a sharpness ``a``. GRPO gets a high skill and a large
sharpness (pass@1 rises, the tail of hard problems collapses); RS-GRPO trades a little sharpness for coverage as
β grows; the base model is least sharp. Correct counts are binomial, pass@k uses :mod:`rsrl.passk`; the tables
(passk.csv, eval_summary.csv) are built by the evaluation stage's own aggregation. A seeded run (``grpo.seed1``)
adds :func:`seed_shift` to its skill and training reward, so seeds of one method differ; unseeded runs have none.

Paths follow :mod:`rsrl.grid`'s layout under ``root`` (a results directory); :func:`train_metrics_files` and
:func:`problems_files` list the files the report's fig5 and fig7 read, in the order the workflow passes them, and
:func:`paired_problems_files` those of the paired comparison.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rsrl import config as rcfg
from rsrl import grid
from rsrl.config import benchmark_settings
from rsrl.evaluate.aggregate import aggregate
from rsrl.io import write_table
from rsrl.methods import BASE, Checkpoint
from rsrl.passk import bootstrap_ci, default_ks, pass_at_k_curve
from rsrl.report.style import method_beta

_BENCH_SHIFT = {"math500": 1.5, "aime24": -1.5, "aime25": -1.8, "hmmt_feb24": -2.6, "hmmt_feb25": -2.8, "cmimc25": -2.4}
_BENCH_SIZE = {"math500": 500, "aime24": 30, "aime25": 30, "hmmt_feb24": 30, "hmmt_feb25": 30, "cmimc25": 40}


MODEL, TS = "Qwen2.5-Math-1.5B", "math12k"


def seeded_config(paper_config: dict) -> dict:
    """One (model, training set): GRPO and RS-GRPO (β=4) with seeds 1-3, RS-GRPO (β=0) without seeds; two
    benchmarks (math500 with n = 16, aime24 with n = 64); snapshots at step 10 of 20; Fig. 6 on the same cell."""
    import copy

    cfg = copy.deepcopy(paper_config)
    cfg.pop("setup_record")  # a synthetic grid: not the paper's setup
    cfg["grid"] = [
        {
            "models": [MODEL],
            "train_sets": [TS],
            "seeds": [1, 2, 3],
            "methods": [{"estimator": "grpo"}, {"estimator": "rs", "params": {"beta": 4}}],
        },
        {"models": [MODEL], "train_sets": [TS], "methods": [{"estimator": "rs", "params": {"beta": 0}}]},
    ]
    cfg["benchmarks"] = {b: cfg["benchmarks"][b] for b in ("math500", "aime24")}
    cfg["evaluation"]["per_benchmark"] = {"math500": {"n": 16}, "aime24": {"n": 64}}
    cfg["training"].update(max_steps=20, save_steps=10, eval_steps=[10, 20])
    cfg["report"] = {"k_table": [1, 32], "comparison": {"model": MODEL, "train_set": TS}}
    return rcfg.validate(cfg)


def unseeded_config(paper_config: dict) -> dict:
    """:func:`seeded_config` without seeds: GRPO, RS-GRPO (β=4) and RS-GRPO (β=0), one run each."""
    import copy

    cfg = copy.deepcopy(seeded_config(paper_config))
    for block in cfg["grid"]:
        block.pop("seeds", None)
    return rcfg.validate(cfg)


def under(root: str | Path, rel: str) -> Path:
    """A layout path (``results/...``) placed under `root`, the results directory."""
    return Path(root) / Path(rel).relative_to(grid.RESULTS)


def eval_path(root: str | Path, pattern: str, ckpt: Checkpoint, benchmark: str) -> Path:
    return under(root, grid.eval_file(pattern, ckpt, benchmark))


def passk_file(root: str | Path) -> Path:
    return under(root, grid.PASSK_TABLE)


def train_metrics_files(cfg: dict, root: str | Path) -> list[Path]:
    """metrics.csv of each method Fig. 5 draws, in grid.ablation_methods order (fig5's --train-metrics)."""
    fc = grid.focus_cell(cfg)
    if fc is None:
        return []
    return [under(root, grid.train_metrics(fc[0], fc[1], m)) for m in grid.ablation_methods(cfg)]


def problems_files(cfg: dict, root: str | Path) -> list[Path]:
    """problems.parquet of each grid.diversity_targets entry, in that order (fig7's --problems)."""
    return [eval_path(root, grid.PROBLEMS_PATTERN, c, b) for c, b in grid.diversity_targets(cfg)]


def paired_problems_files(cfg: dict, root: str | Path) -> list[Path]:
    """problems.parquet of each rsrl.report.paired.targets entry (paired's --problems)."""
    from rsrl.report.paired import targets

    return [eval_path(root, grid.PROBLEMS_PATTERN, c, b) for c, b in targets(cfg)]


def seed_shift(seed: int | None) -> float:
    """Skill offset of a training seed (0 for an unseeded run): -0.15, 0, +0.15 cycling over seeds."""
    return 0.0 if seed is None else 0.15 * (seed % 3 - 1)


def _params(method: str, frac: float) -> tuple[float, float]:
    """(skill, sharpness) of a checkpoint `frac` of the way through training."""
    base_s, base_a = 0.0, 0.9
    if method == BASE:
        return base_s, base_a
    beta = method_beta(method)
    if beta is None:
        s, a = 1.2, 2.4
    else:
        s, a = 1.05 + 0.02 * beta, 2.2 - 0.12 * min(beta, 10)
    return base_s + frac * (s - base_s), base_a + frac * (a - base_a)


def write_synthetic(
    cfg: dict, root: str | Path, seed: int = 0, n_boot: int = 200, n_problems: dict[str, int] | None = None
) -> None:
    """Write problems.parquet and eval metrics.csv of every evaluation of the grid (grid.eval_targets: base and
    final models, focus-cell snapshots), passk.csv and eval_summary.csv (rsrl.evaluate.aggregate) and the
    training metrics.csv of every cell under `root` (a results directory)."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    max_steps = int(cfg["training"]["max_steps"])
    targets = grid.eval_targets(cfg)
    difficulty = {}
    for b in cfg["benchmarks"]:
        size = (n_problems or {}).get(b, _BENCH_SIZE.get(b, 30))
        difficulty[b] = rng.normal(_BENCH_SHIFT.get(b, -1.0), 1.6, size=size)
    model_skill = {m: 0.4 * i for i, m in enumerate(dict.fromkeys(c.model for c, _ in targets))}
    metrics_files, prob_files = [], []
    for ckpt, b in targets:
        d = difficulty[b]
        frac = 1.0 if ckpt.step is None else ckpt.step / max_steps
        s, a = _params(ckpt.method, frac)
        s += model_skill[ckpt.model] + (0.1 * (sum(map(ord, ckpt.train_set)) % 3) if not ckpt.is_base else 0.0)
        s += frac * seed_shift(ckpt.seed)
        n = int(benchmark_settings(cfg, b)["n"])
        p = 1.0 / (1.0 + np.exp(-a * (d + s) + rng.normal(0, 0.3, size=d.size)))
        c = rng.binomial(n, p)
        beta = method_beta(ckpt.method)
        spread = 0.6 if ckpt.is_base else (0.15 if beta is None else 0.2 + 0.04 * min(beta, 10))
        n_distinct = np.clip(np.round(1 + (n - c) * spread * rng.uniform(0.5, 1.0, size=d.size)), 1, n)
        prob = pd.DataFrame(
            {
                "problem_id": [f"{b}-{i:04d}" for i in range(d.size)],
                "n": n,
                "c": c,
                "accuracy": c / n,
                "n_distinct": n_distinct.astype(int),
                "majority_answer": ["42"] * d.size,
                "majority_correct": c > n / 2,
                "timeouts": 0,
                "mean_tokens": rng.uniform(300, 1500, size=d.size),
                "truncated": 0.0,
            }
        )
        pf = eval_path(root, grid.PROBLEMS_PATTERN, ckpt, b)
        write_table(pf, prob)
        curve = pass_at_k_curve(n, c, default_ks(n))
        ci = bootstrap_ci(curve.per_problem, n_boot=n_boot, seed=seed)
        mrows = [
            {
                "metric": "pass@k",
                "k": int(k),
                "value": float(curve.mean[j]),
                "ci_low": float(ci.low[j]),
                "ci_high": float(ci.high[j]),
            }
            for j, k in enumerate(curve.ks)
        ]
        share = float((prob["n_distinct"] / n).mean())
        mrows += [
            {"metric": "mean@n", "k": n, "value": float(prob["accuracy"].mean()), "ci_low": np.nan, "ci_high": np.nan},
            {"metric": "distinct_share", "k": n, "value": share, "ci_low": np.nan, "ci_high": np.nan},
        ]
        mf = eval_path(root, grid.EVAL_METRICS_PATTERN, ckpt, b)
        write_table(mf, pd.DataFrame(mrows))
        metrics_files.append(str(mf))
        prob_files.append(str(pf))
    aggregate(cfg, metrics_files, prob_files, str(passk_file(root)), str(under(root, grid.EVAL_SUMMARY_TABLE)))
    for c in grid.cells(cfg):
        steps = np.arange(1, max_steps + 1)
        s_fin, _ = _params(c.method_id, 1.0)
        reward = 0.35 + (0.25 + 0.05 * s_fin + 0.1 * seed_shift(c.seed)) * (1 - np.exp(-steps / (0.3 * max_steps)))
        reward = np.clip(reward + rng.normal(0, 0.03, size=steps.size), 0, 1)
        beta = float(c.params.get("beta", 0.0)) if c.estimator == "rs" else 0.0
        cum = 0.5 + (0.3 + 0.01 * beta) * (1 - np.exp(-steps / (0.4 * max_steps)))
        df = pd.DataFrame(
            {
                "step": steps,
                "reward_mean": reward,
                "solve_rate": np.clip(reward + 0.2, 0, 1),
                "cumulative_solve_rate": cum,
                "entropy": 0.8 * np.exp(-steps / max_steps),
                "response_length": 600.0,
                "kl": 0.0,
                "advantage_abs_mean": rng.uniform(0.5, 1.0, size=steps.size) / (1 + beta),
            }
        )
        write_table(under(root, grid.train_metrics(c.model, c.train_set, c.run_id)), df)
