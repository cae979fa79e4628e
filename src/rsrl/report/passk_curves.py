"""Fig. 4: pass@k against k for the base model and every trained method, per model, training set and benchmark.

A grid of panels: one row per (model, training set), one column per benchmark; k on a log2 axis; shaded bands
are the confidence intervals reported by the evaluation stage (95 %, over problems: bootstrap ∪ Wilson score,
:func:`rsrl.passk.problem_ci`). A method trained with several seeds is one line, the mean over its seeds at each
k, with the 95 % interval over seeds as its band (:mod:`rsrl.report.seeds`), and one legend entry. Every band lies
in 0–100 % (clipped), and the title says so.
"""

from __future__ import annotations

import logging

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rsrl import grid
from rsrl.methods import BASE
from rsrl.report.command import PASSK, Arg, Command, Rule, write_figure
from rsrl.report.seeds import Series, group_runs, summarize
from rsrl.report.style import (
    apply_style,
    method_color,
    method_label,
    method_linestyle,
    method_marker,
    method_sort_key,
    note,
)

log = logging.getLogger(__name__)

PANEL_W, PANEL_H = 3.1, 2.5


def _curve(passk: pd.DataFrame, model: str, train_set: str, method: str, bench: str) -> pd.DataFrame:
    sub = passk[
        (passk["model"] == model)
        & (passk["train_set"] == train_set)
        & (passk["method"] == method)
        & (passk["benchmark"] == bench)
        & passk["step"].isna()
        & (passk["k"] <= passk["n_samples"])
    ]
    return sub.sort_values("k")


def series_curve(
    passk: pd.DataFrame, model: str, train_set: str, series: Series, bench: str
) -> tuple[pd.DataFrame, list[str]]:
    """The curve of one series (columns k, pass_at_k, ci_low, ci_high, n_problems, n_samples, n_seeds) and the
    runs of it without rows. A single run's band is its bootstrap interval over problems; a pooled method's
    value is the mean over its seeds at each k and its band the interval over seeds
    (:func:`rsrl.report.seeds.seed_interval`: at least the mean of the runs' own intervals, clipped to [0, 1])."""
    curves = {r: _curve(passk, model, train_set, r, bench) for r in series.runs}
    absent = [r for r, c in curves.items() if c.empty]
    have = [c for c in curves.values() if not c.empty]
    cols = ["k", "pass_at_k", "ci_low", "ci_high", "n_problems", "n_samples", "n_seeds"]
    if not have:
        return pd.DataFrame(columns=cols), absent
    if not series.pooled:
        return have[0].assign(n_seeds=1)[cols], absent
    rows = pd.concat(have)[["k", "n_problems", "n_samples", "method", "seed", "pass_at_k", "ci_low", "ci_high"]]
    out = summarize(rows, "pass_at_k", by=["k"], bounds={"pass_at_k": ("ci_low", "ci_high")})
    sizes = rows.groupby("k")[["n_problems", "n_samples"]].max()
    out = out.rename(columns={"pass_at_k_ci_low": "ci_low", "pass_at_k_ci_high": "ci_high"}).join(sizes, on="k")
    return out.sort_values("k")[cols], absent


