"""The record of the paper's setup (``reference/paper_setup.csv``): for every training, evaluation and grid setting of
the config, the value the evidence supports, its source and confidence, and the value this pipeline uses.

Columns: ``setting`` (a dotted config key: ``training.n_samples_per_prompt``, ``evaluation.grader.workers``,
``grid.<block name>.methods``), ``value`` (what the evidence supports; empty where nothing was found), ``source``
(the paper's section/figure/table, the authors' file, or a named secondary summary S1/S2/S3 or the OpenReview
reviews OR, as in the evidence notes), ``confidence`` (high, medium-high, medium, low; none where nothing was
found), ``tag`` and ``config`` (this pipeline's value), ``reason``.

Tags: [P] the paper, [R] the authors' repository, [F] the paper's figures, [OR] the public reviews quoting the
paper, [S] a secondary summary of the paper, [C] this pipeline's choice. The rules (:func:`check`):

* every setting of the config's ``training`` and ``evaluation`` blocks and every field of its named ``grid`` blocks
  has a row (the config check fails naming a setting without one; an unnamed block is not the paper's, and
  ``evaluation.per_benchmark`` is left to the test), and for the paper config the row's ``config`` equals the
  config's value (its test);
* a ``config`` that differs from the evidence's ``value``, or a setting without evidence, is tagged [C] with a
  ``reason``;
* secondary evidence is never [P], [R] or [F]: a row whose sources are only S1/S2/S3 is tagged [S] or [C].

Values are compared as YAML values (``16`` equals ``16.0``; lists and mappings element by element).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import yaml

COLUMNS = ("setting", "value", "source", "confidence", "tag", "config", "reason")
TAGS = ("[P]", "[R]", "[F]", "[OR]", "[S]", "[C]")
PRIMARY = ("[P]", "[R]", "[F]")
SECONDARY_SOURCES = ("S1", "S2", "S3")
CONFIDENCE = ("high", "medium-high", "medium", "low", "none")
BLOCKS = ("training", "evaluation")
PER_BENCHMARK = "evaluation.per_benchmark"
GRID_FIELDS = ("models", "train_sets", "methods", "trainer", "seeds", "enabled", "group_sizes", "total_batch")


_NONE = object()


def schema_defaults(filled_empty: dict, grid_fields: dict) -> dict:
    """Settings' defaults from the blocks of a config filled with its schema defaults from empty blocks
    (``filled_empty``: ``{"training": {...}, "evaluation": {...}}``) and a grid block's field defaults."""
    out: dict[str, Any] = {}
    for block in BLOCKS:
        for k, v in (filled_empty.get(block) or {}).items():
            out.update(_leaves(f"{block}.{k}", v))
    out.update({f"grid.*.{k}": v for k, v in grid_fields.items()})
    return out


class RecordError(ValueError):
    """A setting without an entry, or an entry that contradicts the config or its own evidence."""


def normalize(value: Any) -> str:
    """A canonical text of a value: numbers as floats, mappings with sorted keys (for comparisons)."""

    def canon(v):
        if isinstance(v, bool) or v is None or isinstance(v, str):
            return v
        if isinstance(v, (int, float)):
            return float(v)
        if isinstance(v, dict):
            return {str(k): canon(x) for k, x in sorted(v.items())}
        if isinstance(v, (list, tuple)):
            return [canon(x) for x in v]
        return str(v)

    return json.dumps(canon(value), sort_keys=True)


def parse_cell(text: str) -> Any:
    """A record cell as a value (YAML flow syntax: ``16``, ``[0.0, 1.0]``, ``{estimator: rs}``)."""
    return yaml.safe_load(text) if text.strip() else None


def read(path: str | Path) -> dict[str, dict]:
    """The record, by setting; a duplicate setting or a missing column is an error."""
    path = Path(path)
    if not path.exists():
        raise RecordError(f"config key setup_record: file {path} does not exist.")
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if rows and set(COLUMNS) - set(rows[0]):
        raise RecordError(f"setup record {path}: missing column(s) {sorted(set(COLUMNS) - set(rows[0]))}.")
    out: dict[str, dict] = {}
    for r in rows:
        if r["setting"] in out:
            raise RecordError(f"setup record {path}: setting {r['setting']!r} appears twice.")
        out[r["setting"]] = r
    return out


def _leaves(prefix: str, value: Any) -> dict[str, Any]:
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_leaves(f"{prefix}.{k}", v))
        return out
    return {prefix: value}


