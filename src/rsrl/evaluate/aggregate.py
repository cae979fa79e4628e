"""Evaluation tables over every (checkpoint, benchmark): results/tables/passk.csv and eval_summary.csv.

passk.csv: model, train_set, method, beta, benchmark, k, pass_at_k, ci_low, ci_high, n_problems, n_samples
(``n_samples``: samples per problem, the n of pass@k; ``beta`` empty for methods other than rs).

eval_summary.csv, one row per checkpoint x benchmark: the same keys, then mean@n, maj@k at the largest k (= n)
and pass@1 / pass@n with their CIs, distinct_share, timeouts (samples graded wrong after a grading timeout) and
timeout_share, mean_tokens and truncated (share of samples stopped by the token limit).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rsrl.config import parse_method_id

PASSK_COLUMNS = ["model", "train_set", "method", "beta", "benchmark", "k", "pass_at_k", "ci_low", "ci_high",
                 "n_problems", "n_samples"]
KEYS = ["model", "train_set", "method", "beta", "benchmark"]


def method_beta(method: str) -> float:
    """β of an rs method id (``rs_beta2``, ``rs_beta2.step100``), NaN otherwise."""
    base = method.split(".step")[0]
    try:
        return float(parse_method_id(base)[1].get("beta", np.nan))
    except ValueError:
        return np.nan


def eval_keys(path: str | Path) -> dict:
    """(model, train_set, method, benchmark) of ``results/eval/{model}/{train_set}/{method}/{benchmark}/<file>``."""
    parts = Path(path).parts
    if len(parts) < 5:
        raise ValueError(f"{path}: expected results/eval/<model>/<train_set>/<method>/<benchmark>/<file>")
    model, train_set, method, benchmark = parts[-5:-1]
    return {"model": model, "train_set": train_set, "method": method, "beta": method_beta(method),
            "benchmark": benchmark}


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


def aggregate(metrics_files: list[str], passk_out: str, summary_out: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Build both tables from metrics.csv files (problems.parquet is read from the same directory)."""
    from rsrl.io import write_table

    passk, summary = [], []
    for f in metrics_files:
        keys = eval_keys(f)
        m = pd.read_csv(f)
        probs = pd.read_parquet(Path(f).with_name("problems.parquet"))
        n_problems, n_samples = len(probs), int(probs["n"].min())
        pk = m[m["metric"] == "pass@k"].rename(columns={"value": "pass_at_k"})
        pk = pk.assign(**keys, n_problems=n_problems, n_samples=n_samples)[PASSK_COLUMNS]
        passk.append(pk)
        row = dict(keys, n_problems=n_problems, n_samples=n_samples)
        row.update(_ci_cols(m, "mean@n", None, "mean_at_n"))
        row.update(_ci_cols(m, "maj@k", None, "maj_at_n"))
        row.update(_ci_cols(m, "pass@k", 1, "pass_at_1"))
        row.update(_ci_cols(m, "pass@k", None, "pass_at_n"))
        ds = m[m["metric"] == "distinct_share"]["value"]
        row["distinct_share"] = float(ds.iloc[0]) if len(ds) else np.nan
        row["timeouts"] = int(probs["timeouts"].sum())
        row["timeout_share"] = row["timeouts"] / max(1, int(probs["n"].sum()))
        row["mean_tokens"] = float(np.average(probs["mean_tokens"], weights=probs["n"]))
        row["truncated"] = float(np.average(probs["truncated"], weights=probs["n"]))
        summary.append(row)
    passk_df = (pd.concat(passk, ignore_index=True) if passk else pd.DataFrame(columns=PASSK_COLUMNS))
    summary_df = pd.DataFrame(summary)
    write_table(passk_out, passk_df)
    write_table(summary_out, summary_df)
    return passk_df, summary_df
