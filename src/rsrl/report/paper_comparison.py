"""The reproduction beside the paper: our pass@k and bandit results against the published numbers.

``results/tables/paper_comparison.csv`` has one row per (paper row, benchmark, k ∈ {1, 32}) of the paper's
results table (``reference/rs_grpo_table2.csv``) with columns::

    model, train_set, method, benchmark, k, paper, ours, ours_ci_low, ours_ci_high, delta, within_ci,
    n_seeds, ours_seed_ci_low, ours_seed_ci_high

``method`` is the paper's label; which of our methods it means is set once in the config
(``report.paper_methods``: label -> ``{estimator, params}``; ``base`` is the untrained model). Our runs are
matched by method id, without seed: a method trained with several seeds (runs ``<method>.seed<s>``) gives one
value, ``ours``, the mean over its ``n_seeds`` seeds, with ``ours_seed_ci_low``/``ours_seed_ci_high`` the 95 %
Student-t interval of that mean over seeds (:func:`rsrl.report.seeds.t_interval`; empty for a single run). Values
are in percent; ``delta = ours − paper`` in percentage points; ``ours_ci_low``/``ours_ci_high`` are our 95 %
bootstrap interval over problems (for several seeds, the mean over seeds of each seed's bounds: the interval of a
typical run) and ``within_ci`` says whether the paper's value lies in it. ``ours`` and everything after it are
empty where the configured grid has no such cell (or it was not evaluated on that benchmark with at least k
samples per problem).

``results/tables/bandit_comparison.csv``: per β of the authors' bandit, their single-seed final reward beside
the mean, minimum and maximum of ours over seeds (RS-GRPO on the authors' deterministic-reward bandit);
``within_range``: the published value (three decimals) lies in our range, widened by half a unit of its precision.
"""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rsrl.grid import expand_methods
from rsrl.methods import BASE, parts
from rsrl.report.command import PASSK, Arg, Command, Rule, write_figure, write_tables
from rsrl.report.seeds import series_label, summarize
from rsrl.report.style import apply_style, method_color, method_label, note
from rsrl.theory.bandit import RS as BANDIT_SWEEP

log = logging.getLogger(__name__)

#: What the paper's "GRPO" row is compared with, by the method ``report.paper_methods.grpo`` names, and why.
GRPO_VARIANTS = {
    "drgrpo": "GRPO is compared as the authors' code runs it: the mean baseline r − mean without std division "
    "(the β = 0 branch of codes/risk_sensitive_adv.py in Jackory/RS-GRPO; the paper labels GRPO "
    "\"β = 0\"). Whether Table 2's GRPO runs used it or verl's std-normalised default is not stated.",
    "grpo": "GRPO is compared in its std-normalised form (r − mean)/std; the authors' code computes their β = 0 "
    '"GRPO" as r − mean without std division (codes/risk_sensitive_adv.py in Jackory/RS-GRPO).',
}

COLUMNS = [
    "model",
    "train_set",
    "method",
    "benchmark",
    "k",
    "paper",
    "ours",
    "ours_ci_low",
    "ours_ci_high",
    "delta",
    "within_ci",
    "n_seeds",
    "ours_seed_ci_low",
    "ours_seed_ci_high",
]
# What one value of ours is: the runs (seeds) of one method id pooled.
_KEY = ["model", "train_set", "method_id", "benchmark", "k"]
BANDIT_COLUMNS = ["beta", "paper", "ours_mean", "ours_min", "ours_max", "n_seeds", "delta", "within_range"]
KS = (1, 32)
# The authors' bandit rewards are published to three decimals: a value within half a unit of that of our range
# counts as inside it.
BANDIT_ROUNDING = 0.0005


def read_reference(path: str | Path) -> pd.DataFrame:
    """The paper's table in long form: model, train_set, method, benchmark, k, paper (percent)."""
    wide = pd.read_csv(path)
    missing = {"model", "train_set", "method"} - set(wide.columns)
    if missing:
        raise ValueError(f"{path}: missing column(s) {sorted(missing)}; see reference/README.md for the layout")
    rows = []
    for col in wide.columns:
        if col in ("model", "train_set", "method") or col.startswith("average_"):
            continue
        bench, _, metric = col.rpartition("_p")
        if not bench or not metric.isdigit():
            raise ValueError(f"{path}: column {col!r} is not <benchmark>_p<k>")
        part = wide[["model", "train_set", "method"]].copy()
        part["benchmark"] = bench
        part["k"] = int(metric)
        part["paper"] = wide[col].astype(float)
        rows.append(part)
    return pd.concat(rows, ignore_index=True)


