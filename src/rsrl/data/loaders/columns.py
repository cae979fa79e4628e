"""Generic column mapping, for benchmarks such as MATH-500 (`problem`, `answer`, `unique_id`, `subject`,
`level`), AIME 2024 (`id`, `problem`, `answer`) and MathArena sets (`problem_idx`, `problem`, `answer`).
Other columns are mapped with the source's `columns:` entry."""

from __future__ import annotations

import pandas as pd

from rsrl.data.loaders import Loaded, extra_metadata, source_label
from rsrl.data.normalize import as_text, unique_ids
from rsrl.data.sources import Columns

COLUMNS = Columns(
    required={"problem": "problem", "answer": "answer"},
    optional={
        "id": ("id", "unique_id", "problem_idx"),
        "level": ("level",),
        "subject": ("subject", "type"),
        "difficulty": ("difficulty",),
    },
)
SELECTIVE = False


def convert(parts, name: str, src: dict) -> Loaded:
    frames = []
    for part in parts:
        where = f"dataset {name!r} ({part.origin}, split {part.split})"
        t = part.table
        if "id" in t.column_names:
            raw = as_text(t.column("id"), "id", where, allow_numbers=True)
            ids = [f"{name}-{r}" if r is not None else f"{name}-{part.split}-{i}" for i, r in enumerate(raw)]
        else:
            ids = [f"{name}-{i}" if len(parts) == 1 else f"{name}-{part.split}-{i}" for i in range(t.num_rows)]
        df = pd.DataFrame({"id": ids, "source_id": ids if "id" in t.column_names else None})
        df["problem"] = as_text(t.column("problem"), "problem", where, ids=ids)
        df["answer"] = as_text(t.column("answer"), "answer", where, ids=ids, allow_numbers=True)
        for col in (
            "level",
            "subject",
            "difficulty",
            *extra_metadata([part], {"id", "problem", "answer", "level", "subject", "difficulty"}),
        ):
            if col in t.column_names:
                df[col] = t.column(col).to_pylist()
        if len(parts) > 1:
            df["split"] = part.split
        frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    # Ids the source gives are checked for repeats by the data stage (a benchmark must not repeat one); ids
    # generated here are unique already.
    if df["source_id"].isna().all():
        df = df.drop(columns="source_id")
    df["id"] = unique_ids(df["id"].tolist())
    df["source"] = source_label(name, src)
    return Loaded(df)
