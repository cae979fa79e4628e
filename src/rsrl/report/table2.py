"""Table 2: pass@k per model × training set × method × benchmark, with the average over benchmarks.

The CSV keeps raw pass@k fractions exactly as in ``results/tables/passk.csv``; the Markdown shows percentages
with the best value of each column in bold within each (metric, model, training set) block.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from rsrl import grid
from rsrl.evaluate.aggregate import checkpoint_keys
from rsrl.methods import BASE, Checkpoint
from rsrl.report.inputs import k_table
from rsrl.report.style import method_label

log = logging.getLogger(__name__)

ID_COLUMNS = ["model", "train_set", "method", "estimator", "params", "metric"]


def table_rows(cfg: dict) -> list[Checkpoint]:
    """Checkpoints in table order: per model, the base model, then each training set's methods."""
    out = []
    for model in grid.models(cfg):
        if grid.has_base(cfg, model):
            out.append(grid.base_checkpoint(model))
        for m, ts in grid.rows(cfg):
            if m == model:
                out += [Checkpoint(model, ts, meth) for meth in grid.methods_of(cfg, model, ts)]
    return out


def metric_benchmarks(passk: pd.DataFrame, bench: list[str], k: int) -> list[str]:
    """Benchmarks on which pass@k is defined (k ≤ samples per problem) for some checkpoint."""
    sub = passk[(passk["k"] == k) & (passk["k"] <= passk["n_samples"])]
    have = set(sub["benchmark"])
    return [b for b in bench if b in have]


def build_table2(cfg: dict, passk: pd.DataFrame) -> pd.DataFrame:
    """The wide table: columns model, train_set, method, beta, metric, <benchmarks...>, average.

    ``average`` is the mean over the metric's benchmarks (those where k ≤ n); it is empty for a row that lacks
    one of them, so averages in one metric always cover the same benchmarks.
    """
    bench = list(cfg["benchmarks"])
    final = passk[passk["step"].isna() & (passk["k"] <= passk["n_samples"])]
    idx = final.set_index(["model", "train_set", "method", "benchmark", "k"])["pass_at_k"]
    if idx.index.duplicated().any():
        dup = idx.index[idx.index.duplicated()][0]
        raise ValueError(f"results/tables/passk.csv: duplicate row for (model, train_set, method, benchmark, k) = "
                         f"{dup}; regenerate it with the evaluation stage.")
    values = idx.to_dict()
    rows = table_rows(cfg)
    seen = set(zip(final["model"], final["train_set"], final["method"]))
    for r in rows:
        if (r.model, r.train_set, r.id) not in seen:
            log.warning("passk.csv has no rows for checkpoint %s/%s/%s; its table row is empty", r.model,
                        r.train_set, r.id)
    records = []
    for k in k_table(cfg):
        avail = metric_benchmarks(final, bench, k)
        skipped = [b for b in bench if b not in avail]
        if not avail:
            log.warning("pass@%d: no benchmark has k <= n samples per problem; metric left out", k)
            continue
        if skipped:
            log.info("pass@%d: not defined on %s (fewer than %d samples per problem or not evaluated)",
                     k, skipped, k)
        for ck in rows:
            keys = checkpoint_keys(ck, "")
            rec = {c: keys[c] for c in ID_COLUMNS[:-1]} | {"metric": f"pass@{k}"}
            for b in bench:
                rec[b] = values.get((ck.model, ck.train_set, ck.id, b, k), np.nan)
            vals = [rec[b] for b in avail]
            rec["average"] = float(np.mean(vals)) if not any(np.isnan(vals)) else np.nan
            records.append(rec)
    return pd.DataFrame.from_records(records, columns=ID_COLUMNS + bench + ["average"])


def _fmt(v: float, bold: bool) -> str:
    if np.isnan(v):
        return "–"
    s = f"{100 * v:.1f}"
    return f"**{s}**" if bold else s


def _bold_mask(values: np.ndarray) -> np.ndarray:
    """Per column, True where the value equals the column's maximum (ties all bold)."""
    mask = np.zeros(values.shape, dtype=bool)
    for j in range(values.shape[1]):
        col = values[:, j]
        if np.all(np.isnan(col)):
            continue
        mask[:, j] = np.isclose(col, np.nanmax(col), rtol=0, atol=1e-12) & ~np.isnan(col)
    return mask


def to_markdown(cfg: dict, table: pd.DataFrame, passk: pd.DataFrame) -> str:
    bench = list(cfg["benchmarks"])
    cols = bench + ["average"]
    final = passk[passk["step"].isna()]
    lines = ["# Table 2: pass@k on the evaluation benchmarks", ""]
    lines.append("Unbiased pass@k estimates (Chen et al., 2021) in percent, averaged over each benchmark's problems. "
                 "In each block the best value of every column is in **bold**. *Average* is the mean over the "
                 "benchmarks on which the metric is defined; – marks a value that is not available (k larger "
                 "than the number of samples per problem, or not evaluated).")
    lines.append("")
    sizes = []
    for b in bench:
        sub = final[final["benchmark"] == b]
        if len(sub):
            sizes.append(f"{b}: {int(sub['n_problems'].max())} problems, n = {int(sub['n_samples'].max())} samples "
                         "per problem")
        else:
            sizes.append(f"{b}: not evaluated")
    lines.append("Benchmarks: " + "; ".join(sizes) + ".")
    lines.append("")
    for metric, mdf in table.groupby("metric", sort=False):
        lines += [f"## {metric}", ""]
        k = int(metric.split("@")[1])
        avail = metric_benchmarks(final, bench, k)
        if len(avail) < len(bench):
            lines += [f"Average over: {', '.join(avail)}.", ""]
        for model in dict.fromkeys(mdf["model"]):
            base = mdf[(mdf["model"] == model) & (mdf["method"] == BASE)]
            for ts in dict.fromkeys(mdf.loc[(mdf["model"] == model) & (mdf["method"] != BASE), "train_set"]):
                block = pd.concat([base, mdf[(mdf["model"] == model) & (mdf["train_set"] == ts)]])
                vals = block[cols].to_numpy(dtype=float)
                bold = _bold_mask(vals)
                lines += [f"### {model}, trained on {ts}", ""]
                lines.append("| Method | " + " | ".join(bench) + " | Average |")
                lines.append("|---|" + "---:|" * len(cols))
                for i, (_, row) in enumerate(block.iterrows()):
                    cells_ = [_fmt(vals[i, j], bold[i, j]) for j in range(len(cols))]
                    lines.append(f"| {method_label(row['method'])} | " + " | ".join(cells_) + " |")
                lines.append("")
    return "\n".join(lines)


def make_table2(cfg: dict, passk: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    table = build_table2(cfg, passk)
    return table, to_markdown(cfg, table, passk)
