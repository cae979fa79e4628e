"""A synthetic verifiable task for small CPU runs: short sums with integer answers, e.g. "What is 23 + 58 + 7?"
-> "88".

Config (`synthetic:` of a source): ``task: add``, ``split: train|test``, ``size``, ``seed``, ``terms`` (an int or
``[min, max]`` number of summands), ``min_value``/``max_value`` (range of each summand), ``test_fraction``.
A problem belongs to the test split when a hash of its text falls in the first `test_fraction` of the hash
range, whatever the seed or size: train and test sets can never share a problem. Problems are drawn in a fixed
order from `seed`, so a larger `size` extends a smaller one and ids (`<name>-<index>`) stay the same.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from rsrl.data.loaders import Loaded
from rsrl.data.schema import DataError

DEFAULTS = {
    "task": "add",
    "split": "train",
    "size": 1000,
    "seed": 0,
    "terms": [2, 3],
    "min_value": 0,
    "max_value": 99,
    "test_fraction": 0.2,
}
TASKS = ("add",)
COLUMNS = None
SELECTIVE = False


_PREFIX = "What is "


def summands(problem: str) -> list[int] | None:
    """The summands of a synthetic sum ("What is 7 + 5?" -> [7, 5]); None for any other text."""
    if not (problem.startswith(_PREFIX) and problem.endswith("?")):
        return None
    parts = problem[len(_PREFIX) : -1].split(" + ")
    return [int(x) for x in parts] if len(parts) >= 2 and all(x.isdigit() for x in parts) else None


def carry_free_sum(values: list[int]) -> int:
    """The column-wise sum that drops every carry (7 + 5 -> 2, 38 + 45 -> 73): the classic wrong answer of a
    problem with a carry, equal to the true sum when there is none."""
    total, place = 0, 1
    values = list(values)
    while any(values):
        total += (sum(v % 10 for v in values) % 10) * place
        values = [v // 10 for v in values]
        place *= 10
    return total


def split_of(problem: str, test_fraction: float) -> str:
    """The split a problem belongs to, from its text alone."""
    h = int.from_bytes(hashlib.sha1(problem.encode("utf-8")).digest()[:8], "big") / 2.0**64
    return "test" if h < test_fraction else "train"


def params(name: str, src: dict) -> dict:
    given = dict(src.get("synthetic") or {})
    unknown = sorted(set(given) - set(DEFAULTS))
    where = f"dataset {name!r} (config key synthetic)"
    if unknown:
        raise DataError(f"{where}: unknown key(s) {unknown}; allowed keys are {sorted(DEFAULTS)}.")
    p = {**DEFAULTS, **given}
    if p["task"] not in TASKS:
        raise DataError(f"{where}: unknown task {p['task']!r}; allowed tasks are {list(TASKS)}.")
    if p["split"] not in ("train", "test"):
        raise DataError(f"{where}: split must be 'train' or 'test', not {p['split']!r}.")
    terms = p["terms"] if isinstance(p["terms"], list) else [p["terms"], p["terms"]]
    if len(terms) != 2 or not all(isinstance(t, int) for t in terms) or not 2 <= terms[0] <= terms[1]:
        raise DataError(
            f"{where}: terms must be an integer >= 2 or [min, max] with 2 <= min <= max; got {p['terms']!r}."
        )
    p["terms"] = terms
    if not (isinstance(p["min_value"], int) and isinstance(p["max_value"], int)) or p["min_value"] > p["max_value"]:
        raise DataError(f"{where}: min_value and max_value must be integers with min_value <= max_value.")
    if not (isinstance(p["size"], int) and p["size"] >= 1):
        raise DataError(f"{where}: size must be a positive integer, not {p['size']!r}.")
    if not 0 < p["test_fraction"] < 1:
        raise DataError(f"{where}: test_fraction must lie strictly between 0 and 1.")
    return p


def generate(p: dict, name: str = "synthetic") -> pd.DataFrame:
    """The `size` problems of split `p['split']` (see the module docstring)."""
    rng = np.random.default_rng(p["seed"])
    lo_t, hi_t = p["terms"]
    seen: set[str] = set()
    rows = []
    tries, max_tries = 0, 200 * p["size"] + 10_000
    while len(rows) < p["size"]:
        tries += 1
        if tries > max_tries:
            raise DataError(
                f"dataset {name!r}: could only draw {len(rows)} distinct {p['split']} problems of the "
                f"{p['size']} asked for; widen terms or the value range, or lower size."
            )
        k = int(rng.integers(lo_t, hi_t + 1))
        values = rng.integers(p["min_value"], p["max_value"] + 1, size=k).tolist()
        problem = _PREFIX + " + ".join(str(v) for v in values) + "?"
        if problem in seen or split_of(problem, p["test_fraction"]) != p["split"]:
            continue
        seen.add(problem)
        rows.append(
            {
                "id": f"{name}-{len(rows):05d}",
                "problem": problem,
                "answer": str(sum(values)),
                "difficulty": float(k),
                "split": p["split"],
            }
        )
    df = pd.DataFrame(rows)
    assert all(split_of(q, p["test_fraction"]) == p["split"] for q in df["problem"]), "split assignment broken"
    return df


def convert(parts, name: str, src: dict) -> Loaded:
    p = params(name, src)
    df = generate(p, name)
    df["source"] = f"synthetic:{p['task']}"
    out = Loaded(df)
    out.notes["synthetic"] = p
    return out
