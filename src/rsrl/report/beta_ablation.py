"""Fig. 5: the β ablation for one (model, training set).

Training curves (reward, cumulative solve rate) come from each run's ``metrics.csv``; test pass@k over training
comes from the snapshots ``<method>.step<k>`` (k in ``training.eval_steps`` below ``training.max_steps``), the
final checkpoint (at ``max_steps``) and, at step 0, the base model.
"""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rsrl.config import BASE_METHOD, BASE_TRAIN_SET
from rsrl.report.inputs import (benchmarks, eval_metrics_path, focus_cell, grid_methods, k_table,
                                read_train_metrics, train_metrics_path)
from rsrl.report.style import (apply_style, method_beta, method_color, method_label, method_linestyle,
                               method_marker, note, split_method)

log = logging.getLogger(__name__)


def snapshot_steps(cfg: dict) -> list[int]:
    """Training steps with an evaluated snapshot: ``training.eval_steps`` below ``training.max_steps``."""
    tr = cfg["training"]
    max_steps = int(tr["max_steps"])
    return sorted({int(s) for s in tr.get("eval_steps", []) if int(s) < max_steps})


def ablation_methods(cfg: dict) -> tuple[tuple[str, str] | None, list[str]]:
    cell = focus_cell(cfg)
    if cell is None:
        return None, []
    return cell, grid_methods(cfg, *cell)


def ablation_benchmarks(cfg: dict) -> list[str]:
    """Benchmarks the snapshots are evaluated on: ``report.ablation.benchmarks``, default every benchmark."""
    chosen = (cfg.get("report", {}).get("ablation") or {}).get("benchmarks")
    return [b for b in benchmarks(cfg) if not chosen or b in chosen]


def ablation_checkpoints(cfg: dict) -> list[tuple[str, str, str]]:
    """(model, train_set, ``<method>.step<k>``) snapshots the evaluation stage must score for Fig. 5."""
    cell, methods = ablation_methods(cfg)
    if cell is None:
        return []
    return [(cell[0], cell[1], f"{m}.step{s}") for m in methods for s in snapshot_steps(cfg)]


def with_snapshots(cfg: dict, passk: pd.DataFrame, results: str | Path) -> pd.DataFrame:
    """`passk` plus the pass@k rows of ablation snapshots it lacks, read from their per-benchmark metrics.csv.

    The aggregated table normally holds the snapshots already; this keeps the figure complete when it was built
    before they were scored.
    """
    have = set(zip(passk["model"], passk["train_set"], passk["method"], passk["benchmark"]))
    extra = []
    for model, ts, meth in ablation_checkpoints(cfg):
        for b in ablation_benchmarks(cfg):
            if (model, ts, meth, b) in have:
                continue
            path = eval_metrics_path(results, model, ts, meth, b)
            if not path.exists():
                log.warning("no pass@k for snapshot %s/%s/%s on %s (neither in passk.csv nor %s); point left out",
                            model, ts, meth, b, path)
                continue
            m = pd.read_csv(path)
            m = m[m["metric"] == "pass@k"]
            for _, r in m.iterrows():
                extra.append({"model": model, "train_set": ts, "method": meth, "beta": method_beta(meth),
                              "benchmark": b, "k": int(r["k"]), "pass_at_k": float(r["value"]),
                              "ci_low": r.get("ci_low"), "ci_high": r.get("ci_high"),
                              "n_problems": 0, "n_samples": int(m["k"].max()),
                              "base_method": split_method(meth)[0], "step": split_method(meth)[1]})
    if not extra:
        return passk
    out = pd.concat([passk, pd.DataFrame(extra)], ignore_index=True)
    out["step"] = out["step"].astype("Int64")
    return out


def _smooth(y: np.ndarray, window: int) -> np.ndarray:
    if window <= 1:
        return y
    return pd.Series(y).rolling(window, min_periods=1, center=True).mean().to_numpy()