def method_map(cfg: dict) -> dict[str, str]:
    """Paper label -> our checkpoint id (``base`` for the untrained model), from ``report.paper_methods``."""
    out = {BASE: BASE}
    for label, entry in cfg["report"]["paper_methods"].items():
        (m,) = expand_methods([entry], where=f"config key report.paper_methods.{label}")
        out[label] = m.id
    return out


def compare(cfg: dict, reference: pd.DataFrame, passk: pd.DataFrame) -> pd.DataFrame:
    """The comparison table (see the module docstring) for every reference row with k in {1, 32}."""
    ids = method_map(cfg)
    ref = reference[reference["k"].isin(KS)].copy()
    unknown = sorted(set(ref["method"]) - set(ids))
    if unknown:
        raise ValueError(
            f"reference methods {unknown} have no entry in config key report.paper_methods "
            f"(labels configured: {sorted(ids)}); add one per paper label"
        )
    ours = {(r[0], r[1], r[2], r[3], int(r[4])): r[5:] for r in pooled_final(passk).itertuples(index=False)}
    out = []
    for r in ref.itertuples():
        mid = ids[r.method]
        ts = BASE if mid == BASE else r.train_set
        got = ours.get((r.model, ts, mid, r.benchmark, int(r.k)))
        row = {
            "model": r.model,
            "train_set": r.train_set,
            "method": r.method,
            "benchmark": r.benchmark,
            "k": int(r.k),
            "paper": float(r.paper),
        }
        if got is None:
            row.update(
                ours=np.nan,
                ours_ci_low=np.nan,
                ours_ci_high=np.nan,
                delta=np.nan,
                within_ci=pd.NA,
                n_seeds=pd.NA,
                ours_seed_ci_low=np.nan,
                ours_seed_ci_high=np.nan,
            )
        else:
            v, lo, hi, seed_lo, seed_hi = (100 * float(x) for x in got[:5])
            row.update(
                ours=v,
                ours_ci_low=lo,
                ours_ci_high=hi,
                delta=v - float(r.paper),
                within_ci=bool(lo - 1e-9 <= float(r.paper) <= hi + 1e-9),
                n_seeds=int(got[5]),
                ours_seed_ci_low=seed_lo,
                ours_seed_ci_high=seed_hi,
            )
        out.append(row)
    df = pd.DataFrame(out, columns=COLUMNS)
    df["within_ci"] = df["within_ci"].astype("boolean")
    df["n_seeds"] = df["n_seeds"].astype("Int64")
    return df


def pooled_final(passk: pd.DataFrame) -> pd.DataFrame:
    """Our final-model pass@k per (model, train_set, method id, benchmark, k) with k ≤ n, the runs (seeds) of a
    method pooled: columns model, train_set, method_id, benchmark, k, then (fractions) pass_at_k (the mean over
    seeds), ci_low, ci_high (the mean over seeds of each seed's bounds over problems), seed_ci_low, seed_ci_high
    (the 95 % interval over seeds of :func:`rsrl.report.seeds.seed_interval`, clipped to [0, 1]; NaN for one run)
    and n_seeds. A single run's values are its own."""
    final = passk[passk["step"].isna() & (passk["k"] <= passk["n_samples"])].copy()
    if "method_id" not in final.columns:
        final["method_id"] = final["method"].map(lambda m: parts(m)[0])
    cols = [*_KEY, "pass_at_k", "ci_low", "ci_high"] + (["seed"] if "seed" in final.columns else [])
    final = final[cols].assign(k=final["k"].astype(int))
    s = summarize(final, ["pass_at_k", "ci_low", "ci_high"], by=_KEY, bounds={"pass_at_k": ("ci_low", "ci_high")})
    return pd.DataFrame(
        {
            **{c: s[c] for c in _KEY},
            "pass_at_k": s["pass_at_k"],
            "ci_low": s["ci_low"],
            "ci_high": s["ci_high"],
            "seed_ci_low": s["pass_at_k_ci_low"],
            "seed_ci_high": s["pass_at_k_ci_high"],
            "n_seeds": s["n_seeds"],
        }
    )


