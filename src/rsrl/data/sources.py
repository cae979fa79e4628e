"""Reading a configured source: from the Hugging Face hub by id (`data_source: hub`) or from a local file
(`data_source: local`; jsonl, json, parquet or csv, resolved against `data_dir`). `data_source: auto` reads the
local file where one is configured and exists, else the hub. A source with only a `local:` file is read from it
in every mode.

Every reader returns Arrow tables holding only the columns a loader asks for, renamed to the loader's column
names (a source's `columns:` mapping says which source column feeds which). Problems are reported as
:class:`DataError` naming the dataset, the file or hub id, and the column.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from rsrl.config import data_path
from rsrl.data.schema import DataError

log = logging.getLogger(__name__)

LOCAL_SUFFIXES = (".jsonl", ".json", ".parquet", ".csv")


@dataclass
class Columns:
    """Which columns a loader reads. Keys are the loader's names, values the default source column names.

    `required` must exist; for each `optional` entry the first candidate present is read (if any). A source's
    `columns:` mapping overrides a default; a mapped column must exist. Mapped names a loader does not know are
    read too and kept as metadata.
    """

    required: dict[str, str]
    optional: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def resolve(self, available: list[str], mapping: dict[str, str], where: str) -> dict[str, str]:
        """Map source column -> loader column for the columns to read from a source with `available` columns."""
        out: dict[str, str] = {}

        def need(logical: str, col: str) -> None:
            if col not in available:
                raise DataError(
                    f"{where}: no column {col!r} (read as {logical!r}); the columns are "
                    f"{sorted(available)}. Map the right one with `columns: {{{logical}: <column>}}` "
                    "in the source's config entry."
                )
            out[col] = logical

        for logical, default in self.required.items():
            need(logical, mapping.get(logical, default))
        for logical, candidates in self.optional.items():
            if logical in mapping:
                need(logical, mapping[logical])
                continue
            for col in candidates:
                if col in available:
                    out[col] = logical
                    break
        for logical, col in mapping.items():
            if logical not in self.required and logical not in self.optional:
                need(logical, col)
        return out


@dataclass
class Part:
    """One split of a source, with the loader's column names."""

    split: str
    table: pa.Table
    origin: str  # the file read or "hub:<id>@<revision>"


@dataclass
class Provenance:
    data_source: str
    id: str | None = None
    revision: str | None = None
    config_name: str | None = None
    splits: list[str] = field(default_factory=list)
    file: str | None = None
    rows_read: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def _where(name: str, origin: str) -> str:
    return f"dataset {name!r} ({origin})"


def _rename(table: pa.Table, sel: dict[str, str]) -> pa.Table:
    table = table.select(list(sel))
    return table.rename_columns([sel[c] for c in table.column_names])


# ---------------------------------------------------------------------------------------------------------------
# Local files


