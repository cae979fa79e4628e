"""Fig. 2 (advantage shape) and Fig. 3 (bandit) from the theory tables."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.ticker  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from rsrl.io import save_figure  # noqa: E402
from rsrl.theory.bandit import arm_rewards, initial_policy  # noqa: E402


def _beta_colors(betas) -> dict:
    """beta = 0 (the mean objective) in black, the others in distinct colours ordered by beta."""
    betas = sorted(set(float(b) for b in betas) - {0.0})
    palette = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:olive",
               "tab:cyan", "tab:gray"]
    colors = {0.0: "black"}
    for i, b in enumerate(betas):
        colors[b] = palette[i % len(palette)]
    return colors


def _beta_label(b: float) -> str:
    return f"β = {b:g}" + (" (mean baseline)" if b == 0 else "")


def fig2_advantage_shape(shape: pd.DataFrame):
    colors = _beta_colors(shape.beta.unique())
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    ax = axes[0]
    cont = shape[shape.panel == "continuous"]
    for b, d in cont.groupby("beta"):
        ax.plot(d.x, d.value, color=colors[b], lw=2, label=_beta_label(b))
    ax.axhline(0, color="grey", lw=0.8)
    n_cont = cont.groupby("beta").size().iloc[0]
    ax.set_title(f"(a) Continuous reward: one group of {n_cont} rewards\nevenly spaced on [0, 1]")
    ax.set_xlabel("reward r of the sample")
    ax.set_ylabel("advantage A(r)")
    ax.legend(title="RS-GRPO", fontsize=9)

    binary = shape[shape.panel == "binary"]
    ax = axes[1]
    for b, d in binary.groupby("beta"):
        pos = d[d.series == "positive"]
        neg = d[d.series == "negative"]
        ax.plot(pos.x, pos.value, color=colors[b], lw=2, marker="o", ms=3, label=_beta_label(b))
        ax.plot(neg.x, neg.value, color=colors[b], lw=2, ls="--", marker="o", ms=3)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_title("(b) Binary reward (N = 16): per-sample advantage\nsolid: correct sample, dashed: incorrect sample")
    ax.set_xlabel("prompt accuracy p (share of correct samples in the group)")
    ax.set_ylabel("advantage")
    ax.legend(fontsize=9)

    ax = axes[2]
    for b, d in binary.groupby("beta"):
        cum = d[d.series == "cumulative"]
        ax.plot(cum.x, cum.value, color=colors[b], lw=2, marker="o", ms=3, label=_beta_label(b))
    ax.set_title("(c) Binary reward (N = 16): total credit per group\nN·(p·A₊ + (1−p)·|A₋|), colours as in (b)")
    ax.set_xlabel("prompt accuracy p")
    ax.set_ylabel("cumulative |advantage|")
    for a in axes:
        a.grid(alpha=0.3)
    fig.suptitle("Risk-sensitive advantage A = (exp(β r) / mean exp(β r) − 1) / β: larger β gives more credit to "
                 "the best samples and to rarely solved prompts", fontsize=12)
    fig.tight_layout()
    return fig


def fig3_bandit(curves: pd.DataFrame, final: pd.DataFrame | None = None):
    colors = _beta_colors(curves.beta.unique())
    fig, axes = plt.subplots(1, 3, figsize=(17, 4.8), gridspec_kw={"width_ratios": [1.1, 1.2, 1.2]})
    ax = axes[0]
    x = np.arange(len(arm_rewards()))
    ax.plot(x, arm_rewards(), color="tab:red", lw=2, label="mean reward R(x)")
    ax.set_xlabel("arm x")
    ax.set_ylabel("reward", color="tab:red")
    ax.set_ylim(0, 1.05)
    ax2 = ax.twinx()
    ax2.fill_between(x, initial_policy(), color="tab:blue", alpha=0.3, label="initial policy π₀(x)")
    ax2.set_ylabel("initial probability", color="tab:blue")
    ax2.set_ylim(0, initial_policy().max() * 1.6)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper right", fontsize=9)
    ax.set_title("(a) 100-armed bandit: global optimum 1.0 at x = 40,\n"
                 "local optimum 0.6 at x = 75 where the initial policy sits")

    n_seeds = curves.seed.nunique()
    for ax, col, title, ylabel in ((axes[1], "mean_reward", "(b) Expected reward of the policy", "E_π[R]"),
                                   (axes[2], "entropy", "(c) Policy entropy", "entropy (nats)")):
        for b, d in curves.groupby("beta"):
            g = d.groupby("samples")[col]
            mean, lo, hi = g.mean(), g.min(), g.max()
            ax.plot(mean.index, mean.values, color=colors[b], lw=2, label=_beta_label(b))
            ax.fill_between(mean.index, lo.values, hi.values, color=colors[b], alpha=0.15, lw=0)
        ax.set_xlabel("samples drawn")
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v / 1000:g}k"))
        ax.set_ylabel(ylabel)
        ax.set_title(f"{title}\nmean over {n_seeds} seeds, band = min–max")
        ax.grid(alpha=0.3)
    axes[1].axhline(1.0, color="grey", lw=0.8, ls=":")
    axes[1].axhline(0.6, color="grey", lw=0.8, ls=":")
    axes[2].legend(title="RS policy gradient", fontsize=9, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    sub = ("Softmax policy, batches of 16 samples, step 0.1, weight (exp(β(r − Z)) − 1)/β with "
           "Z = log mean exp(β r) / β (β = 0: r − mean)")
    if final is not None:
        fr = final.groupby("beta").final_reward.mean()
        sub += "\nfinal reward (last 10k samples, mean over seeds): " + ", ".join(
            f"β={b:g}: {v:.3f}" for b, v in fr.items())
    fig.suptitle("Risk-sensitive policy gradient escapes the local optimum of a bandit (β ≥ 4); "
                 "the mean objective (β = 0) does not\n" + sub, fontsize=11)
    fig.tight_layout()
    return fig


def make_figures(advantage_csv, curves_csv, final_csv, fig2_stem, fig3_stem) -> list[Path]:
    out = []
    fig = fig2_advantage_shape(pd.read_csv(advantage_csv))
    out += save_figure(fig, fig2_stem)
    plt.close(fig)
    fig = fig3_bandit(pd.read_csv(curves_csv), pd.read_csv(final_csv) if final_csv else None)
    out += save_figure(fig, fig3_stem)
    plt.close(fig)
    return out