def summary(cfg: dict, table: pd.DataFrame) -> str:
    """The Markdown report: one paragraph of summary, then the matched rows."""
    matched = table[table["ours"].notna()]
    lines = ["# The reproduction beside the paper", ""]
    n_cells = len(table.groupby(["model", "train_set", "method"]))
    if matched.empty:
        lines.append(
            f"None of the paper's {n_cells} (model, training set, method) rows is in the configured grid, so the "
            f"`ours` column is empty for all {len(table)} values: the configured cells are not the paper's (the "
            "embedded default trains a tiny model on a synthetic task). Run the paper config "
            "(`config/config.yaml`) to fill it."
        )
    else:
        inside = int(matched["within_ci"].sum())
        per = matched.groupby("method", sort=False)["delta"].apply(lambda d: float(np.mean(np.abs(d))))
        per_txt = "; ".join(f"{m}: {v:.1f}" for m, v in per.items())
        lines.append(
            f"{len(matched)} of the paper's {len(table)} values (pass@1 and pass@32 on six benchmarks) have a "
            f"matching result here; {inside} of them ({100 * inside / len(matched):.0f} %) lie within our 95 % "
            f"bootstrap interval over problems. Mean |ours − paper| in percentage points per method: {per_txt}. "
            "Intervals cover the sampling of problems and completions only, not the training run: a paper value "
            "outside them can still be a seed effect."
        )
    pooled = matched[matched["n_seeds"].fillna(1) > 1]
    if not pooled.empty:
        counts = sorted({int(n) for n in pooled["n_seeds"]})
        lines[-1] += (
            f" {len(pooled)} of the matched values are of methods trained with several seeds "
            f"({' or '.join(map(str, counts))}): there `ours` is the mean over seeds, shown as mean [low, high] of "
            "the 95 % interval over seeds (Student-t, at least as wide as the seeds' mean interval over problems, "
            "clipped to 0–100 %; columns `ours_seed_ci_low`, `ours_seed_ci_high` of the CSV), and the parenthesis "
            "is the mean over seeds of each seed's interval over problems (the one `within_ci` refers to)."
        )
    lines += [
        "",
        "Paper labels map to this pipeline's methods as: "
        + ", ".join(f"`{k}` → {method_label(v)}" for k, v in method_map(cfg).items())
        + ".",
        "",
    ]
    grpo = method_map(cfg).get("grpo")
    if grpo in GRPO_VARIANTS:
        lines[-1:-1] = [GRPO_VARIANTS[grpo] + " (config key `report.paper_methods.grpo`.)"]
    if not matched.empty:
        seeds_col = not pooled.empty
        lines += [
            "| model | training set | method | benchmark | k | paper | ours (95 % CI) |"
            + (" seeds |" if seeds_col else "")
            + " Δ |",
            "|---|---|---|---|---:|---:|---:|" + ("---:|" if seeds_col else "") + "---:|",
        ]
        for r in matched.itertuples():
            ours = f"{r.ours:.1f}"
            if np.isfinite(r.ours_seed_ci_low) and np.isfinite(r.ours_seed_ci_high):
                ours += f" [{r.ours_seed_ci_low:.1f}, {r.ours_seed_ci_high:.1f}]"
            seeds = f" {int(r.n_seeds)} |" if seeds_col else ""
            lines.append(
                f"| {r.model} | {r.train_set} | {r.method} | {r.benchmark} | {r.k} | {r.paper:.1f} | "
                f"{ours} ({r.ours_ci_low:.1f}–{r.ours_ci_high:.1f}) |{seeds} {r.delta:+.1f} |"
            )
    return "\n".join(lines) + "\n"


