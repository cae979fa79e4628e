"""Training curves of every trained cell: reward, solve rate, response length, entropy and mean |advantage| per step.

One row of panels per (model, training set), one column per quantity, one curve per method; a method trained from
several seeds is the mean over its seeds with the 95 % Student-t interval over seeds as a band
(:mod:`rsrl.report.seeds`). Every value comes from the cells' ``metrics.csv`` (:mod:`rsrl.train.progress`, written
alike by both trainers); each run is smoothed by a centred moving average over ``max(1, steps // 25)`` steps
before the seeds are pooled. ``training_curves.csv`` holds the plotted values.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from rsrl import grid
from rsrl import methods as mth
from rsrl.report.command import Arg, Command, stem, write_figure
from rsrl.report.inputs import read_train_metrics
from rsrl.report.seeds import group_runs, series_label, summarize
from rsrl.report.style import apply_style, method_color, method_linestyle, note

#: The quantities drawn, as (metrics.csv column, panel title, y-axis label).
QUANTITIES = [
    ("reward_mean", "Reward", "mean reward per sample"),
    ("solve_rate", "Solve rate", "prompts with a correct sample (%)"),
    ("response_length", "Response length", "mean tokens per response"),
    ("entropy", "Entropy", "policy entropy per token"),
    ("advantage_abs_mean", "Mean |advantage|", "mean |advantage| per sample"),
]
#: The range each quantity can take: its band over seeds is clipped to it (a reward of 0 or 1 and a solve rate
#: are shares; lengths, entropies and |advantage| are only non-negative).
RANGES = {"reward_mean": (0.0, 1.0), "solve_rate": (0.0, 1.0)}
NON_NEGATIVE = (0.0, float("inf"))
PERCENT = {"solve_rate"}
CURVE_COLUMNS = ["model", "train_set", "method", "quantity", "step", "value", "ci_low", "ci_high", "n_seeds"]


def match_metrics(cfg: dict, files: list[str]) -> dict[tuple[str, str, str], Path]:
    """The metrics file of every trained cell, keyed by (model, train_set, run); every cell needs exactly one."""
    cells = grid.cells(cfg)
    want = {
        Path(grid.train_metrics(c.model, c.train_set, c.run_id)).parts: (c.model, c.train_set, c.run_id) for c in cells
    }
    depth = len(next(iter(want))) if want else 0
    got = {Path(str(f)).parts[-depth:]: Path(f) for f in files}
    if set(got) != set(want) or len(got) != len(files):
        raise ValueError(
            f"training_curves: the metrics files passed ({sorted('/'.join(g) for g in got)}) are not "
            f"those of the grid's trained cells ({sorted('/'.join(w) for w in want)})"
        )
    return {want[k]: got[k] for k in want}


def curves(cfg: dict, files: list[str]) -> pd.DataFrame:
    """Per (model, train_set, method, quantity, step): the value (mean over seeds of the smoothed runs), its
    interval over seeds and the number of seeds (:data:`CURVE_COLUMNS`)."""
    by_cell = match_metrics(cfg, files)
    out = []
    for model, ts in grid.rows(cfg):
        runs = [r for (m, t, r) in by_cell if (m, t) == (model, ts)]
        frames = {r: read_train_metrics(by_cell[(model, ts, r)]) for r in runs}
        for series in group_runs(runs):
            for col, _, _ in QUANTITIES:
                parts = []
                for seed_index, r in enumerate(series.runs):
                    df = frames[r]
                    window = max(1, len(df) // 25)
                    y = df[col] if col in df else pd.Series(float("nan"), index=df.index)
                    y = y.astype(float).rolling(window, min_periods=1, center=True).mean()
                    parts.append(pd.DataFrame({"step": df["step"].astype(int), "value": y, "seed": seed_index}))
                rows = pd.concat(parts, ignore_index=True)
                s = summarize(rows, "value", by=["step"], limits=RANGES.get(col, NON_NEGATIVE)).rename(
                    columns={"value_ci_low": "ci_low", "value_ci_high": "ci_high"}
                )
                out.append(s.assign(model=model, train_set=ts, method=series.key, quantity=col))
    if not out:
        return pd.DataFrame(columns=CURVE_COLUMNS)
    return (
        pd.concat(out, ignore_index=True)[CURVE_COLUMNS]
        .sort_values(["model", "train_set", "method", "quantity", "step"], kind="stable")
        .reset_index(drop=True)
    )


def make_figure(cfg: dict, table: pd.DataFrame):
    import matplotlib.pyplot as plt

    apply_style()
    rows = grid.rows(cfg)
    n = max(1, len(rows))
    fig, axes = plt.subplots(n, len(QUANTITIES), figsize=(3.4 * len(QUANTITIES), 2.8 * n + 1.4), squeeze=False)
    if not rows:
        for ax in axes.flat:
            note(ax, "the configured grid has no trained cells")
    for i, (model, ts) in enumerate(rows):
        sub = table[(table["model"] == model) & (table["train_set"] == ts)]
        for j, (col, title, ylabel) in enumerate(QUANTITIES):
            ax = axes[i, j]
            q = sub[sub["quantity"] == col]
            if q["value"].notna().sum() == 0:
                note(ax, f"{title}: not logged for {model} / {ts}")
                continue
            scale = 100.0 if col in PERCENT else 1.0
            for method, g in q.groupby("method", sort=False):
                step = g["step"].to_numpy(dtype=float)
                n_seeds = int(g["n_seeds"].max())
                label = series_label(method, n_seeds) if n_seeds > 1 else mth.label(method)
                ax.plot(
                    step,
                    scale * g["value"].to_numpy(dtype=float),
                    color=method_color(method),
                    ls=method_linestyle(method),
                    lw=1.4,
                    label=label,
                )
                if n_seeds > 1:
                    ax.fill_between(
                        step,
                        scale * g["ci_low"].to_numpy(dtype=float),
                        scale * g["ci_high"].to_numpy(dtype=float),
                        color=method_color(method),
                        alpha=0.15,
                        lw=0,
                    )
            ax.set_title(f"{title} — {model} / {ts}", fontsize=9)
            ax.set_xlabel("training step")
            ax.set_ylabel(ylabel)
    legend: dict = {}  # one legend for the figure: every row's methods, first appearance first
    for ax in axes[:, 0]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(lab, h)
    fig.suptitle(
        "Training curves per (model, training set); seeds pooled: mean and 95 % interval over seeds "
        "(bands clipped to each quantity's range)"
    )
    ncol = min(4, max(1, len(legend)))
    bottom = (0.25 * -(-len(legend) // ncol) + 0.2) / fig.get_figheight() if legend else 0.0
    if legend:
        fig.legend(list(legend.values()), list(legend), loc="lower center", ncol=ncol, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, bottom, 1, 1 - 0.4 / fig.get_figheight()))
    return fig


def _run(args, cfg: dict) -> list:
    from rsrl.io import write_table

    table = curves(cfg, args.train_metrics)
    csv = Path(args.table) if args.table else stem(args.out).with_suffix(".csv")
    write_table(csv, table)
    return write_figure(make_figure(cfg, table), args.out) + [csv]


COMMAND = Command(
    "training_curves",
    "training curves of every trained cell",
    _run,
    (
        Arg(
            ("--train-metrics",),
            {"nargs": "+", "required": True, "help": "metrics.csv of every trained cell (any order)"},
        ),
        Arg(("--table",), {"help": "where to write the plotted values (default: beside --out, .csv)"}),
    ),
)
