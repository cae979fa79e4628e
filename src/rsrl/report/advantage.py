"""The scale each estimator trains with: mean |advantage| per step of every trained cell
(``results/tables/advantage_scale.csv`` and ``.md``).

Both trainers log, per rollout step, the mean over the step's samples of |advantage| as the registry's estimator
returned it (column ``advantage_abs_mean`` of each cell's ``metrics.csv``, :mod:`rsrl.train.progress`). The policy
gradient is the advantage-weighted score, so at one learning rate this is the effective step size: RS-GRPO's
advantage shrinks about as 1/β (for binary rewards in groups of N every |A_i| is below (N − 1)/β, and below 1/β
for a wrong sample), GRPO's is standardised to unit variance per group. A difference between
methods at one learning rate may be an effective learning-rate difference rather than an estimator effect.

CSV columns (one row per trained run)::

    model, train_set, method, run, seed, estimator, params, steps, advantage_abs_mean, first_quarter, last_quarter,
    relative_to_reference

``advantage_abs_mean`` is the mean over the logged steps, ``first_quarter``/``last_quarter`` the mean over the
first and last quarter of them (how the scale drifts as groups become solved or unsolved, where most estimators
give 0), ``relative_to_reference`` the ratio to the mean over the reference method's runs
(``report.paired.reference``) in the same (model, training set). ``steps`` counts the steps with a value: 0 for a
run trained before the column was logged (its values are empty).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rsrl import grid
from rsrl.methods import label
from rsrl.report.command import Arg, Command, write_tables
from rsrl.report.inputs import read_train_metrics
from rsrl.report.paired import reference_method

COLUMN = "advantage_abs_mean"
COLUMNS = [
    "model",
    "train_set",
    "method",
    "run",
    "seed",
    "estimator",
    "params",
    "steps",
    COLUMN,
    "first_quarter",
    "last_quarter",
    "relative_to_reference",
]


def run_scale(metrics: pd.DataFrame) -> dict:
    """Steps with a value, their mean |advantage|, and the means over the first and last quarter of them."""
    v = metrics[COLUMN].to_numpy(dtype=float) if COLUMN in metrics.columns else np.array([])
    v = v[np.isfinite(v)]
    if not v.size:
        return {"steps": 0, COLUMN: np.nan, "first_quarter": np.nan, "last_quarter": np.nan}
    q = max(1, v.size // 4)
    return {
        "steps": int(v.size),
        COLUMN: float(v.mean()),
        "first_quarter": float(v[:q].mean()),
        "last_quarter": float(v[-q:].mean()),
    }


def build(cfg: dict, train_metrics: list[str | Path]) -> pd.DataFrame:
    """The table from the metrics.csv of every cell of :func:`rsrl.grid.cells` (any order)."""
    import json

    cells = grid.cells(cfg)
    want = {Path(grid.train_metrics(c.model, c.train_set, c.run_id)).parts: c for c in cells}
    depth = len(next(iter(want))) if want else 0
    given = {Path(str(f)).parts[-depth:]: f for f in train_metrics} if depth else {}
    if set(given) != set(want) or len(given) != len(train_metrics):
        missing = sorted("/".join(w) for w in set(want) - set(given))
        extra = sorted("/".join(g) for g in set(given) - set(want))
        raise ValueError(
            f"advantage --train-metrics: missing {missing[:3]} ({len(missing)}), unexpected "
            f"{extra[:3]} ({len(extra)}); pass the metrics.csv of every trained cell, each once."
        )
    rows = []
    for key, c in want.items():
        rec = {
            "model": c.model,
            "train_set": c.train_set,
            "method": c.method.id,
            "run": c.run_id,
            "seed": c.seed,
            "estimator": c.estimator,
            "params": json.dumps(c.params, sort_keys=True),
        }
        rows.append(rec | run_scale(read_train_metrics(given[key])))
    table = pd.DataFrame(rows, columns=COLUMNS[:-1])
    ref = reference_method(cfg)
    ref_mean = table[table["method"] == ref].groupby(["model", "train_set"])[COLUMN].mean()
    denom = [ref_mean.get((m, t), np.nan) for m, t in zip(table["model"], table["train_set"])]
    with np.errstate(divide="ignore", invalid="ignore"):
        table["relative_to_reference"] = table[COLUMN].to_numpy(dtype=float) / np.asarray(denom, dtype=float)
    table["seed"] = table["seed"].astype("Int64")
    return table[COLUMNS]


def _num(x: float, fmt: str = ".3g") -> str:
    return "–" if not np.isfinite(x) else format(x, fmt)


def to_markdown(cfg: dict, table: pd.DataFrame) -> str:
    ref = reference_method(cfg)
    lines = ["# Effective step size: mean |advantage| per step", ""]
    lines.append(
        "Mean over training steps of the per-step mean |advantage| (the estimator's advantages as both "
        "trainers use them), per method; a method trained from several seeds: the mean over its seeds "
        "[minimum, maximum over seeds]. *First / last quarter*: the same over the first and last quarter of "
        f"the steps. *× {label(ref)}*: the ratio to {label(ref)}'s mean in the same (model, training set). "
        "At one learning rate the policy-gradient step scales with |advantage|, so a method with a smaller "
        "scale trains with a smaller effective step (RS-GRPO's shrinks about as 1/β); compare methods at "
        "matched scale before reading a difference as the estimator's."
    )
    lines.append("")
    if table.empty:
        lines.append("The configured grid trains no cells.")
        return "\n".join(lines) + "\n"
    if (table["steps"] == 0).any():
        lines += [
            "Runs without values were trained before mean |advantage| was logged; retrain them to fill the column.",
            "",
        ]
    for (model, ts), block in table.groupby(["model", "train_set"], sort=False):
        lines += [f"## {model}, trained on {ts}", ""]
        lines.append(f"| Method | Seeds | mean \\|A\\| per step | first quarter | last quarter | × {label(ref)} |")
        lines.append("|---|---:|---:|---:|---:|---:|")
        for method, mb in block.groupby("method", sort=False):
            v = mb[COLUMN].to_numpy(dtype=float)
            cell = _num(float(np.mean(v)) if np.isfinite(v).all() else np.nan)
            if len(mb) > 1 and np.isfinite(v).all():
                cell += f" [{_num(v.min())}, {_num(v.max())}]"
            lines.append(
                f"| {label(method)} | {len(mb)} | {cell} | {_num(mb['first_quarter'].mean())} | "
                f"{_num(mb['last_quarter'].mean())} | {_num(mb['relative_to_reference'].mean(), '.2f')} |"
            )
        lines.append("")
    return "\n".join(lines)


def make_advantage(cfg: dict, train_metrics: list[str | Path]) -> tuple[pd.DataFrame, str]:
    table = build(cfg, train_metrics)
    return table, to_markdown(cfg, table) + "\n"


def _run(args, cfg: dict) -> list:
    return write_tables(args.out, *make_advantage(cfg, args.train_metrics))


COMMAND = Command(
    "advantage",
    "mean |advantage| per step of every trained cell (CSV and Markdown)",
    _run,
    (
        Arg(
            ("--train-metrics",),
            {"nargs": "*", "default": [], "help": "metrics.csv of every trained cell (rsrl.grid.cells)"},
        ),
    ),
)
