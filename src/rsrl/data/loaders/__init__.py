"""Loaders: one per published source layout. Each turns the raw tables of a source into rows of the common
schema (`id`, `problem`, `answer`, `source` and metadata; the prompt is added later) and reports what it drops.

A loader module defines ``COLUMNS`` (a :class:`rsrl.data.sources.Columns`), ``SELECTIVE`` (read only those
columns straight from Parquet on the hub) and ``convert(parts, name, src) -> Loaded``.
"""

from __future__ import annotations

import importlib
from collections import Counter
from dataclasses import dataclass, field
from types import ModuleType

import pandas as pd

from rsrl.data.schema import DataError

NAMES = ("math", "dapo", "deepmath", "columns", "synthetic")


@dataclass
class Loaded:
    frame: pd.DataFrame
    dropped: Counter = field(default_factory=Counter)  # reason -> rows
    dropped_ids: dict[str, list[str]] = field(default_factory=dict)  # reason -> ids, for reasons worth listing
    notes: dict = field(default_factory=dict)  # facts for the manifest

    def drop(self, reason: str, ids: list[str], list_ids: bool = True) -> None:
        if not ids:
            return
        self.dropped[reason] += len(ids)
        if list_ids:
            self.dropped_ids.setdefault(reason, []).extend(ids)


def get(loader: str, name: str = "?") -> ModuleType:
    if loader not in NAMES:
        raise DataError(f"dataset {name!r}: unknown loader {loader!r}; allowed loaders are {list(NAMES)}.")
    return importlib.import_module(f"rsrl.data.loaders.{loader}")


def source_label(name: str, src: dict) -> str:
    """The `source` column: the hub id when configured, else the dataset name."""
    return src.get("hub", {}).get("id", name)


def extra_metadata(parts, known: set[str]) -> list[str]:
    """Columns read because the config mapped them, beyond the loader's own: kept as metadata."""
    cols: list[str] = []
    for p in parts:
        cols += [c for c in p.table.column_names if c not in known and c not in cols]
    return cols
