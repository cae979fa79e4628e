"""Table 2: pass@k per model × training set × method × benchmark, with the average over benchmarks.

The CSV keeps raw pass@k fractions exactly as in ``results/tables/passk.csv``; the Markdown shows percentages
with the best value of each column in bold within each (metric, model, training set) block.

Seeds (a grid block with ``seeds``): every run has its own row (``method`` = run id, e.g. ``grpo.seed1``,
label "GRPO, seed 1"), and a method with more than one run in a (model, training set) gets a *summary row* after
its runs: ``method`` = the method id (``grpo``), each value column the mean over its seeds, ``n_seeds`` the number
of seeds, and ``<column>_ci_low`` / ``<column>_ci_high`` (for every benchmark and ``average``) the 95 % interval
over seeds (:func:`rsrl.report.seeds.seed_interval`: the Student-t interval over seeds, at least as wide as the
mean of the seeds' own intervals over problems, clipped to 0–100 %); the Markdown shows it as
``mean [low, high]``. These columns are always present and empty on every other row, so a grid without seeds
gives the same values as before they existed. A summary's ``average`` is the mean over seeds of each seed's average.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from rsrl import grid
from rsrl.evaluate.aggregate import checkpoint_keys
from rsrl.methods import BASE, Checkpoint
from rsrl.report.command import PASSK, Command, write_tables
from rsrl.report.inputs import k_table
from rsrl.report.seeds import Series, group_runs, series_label, summarize
from rsrl.report.style import method_label

log = logging.getLogger(__name__)

ID_COLUMNS = ["model", "train_set", "method", "estimator", "params", "metric"]
# Each run's own interval over problems (the evaluation stage's), kept beside its record for the summary rows.
_LOW, _HIGH = "__run_ci_low", "__run_ci_high"
SEEDS_COLUMN = "n_seeds"


def value_columns(cfg: dict) -> list[str]:
    """The value columns: one per benchmark, then ``average``."""
    return list(cfg["benchmarks"]) + ["average"]


def columns(cfg: dict) -> list[str]:
    """Every column of the CSV, in order (the same for every grid)."""
    vals = value_columns(cfg)
    return ID_COLUMNS + vals + [SEEDS_COLUMN] + [f"{c}_{side}" for c in vals for side in ("ci_low", "ci_high")]


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


def pooled_runs(cfg: dict) -> dict[tuple[str, str, str], Series]:
    """(model, train_set, last run id) -> a method with several seeds (:func:`rsrl.report.seeds.group_runs`),
    whose summary row follows that last run."""
    out = {}
    for model, ts in grid.rows(cfg):
        for series in group_runs(grid.methods_of(cfg, model, ts)):
            if series.pooled:
                out[(model, ts, series.runs[-1])] = series
    return out


def _summary_row(method: str, run_records: list[dict], vals: list[str]) -> dict:
    """The summary row of one method's runs (their records of one metric): mean, interval, number of seeds."""
    first = run_records[0]
    keys = checkpoint_keys(Checkpoint(first["model"], first["train_set"], method), "")
    bounds = {v: (f"{v}{_LOW}", f"{v}{_HIGH}") for v in vals}
    cols = vals + [c for b in bounds.values() for c in b]
    summary = summarize(pd.DataFrame.from_records(run_records, columns=cols), vals, by=[], bounds=bounds).iloc[0]
    rec = {c: keys[c] for c in ID_COLUMNS[:-1]} | {"metric": first["metric"]}
    rec |= {c: summary[c] for c in summary.index if c != "n_seeds"}
    rec[SEEDS_COLUMN] = int(summary["n_seeds"])
    return rec


