"""DAPO-Math-17k (`BytedTsinghua-SIA/DAPO-Math-17k`): a chat `prompt` (list of {role, content}) whose user
message wraps the problem in an "Answer:" instruction, `reward_model: {ground_truth, style}`, `data_source`,
`ability`, `extra_info: {index}`. The published set repeats each of its 17,398 prompts about 100 times.

Rows are de-duplicated by prompt (first occurrence kept) before anything else, and the instruction wrapper is
removed exactly: a row whose prompt does not have that wrapper fails the preparation, naming the row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from rsrl.data.loaders import Loaded, extra_metadata, source_label
from rsrl.data.normalize import as_text, stable_id, unique_ids
from rsrl.data.schema import DataError
from rsrl.data.sources import Columns

PREFIX = (
    "Solve the following math problem step by step. The last line of your response should be of the form "
    "Answer: $Answer (without quotes) where $Answer is the answer to the problem.\n\n"
)
SUFFIX = '\n\nRemember to put your answer on its own line after "Answer:".'

COLUMNS = Columns(
    required={"prompt": "prompt", "reward_model": "reward_model"},
    optional={"data_source": ("data_source",), "ability": ("ability",), "extra_info": ("extra_info",)},
)
SELECTIVE = False


def unwrap(content: str, where: str) -> str:
    """The problem inside DAPO's instruction wrapper; fails (naming `where`) if the wrapper differs."""
    if not content.startswith(PREFIX):
        raise DataError(
            f"{where}: prompt does not start with the DAPO instruction {PREFIX[:60]!r}...; "
            f"it starts with {content[:80]!r}."
        )
    if not content.endswith(SUFFIX):
        raise DataError(
            f"{where}: prompt does not end with the DAPO instruction {SUFFIX!r}; it ends with {content[-80:]!r}."
        )
    problem = content[len(PREFIX) : len(content) - len(SUFFIX)]
    if not problem.strip():
        raise DataError(f"{where}: prompt holds the DAPO instruction but no problem.")
    return problem


def _user_content(table: pa.Table, where: str) -> pa.Array:
    """The message content of each chat prompt (one user message per row), as an Arrow string array."""
    col = table.column("prompt")
    typ = col.type
    ok = (
        (pa.types.is_list(typ) or pa.types.is_large_list(typ))
        and pa.types.is_struct(typ.value_type)
        and {"role", "content"} <= {f.name for f in typ.value_type}
    )
    if not ok:
        raise DataError(f"{where}: column 'prompt' must be a list of {{role, content}} messages; its type is {typ}.")
    lengths = pc.list_value_length(col).to_numpy(zero_copy_only=False)
    bad = [i for i, n in enumerate(lengths) if n != 1]
    if bad:
        raise DataError(
            f"{where}: row {bad[0]}: column 'prompt' must hold exactly one message; it has "
            f"{lengths[bad[0]]} ({len(bad)} such rows)."
        )
    first = pc.list_element(col, 0)
    roles = pc.struct_field(first, "role").to_pylist()
    bad = [i for i, r in enumerate(roles) if r != "user"]
    if bad:
        raise DataError(f"{where}: row {bad[0]}: prompt message role is {roles[bad[0]]!r}, expected 'user'.")
    return pc.struct_field(first, "content")


def _codes(values) -> np.ndarray:
    """Integer code of each value (equal values, equal codes; nulls get their own code)."""
    enc = pc.dictionary_encode(
        values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values, null_encoding="encode"
    )
    return enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)


def convert(parts, name: str, src: dict) -> Loaded:
    out = Loaded(pd.DataFrame())
    frames = []
    for part in parts:
        where = f"dataset {name!r} ({part.origin}, split {part.split})"
        t = part.table
        content = _user_content(t, where)
        rm = t.column("reward_model")
        if not pa.types.is_struct(rm.type) or "ground_truth" not in {f.name for f in rm.type}:
            raise DataError(
                f"{where}: column 'reward_model' must be a struct with 'ground_truth'; its type is {rm.type}."
            )
        gt = pc.struct_field(rm, "ground_truth")
        # De-duplicate on the prompt text in Arrow (1.8M rows -> 17k) before making any Python objects.
        ci = _codes(content)
        gi = _codes(gt)
        _, first = np.unique(ci, return_index=True)
        keep_idx = np.sort(first).tolist()
        n_dup = t.num_rows - len(keep_idx)
        pairs = np.unique(ci * (int(gi.max(initial=0)) + 1) + gi)
        conflicting = int((np.bincount(pairs // (int(gi.max(initial=0)) + 1)) > 1).sum())
        sub = t.take(pa.array(keep_idx, type=pa.int64()))
        sub_content = content.take(pa.array(keep_idx, type=pa.int64())).to_pylist()
        index = None
        if (
            "extra_info" in sub.column_names
            and pa.types.is_struct(sub.column("extra_info").type)
            and "index" in {f.name for f in sub.column("extra_info").type}
        ):
            index = pc.struct_field(sub.column("extra_info"), "index").to_pylist()
        rows = []
        for j, (i, text) in enumerate(zip(keep_idx, sub_content)):
            ref = f"row {i}" + (f" (extra_info.index {index[j]!r})" if index else "")
            if not isinstance(text, str):
                raise DataError(f"{where}: {ref}: prompt content must be a string, found {text!r}.")
            rows.append(unwrap(text, f"{where}: {ref}"))
        df = pd.DataFrame({"problem": rows})
        if index is not None and all(x is not None for x in index):
            df["id"] = [f"{name}-{x}" for x in index]
        else:
            df["id"] = [stable_id(name, p) for p in rows]
        df["answer"] = as_text(
            pc.struct_field(sub.column("reward_model"), "ground_truth"),
            "reward_model.ground_truth",
            where,
            ids=df["id"],
            allow_numbers=True,
        )
        for col in (
            "data_source",
            "ability",
            *extra_metadata([part], {"prompt", "reward_model", "data_source", "ability", "extra_info"}),
        ):
            if col in sub.column_names:
                df[col] = sub.column(col).to_pylist()
        if len(parts) > 1:
            df["split"] = part.split
        out.drop("duplicate_prompt", [None] * n_dup, list_ids=False)
        if conflicting:
            out.notes["prompts_with_conflicting_answers"] = (
                out.notes.get("prompts_with_conflicting_answers", 0) + conflicting
            )
        frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    df["id"] = unique_ids(df["id"].tolist())
    df["source"] = source_label(name, src)
    out.frame = df
    return out
