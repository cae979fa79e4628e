"""Normalisation shared by loaders: whitespace, problem keys for matching, gold answers and their checks."""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata

import numpy as np
import pyarrow as pa

from rsrl.data.schema import DataError

KEY_NOISE = r"\\(?:left|right|displaystyle|qquad|quad)\b|\\[,;!]|\$|\s+"


def clean_text(text: str) -> str:
    """Unicode NFC, Unix newlines, no trailing spaces on lines, no leading/trailing blank space."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()


def problem_keys(texts: list[str]) -> list[str]:
    """Matching keys of problems: NFKC, lower case, without `$`, sizing and spacing commands, or whitespace.

    Two problems with the same key are the same problem up to formatting (used for benchmark exclusion and
    exact decontamination). Vectorised with Arrow compute kernels.
    """
    import pyarrow.compute as pc

    arr = pc.utf8_lower(pc.utf8_normalize(pa.array(list(texts), type=pa.large_string()), form="NFKC"))
    return pc.replace_substring_regex(arr, pattern=KEY_NOISE, replacement="").to_pylist()


def problem_key(text: str) -> str:
    """:func:`problem_keys` of one problem."""
    return problem_keys([text])[0]


def words(text: str) -> list[str]:
    """Word tokens for n-gram matching: lower-case alphanumeric runs (LaTeX commands become words too)."""
    return re.findall(r"[a-z0-9]+", unicodedata.normalize("NFKC", text).lower())


def stable_id(prefix: str, text: str) -> str:
    """Order-independent id from content: `<prefix>-<12 hex digits of sha1>`."""
    return f"{prefix}-{hashlib.sha1(text.encode('utf-8')).hexdigest()[:12]}"


def unique_ids(ids: list[str]) -> list[str]:
    """Make ids unique by suffixing repeats with `-2`, `-3`, ... (first occurrence keeps its id)."""
    seen: dict[str, int] = {}
    out = []
    for i in ids:
        k = seen.get(i, 0) + 1
        seen[i] = k
        out.append(i if k == 1 else f"{i}-{k}")
    return out


def as_text(values, column: str, where: str, ids=None, allow_numbers: bool = False) -> list[str | None]:
    """Column values as strings (None stays None). Integers (and integral floats) are accepted where
    `allow_numbers` (e.g. AIME answers stored as numbers); any other type fails naming the column and row."""
    out: list[str | None] = []
    for i, v in enumerate(values.to_pylist() if isinstance(values, (pa.Array, pa.ChunkedArray)) else values):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            out.append(None)
        elif isinstance(v, str):
            out.append(v)
        elif allow_numbers and isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            out.append(str(int(v)))
        elif allow_numbers and isinstance(v, float) and v.is_integer():
            out.append(str(int(v)))
        else:
            row = ids[i] if ids is not None else f"row {i}"
            raise DataError(
                f"{where}: column {column!r} must hold strings; {row} has a {type(v).__name__} ({str(v)[:80]!r})."
            )
    return out
