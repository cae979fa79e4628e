"""Answer forms (rsrl.grading.forms), the multi-answer policy and the numeric policy (rsrl.grading.numeric): per
rule the form that must be accepted beside the near-miss that must stay wrong, graded the same way by the plain
loop, the batch grader and the RL reward."""

from __future__ import annotations

import logging

import pytest
from sympy import Float, Integer, Rational, sqrt

from rsrl import grader as gr
from rsrl.grading import forms
from rsrl.grading.normalize import prepare_full
from rsrl.grading.numeric import REL_TOL, close
from rsrl.grading.verify import boxes_read, extraction_key

logging.getLogger("math_verify").setLevel(logging.CRITICAL)

R = "We compute carefully and check the result.\n\n"

#: rule -> [(gold, completion, verdict)]: the accepted form first, then its near-misses.
RULES = {
    "fbox": [("7", f"{R}So $\\fbox{{7}}$.", True), ("8", f"{R}So $\\fbox{{7}}$.", False)],
    "braceless_box": [
        ("7", f"{R}The answer is \\boxed 7\n", True),
        ("7", f"{R}So $\\boxed 7$.", True),
        ("8", f"{R}So $\\boxed 7$.", False),
    ],
    "final_period": [
        ("5", f"{R}$\\boxed{{5.}}$", True),
        ("\\frac{2}{3}", f"{R}$\\boxed{{2/3.}}$", True),
        ("5", f"{R}$\\boxed{{5,}}$", True),
        ("5", f"{R}$\\boxed{{5.1}}$", False),
        ("6", f"{R}$\\boxed{{5.}}$", False),
    ],
    "thousands_space": [
        ("1000", f"{R}$\\boxed{{1\\,000}}$", True),
        ("1000", f"{R}$\\boxed{{1 000}}$", True),
        ("1234567", f"{R}$\\boxed{{1\\,234\\,567}}$", True),
        ("1000", f"{R}$\\boxed{{10 00}}$", False),
        ("1", f"{R}$\\boxed{{1 000}}$", False),
    ],
    "scientific": [
        ("1500", f"{R}$\\boxed{{1.5e3}}$", True),
        ("123000000", f"{R}$\\boxed{{1.23 \\times 10^{{8}}}}$", True),
        ("123456789", f"{R}$\\boxed{{1.23456789 \\times 10^{{8}}}}$", True),
        ("1501", f"{R}$\\boxed{{1.5e3}}$", False),
        ("123456789", f"{R}$\\boxed{{1.23 \\times 10^{{8}}}}$", False),
    ],
    "words_units": [
        ("12", f"{R}$\\boxed{{\\text{{12 apples}}}}$", True),
        ("30", f"{R}$\\boxed{{30°}}$", True),
        ("\\infty", f"{R}$\\boxed{{\\text{{infinity}}}}$", True),
        ("12", f"{R}$\\boxed{{\\text{{12 apples and 3 pears}}}}$", False),
        ("60", f"{R}$\\boxed{{30°}}$", False),
        ("-\\infty", f"{R}$\\boxed{{\\text{{infinity}}}}$", False),
    ],
    "answer_choice": [
        ("C", f"{R}$\\boxed{{\\textbf{{(C)}}\\ 12}}$", True),
        ("\\text{(C)}", f"{R}$\\boxed{{(C)\\ 12}}$", True),
        ("12", f"{R}$\\boxed{{\\textbf{{(C)}}\\ 12}}$", True),
        ("D", f"{R}$\\boxed{{\\textbf{{(C)}}\\ 12}}$", False),
        ("13", f"{R}$\\boxed{{\\textbf{{(C)}}\\ 12}}$", False),
    ],
    "base_numeral": [
        ("8", f"{R}$\\boxed{{1000_2}}$", True),
        ("204_5", f"{R}$\\boxed{{204_5}}$", True),
        ("204_5", f"{R}$\\boxed{{204}}$", True),
        ("54", f"{R}$\\boxed{{204_{{5}}}}$", True),
        ("204_5", f"{R}$\\boxed{{204_{{10}}}}$", False),
        ("1000", f"{R}$\\boxed{{1000_2}}$", False),
        ("204_5", f"{R}$\\boxed{{54}}$", False),
        ("x_2", f"{R}$\\boxed{{x_2}}$", True),
    ],
    "multi_answer": [
        ("3, 5", f"{R}Part (a): $\\boxed{{3}}$. Then part (b) gives $\\boxed{{5}}$.", True),
        ("3, 5", f"{R}First $\\boxed{{5}}$, and for the other case we get $\\boxed{{3}}$.", True),
        ("(3, 3), (1, 1)", "$\\boxed{(3, 3)} \\text{ for part (a) and } \\boxed{(1, 1)}$", True),
        ("3, 5", f"{R}Part (a): $\\boxed{{3}}$. Part (b): $\\boxed{{3}}$.", False),
        ("3, 5", f"{R}So $\\boxed{{5}}$.", False),
        ("3, 5", f"{R}$\\boxed{{1}}, \\boxed{{3}}, \\boxed{{5}}$", False),
    ],
    "self_correction": [
        ("5", f"{R}So $\\boxed{{3}}$, wait, that is wrong: $\\boxed{{5}}$.", True),
        ("3", f"{R}So $\\boxed{{3}}$, wait, that is wrong: $\\boxed{{5}}$.", False),
    ],
    "numeric_policy": [
        ("\\frac{1}{4}", f"{R}$\\boxed{{0.25}}$", True),
        ("1000", f"{R}$\\boxed{{1000.0}}$", True),
        ("0.1234567", f"{R}$\\boxed{{0.1234567}}$", True),
        ("\\frac{1}{2^{30}}", f"{R}$\\boxed{{0.0000001}}$", False),
        ("0.1234567", f"{R}$\\boxed{{0.1234571}}$", False),
        ("\\sqrt{2}", f"{R}$\\boxed{{1.414214}}$", False),
        ("1000", f"{R}$\\boxed{{999.9999999}}$", False),
    ],
}
ITEMS = [(rule, *case) for rule, cases in RULES.items() for case in cases]


