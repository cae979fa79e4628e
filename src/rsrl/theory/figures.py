"""Fig. 2 (advantage shape), Fig. 3 (bandit, RS-GRPO's β sweep) and Fig. 3b (bandit, every estimator)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from rsrl.io import save_figure  # noqa: E402
from rsrl.methods import Method, sort_key  # noqa: E402
from rsrl.methods import label as method_label  # noqa: E402
from rsrl.report.style import method_color, rs_color  # noqa: E402
from rsrl.theory.bandit import ESCAPE_REWARD, RS, arm_rewards, initial_policy  # noqa: E402


def _beta_colors(betas) -> dict:
    """RS-GRPO's colour for each beta, the same as in every report figure (rsrl.report.style.rs_color)."""
    return {float(b): rs_color(float(b)) for b in betas}


def _beta_label(b: float) -> str:
    """RS-GRPO's label for this beta, as in every report figure (rsrl.methods.label)."""
    return method_label(Method.of(RS, {"beta": float(b)}).id) + (" — mean baseline" if b == 0 else "")


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
    fig.suptitle(
        "Risk-sensitive advantage A = (exp(β r) / mean exp(β r) − 1) / β: larger β gives more credit to "
        "the best samples and to rarely solved prompts",
        fontsize=12,
    )
    fig.tight_layout()
    return fig


def _rs_sweep(df: pd.DataFrame) -> pd.DataFrame:
    """The RS-GRPO runs on deterministic rewards (the paper's Fig. 3)."""
    return df[(df.rewards == "deterministic") & (df.estimator == RS)]


def fig3_bandit(curves: pd.DataFrame, final: pd.DataFrame | None = None):
    curves = _rs_sweep(curves)
    final = _rs_sweep(final) if final is not None else None
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
    ax.set_title(
        "(a) 100-armed bandit: global optimum 1.0 at x = 40,\nlocal optimum 0.6 at x = 75 where the initial policy sits"
    )

    n_seeds = curves.seed.nunique()
    for ax, col, title, ylabel in (
        (axes[1], "mean_reward", "(b) Expected reward of the policy", "E_π[R]"),
        (axes[2], "entropy", "(c) Policy entropy", "entropy (nats)"),
    ):
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
    sub = (
        "Softmax policy, batches of 16 samples, step 0.1, weight (exp(β(r − Z)) − 1)/β with "
        "Z = log mean exp(β r) / β (β = 0: r − mean)"
    )
    if final is not None:
        fr = final.groupby("beta").final_reward.mean()
        sub += "\nfinal reward (last 10k samples, mean over seeds): " + ", ".join(
            f"β={b:g}: {v:.3f}" for b, v in fr.items()
        )
    fig.suptitle(
        "Risk-sensitive policy gradient escapes the local optimum of a bandit (β ≥ 4); "
        "the mean objective (β = 0) does not\n" + sub,
        fontsize=11,
    )
    fig.tight_layout()
    return fig


def _method_colors(methods) -> dict:
    """Each method's colour, the same as in every report figure (rsrl.report.style.method_color)."""
    return {m: method_color(m) for m in set(methods)}


def fig3b_bandit_estimators(curves: pd.DataFrame, final: pd.DataFrame):
    """Every estimator on the bandit, deterministic and Bernoulli rewards: curves and final rewards."""
    colors = _method_colors(final.method)
    order = sorted(final.method.unique(), key=sort_key)
    variants = [v for v in ("deterministic", "bernoulli") if v in set(final.rewards)]
    fig, axes = plt.subplots(
        1,
        len(variants) + 1,
        figsize=(6.2 * (len(variants) + 1), 5.2),
        gridspec_kw={"width_ratios": [1.2] * len(variants) + [1.0]},
    )
    n_seeds = final.seed.nunique()
    titles = {
        "deterministic": "deterministic rewards R(x) (the paper's bandit)",
        "bernoulli": "Bernoulli rewards, P(r = 1) = R(x)",
    }
    for ax, variant in zip(axes, variants):
        d = curves[curves.rewards == variant]
        for m in order:
            g = d[d.method == m].groupby("samples").mean_reward
            if g.ngroups == 0:
                continue
            mean = g.mean()
            ax.plot(mean.index, mean.values, color=colors[m], lw=1.8, label=method_label(m))
        ax.axhline(1.0, color="grey", lw=0.8, ls=":")
        ax.axhline(0.6, color="grey", lw=0.8, ls=":")
        ax.axhline(ESCAPE_REWARD, color="grey", lw=0.6, ls="--")
        ax.set_xlabel("samples drawn")
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v / 1000:g}k"))
        ax.set_ylabel("E_π[R]")
        ax.set_ylim(0.3, 1.03)
        ax.set_title(f"{titles[variant]}\nexpected reward, mean over {n_seeds} seeds")
        ax.grid(alpha=0.3)
    ax = axes[-1]
    markers = {"deterministic": "o", "bernoulli": "s"}
    y = np.arange(len(order))
    for k, variant in enumerate(variants):
        f = final[final.rewards == variant].groupby("method").final_reward.agg(["mean", "min", "max"])
        for i, m in enumerate(order):
            if m not in f.index:
                continue
            yy = y[i] + (k - (len(variants) - 1) / 2) * 0.25
            ax.plot([f.loc[m, "min"], f.loc[m, "max"]], [yy, yy], color=colors[m], lw=1.5)
            ax.plot(
                f.loc[m, "mean"],
                yy,
                marker=markers[variant],
                color=colors[m],
                ms=6,
                ls="none",
                label=variant if i == 0 else None,
            )
    ax.set_yticks(y)
    ax.set_yticklabels([method_label(m) for m in order], fontsize=8)
    ax.invert_yaxis()
    ax.axvline(1.0, color="grey", lw=0.8, ls=":")
    ax.axvline(0.6, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("final reward (last 10k samples): mean (marker), min–max over seeds")
    ax.set_title("Final reward per method\n(circle: deterministic, square: Bernoulli)")
    ax.grid(alpha=0.3, axis="x")
    handles, labels = axes[0].get_legend_handles_labels()
    if len(variants) > 1:  # binary-only estimators appear on the Bernoulli panel only
        more = dict(zip(*axes[1].get_legend_handles_labels()[::-1]))
        for lab, h in more.items():
            if lab not in labels:
                labels.append(lab)
                handles.append(h)
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 7), fontsize=9, frameon=False)
    fig.suptitle(
        "Which estimators leave the local optimum (0.6) for the global one (1.0)? Every registry estimator "
        "on the 100-armed bandit, batches of 16, step 0.1",
        fontsize=12,
    )
    rows = -(-len(labels) // 7)
    fig.tight_layout(rect=(0, 0.04 + 0.035 * rows, 1, 1))
    return fig


def make_figures(advantage_csv, curves_csv, final_csv, fig2_stem, fig3_stem, fig3b_stem=None) -> list[Path]:
    out = []
    fig = fig2_advantage_shape(pd.read_csv(advantage_csv))
    out += save_figure(fig, fig2_stem)
    plt.close(fig)
    curves, final = pd.read_csv(curves_csv), pd.read_csv(final_csv)
    fig = fig3_bandit(curves, final)
    out += save_figure(fig, fig3_stem)
    plt.close(fig)
    if fig3b_stem is not None:
        fig = fig3b_bandit_estimators(curves, final)
        out += save_figure(fig, fig3b_stem)
        plt.close(fig)
    return out
