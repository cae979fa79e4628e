"""Reading the evaluation and training outputs the report is built from, with errors that name the producer.

The report's jobs get every file they read on the command line; which checkpoint a file belongs to comes from the
grid (:mod:`rsrl.grid`), in the order the workflow passes the files.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from rsrl import estimators
from rsrl.evaluate.aggregate import PASSK_COLUMNS
from rsrl.methods import parts, split_checkpoint

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
            f"`snakemake {path}`, then rerun the report."
        )
    return path


def _check_columns(df: pd.DataFrame, path: Path, columns: list[str]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(
            f"{path}: missing column(s) {missing}; found {list(df.columns)}. "
            "Regenerate it with the current pipeline version."
        )


def read_passk(path: str | Path) -> pd.DataFrame:
    """The aggregated pass@k table, with `base_method` (the run id: the checkpoint id without its step),
    `method_id` (without seed and step: what is compared across seeds) and RS-GRPO's `beta` (from the `estimator`
    and `params` columns; NaN for other methods) added."""
    path = require(path)
    df = pd.read_csv(
        path,
        keep_default_na=False,
        na_values={"step": [""], "seed": [""], "ci_low": [""], "ci_high": [""], "pass_at_k": [""]},
    )
    _check_columns(df, path, PASSK_COLUMNS)
    for col in ("model", "train_set", "method", "benchmark", "estimator", "params"):
        df[col] = df[col].astype(str)
    df["step"] = df["step"].astype("Int64")
    df["seed"] = df["seed"].astype("Int64")
    df["base_method"] = df["method"].map(lambda m: split_checkpoint(m)[0])
    df["method_id"] = df["method"].map(lambda m: parts(m)[0])
    # The shading parameter's value (RS-GRPO's β; NaN for estimators without one, the base model included).
    shade = {e: estimators.spec(e).shade_by if e in estimators.names() else None for e in df["estimator"].unique()}
    df["beta"] = [
        json.loads(p).get(shade[e], np.nan) if shade[e] else np.nan for e, p in zip(df["estimator"], df["params"])
    ]
    df["beta"] = df["beta"].astype(float)
    for col in ("k", "n_problems", "n_samples"):
        df[col] = df[col].astype(int)
    return df


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


def k_table(cfg: dict) -> list[int]:
    return [int(k) for k in cfg["report"]["k_table"]]


def finite(x) -> bool:
    return x is not None and not (isinstance(x, float) and np.isnan(x))
