"""Answer classes: the answers of one problem grouped by math equivalence (majority votes, answer diversity).

Two answers are one class when each verifies against the other (:func:`answer_class_ids`: the distinct strings
by decreasing frequency, each compared with the first member of every class so far). Pairs that math-verify surely
finds different skip it (:func:`cannot_verify`: two numbers far apart, an expression against an interval, ...).
"""

from __future__ import annotations

import functools
import hashlib
import math
import pickle
import re
import time
from collections.abc import Sequence

from rsrl.grading.verify import CACHE_SIZE, alarm_seconds, parse_answer, timeout_counter, verify

_INT = re.compile(r"-?(?:0|[1-9]\d{0,14})")


def _plain_expression(x) -> bool:
    """Whether `x` is built from rationals, floats, pi, e, i and symbols with +, * and small rational powers (so
    that evaluating it is quick: no towers of powers, no big-integer arithmetic)."""
    from sympy import Add, E, Float, I, Mul, Pow, Rational, Symbol, pi

    if isinstance(x, (Rational, Float)):
        return abs(x) < 10**100
    if isinstance(x, Symbol) or x in (pi, E, I):
        return True
    if isinstance(x, Pow):
        e = x.exp
        return isinstance(e, Rational) and abs(e.p) <= 64 and e.q <= 64 and _plain_expression(x.base)
    return isinstance(x, (Add, Mul)) and all(_plain_expression(a) for a in x.args)


def _value(x) -> complex | None:
    """A fingerprint of a plain expression (:func:`_plain_expression`; a lone symbol excepted, which math-verify
    compares by name): its value with every symbol set to a number drawn from the symbol's name."""
    from sympy import Expr, Symbol

    if not isinstance(x, Expr) or isinstance(x, Symbol):
        return None
    return _expression_value(x)


@functools.lru_cache(maxsize=65536)
def _expression_value(x) -> complex | None:
    if not _plain_expression(x):
        return None
    subs = {
        s: 1 + int.from_bytes(hashlib.blake2b(s.name.encode(), digest_size=4).digest(), "big") / 2**32
        for s in x.free_symbols
    }
    try:
        v = complex(x.evalf(30, subs=subs))
    except (TypeError, ValueError, OverflowError, ArithmeticError):
        return None
    return v if math.isfinite(v.real) and math.isfinite(v.imag) else None


def cannot_verify(a: list, b: list) -> bool:
    """Whether math-verify surely finds two parses different (it compares the strings of two parses when either
    has no sympy object, else their sympy objects: an equation against a non-equation by its right-hand side):

    * a parse without a sympy object and no equal string in the other;
    * two plain expressions whose fingerprints (:func:`_value`) are further apart than its rounding (math-verify
      compares expressions by structure, numerically (:mod:`rsrl.grading.numeric`), or by simplifying their
      difference to zero; all need equal values at every point, while this needs a relative gap of 1e-4 at one
      point);
    * a plain expression and an interval (or a union of them), a matrix, or a set or tuple of two or more
      elements (compared as sets of different sizes, or not at all).
    """
    from sympy import Equality, FiniteSet, Interval, MatrixBase, Tuple, Union

    x = next((v for v in a if not isinstance(v, str)), None)
    y = next((v for v in b if not isinstance(v, str)), None)
    if x is None or y is None:
        return not any(
            s.strip() and s.strip() == t.strip() for s in a if isinstance(s, str) for t in b if isinstance(t, str)
        )
    if isinstance(x, Equality) != isinstance(y, Equality):
        x, y = (x.rhs if isinstance(x, Equality) else x), (y.rhs if isinstance(y, Equality) else y)
    vx, vy = _value(x), _value(y)
    if vx is not None and vy is not None:
        return abs(vx - vy) > 1e-4 * max(1.0, abs(vx), abs(vy))
    if vx is None and vy is None:
        return False
    other = x if vx is None else y
    if isinstance(other, (Interval, Union, MatrixBase)):
        return True
    return isinstance(other, (FiniteSet, Tuple)) and len(other) >= 2


_PAIRS: dict[tuple[str, str, int], bool] = {}  # verdicts between answer strings, per process


def _same(r: str, pr: list, a: str, pa: list, t: int) -> bool:
    """Whether two answers verify against each other (cached unless it timed out)."""
    key = (r, a, t) if r <= a else (a, r, t)
    if key in _PAIRS:
        return _PAIRS[key]
    counter = timeout_counter()
    before = counter.count
    same = verify(pr, pa, t) and verify(pa, pr, t)
    if counter.count == before:  # a timed-out comparison may succeed another time
        if len(_PAIRS) > CACHE_SIZE:
            _PAIRS.clear()
        _PAIRS[key] = same
    return same


def answer_class_ids(
    answers: Sequence[str], parses: Sequence[bytes | None], timeout_s: float, budget_s: float
) -> tuple[list[int | None], int]:
    """Classes of distinct answer strings of one problem, in order (most frequent first): class index per string,
    None for strings not compared within `budget_s` seconds; and the number of verifications made.

    An answer is its parse in a completion (`parses`: pickled by :func:`grade_one`), else its string parsed as a
    gold answer is. It joins the first class whose first member verifies against it and it against that member;
    otherwise it starts a class. Pairs that cannot verify skip math-verify: two different integers (up to 15
    digits), and the pairs of :func:`cannot_verify`.
    """
    t = alarm_seconds(timeout_s)
    end = time.monotonic() + budget_s
    parsed: dict[str, list] = {}

    def parse_of(k: int) -> list:
        a = answers[k]
        if a not in parsed:
            try:
                parsed[a] = pickle.loads(parses[k]) if parses[k] is not None else parse_answer(a, t)
            except Exception:  # an unreadable parse: parse the string
                parsed[a] = parse_answer(a, t)
        return parsed[a]

    ids: list[int | None] = [None] * len(answers)
    reps: list[int] = []  # index of each class's first member
    checks = 0
    for i, a in enumerate(answers):
        if time.monotonic() > end:
            break
        a_int = _INT.fullmatch(a.strip()) is not None
        for c, k in enumerate(reps):
            r = answers[k]
            if a_int and _INT.fullmatch(r.strip()):
                continue
            pa, pr = parse_of(i), parse_of(k)
            if cannot_verify(pa, pr):
                continue
            checks += 1
            if _same(r, pr, a, pa, t):
                ids[i] = c
                break
            if time.monotonic() > end:
                break
        if ids[i] is None and time.monotonic() <= end:
            ids[i] = len(reps)
            reps.append(i)
    return ids, checks


# --------------------------------------------------------------------------------------------------------------
# Batch grading