def settings(cfg: dict, unnamed_blocks: bool = True) -> dict[str, Any]:
    """Every setting the record must cover: the leaves of ``training`` and ``evaluation`` and the fields of each
    grid block (by its ``name``; an unnamed block is ``grid[i]``, left out without ``unnamed_blocks``), with their
    values as the config gives them."""
    out: dict[str, Any] = {}
    for block in BLOCKS:
        for k, v in (cfg.get(block) or {}).items():
            out.update(_leaves(f"{block}.{k}", v))
    for i, b in enumerate(cfg.get("grid") or []):
        if not (b.get("name") or unnamed_blocks):
            continue
        name = b.get("name") or f"grid[{i}]"
        out.update({f"grid.{name}.{k}": b[k] for k in GRID_FIELDS if k in b})
    return out


def check_row(setting: str, row: dict) -> None:
    """The rules a row must satisfy on its own (tag, confidence, [C] with a reason, secondary never primary)."""
    tag, reason = row["tag"].strip(), row["reason"].strip()
    where = f"setup record entry {setting!r}"
    if tag not in TAGS:
        raise RecordError(f"{where}: tag {tag!r} is not one of {list(TAGS)}.")
    if row["confidence"].strip() not in CONFIDENCE:
        raise RecordError(f"{where}: confidence {row['confidence']!r} is not one of {list(CONFIDENCE)}.")
    evidence = parse_cell(row["value"])
    if row["value"].strip() and normalize(evidence) != normalize(parse_cell(row["config"])) and tag != "[C]":
        raise RecordError(
            f"{where}: the config's value {row['config']!r} differs from the evidence's "
            f"{row['value']!r}; tag it [C] and give the reason."
        )
    if tag == "[C]" and not reason:
        raise RecordError(f"{where}: a [C] entry (this pipeline's choice) needs a reason.")
    if not row["value"].strip() and tag != "[C]":
        raise RecordError(f"{where}: no evidence for the value; tag it [C] and give the reason.")
    sources = [s.strip() for s in row["source"].replace(";", ",").split(",") if s.strip()]
    secondary_only = bool(sources) and all(s.split()[0].rstrip(":") in SECONDARY_SOURCES for s in sources)
    if secondary_only and tag in PRIMARY:
        raise RecordError(f"{where}: its sources {sources} are secondary summaries; tag it [S] (never {tag}).")


def check(cfg: dict, record: dict[str, dict], defaults: dict | None = None, values: bool = False) -> None:
    """Raise :class:`RecordError` naming the first setting without an entry, or whose entry breaks a rule of
    :func:`check_row`; with ``values``, also one whose value differs from its entry's ``config`` (the config
    check leaves values free, so that a changed config runs; the record's test holds the paper config to it).

    ``defaults``: the schema's default of each setting (``grid.*.<field>`` for a grid block's field); a setting
    left at its default needs no entry (a config with its defaults filled in is checked again by every job).
    The config check covers the named grid blocks (the paper's, each with its entries); with ``values`` every
    block must be named."""
    defaults = defaults or {}
    names = [b.get("name") for b in cfg.get("grid") or [] if b.get("name")]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise RecordError(f"config key grid: block name(s) {dup} appear twice; names key the setup record.")
    for setting, value in settings(cfg, unnamed_blocks=values).items():
        if not values and (setting.startswith(PER_BENCHMARK) or value == {}):
            continue  # benchmark-specific: the config check leaves other benchmark sets free
        row = record.get(setting)
        default = defaults.get(
            setting,
            defaults.get("grid.*." + setting.rsplit(".", 1)[-1] if setting.startswith("grid.") else None, _NONE),
        )
        if row is None and default is not _NONE and normalize(default) == normalize(value):
            continue
        if row is None:
            raise RecordError(
                f"config key {setting}: no entry in the setup record (config key setup_record); add "
                "a row with the value the evidence supports, its source and confidence, or tag it "
                "[C] with the reason."
            )
        if values and normalize(value) != normalize(parse_cell(row["config"])):
            raise RecordError(
                f"config key {setting}: value {value!r} differs from the setup record's config value "
                f"{row['config']!r}; update the record (and its tag and reason) with the config."
            )
        check_row(setting, row)


def to_markdown(record: dict[str, dict]) -> str:
    """The record as a Markdown table (setting, evidence, source, confidence, tag, this pipeline's value, reason):
    the README's copy, which a test keeps equal to it."""

    def esc(text: str) -> str:
        return text.replace("|", "\\|") or "–"

    lines = ["| setting | evidence | source | confidence | tag | config | reason |", "|---|---|---|---|---|---|---|"]
    for setting, r in record.items():
        lines.append(
            "| "
            + " | ".join(
                esc(x)
                for x in (f"`{setting}`", r["value"], r["source"], r["confidence"], r["tag"], r["config"], r["reason"])
            )
            + " |"
        )
    return "\n".join(lines)
