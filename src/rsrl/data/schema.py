"""The common schema of every prepared training set and benchmark, and its validation."""

from __future__ import annotations

import pandas as pd

#: Columns every prepared table has, in this order; loaders add metadata columns after them.
REQUIRED = ("id", "problem", "answer", "source", "prompt")

#: Metadata columns a loader may add (others are allowed; these have a fixed meaning).
METADATA = ("level", "subject", "difficulty", "split")


class DataError(ValueError):
    """Bad input data; the message names the dataset, the file and the column or row."""


def validate(df: pd.DataFrame, name: str, where: str = "") -> pd.DataFrame:
    """Check `df` against the common schema; return it with the required columns first.

    Raises :class:`DataError` naming the dataset (and `where`, e.g. the output file) on a missing column,
    a non-string or empty value, or a duplicate id.
    """
    loc = f"dataset {name!r}" + (f" ({where})" if where else "")
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise DataError(f"{loc}: prepared table lacks column(s) {missing}; columns are {list(df.columns)}.")
    for col in REQUIRED:
        bad = df.index[~df[col].map(lambda v: isinstance(v, str) and v.strip() != "")]
        if len(bad):
            row = df.loc[bad[0]]
            raise DataError(
                f"{loc}: column {col!r} must be a non-empty string; row id {row.get('id')!r} has "
                f"{row[col]!r} ({len(bad)} such rows)."
            )
    dup = df["id"][df["id"].duplicated()]
    if len(dup):
        raise DataError(f"{loc}: column 'id' must be unique; {len(dup)} duplicate id(s), e.g. {dup.iloc[0]!r}.")
    rest = [c for c in df.columns if c not in REQUIRED]
    return df[list(REQUIRED) + rest].reset_index(drop=True)
