"""Evaluation tables over every (checkpoint, benchmark): results/tables/passk.csv and eval_summary.csv.

passk.csv: model, train_set, method, estimator, params, seed, step, benchmark, k, pass_at_k, ci_low, ci_high,
n_problems, n_samples. ``method`` is the checkpoint id (``rs_beta2``, ``rs_beta2.step20``, ``grpo.seed1``, ``base``);
``estimator`` and ``params`` (a JSON object) say what it was trained with (empty for base models), ``seed`` the
training seed of a cell of a block with ``seeds`` (empty otherwise), ``step`` the snapshot's training step (empty
for final models); ``n_samples`` is the samples per problem, the n of pass@k.

eval_summary.csv, one row per checkpoint x benchmark: the same keys, then mean@n, maj@k at the largest k (= n)
and pass@1 / pass@n with their CIs, distinct_share (answer classes / n), length_share (share of samples stopped by
the token limit), cut_share (share cut by the grader at an end-of-turn marker), class_fallback_share (share of
answers grouped by their string alone), timeouts (samples graded wrong after a grading timeout) and timeout_share,
and mean_tokens.

Which checkpoint and benchmark a file belongs to comes from the grid (:func:`rsrl.grid.eval_targets` and
:func:`rsrl.grid.match_files`), never from parsing its path.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rsrl import grid
from rsrl.methods import Checkpoint, method_of

KEYS = ["model", "train_set", "method", "estimator", "params", "seed", "step", "benchmark"]
PASSK_COLUMNS = KEYS + ["k", "pass_at_k", "ci_low", "ci_high", "n_problems", "n_samples"]


def checkpoint_keys(ckpt: Checkpoint, benchmark: str) -> dict:
    """The key columns of one (checkpoint, benchmark)."""
    m = method_of(ckpt.id)
    return {
        "model": ckpt.model,
        "train_set": ckpt.train_set,
        "method": ckpt.id,
        "estimator": m.estimator if m else "",
        "params": m.params_json if m else "",
        "seed": ckpt.seed if ckpt.seed is not None else pd.NA,
        "step": ckpt.step if ckpt.step is not None else pd.NA,
        "benchmark": benchmark,
    }


def _ci_cols(m: pd.DataFrame, metric: str, k: int | None, name: str) -> dict:
    sel = m[m["metric"] == metric]
    if k is not None:
        sel = sel[sel["k"] == k]
    else:
        sel = sel[sel["k"] == sel["k"].max()]
    if sel.empty:
        return {name: np.nan, f"{name}_ci_low": np.nan, f"{name}_ci_high": np.nan}
    r = sel.iloc[0]
    return {name: r["value"], f"{name}_ci_low": r["ci_low"], f"{name}_ci_high": r["ci_high"]}


def aggregate(
    cfg: dict, metrics_files: list[str], problems_files: list[str], passk_out: str, summary_out: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Build both tables from the metrics.csv and problems.parquet of every evaluation (rows in grid order)."""
    from rsrl.io import write_table

    targets = grid.eval_targets(cfg)
    metrics_files = grid.match_files(targets, grid.EVAL_METRICS_PATTERN, metrics_files, "aggregate --metrics")
    problems_files = grid.match_files(targets, grid.PROBLEMS_PATTERN, problems_files, "aggregate --problems")
    passk, summary = [], []
    for (ckpt, bench), f, pf in zip(targets, metrics_files, problems_files):
        keys = checkpoint_keys(ckpt, bench)
        m = pd.read_csv(f)
        probs = pd.read_parquet(pf)
        n_problems, n_samples = len(probs), int(probs["n"].min())
        pk = m[m["metric"] == "pass@k"].rename(columns={"value": "pass_at_k"})
        pk = pk.assign(**keys, n_problems=n_problems, n_samples=n_samples)[PASSK_COLUMNS]
        passk.append(pk)
        row = dict(keys, n_problems=n_problems, n_samples=n_samples)
        row.update(_ci_cols(m, "mean@n", None, "mean_at_n"))
        row.update(_ci_cols(m, "maj@k", None, "maj_at_n"))
        row.update(_ci_cols(m, "pass@k", 1, "pass_at_1"))
        row.update(_ci_cols(m, "pass@k", None, "pass_at_n"))
        for share in ("distinct_share", "length_share", "cut_share", "class_fallback_share"):
            v = m[m["metric"] == share]["value"]
            row[share] = float(v.iloc[0]) if len(v) else np.nan
        row["timeouts"] = int(probs["timeouts"].sum())
        row["timeout_share"] = row["timeouts"] / max(1, int(probs["n"].sum()))
        row["mean_tokens"] = float(np.average(probs["mean_tokens"], weights=probs["n"]))
        summary.append(row)
    passk_df = pd.concat(passk, ignore_index=True) if passk else pd.DataFrame(columns=PASSK_COLUMNS)
    passk_df["step"] = passk_df["step"].astype("Int64")
    passk_df["seed"] = passk_df["seed"].astype("Int64")
    summary_df = pd.DataFrame(summary)
    for col in ("seed", "step"):
        if col in summary_df:
            summary_df[col] = summary_df[col].astype("Int64")
    write_table(passk_out, passk_df)
    write_table(summary_out, summary_df)
    from rsrl import tracking

    tracking.log_passk(cfg, passk_df)  # nothing unless the config's tracking block names a backend
    return passk_df, summary_df