def test_curve(cfg: dict, passk: pd.DataFrame, model: str, train_set: str, method: str, k: int,
               bench: list[str]) -> pd.DataFrame:
    """Mean pass@k over `bench` at step 0 (base model), at each snapshot and at the final step."""
    max_steps = int(cfg["training"]["max_steps"])
    sel = passk[(passk["k"] == k) & passk["benchmark"].isin(bench) & (passk["k"] <= passk["n_samples"])]
    points = []
    base = sel[(sel["model"] == model) & (sel["train_set"] == BASE_TRAIN_SET) & (sel["method"] == BASE_METHOD)]
    trained = sel[(sel["model"] == model) & (sel["train_set"] == train_set) & (sel["base_method"] == method)]
    for step, sub in [(0, base)] + [(int(s) if pd.notna(s) else max_steps, g)
                                    for s, g in trained.groupby("step", dropna=False)]:
        if set(sub["benchmark"]) >= set(bench) and len(sub):
            points.append({"step": step, "value": float(sub["pass_at_k"].mean())})
    return pd.DataFrame(points, columns=["step", "value"]).sort_values("step")


def make_fig5(cfg: dict, passk: pd.DataFrame, results: str | Path = "results") -> plt.Figure:
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
    passk = with_snapshots(cfg, passk, results)
    betas = [m for m in methods if m.startswith("rs_beta")]
    max_steps = int(cfg["training"]["max_steps"])

    # Training curves.
    ax_r, ax_s = axes[0, 0], axes[0, 1]
    window = 1
    for m in methods:
        df = read_train_metrics(train_metrics_path(results, model, ts, m))
        window = max(1, len(df) // 25)
        style = dict(color=method_color(m), ls=method_linestyle(m), lw=1.6, label=method_label(m))
        ax_r.plot(df["step"], df["reward_mean"], color=method_color(m), lw=0.6, alpha=0.25)
        ax_r.plot(df["step"], _smooth(df["reward_mean"].to_numpy(dtype=float), window), **style)
        ax_s.plot(df["step"], 100 * df["cumulative_solve_rate"].to_numpy(dtype=float), **style)
    ax_r.set_title("(a) Training reward")
    ax_r.set_xlabel("training step")
    ax_r.set_ylabel("mean reward per sample" + (f"\n(moving average over {window} steps; faint: raw)"
                                                if window > 1 else ""))
    ax_s.set_title("(b) Cumulative solve rate on training prompts")
    ax_s.set_xlabel("training step")
    ax_s.set_ylabel("prompts ever solved / prompts seen (%)")

    # Test pass@k over training.
    bench_all = ablation_benchmarks(cfg)
    final = passk[passk["step"].isna() & (passk["k"] <= passk["n_samples"])]
    for j, k in enumerate(ks):
        ax = axes[1, j]
        have = set(final.loc[(final["k"] == k) & (final["model"] == model) & (final["train_set"] == ts), "benchmark"])
        bench = [b for b in bench_all if b in have]
        if not bench:
            note(ax, f"pass@{k}: no benchmark with ≥ {k} samples per problem\nfor {model} / {ts}")
            ax.set_title(f"({chr(ord('c') + j)}) Test pass@{k}")
            continue
        drawn = 0
        for m in methods:
            cur = test_curve(cfg, passk, model, ts, m, k, bench)
            if cur.empty:
                continue
            ax.plot(cur["step"], 100 * cur["value"], color=method_color(m), ls=method_linestyle(m),
                    marker=method_marker(m), ms=4, lw=1.6, label=method_label(m))
            drawn += 1
        if not drawn:
            note(ax, f"no pass@{k} rows for {model} / {ts}")
        ax.set_title(f"({chr(ord('c') + j)}) Test pass@{k}\nmean over {', '.join(bench)}")
        ax.set_xlabel("training step (0 = base model)")
        ax.set_ylabel(f"pass@{k} (%)")
        ax.set_xlim(-0.02 * max_steps, 1.02 * max_steps)
    for ax in axes[1, len(ks):]:
        ax.set_visible(False)
    top = 1 - 0.15 / fig.get_figheight()
    fig.tight_layout(rect=(0, 0, 1, top))
    handles, labels = ax_r.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 6), bbox_to_anchor=(0.5, top),
               frameon=False)
    extra = "" if len(betas) >= 2 else f" (only {len(betas)} RS-GRPO β in this grid cell)"
    fig.suptitle(f"Fig. 5: effect of the risk-sensitivity β — {model} trained on {ts}{extra}", fontsize=12,
                 y=top + 0.4 / fig.get_figheight(), va="bottom")
    return fig