def build_table2(cfg: dict, passk: pd.DataFrame) -> pd.DataFrame:
    """The wide table: columns model, train_set, method, estimator, params, metric, <benchmarks...>, average,
    then n_seeds and the ``_ci_low`` / ``_ci_high`` of every value column (summary rows over seeds only).

    ``average`` is the mean over the metric's benchmarks (those where k ≤ n); it is empty for a row that lacks
    one of them, so averages in one metric always cover the same benchmarks.
    """
    bench = list(cfg["benchmarks"])
    final = passk[passk["step"].isna() & (passk["k"] <= passk["n_samples"])]
    full = final.set_index(["model", "train_set", "method", "benchmark", "k"])
    idx = full["pass_at_k"]
    if idx.index.duplicated().any():
        dup = idx.index[idx.index.duplicated()][0]
        raise ValueError(
            f"results/tables/passk.csv: duplicate row for (model, train_set, method, benchmark, k) = "
            f"{dup}; regenerate it with the evaluation stage."
        )
    values = idx.to_dict()
    lows, highs = full["ci_low"].to_dict(), full["ci_high"].to_dict()
    rows = table_rows(cfg)
    seen = set(zip(final["model"], final["train_set"], final["method"]))
    for r in rows:
        if (r.model, r.train_set, r.id) not in seen:
            log.warning(
                "passk.csv has no rows for checkpoint %s/%s/%s; its table row is empty", r.model, r.train_set, r.id
            )
    pooled = pooled_runs(cfg)
    records = []
    for k in k_table(cfg):
        avail = metric_benchmarks(final, bench, k)
        skipped = [b for b in bench if b not in avail]
        if not avail:
            log.warning("pass@%d: no benchmark has k <= n samples per problem; metric left out", k)
            continue
        if skipped:
            log.info("pass@%d: not defined on %s (fewer than %d samples per problem or not evaluated)", k, skipped, k)
        for ck in rows:
            keys = checkpoint_keys(ck, "")
            rec = {c: keys[c] for c in ID_COLUMNS[:-1]} | {"metric": f"pass@{k}"}
            for b in bench:
                key = (ck.model, ck.train_set, ck.id, b, k)
                rec[b] = values.get(key, np.nan)
                rec[b + _LOW], rec[b + _HIGH] = lows.get(key, np.nan), highs.get(key, np.nan)
            vals = [rec[b] for b in avail]
            rec["average"] = float(np.mean(vals)) if not any(np.isnan(vals)) else np.nan
            for side in (_LOW, _HIGH):  # the average's run interval: the mean of its benchmarks' bounds
                rec["average" + side] = float(np.mean([rec[b + side] for b in avail]))
            records.append(rec)
            series = pooled.get((ck.model, ck.train_set, ck.id))
            if series:
                mine = [
                    r
                    for r in records
                    if r["model"] == ck.model
                    and r["train_set"] == ck.train_set
                    and r["metric"] == rec["metric"]
                    and r["method"] in series.runs
                ]
                records.append(_summary_row(series.key, mine, value_columns(cfg)))
    table = pd.DataFrame.from_records(records, columns=columns(cfg))
    table[SEEDS_COLUMN] = table[SEEDS_COLUMN].astype("Int64")
    return table


def _fmt(v: float, bold: bool, interval: tuple[float, float] | None = None) -> str:
    """A value in percent (bold if it is the column's best), with ``[low, high]`` for a summary over seeds."""
    if np.isnan(v):
        return "–"
    s = f"{100 * v:.1f}"
    s = f"**{s}**" if bold else s
    if interval is None:
        return s
    low, high = interval
    return f"{s} [{100 * low:.1f}, {100 * high:.1f}]" if np.isfinite(low) and np.isfinite(high) else f"{s} [–]"


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
    lines.append(
        "Unbiased pass@k estimates (Chen et al., 2021) in percent, averaged over each benchmark's problems. "
        "In each block the best value of every column is in **bold**. *Average* is the mean over the "
        "benchmarks on which the metric is defined; – marks a value that is not available (k larger "
        "than the number of samples per problem, or not evaluated)."
    )
    lines.append("")
    sizes = []
    for b in bench:
        sub = final[final["benchmark"] == b]
        if len(sub):
            sizes.append(
                f"{b}: {int(sub['n_problems'].max())} problems, n = {int(sub['n_samples'].max())} samples per problem"
            )
        else:
            sizes.append(f"{b}: not evaluated")
    lines.append("Benchmarks: " + "; ".join(sizes) + ".")
    lines.append("")
    if table[SEEDS_COLUMN].notna().any():
        lines.append(
            "Each training seed has its own row; a method with several seeds is followed by its summary "
            "row, *mean of s seeds*: the mean over its seeds and its 95 % interval [low, high]: the "
            "Student-t interval over seeds (t_{0.975, s−1} · sd / √s), widened to at least the mean of the "
            "seeds' own 95 % intervals over problems and clipped to 0–100 % (its coverage is measured by "
            "`benchmarks/bench_coverage.py`). A method with one seed has no interval over seeds: the "
            "seed-to-seed variation cannot be estimated from one run. Bold compares every row, summaries "
            "included, by its value (the mean for a summary)."
        )
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
                    if pd.isna(row[SEEDS_COLUMN]):
                        cells_ = [_fmt(vals[i, j], bold[i, j]) for j in range(len(cols))]
                        name = method_label(row["method"])
                    else:
                        ci = [(row[f"{c}_ci_low"], row[f"{c}_ci_high"]) for c in cols]
                        cells_ = [_fmt(vals[i, j], bold[i, j], ci[j]) for j in range(len(cols))]
                        name = series_label(row["method"], int(row[SEEDS_COLUMN]))
                    lines.append(f"| {name} | " + " | ".join(cells_) + " |")
                lines.append("")
    return "\n".join(lines)


def make_table2(cfg: dict, passk: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    table = build_table2(cfg, passk)
    return table, to_markdown(cfg, table, passk)


def _run(args, cfg: dict) -> list:
    from rsrl.report.inputs import read_passk

    return write_tables(args.out, *make_table2(cfg, read_passk(args.passk)))


COMMAND = Command("table2", "Table 2: pass@k table (CSV and Markdown)", _run, (PASSK,))
