"""Fig. 7: answer diversity and per-problem accuracy, GRPO against RS-GRPO.

(a) Share of distinct final answers among the samples of a problem (distinct answers / n, mean over problems)
per method and benchmark. Answers are counted up to math equivalence (``n_distinct`` of problems.parquet: the
answer classes of :mod:`rsrl.evaluate.metrics`, so ``x=2`` and ``2`` are one answer). (b) Per-problem accuracy
(c / n) of GRPO (x) against RS-GRPO with one β (y) on the same problems, pooled over benchmarks; points above the
diagonal are problems RS-GRPO solves more often.

A method trained with several seeds (runs ``<method>.seed<s>``, pooled by :func:`rsrl.report.seeds.group_runs`) is
one entry, labelled with the number of seeds: each problem's distinct-answer share and accuracy are the mean over
its seeds (on the problems every seed was evaluated on), so (a) shows one bar per method, with the 95 % Student-t
interval over seeds of the seeds' mean shares as an error bar, and (b) one point per problem. A method with a
single run is drawn from that run's values.
"""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from rsrl import grid
from rsrl.methods import BASE, parts
from rsrl.report.inputs import read_problems
from rsrl.report.seeds import Series, group_runs, t_interval
from rsrl.report.style import apply_style, method_beta, method_color, method_label, note

log = logging.getLogger(__name__)

# Benchmarks in panel (b): colours and markers distinct from the method colours of the other panels.
BENCH_STYLES = [("#1b9e77", "o"), ("#7570b3", "s"), ("#66a61e", "D"), ("#a6761d", "^"), ("#666666", "v"),
                ("#17becf", "P"), ("#bcbd22", "X"), ("#8c564b", "*")]
#: Columns of :func:`pool_problems`'s table.
POOLED_COLUMNS = ["problem_id", "n", "accuracy", "share"]


def choose_beta(cfg: dict, methods: list[str], beta: float | None) -> str | None:
    """The RS-GRPO method compared with GRPO: the given β, else the largest β in the grid cell."""
    rs = {method_beta(m): m for m in methods if method_beta(m) is not None}
    if beta is None:
        return rs[max(rs)] if rs else None
    if float(beta) not in rs:
        raise ValueError(f"--beta {beta:g}: no RS-GRPO run with this β in the grid cell; available βs are "
                         f"{sorted(rs)}.")
    return rs[float(beta)]


def pool_problems(frames: list[pd.DataFrame], what: str = "") -> tuple[pd.DataFrame, np.ndarray]:
    """One method's per-problem values on one benchmark from the problems.parquet of each of its runs (seeds).

    Returns a table with columns :data:`POOLED_COLUMNS`, one row per problem (in the first run's order): ``n`` the
    samples per problem (the most of any run), ``accuracy`` the solve rate c/n and ``share`` the distinct-answer
    share n_distinct/n, each the mean over the runs; with several runs only the problems every run has are kept.
    The second value holds each run's mean share over those problems (what the interval over seeds is taken of).
    A single run's table is its own values.
    """
    if len(frames) == 1:
        df = frames[0]
        out = df[["problem_id", "n", "accuracy"]].assign(share=df["n_distinct"] / df["n"])
        return out, np.array([float(out["share"].mean()) if len(out) else np.nan])
    common = set.intersection(*(set(f["problem_id"]) for f in frames))
    order = [p for p in frames[0]["problem_id"] if p in common]
    sizes = [len(f) for f in frames]
    if len(order) < max(sizes):
        log.warning("%s: the %d runs have %s problems; %d in common are pooled", what or "runs", len(frames),
                    sizes, len(order))
    per = [f.drop_duplicates("problem_id").set_index("problem_id").loc[order] for f in frames]
    n = np.max([p["n"].to_numpy() for p in per], axis=0)
    acc = np.vstack([p["accuracy"].to_numpy(dtype=float) for p in per])
    share = np.vstack([(p["n_distinct"] / p["n"]).to_numpy(dtype=float) for p in per])
    out = pd.DataFrame({"problem_id": order, "n": n, "accuracy": acc.mean(axis=0) if order else [],
                        "share": share.mean(axis=0) if order else []}, columns=POOLED_COLUMNS)
    return out, (share.mean(axis=1) if order else np.full(len(frames), np.nan))