def make_fig4(cfg: dict, passk: pd.DataFrame, model: str | None = None) -> plt.Figure:
    """The pass@k figure for the configured grid (or for one model)."""
    apply_style()
    rows = [r for r in grid.rows(cfg) if model is None or r[0] == model]
    if model is not None and not rows:
        raise ValueError(f"model {model!r} has no trained cell in the configured grid; grid rows are {grid.rows(cfg)}.")
    bench = list(cfg["benchmarks"])
    nrow, ncol = max(len(rows), 1), max(len(bench), 1)
    fig, axes = plt.subplots(nrow, ncol, figsize=(PANEL_W * ncol + 0.6, PANEL_H * nrow + 1.3), squeeze=False)
    handles: dict[str, tuple[tuple, object]] = {}
    pooled = False
    for i, (mdl, ts) in enumerate(rows):
        methods = ([BASE] if grid.has_base(cfg, mdl) else []) + grid.methods_of(cfg, mdl, ts)
        for j, b in enumerate(bench):
            ax = axes[i, j]
            drawn, sizes, kmax, absent = 0, set(), 1, []
            for series in group_runs(methods):
                meth = series.key
                tset = BASE if meth == BASE else ts
                cur, missing = series_curve(passk, mdl, tset, series, b)
                absent += missing
                if cur.empty:
                    continue
                k = cur["k"].to_numpy()
                y = 100 * cur["pass_at_k"].to_numpy(dtype=float)
                color = method_color(meth)
                (line,) = ax.plot(
                    k,
                    y,
                    color=color,
                    ls=method_linestyle(meth),
                    marker=method_marker(meth),
                    ms=3,
                    lw=1.5,
                    label=series.label,
                )
                lo, hi = cur["ci_low"].to_numpy(dtype=float), cur["ci_high"].to_numpy(dtype=float)
                if series.pooled or (np.isfinite(lo).all() and np.isfinite(hi).all()):
                    ax.fill_between(k, 100 * lo, 100 * hi, color=color, alpha=0.15, lw=0)
                pooled |= series.pooled
                handles.setdefault(series.label, (method_sort_key(series.runs[0]), line))
                sizes.add((int(cur["n_problems"].iloc[0]), int(cur["n_samples"].iloc[0])))
                kmax = max(kmax, int(k.max()))
                drawn += 1
            if i == 0:
                ax.set_title(b, fontweight="bold")
            if not drawn:
                note(ax, f"no pass@k rows for\n{mdl} / {ts} on {b}")
                continue
            if len(sizes) == 1:
                p, n = sizes.pop()
                size_txt = f"{p} problems, n={n}"
            else:
                size_txt = "; ".join(f"{p} problems, n={n}" for p, n in sorted(sizes))
            ax.text(0.98, 0.03, size_txt, transform=ax.transAxes, ha="right", va="bottom", fontsize=7, color="#444444")
            if kmax > 1:
                ax.set_xscale("log", base=2)
                ax.set_xlim(1, kmax)
            ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
            ax.set_xlabel("k (samples)" if i == nrow - 1 else "")
            if absent:
                log.warning("pass@k rows missing for %s on %s: %s", f"{mdl}/{ts}", b, absent)
                ax.text(
                    0.02,
                    0.97,
                    "not evaluated: " + ", ".join(method_label(m) for m in absent),
                    transform=ax.transAxes,
                    ha="left",
                    va="top",
                    fontsize=6,
                    color="#aa0000",
                )
        axes[i, 0].set_ylabel(f"{mdl}\ntrained on {ts}\n\npass@k (%)")
    if not rows:
        note(axes[0, 0], "the configured grid has no trained cells")
    top = 1 - 0.15 / fig.get_figheight()
    fig.tight_layout(rect=(0, 0, 1, top))
    order = sorted(handles, key=lambda lab: handles[lab][0])
    if order:
        fig.legend(
            [handles[lab][1] for lab in order],
            order,
            loc="lower center",
            ncol=min(len(order), 7),
            bbox_to_anchor=(0.5, top),
            frameon=False,
        )
    who = f" — {model}" if model else ""
    if pooled:
        title = (
            f"Fig. 4{who}: pass@k against k (unbiased estimator, mean over problems; n = samples per problem)\n"
            "bands: 95% CI over problems (bootstrap ∪ Wilson); for a mean of several seeds, 95% t-interval "
            "over seeds ∪ the runs' mean CI; all clipped to 0–100%"
        )
    else:
        title = (
            f"Fig. 4{who}: pass@k against k (unbiased estimator, mean over problems; n = samples per problem)\n"
            "bands: 95% CI over problems (bootstrap ∪ Wilson score), clipped to 0–100%"
        )
    fig.suptitle(title, y=top + 0.5 / fig.get_figheight(), va="bottom", fontsize=11)
    return fig


def _run(args, cfg: dict) -> list:
    from rsrl.report.inputs import read_passk

    return write_figure(make_fig4(cfg, read_passk(args.passk), model=args.model), args.out)


def _per_model(cfg: dict) -> list[dict]:
    """One Fig. 4 per trained model, when the grid trains several."""
    models = grid.models(cfg)
    return [{"model": m} for m in models] if len(models) > 1 else []


COMMAND = Command(
    "fig4",
    "Fig. 4: pass@k curves",
    _run,
    (PASSK, Arg(("--model",), {"default": None, "help": "draw only this model's rows"})),
    rules=(Rule("report_fig4"), Rule("report_fig4_model", _per_model)),
)
