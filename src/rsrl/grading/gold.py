"""Gold answers: whether math-verify reads a value from one (the data stage keeps only such rows)."""

from __future__ import annotations

import functools

from rsrl.grading.normalize import gold_latex


@functools.lru_cache(maxsize=65536)
def parse_gold(answer: str) -> tuple:
    """math-verify's parse of a gold answer into a value (empty tuple when it yields none).

    The string fallback is off: a gold answer counts as parseable only when math-verify reads a value
    (number, expression, set, interval, matrix, ...) from it, not merely its raw text."""
    from math_verify import parse

    try:
        return tuple(parse(gold_latex(answer), fallback_mode="no_fallback", parsing_timeout=5))
    except Exception:  # math-verify raises on pathological input; treat as unparseable
        return ()


def is_parseable(answer: str | None) -> bool:
    """Whether math-verify reads a value from the gold answer (wrapped as ``\\boxed{answer}``)."""
    if answer is None or not str(answer).strip():
        return False
    return len(parse_gold(str(answer).strip())) > 0