def _read_jsonl(path: Path, where: str, select) -> pa.Table:
    """Read a JSON-lines file, keeping only the keys `select(first_record_keys)` names."""
    rows = []
    keep: list[str] | None = None
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(tqdm(fh, desc=f"read {path.name}", unit=" rows", mininterval=5), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{where}: line {lineno} is not valid JSON ({exc.msg}).") from None
            if not isinstance(rec, dict):
                raise DataError(f"{where}: line {lineno} is a {type(rec).__name__}, expected a JSON object.")
            if keep is None:
                keep = select(list(rec))
            rows.append({k: rec.get(k) for k in keep})
    return _from_records(rows, where)


def _from_records(rows: list[dict], where: str) -> pa.Table:
    cols: dict[str, None] = {}
    for r in rows:
        cols.update(dict.fromkeys(r))
    arrays = {}
    for c in cols:
        values = [r.get(c) for r in rows]
        try:
            arrays[c] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            kinds = sorted({type(v).__name__ for v in values if v is not None})
            raise DataError(
                f"{where}: column {c!r} mixes value types {kinds} ({exc}); each column needs one type."
            ) from None
    return pa.table(arrays) if arrays else pa.table({})


def _columns_of(path: Path) -> list[str]:
    """Column names of a Parquet or CSV file, without reading its data."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return list(pq.read_schema(path).names)
    if suffix == ".csv":
        import pandas as pd

        return list(pd.read_csv(path, nrows=0).columns)
    raise AssertionError(suffix)


def _read_local(name: str, path: Path, cols: Columns, mapping: dict) -> pa.Table:
    where = _where(name, str(path))
    suffix = path.suffix.lower()
    if suffix not in LOCAL_SUFFIXES:
        raise DataError(f"{where}: unsupported file type {suffix!r}; use one of {list(LOCAL_SUFFIXES)}.")
    if not path.is_file():
        raise DataError(
            f"{where}: local file does not exist. Check `local:` and `data_dir` in the config, or use "
            "`data_source: hub`."
        )
    if path.stat().st_size == 0:
        raise DataError(f"{where}: file is empty.")
    try:
        if suffix == ".parquet":
            available = _columns_of(path)
            sel = cols.resolve(available, mapping, where)
            table = pq.read_table(path, columns=list(sel))
        elif suffix == ".csv":
            import pandas as pd

            available = _columns_of(path)
            sel = cols.resolve(available, mapping, where)
            df = pd.read_csv(path, usecols=list(sel), dtype=str, keep_default_na=False)
            table = pa.Table.from_pandas(df, preserve_index=False)
        elif suffix == ".jsonl":
            table = _read_jsonl(path, where, lambda keys: list(cols.resolve(keys, mapping, where)))
            if table.num_rows == 0:
                raise DataError(f"{where}: file has no rows.")
            sel = cols.resolve(table.column_names, mapping, where)
        else:  # .json: an array of records
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise DataError(f"{where}: not valid JSON ({exc.msg} at line {exc.lineno}).") from None
            if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
                raise DataError(f"{where}: expected a JSON array of objects (one per row).")
            table = _from_records(data, where)
            sel = cols.resolve(table.column_names, mapping, where)
    except DataError:
        raise
    except (OSError, UnicodeDecodeError, pa.ArrowException, ValueError) as exc:
        raise DataError(f"{where}: cannot read file: {exc}") from None
    return _rename(table, sel)


# ---------------------------------------------------------------------------------------------------------------
# Hugging Face hub


def _read_hub(name: str, hub: dict, split: str, cols: Columns, mapping: dict, selective: bool) -> pa.Table:
    import datasets

    origin = f"hub:{hub['id']}@{hub.get('revision', 'main')} split {split}"
    where = _where(name, origin)
    kwargs = dict(name=hub.get("config_name"), revision=hub.get("revision", "main"), split=split)
    try:
        if selective and not cols.optional:
            # Read only the needed columns straight from the Parquet files (no long solution columns in memory).
            wanted = [mapping.get(k, v) for k, v in cols.required.items()]
            wanted += [c for k, c in mapping.items() if k not in cols.required]
            try:
                ds = datasets.load_dataset(hub["id"], columns=wanted, **kwargs)
            except (ValueError, datasets.exceptions.DatasetGenerationError):
                # Not a Parquet dataset, or a column is missing: load whole, then select (or name the column).
                ds = datasets.load_dataset(hub["id"], **kwargs)
        else:
            ds = datasets.load_dataset(hub["id"], **kwargs)
    except DataError:
        raise
    except Exception as exc:  # datasets raises many types (FileNotFoundError, ValueError, DatasetNotFoundError...)
        msg = str(exc)
        hint = ""
        if "No such file" in msg or "doesn't exist" in msg or "not found" in msg.lower():
            hint = " Check the hub id, revision and split, or set `data_source: local` with a `local:` file."
        raise DataError(f"{where}: cannot load: {type(exc).__name__}: {msg}.{hint}") from None
    sel = cols.resolve(list(ds.column_names), mapping, where)
    ds = ds.select_columns(list(sel))
    table = ds.with_format("arrow")[:] if ds._indices is not None else ds.data.table
    return _rename(table, sel)


# ---------------------------------------------------------------------------------------------------------------


def use_local_file(src: dict, cfg: dict) -> bool:
    """Whether a source is read from its `local:` file under the config's `data_source`."""
    if "local" not in src:
        return False
    mode = cfg.get("data_source", "hub")
    if mode == "local" or "hub" not in src:
        return True
    return mode == "auto" and data_path(cfg, src["local"]).exists()


def read(name: str, src: dict, cfg: dict, cols: Columns, selective: bool = False) -> tuple[list[Part], Provenance]:
    """Read every split of a configured source (hub or local, per `cfg['data_source']`)."""
    mapping = dict(src.get("columns", {}))
    mode = cfg.get("data_source", "hub")
    parts: list[Part] = []
    if mode not in ("hub", "local", "auto"):
        raise DataError(f"dataset {name!r}: unknown data_source {mode!r}; allowed values are ['hub', 'local', 'auto'].")
    if mode == "auto":
        mode = "local" if use_local_file(src, cfg) else "hub"
    if mode == "local" or ("hub" not in src and "local" in src):  # a local-only source is read locally always
        if "local" not in src:
            raise DataError(
                f"dataset {name!r}: data_source is 'local' but this source has no `local:` file. Add "
                "`local: <file relative to data_dir>` to its config entry, or use `data_source: hub`."
            )
        path = data_path(cfg, src["local"])
        log.info("dataset %s: reading %s", name, path)
        table = _read_local(name, path, cols, mapping)
        parts.append(Part("local", table, str(path)))
        prov = Provenance("local", file=str(path), splits=["local"])
        if "hub" in src:
            prov.id, prov.revision = src["hub"]["id"], src["hub"].get("revision", "main")
    else:
        if "hub" not in src:
            raise DataError(
                f"dataset {name!r}: data_source is 'hub' but this source has neither a `hub:` entry "
                "nor a `local:` file. Add `hub: {id: ..., revision: ..., splits: [...]}`."
            )
        hub = src["hub"]
        splits = list(hub.get("splits", ["train"]))
        prov = Provenance(
            "hub", id=hub["id"], revision=hub.get("revision", "main"), config_name=hub.get("config_name"), splits=splits
        )
        for split in splits:
            log.info("dataset %s: loading %s (revision %s, split %s)", name, hub["id"], prov.revision, split)
            table = _read_hub(name, hub, split, cols, mapping, selective)
            parts.append(Part(split, table, f"hub:{hub['id']}@{prov.revision}"))
    for p in parts:
        if p.table.num_rows == 0:
            raise DataError(f"{_where(name, p.origin)}: split {p.split!r} has no rows.")
        prov.rows_read[p.split] = p.table.num_rows
    return parts, prov