@pytest.mark.parametrize("rule,gold,completion,expected", ITEMS, ids=[f"{r}-{i}" for i, (r, *_) in enumerate(ITEMS)])
def test_rule(rule, gold, completion, expected):
    assert gr.grade_sequential([completion], [gold]) == [expected]
    assert gr.grade_one(completion, gold, True, 5.0)[0] is expected


def test_rules_are_the_same_in_the_grader_and_both_rewards():
    comps, golds, want = [c for _, _, c, _ in ITEMS], [g for _, g, _, _ in ITEMS], [e for *_, e in ITEMS]
    with gr.Grader(workers=1) as g:
        got = g.grade(comps, golds)["correct"].tolist()
    assert got == want
    assert gr.rewards(comps, golds) == [float(e) for e in want]


def test_extraction_keys_cover_the_boxes_the_rules_read():
    """Completions whose final answers read alike to math-verify but differ in what the gold-aware rules read
    (earlier boxes, the final run's length) have different keys."""
    a = f"{R}Part (a): $\\boxed{{3}}$. Then part (b) gives $\\boxed{{5}}$."
    b = f"{R}Part (a): $\\boxed{{4}}$. Then part (b) gives $\\boxed{{5}}$."
    assert extraction_key(a, reads=boxes_read("3, 5")) != extraction_key(b, reads=boxes_read("3, 5"))
    assert gr.grade_sequential([a, b], ["3, 5", "3, 5"]) == [True, False]
    assert boxes_read("5") == 1 and extraction_key(a) == extraction_key(b)  # a one-value gold reads the last box
    assert gr.grade_sequential([a, b], ["5", "5"]) == [True, True]
    assert extraction_key(f"{R}$\\boxed{{}}$") != b""  # a box, even empty, is an answer to verify


def test_rewrite_scopes():
    assert forms.rewrite("0.333...") == "0.333..."
    assert forms.rewrite("1, 2, \\ldots") == "1, 2, \\ldots"
    assert forms.rewrite("5\\,") == "5\\,"
    assert forms.rewrite("1.5E+3") == "1500"
    assert forms.rewrite("1.5e-3") == "0.0015"
    assert forms.rewrite("12 345") == "12345"
    assert forms.rewrite("1 2") == "1 2"
    assert forms.rewrite("x^2 + 1") == "x^2 + 1"
    assert forms.numeral("x_2") is None and forms.numeral("9_8") is None
    assert forms.numeral("A3_{16}").value() == 163
    assert forms.gold_values("1,000") == ["1,000"]
    assert forms.gold_values("\\{1, 2\\}, 3") == ["\\{1, 2\\}", "3"]
    assert forms.gold_values("(1, 2], 3") == ["(1, 2]", "3"]
    assert prepare_full(f"{R}$\\fbox{{7}}$").text.endswith("$\\boxed{7}$")


@pytest.mark.parametrize(
    "a,b,equal",
    [
        (Integer(1000), Float("1000.0"), True),  # integers exactly
        (Integer(1000), Float("999.9999999"), False),
        (Integer(1000), Float("1000.00000001"), False),
        (Rational(1, 4), Float("0.25"), True),  # the value itself
        (Rational(1, 10), Float("0.1"), True),  # binary rounding of a decimal, far below the tolerance
        (Float("1.0"), Float("1.000000005"), True),  # inside REL_TOL = 1e-8
        (Float("1.0"), Float("1.00000002"), False),  # outside it
        (Float("9.999991"), Float("9.999992"), False),  # 7 significant digits, differing in the last
        (Float("0.1234567"), Float("0.1234571"), False),  # math-verify's 6-decimal rounding accepts this
        (Rational(1, 2**30), Float("0.0000001"), False),  # ... and this
        (Rational(1, 2**30), Float("9.313225746154785e-10"), True),
        (sqrt(2), Float("1.414214"), False),  # a rounded approximation is not the value
        (Float("0.0"), Integer(0), True),
    ],
)
def test_numeric_policy_boundaries(a, b, equal):
    assert REL_TOL == 1e-8
    assert close(a, b) is equal and close(b, a) is equal


def test_numeric_policy_is_scoped_to_the_grader():
    """math-verify called directly keeps its own rounding; its internals that the policy swaps are pinned."""
    import math_verify.grader as mvg
    from math_verify import parse, verify

    original = mvg.sympy_numeric_eq
    assert gr.grade_one("$\\boxed{0.0000001}$", "\\frac{1}{2^{30}}", True, 5.0)[0] is False
    assert mvg.sympy_numeric_eq is original
    assert verify(parse("$\\frac{1}{2^{30}}$"), parse("$0.0000001$"))  # math-verify's absolute rounding
    for name in ("sympy_numeric_eq", "is_atomic_or_pct_atomic", "safe_sympy_doit"):
        assert callable(getattr(mvg, name)), name
