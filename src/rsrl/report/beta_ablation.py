"""Fig. 5: the β ablation for one (model, training set).

Training curves (reward, cumulative solve rate) come from each run's ``metrics.csv``; test pass@k over training
comes from the snapshots ``<method>.step<k>`` (:func:`rsrl.grid.snapshot_steps`), the final checkpoint (at
``max_steps``) and, at step 0, the base model, all read from the aggregated pass@k table. A method trained with
several seeds is one curve in every panel: the mean over its seeds, with the 95 % Student-t interval over seeds
as a band (:mod:`rsrl.report.seeds`), and one legend entry.
"""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rsrl import grid
from rsrl.report.command import PASSK, Arg, Command, Rule, write_figure
from rsrl.report.inputs import k_table, read_train_metrics
from rsrl.report.over_training import pass_at_k_panel
from rsrl.report.seeds import group_runs, summarize
from rsrl.report.style import apply_style, method_beta, method_color, method_linestyle, note

log = logging.getLogger(__name__)


def ablation_methods(cfg: dict) -> tuple[tuple[str, str] | None, list[str]]:
    """The focus cell (model, train_set) and the method ids Fig. 5 draws (:func:`rsrl.grid.ablation_methods`)."""
    cell = grid.focus_cell(cfg)
    return (cell, grid.ablation_methods(cfg)) if cell else (None, [])


def _smooth(y: np.ndarray, window: int) -> np.ndarray:
    if window <= 1:
        return y
    return pd.Series(y).rolling(window, min_periods=1, center=True).mean().to_numpy()


def _pooled_metrics(frames: dict[str, pd.DataFrame], window: int) -> pd.DataFrame:
    """Training curves of one method's runs: per step, reward (raw and smoothed per run) and cumulative solve
    rate, each the mean over the runs with the interval over seeds (a single run: its own values, no band)."""
    rows = pd.concat(
        [
            df[["step", "reward_mean", "cumulative_solve_rate"]].assign(
                method=run, reward_smooth=_smooth(df["reward_mean"].to_numpy(dtype=float), window)
            )
            for run, df in frames.items()
        ],
        ignore_index=True,
    )
    return summarize(rows, ["reward_mean", "reward_smooth", "cumulative_solve_rate"], by=["step"]).sort_values("step")