def make_figure(cfg: dict, table: pd.DataFrame) -> plt.Figure:
    """Ours against the paper's value, one point per (cell, benchmark, k), with the diagonal."""
    apply_style()
    ids = method_map(cfg)
    fig, axes = plt.subplots(1, len(KS), figsize=(5.4 * len(KS), 5.2), squeeze=False)
    for ax, k in zip(axes[0], KS):
        sub = table[(table["k"] == k) & table["ours"].notna()]
        ax.set_title(f"pass@{k}")
        ax.set_xlabel("paper (%)")
        ax.set_ylabel("this pipeline (%)")
        if sub.empty:
            note(
                ax,
                "no configured cell matches a row of the paper's table\n(the embedded default's cells are "
                "not the paper's)",
            )
            continue
        ax.plot([0, 100], [0, 100], color="#555555", lw=1, ls="--", zorder=1, label="ours = paper")
        for label, g in sub.groupby("method", sort=False):
            mid = ids[label]
            err = np.vstack([g["ours"] - g["ours_ci_low"], g["ours_ci_high"] - g["ours"]])
            ax.errorbar(
                g["paper"],
                g["ours"],
                yerr=err,
                fmt="o",
                ms=4,
                color=method_color(mid),
                alpha=0.8,
                elinewidth=0.8,
                label=f"{label} ({_ours_label(mid, g['n_seeds'])})",
            )
        hi = float(max(sub["paper"].max(), sub["ours_ci_high"].max(), 1.0))
        ax.set_xlim(0, min(100, hi * 1.08))
        ax.set_ylim(0, min(100, hi * 1.08))
        ax.set_aspect("equal")
        ax.legend(fontsize=7, loc="upper left")
    title = "This pipeline against the paper's Table 2 (one point per cell × benchmark; bars: 95 % CI over problems)"
    if (table["n_seeds"].fillna(1) > 1).any():
        title += "\nfor a method trained with several seeds: the mean over seeds, bars the mean of the seeds' intervals"
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def _ours_label(method_id: str, n_seeds: pd.Series) -> str:
    """Legend name of our values of one method: its label, with the number of seeds where they are means."""
    counts = sorted({int(n) for n in n_seeds.dropna() if int(n) > 1})
    if not counts:
        return method_label(method_id)
    if len(counts) == 1:
        return series_label(method_id, counts[0])
    return f"{method_label(method_id)}, mean of {counts[0]}–{counts[-1]} seeds"


def compare_bandit(reference: pd.DataFrame, final: pd.DataFrame) -> pd.DataFrame:
    """The authors' bandit rewards per β beside ours (mean, min, max over seeds of RS-GRPO on their bandit)."""
    ours = final
    if "estimator" in ours.columns:
        ours = ours[ours["estimator"] == BANDIT_SWEEP]
    if "rewards" in ours.columns:
        ours = ours[ours["rewards"] == "deterministic"]
    g = ours.groupby("beta")["final_reward"].agg(["mean", "min", "max", "count"])
    rows = []
    for r in reference.itertuples():
        b = float(r.beta)
        if b in g.index:
            s = g.loc[b]
            rows.append(
                {
                    "beta": b,
                    "paper": float(r.final_reward),
                    "ours_mean": float(s["mean"]),
                    "ours_min": float(s["min"]),
                    "ours_max": float(s["max"]),
                    "n_seeds": int(s["count"]),
                    "delta": float(s["mean"]) - float(r.final_reward),
                    "within_range": bool(
                        s["min"] - BANDIT_ROUNDING <= float(r.final_reward) <= s["max"] + BANDIT_ROUNDING
                    ),
                }
            )
        else:
            rows.append(
                {
                    "beta": b,
                    "paper": float(r.final_reward),
                    "ours_mean": np.nan,
                    "ours_min": np.nan,
                    "ours_max": np.nan,
                    "n_seeds": 0,
                    "delta": np.nan,
                    "within_range": pd.NA,
                }
            )
    df = pd.DataFrame(rows, columns=BANDIT_COLUMNS)
    df["within_range"] = df["within_range"].astype("boolean")
    return df


def _run(args, cfg: dict) -> list:
    from rsrl.io import write_table
    from rsrl.report.inputs import read_passk

    table = compare(cfg, read_reference(args.reference), read_passk(args.passk))
    paths = write_tables(args.out, table, summary(cfg, table))
    paths += write_figure(make_figure(cfg, table), args.figure)
    write_table(args.bandit_out, compare_bandit(pd.read_csv(args.bandit_reference), pd.read_csv(args.bandit_final)))
    return [*paths, Path(args.bandit_out)]


COMMAND = Command(
    "paper",
    "the reproduction beside the paper's Table 2 and bandit",
    _run,
    rules=(Rule("report_paper_comparison"),),
    arguments=(
        PASSK,
        Arg(("--reference",), {"required": True, "help": "the paper's Table 2 (reference/rs_grpo_table2.csv)"}),
        Arg(("--bandit-reference",), {"required": True, "help": "the authors' bandit rewards"}),
        Arg(("--bandit-final",), {"required": True, "help": "results/theory/bandit_final.csv"}),
        Arg(("--figure",), {"required": True, "help": "figure path stem"}),
        Arg(("--bandit-out",), {"required": True, "help": "bandit comparison table (CSV)"}),
    ),
)
