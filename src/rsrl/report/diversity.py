"""Fig. 7: answer diversity and per-problem accuracy, GRPO against RS-GRPO.

(a) Share of distinct final answers among the samples of a problem (distinct answers / n, mean over problems)
per method and benchmark. Answers are counted up to math equivalence (``n_distinct`` of problems.parquet: the
answer classes of :mod:`rsrl.evaluate.metrics`, so ``x=2`` and ``2`` are one answer). (b) Per-problem accuracy
(c / n) of GRPO (x) against RS-GRPO with one β (y) on the same problems, pooled over benchmarks; points above the
diagonal are problems RS-GRPO solves more often.
"""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from rsrl import grid
from rsrl.methods import BASE
from rsrl.report.inputs import read_problems
from rsrl.report.style import apply_style, method_beta, method_color, method_label, note

log = logging.getLogger(__name__)

# Benchmarks in panel (b): colours and markers distinct from the method colours of the other panels.
BENCH_STYLES = [("#1b9e77", "o"), ("#7570b3", "s"), ("#66a61e", "D"), ("#a6761d", "^"), ("#666666", "v"),
                ("#17becf", "P"), ("#bcbd22", "X"), ("#8c564b", "*")]


def choose_beta(cfg: dict, methods: list[str], beta: float | None) -> str | None:
    """The RS-GRPO method compared with GRPO: the given β, else the largest β in the grid cell."""
    rs = {method_beta(m): m for m in methods if method_beta(m) is not None}
    if beta is None:
        return rs[max(rs)] if rs else None
    if float(beta) not in rs:
        raise ValueError(f"--beta {beta:g}: no RS-GRPO run with this β in the grid cell; available βs are "
                         f"{sorted(rs)}.")
    return rs[float(beta)]


def make_fig7(cfg: dict, problems: list[str | Path], beta: float | None = None) -> plt.Figure:
    """Fig. 7 from the per-problem tables of the focus cell's checkpoints, one file per
    :func:`rsrl.grid.diversity_targets` entry."""
    apply_style()
    targets = grid.diversity_targets(cfg)
    problems = grid.match_files(targets, grid.PROBLEMS_PATTERN, problems, "fig7 --problems")
    fig, (ax_a, ax_b) = plt.subplots(1, 2, figsize=(14, 5.6), gridspec_kw={"width_ratios": [1.5, 1]})
    if not targets:
        note(ax_a, "the configured grid has no trained cells")
        note(ax_b, "the configured grid has no trained cells")
        fig.suptitle("Fig. 7: answer diversity (no data)")
        return fig
    ckpts = list(dict.fromkeys(c for c, _ in targets))
    model = ckpts[-1].model
    train_set = next((c.train_set for c in ckpts if not c.is_base), BASE)
    methods = [c.id for c in ckpts]
    frames = {(c.id, b): read_problems(f) for (c, b), f in zip(targets, problems)}
    bench = list(cfg["benchmarks"])

    # (a) Distinct-answer share.
    width = 0.8 / len(methods)
    x = np.arange(len(bench))
    for i, m in enumerate(methods):
        share = [float((frames[(m, b)]["n_distinct"] / frames[(m, b)]["n"]).mean()) if len(frames[(m, b)])
                 else np.nan for b in bench]
        ax_a.bar(x - 0.4 + width * (i + 0.5), 100 * np.asarray(share), width, color=method_color(m),
                 label=method_label(m), edgecolor="white", lw=0.5)
    ticks = []
    for b in bench:
        df = frames[(methods[0], b)]
        n = int(df["n"].max()) if len(df) else 0
        ticks.append(f"{b}\n{len(df)} problems, n={n}")
    ax_a.set_xticks(x, ticks, fontsize=7)
    ax_a.set_ylabel("distinct answers (up to equivalence) / samples\nper problem (%, mean over problems)")
    ax_a.set_title(f"(a) Share of distinct final answers — {model}, trained on {train_set}")
    ax_a.legend(fontsize=8, ncol=2, loc="upper left")
    ax_a.grid(axis="x", visible=False)

    # (b) Per-problem accuracy, GRPO vs RS-GRPO.
    rs = choose_beta(cfg, methods, beta)
    missing = [name for name, ok in (("GRPO", "grpo" in methods), ("RS-GRPO", rs is not None)) if not ok]
    if missing:
        note(ax_b, f"panel skipped: no {' or '.join(missing)} run for\n{model} / {train_set} in the configured grid")
        ax_b.set_title("(b) Per-problem accuracy, GRPO vs RS-GRPO")
    else:
        _joint(ax_b, frames, bench, rs)
    fig.suptitle("Fig. 7: diversity of answers and per-problem accuracy (n = samples per problem)", fontsize=12)
    fig.tight_layout()
    return fig


def _joint(ax, frames, bench, rs: str) -> None:
    pairs = []
    for b in bench:
        g = frames[("grpo", b)][["problem_id", "accuracy"]]
        r = frames[(rs, b)][["problem_id", "accuracy"]]
        j = g.merge(r, on="problem_id", suffixes=("_grpo", "_rs"))
        j["benchmark"] = b
        if len(j) < max(len(g), len(r)):
            log.warning("%s: %d GRPO and %d %s problems; %d in common", b, len(g), len(r), rs, len(j))
        pairs.append(j)
    df = pd.concat(pairs, ignore_index=True)
    ax.plot([0, 100], [0, 100], color="#555555", lw=1, ls="--", zorder=1)
    handles = [Line2D([], [], color="#555555", lw=1, ls="--", label="equal accuracy")]
    for i, b in enumerate(bench):
        sub = df[df["benchmark"] == b]
        if sub.empty:
            continue
        color, marker = BENCH_STYLES[i % len(BENCH_STYLES)]
        pts = sub.groupby(["accuracy_grpo", "accuracy_rs"]).size().reset_index(name="count")
        ax.scatter(100 * pts["accuracy_grpo"], 100 * pts["accuracy_rs"], s=14 + 12 * np.sqrt(pts["count"] - 1),
                   color=color, marker=marker, alpha=0.55, lw=0, zorder=2)
        handles.append(Line2D([], [], color=color, marker=marker, ls="", ms=6, alpha=0.8,
                              label=f"{b} ({len(sub)} problems)"))
    dx = df["accuracy_rs"] - df["accuracy_grpo"]
    both0 = int(((df["accuracy_grpo"] == 0) & (df["accuracy_rs"] == 0)).sum())
    both1 = int(((df["accuracy_grpo"] == 1) & (df["accuracy_rs"] == 1)).sum())
    txt = (f"{len(df)} problems\n{method_label(rs)} higher: {int((dx > 0).sum())}\n"
           f"GRPO higher: {int((dx < 0).sum())}\nequal: {int((dx == 0).sum())} "
           f"(both 0%: {both0}, both 100%: {both1})")
    ax.text(0.03, 0.97, txt, transform=ax.transAxes, ha="left", va="top", fontsize=8,
            bbox=dict(boxstyle="round", fc="white", ec="#cccccc"))
    ax.set_xlim(-3, 103)
    ax.set_ylim(-3, 103)
    ax.set_aspect("equal")
    ax.set_xlabel("GRPO per-problem accuracy c/n (%)")
    ax.set_ylabel(f"{method_label(rs)} per-problem accuracy c/n (%)")
    ax.set_title(f"(b) Per-problem accuracy, GRPO vs {method_label(rs)}\n(marker area grows with the number of "
                 "problems at a point)")
    ax.legend(handles=handles, fontsize=7, loc="lower right")