def make_fig7(cfg: dict, problems: list[str | Path], beta: float | None = None) -> plt.Figure:
    """Fig. 7 from the per-problem tables of the focus cell's checkpoints, one file per
    :func:`rsrl.grid.diversity_targets` entry; the runs (seeds) of one method are pooled."""
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
    frames = {(c.id, b): read_problems(f) for (c, b), f in zip(targets, problems)}
    bench = list(cfg["benchmarks"])
    series = group_runs([c.id for c in ckpts])
    pooled = {(s.key, b): pool_problems([frames[(r, b)] for r in s.runs], what=f"{s.key} on {b}")
              for s in series for b in bench}
    any_pooled = any(s.pooled for s in series)

    # (a) Distinct-answer share.
    width = 0.8 / len(series)
    x = np.arange(len(bench))
    for i, s in enumerate(series):
        share = [float(pooled[(s.key, b)][0]["share"].mean()) if len(pooled[(s.key, b)][0]) else np.nan
                 for b in bench]
        pos = x - 0.4 + width * (i + 0.5)
        ax_a.bar(pos, 100 * np.asarray(share), width, color=method_color(s.key), label=s.label,
                 edgecolor="white", lw=0.5)
        if s.pooled:
            hw = np.array([t_interval(pooled[(s.key, b)][1])[1] for b in bench])
            ax_a.errorbar(pos, 100 * np.asarray(share), yerr=100 * hw, fmt="none", ecolor="#333333",
                          elinewidth=0.9, capsize=2.5, zorder=3)
    ticks = []
    for b in bench:
        df = pooled[(series[0].key, b)][0]
        n = int(df["n"].max()) if len(df) else 0
        ticks.append(f"{b}\n{len(df)} problems, n={n}")
    ax_a.set_xticks(x, ticks, fontsize=7)
    ax_a.set_ylabel("distinct answers (up to equivalence) / samples\nper problem (%, mean over problems)")
    title_a = f"(a) Share of distinct final answers — {model}, trained on {train_set}"
    if any_pooled:
        title_a += "\n(error bars of a mean of seeds: 95% t-interval over seeds)"
    ax_a.set_title(title_a)
    ax_a.legend(fontsize=8, ncol=2, loc="upper left")
    ax_a.grid(axis="x", visible=False)

    # (b) Per-problem accuracy, GRPO vs RS-GRPO.
    rs_key = choose_beta(cfg, [s.key for s in series], beta)
    rs = next((s for s in series if s.key == rs_key), None)
    grpo_id = ((cfg.get("report") or {}).get("paper_methods") or {}).get("grpo", {}).get("estimator", "grpo")
    grpo = next((s for s in series if parts(s.key)[0] == grpo_id), None)  # the GRPO the paper ran
    missing = [name for name, ok in (("GRPO", grpo is not None), ("RS-GRPO", rs is not None)) if not ok]
    if missing:
        note(ax_b, f"panel skipped: no {' or '.join(missing)} run for\n{model} / {train_set} in the configured grid")
        ax_b.set_title("(b) Per-problem accuracy, GRPO vs RS-GRPO")
    else:
        _joint(ax_b, pooled, bench, grpo, rs)
    title = "Fig. 7: diversity of answers and per-problem accuracy (n = samples per problem)"
    if any_pooled:
        title += "\na method trained with several seeds: per problem, the mean over its seeds"
    fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    return fig


def _accuracy_label(s: Series) -> str:
    return (f"{s.label}:\nper-problem accuracy c/n (%)" if s.pooled
            else f"{s.label} per-problem accuracy c/n (%)")


def _joint(ax, pooled, bench, grpo: Series, rs: Series) -> None:
    pairs = []
    g_name, rs_name = method_label(grpo.key), method_label(rs.key)
    for b in bench:
        g = pooled[(grpo.key, b)][0][["problem_id", "accuracy"]]
        r = pooled[(rs.key, b)][0][["problem_id", "accuracy"]]
        j = g.merge(r, on="problem_id", suffixes=("_grpo", "_rs"))
        j["benchmark"] = b
        if len(j) < max(len(g), len(r)):
            log.warning("%s: %d %s and %d %s problems; %d in common", b, len(g), g_name, len(r), rs_name, len(j))
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
    txt = (f"{len(df)} problems\n{rs_name} higher: {int((dx > 0).sum())}\n"
           f"{g_name} higher: {int((dx < 0).sum())}\nequal: {int((dx == 0).sum())} "
           f"(both 0%: {both0}, both 100%: {both1})")
    ax.text(0.03, 0.97, txt, transform=ax.transAxes, ha="left", va="top", fontsize=8,
            bbox=dict(boxstyle="round", fc="white", ec="#cccccc"))
    ax.set_xlim(-3, 103)
    ax.set_ylim(-3, 103)
    ax.set_aspect("equal")
    ax.set_xlabel(_accuracy_label(grpo))
    ax.set_ylabel(_accuracy_label(rs))
    seeds = (";\nper problem, the mean over seeds" if grpo.pooled or rs.pooled else "")
    ax.set_title(f"(b) Per-problem accuracy, {g_name} vs {rs_name}\n(marker area grows with the number of "
                 f"problems at a point{seeds})")
    ax.legend(handles=handles, fontsize=7, loc="lower right")