def make_fig5(cfg: dict, passk: pd.DataFrame, train_metrics: list[str | Path]) -> plt.Figure:
    """Fig. 5 from the pass@k table (snapshots included) and the focus cell's training metrics, one file per
    method in :func:`ablation_methods` order."""
    apply_style()
    cell, methods = ablation_methods(cfg)
    ks = k_table(cfg)
    ncol = max(2, len(ks))
    fig, axes = plt.subplots(2, ncol, figsize=(4.6 * ncol, 7.4), squeeze=False)
    for ax in axes[0, 2:]:
        ax.set_visible(False)
    if cell is None:
        for ax in axes.flat:
            note(ax, "the configured grid has no trained cells")
        fig.suptitle("Fig. 5: β ablation (no data)")
        return fig
    model, ts = cell
    want = [Path(grid.train_metrics(model, ts, m)).parts for m in methods]
    given = {Path(str(f)).parts[-len(want[0]) :]: f for f in train_metrics} if want else {}
    if set(given) != set(want) or len(given) != len(train_metrics):
        raise ValueError(
            f"fig5: the training metrics files passed ({sorted(given)}) are not those of the methods "
            f"Fig. 5 draws for {model}/{ts}: {want}"
        )
    train_metrics = [given[w] for w in want]
    betas = sorted({method_beta(m) for m in methods} - {None})

    # Training curves (a method's seeds pooled).
    ax_r, ax_s = axes[0, 0], axes[0, 1]
    window = 1
    frames = {m: read_train_metrics(path) for m, path in zip(methods, train_metrics)}
    for series in group_runs(methods):
        m = series.key
        window = max(1, max(len(frames[r]) for r in series.runs) // 25)
        df = _pooled_metrics({r: frames[r] for r in series.runs}, window)
        style = dict(color=method_color(m), ls=method_linestyle(m), lw=1.6, label=series.label)
        ax_r.plot(df["step"], df["reward_mean"], color=method_color(m), lw=0.6, alpha=0.25)
        ax_r.plot(df["step"], df["reward_smooth"], **style)
        ax_s.plot(df["step"], 100 * df["cumulative_solve_rate"].to_numpy(dtype=float), **style)
        if series.pooled:
            step = df["step"].to_numpy(dtype=float)
            for ax, col, scale in ((ax_r, "reward_smooth", 1), (ax_s, "cumulative_solve_rate", 100)):
                ax.fill_between(
                    step,
                    scale * df[f"{col}_ci_low"].to_numpy(dtype=float),
                    scale * df[f"{col}_ci_high"].to_numpy(dtype=float),
                    color=method_color(m),
                    alpha=0.15,
                    lw=0,
                )
    ax_r.set_title("(a) Training reward")
    ax_r.set_xlabel("training step")
    ax_r.set_ylabel(
        "mean reward per sample" + (f"\n(moving average over {window} steps; faint: raw)" if window > 1 else "")
    )
    ax_s.set_title("(b) Cumulative solve rate on training prompts")
    ax_s.set_xlabel("training step")
    ax_s.set_ylabel("prompts ever solved / prompts seen (%)")

    # Test pass@k over training.
    for j, k in enumerate(ks):
        pass_at_k_panel(
            axes[1, j], cfg, passk, model, ts, methods, k, grid.ablation_benchmarks(cfg), f"({chr(ord('c') + j)})"
        )
    for ax in axes[1, len(ks) :]:
        ax.set_visible(False)
    top = 1 - 0.15 / fig.get_figheight()
    fig.tight_layout(rect=(0, 0, 1, top))
    handles, labels = ax_r.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 6), bbox_to_anchor=(0.5, top), frameon=False)
    extra = "" if len(betas) >= 2 else f" (only {len(betas)} RS-GRPO β in this grid cell)"
    bands = (
        "\nbands (a mean of seeds): 95% interval over seeds, clipped to the quantity's range (0–100%); one run: no band"
        if any(sr.pooled for sr in group_runs(methods))
        else ""
    )
    fig.suptitle(
        f"Fig. 5: effect of the risk-sensitivity β — {model} trained on {ts}{extra}{bands}",
        fontsize=12,
        y=top + 0.4 / fig.get_figheight(),
        va="bottom",
    )
    return fig


def _run(args, cfg: dict) -> list:
    from rsrl.report.inputs import read_passk

    if args.cell:  # one of Fig. 5's further rows (report.ablation_rows) drawn as the figure's cell
        row = next(r for r in cfg["report"]["ablation_rows"] if [r["model"], r["train_set"]] == list(args.cell))
        cfg = {**cfg, "report": {**cfg["report"], "ablation": row}}
    return write_figure(make_fig5(cfg, read_passk(args.passk), args.train_metrics), args.out)


def _further_rows(cfg: dict) -> list[dict]:
    """One figure per further row of Fig. 5 (``report.ablation_rows``) with trained cells."""
    return [{"model": r["model"], "train_set": r["train_set"]} for r in grid.ablation_rows(cfg)]


COMMAND = Command(
    "fig5",
    "Fig. 5: β ablation over training",
    _run,
    (
        PASSK,
        Arg(("--train-metrics",), {"nargs": "+", "required": True, "help": "metrics.csv of each method of the cell"}),
        Arg(
            ("--cell",),
            {
                "nargs": 2,
                "metavar": ("MODEL", "TRAIN_SET"),
                "default": None,
                "help": "draw this row of report.ablation_rows instead of report.ablation",
            },
        ),
    ),
    rules=(Rule("report_fig5"), Rule("report_fig5_row", _further_rows)),
)
