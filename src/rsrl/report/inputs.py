"""Reading the evaluation and training outputs the report is built from, with errors that name the producer.

Paths follow the pipeline's path contract relative to a results root (``results/`` in the workflow).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rsrl.config import BASE_METHOD, BASE_TRAIN_SET, cells, checkpoints
from rsrl.report.style import is_rs, method_beta, method_sort_key, split_method

PASSK_COLUMNS = ["model", "train_set", "method", "beta", "benchmark", "k", "pass_at_k", "ci_low", "ci_high",
                 "n_problems", "n_samples"]
PROBLEM_COLUMNS = ["problem_id", "n", "c", "accuracy", "n_distinct"]
TRAIN_METRIC_COLUMNS = ["step", "reward_mean", "cumulative_solve_rate"]


class MissingInputError(FileNotFoundError):
    """An input of a report target does not exist; the message names the file and what produces it."""


def _producer(path: Path) -> str:
    parts = path.parts
    name = path.name
    if name == "passk.csv" or name == "eval_summary.csv":
        return "the evaluation stage's aggregation (target `evaluate`)"
    if "eval" in parts:
        return "the evaluation stage for this checkpoint and benchmark (target `evaluate`)"
    if "train" in parts and name == "metrics.csv":
        return "the training stage for this cell (target `train`)"
    return "an earlier pipeline stage"


def require(path: str | Path) -> Path:
    """Return `path` if it exists, else raise :class:`MissingInputError` naming the file and its producer."""
    path = Path(path)
    if not path.exists():
        raise MissingInputError(
            f"missing input {path}: it is produced by {_producer(path)}. Build it first, e.g. "
            f"`snakemake {path}`, then rerun the report.")
    return path


def _check_columns(df: pd.DataFrame, path: Path, columns: list[str]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; found {list(df.columns)}. "
                         "Regenerate it with the current pipeline version.")


def read_passk(path: str | Path) -> pd.DataFrame:
    """The aggregated pass@k table, with `base_method`, `step` (None for final checkpoints) and `beta` filled."""
    path = require(path)
    df = pd.read_csv(path)
    _check_columns(df, path, PASSK_COLUMNS)
    for col in ("model", "train_set", "method", "benchmark"):
        df[col] = df[col].astype(str)
    split = df["method"].map(split_method)
    df["base_method"] = split.map(lambda t: t[0])
    df["step"] = split.map(lambda t: t[1]).astype("Int64")
    df["beta"] = df["method"].map(lambda m: method_beta(m)).astype(float)
    for col in ("k", "n_problems", "n_samples"):
        df[col] = df[col].astype(int)
    return df


def problems_path(results: str | Path, model: str, train_set: str, method: str, benchmark: str) -> Path:
    return Path(results) / "eval" / model / train_set / method / benchmark / "problems.parquet"


def eval_metrics_path(results: str | Path, model: str, train_set: str, method: str, benchmark: str) -> Path:
    return Path(results) / "eval" / model / train_set / method / benchmark / "metrics.csv"


def train_metrics_path(results: str | Path, model: str, train_set: str, method: str) -> Path:
    return Path(results) / "train" / model / train_set / method / "metrics.csv"


def read_problems(path: str | Path) -> pd.DataFrame:
    path = require(path)
    df = pd.read_parquet(path)
    _check_columns(df, path, PROBLEM_COLUMNS)
    df["problem_id"] = df["problem_id"].astype(str)
    return df


def read_train_metrics(path: str | Path) -> pd.DataFrame:
    path = require(path)
    df = pd.read_csv(path)
    _check_columns(df, path, TRAIN_METRIC_COLUMNS)
    return df.sort_values("step").reset_index(drop=True)


# ----------------------------------------------------------------------------------------------------------
# The configured grid, in config order


def grid_models(cfg: dict) -> list[str]:
    return list(dict.fromkeys(m for m, _, _ in checkpoints(cfg)))


def grid_rows(cfg: dict) -> list[tuple[str, str]]:
    """(model, train_set) pairs with at least one trained cell, in config order."""
    return list(dict.fromkeys((c.model, c.train_set) for c in cells(cfg)))


def grid_methods(cfg: dict, model: str, train_set: str) -> list[str]:
    """Trained methods of one (model, train_set), base first, then baselines, then RS-GRPO by β."""
    ms = [c.method for c in cells(cfg) if (c.model, c.train_set) == (model, train_set)]
    return sorted(dict.fromkeys(ms), key=method_sort_key)


def has_base(cfg: dict, model: str) -> bool:
    return (model, BASE_TRAIN_SET, BASE_METHOD) in checkpoints(cfg)


def benchmarks(cfg: dict) -> list[str]:
    return list(cfg["benchmarks"])


def focus_cell(cfg: dict) -> tuple[str, str] | None:
    """The (model, train_set) of the β ablation and the diversity figure.

    ``report.ablation`` when set (a missing key is taken from the default); otherwise the first pair in the grid
    with at least two RS-GRPO βs, else the first with any RS-GRPO β, else the first pair; None for an empty grid.
    """
    rows = grid_rows(cfg)
    if not rows:
        return None

    def n_rs(row):
        return sum(is_rs(m) for m in grid_methods(cfg, *row))

    default = next((r for r in rows if n_rs(r) >= 2), None) or next((r for r in rows if n_rs(r) >= 1), rows[0])
    conf = cfg.get("report", {}).get("ablation", {}) or {}
    if not conf:
        return default
    model = conf.get("model")
    train_set = conf.get("train_set")
    candidates = [r for r in rows if (model is None or r[0] == model) and (train_set is None or r[1] == train_set)]
    if not candidates:
        raise ValueError(
            f"config key report.ablation: {{model: {model}, train_set: {train_set}}} has no trained cell in the "
            f"grid; grid (model, train_set) pairs are {rows}. Name one of them or remove report.ablation.")
    return next((r for r in candidates if n_rs(r) >= 2), candidates[0])


def k_table(cfg: dict) -> list[int]:
    return [int(k) for k in (cfg.get("report", {}) or {}).get("k_table", [1, 32])]


def finite(x) -> bool:
    return x is not None and not (isinstance(x, float) and np.isnan(x))
