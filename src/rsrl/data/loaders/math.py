"""MATH (Hendrycks et al.) as published in `DigitalLearningGmbH/MATH-lighteval`: `problem`, `level`, `type`,
`solution`; the answer is the last ``\\boxed{}`` of the solution. Levels become integers 1-5, as in MATH-500."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from rsrl.data.loaders import Loaded, extra_metadata, source_label
from rsrl.data.normalize import as_text, stable_id, unique_ids
from rsrl.data.sources import Columns
from rsrl.grading.boxes import last_boxed

COLUMNS = Columns(
    required={"problem": "problem", "solution": "solution"},
    optional={"level": ("level",), "subject": ("type", "subject")},
)
SELECTIVE = False


def level_number(level) -> int | None:
    """MATH's "Level 3" as 3 (as MATH-500 stores it); None for "Level ?" or a missing level."""
    if isinstance(level, (int, np.integer)) and not isinstance(level, bool):
        return int(level)
    m = re.fullmatch(r"\s*(?:Level\s*)?(\d+)\s*", str(level)) if level is not None else None
    return int(m.group(1)) if m else None


def convert(parts, name: str, src: dict) -> Loaded:
    frames = []
    out = Loaded(pd.DataFrame())
    for part in parts:
        where = f"dataset {name!r} ({part.origin}, split {part.split})"
        t = part.table
        problems = as_text(t.column("problem"), "problem", where)
        solutions = as_text(t.column("solution"), "solution", where)
        df = pd.DataFrame({"problem": problems, "solution": solutions})
        df["id"] = [stable_id(name, p or f"{part.split}-{i}") for i, p in enumerate(problems)]
        df["answer"] = [last_boxed(s) for s in solutions]
        if "level" in t.column_names:
            df["level"] = pd.array([level_number(v) for v in t.column("level").to_pylist()], dtype="Int64")
        for col in ("subject", *extra_metadata([part], {"problem", "solution", "level", "subject"})):
            if col in t.column_names:
                df[col] = t.column(col).to_pylist()
        df["split"] = part.split
        frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    df["id"] = unique_ids(df["id"].tolist())
    none = df["answer"].isna()
    out.drop("no_boxed_answer", df.loc[none, "id"].tolist())
    df = df.loc[~none].drop(columns="solution")
    df["source"] = source_label(name, src)
    out.frame = df
    return out
