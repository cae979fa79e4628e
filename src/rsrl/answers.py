"""Answer strings: the last ``\\boxed{}`` of a solution, and whether a gold answer is parseable by math-verify.

Used by the data stage (gold answers from solutions) and by grading (answers from model completions), so both
read boxed answers the same way.
"""

from __future__ import annotations

import functools
import re

_BOX_RE = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")


def _match_braces(text: str, start: int) -> int | None:
    """Index just past the brace group opening at ``text[start] == '{'``, or None if it never closes.

    Backslash escapes (``\\{``, ``\\}``, ``\\\\``) are skipped, so escaped braces do not count.
    """
    depth = 0
    i = start
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def last_boxed(text: str | None) -> str | None:
    """Content of the last ``\\boxed{...}`` (or ``\\fbox{...}``) in `text`, nested braces included.

    Also reads the brace-less form ``\\boxed 5`` (content up to the next ``$`` or line end). Returns None when
    there is no boxed answer or the last one never closes (e.g. a truncated completion).
    """
    if not text:
        return None
    matches = list(_BOX_RE.finditer(text))
    if not matches:
        return None
    m = matches[-1]
    i = m.end()
    while i < len(text) and text[i] in " \t":
        i += 1
    if i < len(text) and text[i] == "{":
        end = _match_braces(text, i)
        if end is None:
            return None
        return text[i + 1:end - 1].strip()
    if i == m.end():  # "\boxed" directly followed by something other than a space or a brace
        return None
    rest = re.split(r"[$\n]", text[i:], maxsplit=1)[0].strip()
    return rest or None


def gold_latex(answer: str) -> str:
    """A gold answer as the LaTeX string math-verify parses (it needs a math environment)."""
    return f"\\boxed{{{answer}}}"


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
