"""Test pass@k over training steps, from the evaluated step snapshots (Fig. 5's lower row and Fig. 6).

A method's curve starts at step 0 with the base model, goes through its snapshots (:func:`rsrl.grid.snapshot_steps`)
and ends at the final model (step ``training.max_steps``); each point is the mean pass@k over the benchmarks on
which every point of the figure is defined. A method with several seeds is one curve: at each step the mean over
the seeds evaluated there, with the 95 % interval over seeds as a band (:func:`rsrl.report.seeds.seed_interval`:
the Student-t interval over seeds, at least as wide as the mean of the runs' own intervals over problems, clipped
to 0–100 %; at step 0 every seed starts from the same base model, so only the base model's interval remains).
"""

from __future__ import annotations

import pandas as pd

from rsrl.methods import BASE
from rsrl.report.seeds import Series, group_runs, summarize
from rsrl.report.style import method_color, method_linestyle, method_marker, note


def snapshot_curve(
    cfg: dict, passk: pd.DataFrame, model: str, train_set: str, method: str, k: int, bench: list[str]
) -> pd.DataFrame:
    """Mean pass@k over `bench` at step 0 (base model), at each snapshot and at the final step (``value``), with
    the mean of the runs' own interval bounds over problems (``run_low``, ``run_high``)."""
    max_steps = int(cfg["training"]["max_steps"])
    sel = passk[(passk["k"] == k) & passk["benchmark"].isin(bench) & (passk["k"] <= passk["n_samples"])]
    points = []
    base = sel[(sel["model"] == model) & (sel["train_set"] == BASE) & (sel["method"] == BASE)]
    trained = sel[(sel["model"] == model) & (sel["train_set"] == train_set) & (sel["base_method"] == method)]
    for step, sub in [(0, base)] + [
        (int(s) if pd.notna(s) else max_steps, g) for s, g in trained.groupby("step", dropna=False)
    ]:
        if set(sub["benchmark"]) >= set(bench) and len(sub):
            points.append(
                {
                    "step": step,
                    "value": float(sub["pass_at_k"].mean()),
                    "run_low": float(sub["ci_low"].mean()),
                    "run_high": float(sub["ci_high"].mean()),
                }
            )
    return pd.DataFrame(points, columns=["step", "value", "run_low", "run_high"]).sort_values("step")


def series_snapshot_curve(
    cfg: dict, passk: pd.DataFrame, model: str, train_set: str, series: Series, k: int, bench: list[str]
) -> pd.DataFrame:
    """:func:`snapshot_curve` of one series: columns step, value, ci_low, ci_high, n_seeds. A single run has no
    band (NaN); a pooled method is the mean over its seeds at each step with the interval over seeds."""
    cols = ["step", "value", "ci_low", "ci_high", "n_seeds"]
    curves = [snapshot_curve(cfg, passk, model, train_set, r, k, bench).assign(method=r) for r in series.runs]
    rows = pd.concat(curves, ignore_index=True)
    if rows.empty:
        return pd.DataFrame(columns=cols)
    out = summarize(rows, "value", by=["step"], bounds={"value": ("run_low", "run_high")})
    out = out.rename(columns={"value_ci_low": "ci_low", "value_ci_high": "ci_high"})
    return out.sort_values("step")[cols].reset_index(drop=True)


def pass_at_k_panel(
    ax, cfg: dict, passk: pd.DataFrame, model: str, ts: str, methods: list[str], k: int, bench_all: list[str], tag: str
) -> int:
    """Draw pass@k over training for ``methods`` (run ids) of one (model, train_set), the runs of one method
    pooled over seeds; return the number of curves drawn."""
    max_steps = int(cfg["training"]["max_steps"])
    final = passk[passk["step"].isna() & (passk["k"] <= passk["n_samples"])]
    have = set(final.loc[(final["k"] == k) & (final["model"] == model) & (final["train_set"] == ts), "benchmark"])
    bench = [b for b in bench_all if b in have]
    if not bench:
        note(ax, f"pass@{k}: no benchmark with ≥ {k} samples per problem\nfor {model} / {ts}")
        ax.set_title(f"{tag} Test pass@{k}")
        return 0
    drawn = 0
    for series in group_runs(methods):
        m = series.key
        cur = series_snapshot_curve(cfg, passk, model, ts, series, k, bench)
        if cur.empty:
            continue
        ax.plot(
            cur["step"],
            100 * cur["value"],
            color=method_color(m),
            ls=method_linestyle(m),
            marker=method_marker(m),
            ms=4,
            lw=1.6,
            label=series.label,
        )
        if series.pooled:
            ax.fill_between(
                cur["step"].to_numpy(dtype=float),
                100 * cur["ci_low"].to_numpy(dtype=float),
                100 * cur["ci_high"].to_numpy(dtype=float),
                color=method_color(m),
                alpha=0.15,
                lw=0,
            )
        drawn += 1
    if not drawn:
        note(ax, f"no pass@{k} rows for {model} / {ts}")
    ax.set_title(f"{tag} Test pass@{k}\nmean over {', '.join(bench)}")
    ax.set_xlabel("training step (0 = base model)")
    ax.set_ylabel(f"pass@{k} (%)")
    ax.set_xlim(-0.02 * max_steps, 1.02 * max_steps)
    return drawn
