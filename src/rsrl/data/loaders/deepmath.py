"""DeepMath-103K (`zwhe99/DeepMath-103K`): `question`, `final_answer`, `difficulty`, `topic` and three long
`r1_solution_*` columns, which are never read."""

from __future__ import annotations

import pandas as pd

from rsrl.data.loaders import Loaded, extra_metadata, source_label
from rsrl.data.normalize import as_text, stable_id, unique_ids
from rsrl.data.schema import DataError
from rsrl.data.sources import Columns

COLUMNS = Columns(
    required={"problem": "question", "answer": "final_answer", "difficulty": "difficulty", "subject": "topic"}
)
SELECTIVE = True


def convert(parts, name: str, src: dict) -> Loaded:
    frames = []
    for part in parts:
        where = f"dataset {name!r} ({part.origin}, split {part.split})"
        t = part.table
        problems = as_text(t.column("problem"), "problem (question)", where)
        df = pd.DataFrame({"problem": problems})
        df["id"] = [stable_id(name, p or f"{part.split}-{i}") for i, p in enumerate(problems)]
        df["answer"] = as_text(t.column("answer"), "answer (final_answer)", where, ids=df["id"], allow_numbers=True)
        diff = t.column("difficulty").to_pylist()
        try:
            df["difficulty"] = pd.array([None if d is None else float(d) for d in diff], dtype="Float64")
        except (TypeError, ValueError):
            raise DataError(
                f"{where}: column 'difficulty' must hold numbers; found e.g. "
                f"{next(d for d in diff if not isinstance(d, (int, float)))!r}."
            ) from None
        df["subject"] = as_text(t.column("subject"), "subject (topic)", where, ids=df["id"])
        for col in extra_metadata([part], {"problem", "answer", "difficulty", "subject"}):
            df[col] = t.column(col).to_pylist()
        df["split"] = part.split
        frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    df["id"] = unique_ids(df["id"].tolist())
    df["source"] = source_label(name, src)
    return Loaded(df)
