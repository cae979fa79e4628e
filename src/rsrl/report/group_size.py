"""Fig. 11: the group size N at a fixed total batch (prompts x N samples per rollout), GRPO against RS-GRPO.

The runs are those of a grid block with ``group_sizes`` and ``total_batch`` (run ids ``<method>.n<N>``); the run of
the same method without a group-size suffix counts as ``N = training.n_samples_per_prompt`` when its rollouts have
the same total (``rollout_batch_size x N = total_batch``), so the paper's N = 16 point is the main run. The metric
(the paper's, as a summary of its caption gives it): the mean of pass@k over k = 1, 2, 4, ..., 32 and over the
benchmarks other than MATH500, for each run's final model.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from rsrl.methods import split_group
from rsrl.report.command import PASSK, Command, Rule, write_figure
from rsrl.report.style import apply_style, method_color, method_label, note

EXCLUDED = ("math500",)
K_MAX = 32


def fig11_block(cfg: dict) -> dict | None:
    """The first enabled grid block with ``group_sizes`` (None: Fig. 11 has no runs)."""
    return next((b for b in cfg["grid"] if b.get("group_sizes") and b.get("enabled", True)), None)


def points(cfg: dict, passk: pd.DataFrame) -> pd.DataFrame:
    """One row per (method id, N) of the Fig. 11 cell's final models: columns method_id, N, value (percent as in
    the pass@k table), n_benchmarks."""
    block = fig11_block(cfg)
    if block is None:
        return pd.DataFrame(columns=["method_id", "N", "value", "n_benchmarks"])
    t = cfg["training"]
    main_n = (
        t["n_samples_per_prompt"]
        if t["rollout_batch_size"] * t["n_samples_per_prompt"] == block["total_batch"]
        else None
    )
    df = passk[
        passk["model"].isin(block["models"])
        & passk["train_set"].isin(block["train_sets"])
        & passk["step"].isna()
        & ~passk["benchmark"].isin(EXCLUDED)
        & (passk["k"] <= K_MAX)
    ]
    df = df.assign(N=[split_group(r)[1] or main_n for r in df["base_method"]]).dropna(subset=["N"])
    per_bench = df.groupby(["method_id", "N", "benchmark"], sort=False)["pass_at_k"].mean().reset_index()
    out = per_bench.groupby(["method_id", "N"], sort=False).agg(
        value=("pass_at_k", "mean"), n_benchmarks=("benchmark", "nunique")
    )
    return out.reset_index().astype({"N": int}).sort_values(["method_id", "N"])


def make_fig11(cfg: dict, passk: pd.DataFrame) -> plt.Figure:
    apply_style()
    block = fig11_block(cfg)
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    pts = points(cfg, passk)
    if block is None or pts.empty:
        note(ax, "no group-size ablation runs (grid block with group_sizes, enabled) evaluated yet")
        fig.suptitle("Fig. 11: group size N (no data)")
        return fig
    for mid, g in pts.groupby("method_id", sort=False):
        ax.plot(g["N"], g["value"], marker="o", color=method_color(mid), label=method_label(mid))
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted(pts["N"].unique()), [str(n) for n in sorted(pts["N"].unique())])
    ax.set_xlabel("group size N (samples per prompt)")
    ax.set_ylabel(f"mean pass@k, k = 1..{K_MAX} (%)")
    ax.legend(fontsize=8)
    cell = f"{', '.join(block['models'])} trained on {', '.join(block['train_sets'])}"
    fig.suptitle(
        f"Fig. 11: group size at a fixed total batch of {block['total_batch']} samples — {cell}\n"
        f"(mean over the {int(pts['n_benchmarks'].max())} benchmarks other than MATH500)",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def _run(args, cfg: dict) -> list:
    from rsrl.report.inputs import read_passk

    return write_figure(make_fig11(cfg, read_passk(args.passk)), args.out)


COMMAND = Command(
    "fig11",
    "Fig. 11: group size N at a fixed total batch",
    _run,
    (PASSK,),
    rules=(Rule("report_fig11", lambda cfg: [{}] if fig11_block(cfg) else []),),
)
