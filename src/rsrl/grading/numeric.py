"""Numeric equality: when a decimal answer equals a value.

math-verify compares two numbers of which one is a float by rounding both to ``float_rounding`` decimal places
(6): an absolute tolerance, which accepts any two values below 5e-7 (``0.0000001`` for ``1/2^{30}``) and numbers
below one that differ at the 7th significant digit. The grader's policy instead:

* **Integers exactly.** When either side is an integer, the other must equal it exactly (``1000.0`` = 1000,
  ``999.9999999`` ≠ 1000); scientific forms reach this comparison as exact integers
  (:func:`rsrl.grading.forms.rewrite`).
* **Otherwise a relative tolerance** of :data:`REL_TOL` = 1e-8: ``|a - b| <= 1e-8 * max(|a|, |b|)``, both
  evaluated to 30 digits. Two answers written with up to 7 significant digits that differ are at least 1e-7
  apart relative to their size (9.999991 against 9.999992), ten times the tolerance; the binary rounding of a
  written decimal (about 1e-16 relative) is eight orders of magnitude below it. So a decimal is accepted when it
  is the value (``0.25`` = 1/4, ``0.1`` = 1/10) or agrees with it to about 8 significant digits, and a rounded
  approximation such as ``1.414214`` for ``\\sqrt{2}`` or ``0.333333`` for 1/3 is not the value.

Only the float comparison of math-verify's ``sympy_numeric_eq`` changes; everything else (two integers, two
rationals, symbolic equality, percentages) is math-verify's. :func:`policy` swaps the comparison in for the
duration of one grader call (math-verify runs only in a main thread: its timeouts are ``signal.alarm``), so
math-verify called directly keeps its own behaviour.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

#: Relative tolerance between two numbers of which one is a float (module docstring).
REL_TOL = 1e-8


def close(a, b) -> bool:
    """Whether two sympy numbers are equal under the policy (exact when either is an integer)."""
    from sympy import Integer, Rational

    try:
        if isinstance(a, Integer) or isinstance(b, Integer):
            return a.is_number and b.is_number and Rational(a) == Rational(b)
        x, y = a.evalf(30), b.evalf(30)
        if not (x.is_real and y.is_real and x.is_finite and y.is_finite):
            return bool(x == y)
        return bool(abs(x - y) <= REL_TOL * max(abs(x), abs(y)))
    except (TypeError, ValueError, ArithmeticError, AttributeError):
        return False


def _numeric_eq(original):
    from math_verify.grader import is_atomic_or_pct_atomic, safe_sympy_doit
    from sympy import Float, Number

    def numeric_eq(a, b, float_rounding: int, numeric_precision: int) -> bool:
        if (is_atomic_or_pct_atomic(a, Number) or is_atomic_or_pct_atomic(b, Number)) and (
            is_atomic_or_pct_atomic(a, Float) or is_atomic_or_pct_atomic(b, Float)
        ):
            return close(safe_sympy_doit(a), safe_sympy_doit(b))
        return original(a, b, float_rounding, numeric_precision)

    return numeric_eq


_PATCHED = None


@contextlib.contextmanager
def policy() -> Iterator[None]:
    """math-verify's float comparison replaced by :func:`close` while the block runs (not re-entrant-safe across
    threads; math-verify's own alarms confine it to a main thread)."""
    global _PATCHED
    import math_verify.grader as mvg

    original = mvg.sympy_numeric_eq
    if _PATCHED is None:
        _PATCHED = _numeric_eq(original)
    if original is _PATCHED:  # nested use
        yield
        return
    mvg.sympy_numeric_eq = _PATCHED
    try:
        yield
    finally:
        mvg.sympy_numeric_eq = original
